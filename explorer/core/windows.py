"""Long inputs: one pass over a whole book, then any window traced exactly on demand.

    lt = explorer.scan_long(rnn, x, checkpoint_every=1024)   # x as trace() takes it
    lt.stats["f"].mean          # (L, D, B, H) running statistics, for every gate and state
    tr = lt.window(a, b)        # a Trace equal to trace(rnn, x)[..., a:b, ...]

The pass keeps only the (h, c) state of every layer and direction every `checkpoint_every`
steps, plus per-unit running statistics; memory stays flat whatever N is. A window [a, b)
restarts from the checkpoints around it (forward direction: the one at or before a;
reverse direction: the one at or after b) and costs about b − a + 2·checkpoint_every steps.
`x` may also be any object with len() and slicing that yields tensors (e.g. a lazy embedder),
so a million characters need not be embedded all at once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import torch
from torch import Tensor

from explorer.errors import InputError

from . import kinds, references
from .engine import layer_params, reverse_padded, run_layer
from .stats import PassStats, RunningStats, thresholds
from .trace import Trace, check_hx, check_x, time_major, trace


@dataclass
class LongTrace:
    """The result of scan_long: checkpoints, running statistics and window()."""
    rnn: torch.nn.Module
    x: object
    steps: int
    every: int
    kind: str
    h_ck: Tensor                         # (L, D, n_ck, B, H_out): state at boundary j*every (see module doc)
    c_ck: Optional[Tensor]
    stats: dict[str, RunningStats] = field(default_factory=dict)
    overview: dict[str, Tensor] = field(default_factory=dict)   # name -> (L, D, n_blocks, B, H) block means
    block: int = 1                                               # steps per overview block
    whole: Optional[Trace] = None                                # the full trace, kept when it is small
    back: Optional[object] = None        # a reference package's module: its output map (core/references.py)

    def window_arrays(self, a: int, b: int, intervene=None, batch: int = 0) -> dict:
        """window(a, b) as float32 numpy arrays of one sequence: {name: (L, D, T, H)} for every gate
        and state, "output" (T, F), and "before": {"h": (L, D, H_out), "c": (L, D, H) or None}, the state
        each direction read its first step of the window from. What a page or a file needs, no tensors."""
        tr = self.window(a, b, intervene)
        np32 = lambda t: t.float().cpu().numpy()
        out = {n: np32(tr.values(n)[:, :, :, batch]) for n in tr.names()}
        o = tr.output if tr.output.dim() == 2 else (tr.output[batch] if tr.batch_first else tr.output[:, batch])
        out["output"] = np32(o)
        hb, cb = tr.meta["h_before"], tr.meta["c_before"]
        out["before"] = {"h": np32(hb[:, :, batch]), "c": None if cb is None else np32(cb[:, :, batch])}
        return out

    def window(self, a: int, b: int, intervene=None) -> Trace:
        """Exact Trace over steps [a, b) (time-major, B as in x), equal to the same slice of a full trace.

        intervene: Interventions whose steps are absolute input positions; they act inside the
        traced segment (the checkpoint-aligned span around [a, b)) and their consequences are
        followed to its end, not beyond."""
        if not (0 <= a < b <= self.steps):
            raise InputError(f"a window must satisfy 0 <= a < b <= {self.steps}, got [{a}, {b}).")
        K = self.every
        if self.whole is not None and intervene is None:
            tr, s, e = self.whole, 0, self.steps                  # a slice of what is kept: no kernel call
        else:
            s, e = (a // K) * K, min(-(-b // K) * K, self.steps)
            tr = self._trace(s, e, intervene)
        bf = tr.batch_first and tr.output.dim() == 3
        cut = lambda t: None if t is None else t[:, :, a - s:b - s]
        h, c = cut(tr.h), cut(tr.c)
        # h_n / c_n of a window: the state after its last step (reverse direction: after step a).
        last = lambda t: None if t is None else torch.stack(
            [t[l, d, -1 if d == 0 else 0] for l in range(t.shape[0]) for d in range(t.shape[1])])
        h_n, c_n = last(h), last(c)
        if not tr.meta["batched"]:
            h_n, c_n = h_n[:, 0], (c_n[:, 0] if c_n is not None else None)
        out = tr.output[:, a - s:b - s] if bf else tr.output[a - s:b - s]
        if self.back is not None and self.whole is None:
            with torch.no_grad():
                out = self.back(out) if out.dim() == 3 else self.back(out[None])[0]
        packed = lambda t: None if t is None else (torch.cat([t.c, *t.states.values()], -1) if t.states else t.c)
        # The state each direction had just before the window, in its own reading order (forward: after
        # step a-1; reverse: after step b), so a reader of the first step needs no second window.
        before = lambda t, ck: None if t is None else torch.stack([
            (t[:, 0, a - s - 1] if a > s else ck[:, 0, s // K]),
            *([t[:, 1, b - s] if b < e else ck[:, 1, -(-e // K) if e < self.steps else -1]] if t.shape[1] == 2 else [])], 1)
        # c_before is what the kind carries, packed (an sLSTM's c, n, m side by side): what its step reads
        return Trace(tr.kind, {g: cut(v) for g, v in tr.gates.items()}, h, c, out, h_n, c_n, None, bf,
                     dict(tr.meta, window=(a, b), h_before=before(tr.h, self.h_ck), c_before=before(packed(tr), self.c_ck)),
                     {k: cut(v) for k, v in tr.states.items()})

    def _trace(self, s: int, e: int, intervene=None) -> Trace:
        """trace() of the checkpoint-aligned segment [s, e), started from its checkpoints."""
        K = self.every
        seg = _slice(self.x, s, e)
        bf = seg.dim() == 3 and self.rnn.batch_first
        hx = self._hx(s // K, -(-e // K) if e < self.steps else -1)
        if seg.dim() == 2:
            hx = tuple(t[:, 0] for t in hx) if isinstance(hx, tuple) else hx[:, 0]
        return trace(self.rnn, seg.transpose(0, 1) if bf else seg, hx, intervene=_shift(intervene, s, e))

    def _hx(self, j_fwd: int, j_rev: int):
        """Initial states for a segment: forward from checkpoint j_fwd, reverse from j_rev."""
        D = self.h_ck.shape[1]
        pick = lambda ck: torch.stack([ck[:, 0, j_fwd]] + ([ck[:, 1, j_rev]] if D == 2 else []), 1).flatten(0, 1)
        h = pick(self.h_ck)
        if self.c_ck is None:
            return h
        c = pick(self.c_ck)
        parts = kinds.get(self.kind).unpack(c)         # an sLSTM carries c, n, m: trace() takes them apart
        return (h, *parts.values())


def _shift(intervene, s: int, e: int):
    """Interventions with absolute step positions -> positions relative to segment [s, e)."""
    if intervene is None:
        return None
    from dataclasses import replace as _replace

    from .trace import Intervention
    ivs = [Intervention(k, v) for k, v in intervene.items()] if isinstance(intervene, dict) else \
        ([intervene] if isinstance(intervene, Intervention) else list(intervene))
    out = []
    for iv in ivs:
        if iv.steps is None:
            out.append(iv)
            continue
        steps = range(e)[iv.steps] if isinstance(iv.steps, slice) else ([iv.steps] if isinstance(iv.steps, int) else iv.steps)
        rel = [t - s for t in steps if s <= t < e]
        if rel:
            out.append(_replace(iv, steps=rel))
    return out or None


def time_left(elapsed: float, done: float, since: float = 0.0) -> str:
    """What a progress bar can say about the rest of a pass that is `done` (0..1) through, after
    `elapsed` seconds spent going from `since` to `done` (timing from a first report leaves out
    the start-up, which would make the first estimates too long): "about 25 s left", "about 3 min
    left"; "" while too little has been timed to tell, and at the end."""
    if not (done - since >= 0.03 and done < 1.0) or elapsed < 1.0:
        return ""
    rest = elapsed * (1 - done) / (done - since)
    if rest < 90:
        return f"about {max(5, 5 * round(rest / 5))} s left"
    return f"about {round(rest / 60)} min left"


def _slice(x, s: int, e: int) -> Tensor:
    return x[s:e]


def scan_long(rnn, x, hx=None, *, checkpoint_every: int = 1024, chunk: int = 1024,
              overview_blocks: int = 0, progress=None, keep_whole: int = 0) -> LongTrace:
    """One pass over a long input x: checkpoints + statistics.

    x exactly as trace() takes it: (N, B, I), (B, N, I) when rnn.batch_first, or unbatched
    (N, I). It may also be any object with len() and slicing along time that yields (T, I)
    or (T, B, I) tensors (e.g. models.LazyEmbedding), so a book need not be embedded at once.

    Costs about one trace() of x, in chunks of `chunk` steps, holding only one chunk at a time.
    hx as the module takes it; lengths are not supported here (one long sequence).
    overview_blocks > 0 also keeps the mean of every gate/state over blocks of
    ceil(N / overview_blocks) steps (a decimated picture of the whole input, bounded in size).
    progress(done_fraction) is called after every chunk.
    keep_whole > 0 keeps the whole trace in memory when it holds at most that many values (gates and
    states), so that windows are slices of it: a window then costs no kernel call, which matters on
    a machine whose cores are busy elsewhere (a multi-threaded kernel waits for a thread at every step).
    """
    adopted = references.adopt(rnn)
    if adopted is not None:                   # a reference package's module: our module with its weights
        if not isinstance(x, Tensor):
            raise InputError(f"scan_long takes a {type(rnn).__name__}'s input as one tensor (B, N, I).")
        trace(rnn, x[..., :1, :], hx)          # checks x and hx as trace() does
        with torch.no_grad():
            xi = adopted.front(x if x.dim() == 3 else x[None])
        lt = scan_long(adopted.inner, xi if x.dim() == 3 else xi[0], adopted.hx(hx, x.shape[-2]),
                       checkpoint_every=checkpoint_every, chunk=chunk, overview_blocks=overview_blocks,
                       progress=progress, keep_whole=0)
        lt.back = adopted.back
        return lt
    kind = kinds.of(rnn)
    lazy = not isinstance(x, Tensor)          # a lazy source is checked chunk by chunk as it is read
    if not lazy:
        # The module's own layout, checked once; kept time-major ((N, B, I), or (N, I) unbatched)
        # so that chunks and windows are slices along dim 0 whatever batch_first says.
        x_tm, batched = time_major(rnn, x)
        x = x_tm if batched else x_tm[:, 0]
    N = len(x)
    if N == 0:
        raise InputError("the input is empty; give at least one step.")
    if checkpoint_every < 1 or chunk < checkpoint_every:
        raise InputError("checkpoint_every must be at least 1 and no larger than chunk.")
    chunk = (chunk // checkpoint_every) * checkpoint_every
    first = check_x(rnn, _slice(x, 0, min(N, 2)))
    batched = first.dim() == 3
    B = first.shape[1] if batched else 1
    L, D = rnn.num_layers, (2 if rnn.bidirectional else 1)
    H, Hout = rnn.hidden_size, (rnn.proj_size or rnn.hidden_size)
    K = checkpoint_every
    n_ck = -(-N // K) + 1                 # boundaries 0, K, 2K, ..., N
    w = rnn.weight_ih_l0
    h_ck = torch.zeros(L, D, n_ck, B, Hout, dtype=w.dtype, device=w.device)
    S = H * max(1, len(kind.carried))        # the carried state's width: c (LSTM), c, n, m packed (sLSTM)
    c_ck = torch.zeros(L, D, n_ck, B, S, dtype=w.dtype, device=w.device) if kind.has_c else None
    if hx is not None:
        h0, c0 = check_hx(rnn, hx, B, batched)          # (L*D, B, ·), as trace() reads hx
        h0 = h0.view(L, D, B, Hout)
        h_ck[:, 0, 0] = h0[:, 0]
        if D == 2:
            h_ck[:, 1, -1] = h0[:, 1]
        if c_ck is not None:
            c0 = c0.view(L, D, B, S)
            c_ck[:, 0, 0] = c0[:, 0]
            if D == 2:
                c_ck[:, 1, -1] = c0[:, 1]
    lt = LongTrace(rnn, x, N, K, kind.name, h_ck, c_ck)
    names = kind.names()
    # the quantities reduced together: the gate block (one (T, B, G, H) tensor), then c, h on their own
    gate_names = list(kind.gates)
    groups = ({gate_names[0]: gate_names} if gate_names else {}) | {n: [n] for n in names[len(gate_names):]}
    if overview_blocks:
        lt.block = -(-N // overview_blocks)
    acc = PassStats(L, D, N, lt.block if overview_blocks else 0)
    lo = torch.tensor([thresholds(g, kind.name)[0] for g in gate_names], dtype=w.dtype, device=w.device)[:, None]
    hi = torch.tensor([thresholds(g, kind.name)[1] for g in gate_names], dtype=w.dtype, device=w.device)[:, None]
    total_work, done = L * D * N, 0
    nonlin = getattr(rnn, "nonlinearity", "tanh")

    def layer_input(l: int, s: int, e: int) -> Tensor:
        """Input of layer l over chunk-aligned [s, e), (T, B, I), recomputed from lower checkpoints."""
        xs = _slice(x, s, e)
        xs = check_x(rnn, xs) if lazy else xs
        xs = xs.unsqueeze(1) if xs.dim() == 2 else xs
        for m in range(l):
            outs = []
            for d in range(D):
                j = s // K if d == 0 else (-(-e // K) if e < N else n_ck - 1)
                c0 = c_ck[m, d, j] if c_ck is not None else None
                inp = xs if d == 0 else reverse_padded(xs, None)
                r = run_layer(kind, layer_params(rnn, m, d), inp, h_ck[m, d, j], c0, nonlinearity=nonlin)
                outs.append(r.h if d == 0 else r.h.flip(0))
            xs = torch.cat(outs, -1)
        return xs

    with torch.no_grad():
        for l in range(L):
            for d in range(D):
                p = layer_params(rnn, l, d)
                starts = list(range(0, N, chunk))
                if d == 1:
                    starts.reverse()
                j0 = 0 if d == 0 else n_ck - 1
                h, c = h_ck[l, d, j0], (c_ck[l, d, j0] if c_ck is not None else None)
                for s in starts:
                    e = min(s + chunk, N)
                    inp = layer_input(l, s, e)
                    r = run_layer(kind, p, inp if d == 0 else inp.flip(0), h, c, nonlinearity=nonlin)
                    h, c = r.h_n, r.c_n
                    pos0, rev = (s, False) if d == 0 else (e - 1, True)
                    if gate_names:
                        acc.add(gate_names[0], l, d, r.gate_block(), pos0, rev, lo, hi)
                    for name, v in kind.unpack(r.c).items():       # c; an sLSTM's c, n, m
                        acc.add(name, l, d, v.unsqueeze(2), pos0, rev)
                    acc.add("h", l, d, r.h.unsqueeze(2), pos0, rev)
                    done += e - s
                    if progress is not None:
                        progress(done / total_work)
                    # checkpoints inside this chunk: forward state after step jK-1; reverse before jK-1
                    for j in range(-(-s // K), e // K + 1):
                        if d == 0 and j * K > s:
                            h_ck[l, d, j] = r.h[j * K - s - 1]
                            if c_ck is not None:
                                c_ck[l, d, j] = r.c[j * K - s - 1]
                        elif d == 1 and s <= j * K < e:
                            i = e - 1 - j * K       # reversed index of input position j*K
                            h_ck[l, d, j] = r.h[i]
                            if c_ck is not None:
                                c_ck[l, d, j] = r.c[i]
                    if d == 0 and e == N:
                        h_ck[l, d, n_ck - 1], c_last = h, c
                        if c_ck is not None:
                            c_ck[l, d, n_ck - 1] = c_last
    lt.stats, lt.overview = acc.finish(groups)
    size = N * B * L * D * len(names) * H
    if 0 < size <= keep_whole:
        lt.whole = lt._trace(0, N)
    return lt
