"""trace(): exact gate and state traces of a stock nn.LSTM / nn.GRU / nn.RNN.

    tr = explorer.trace(rnn, x, hx=None, *, lengths=None, intervene=None)

Every tensor in a Trace is laid out (num_layers, num_directions, T, B, H): the reverse
direction is indexed by input position, like the module's own output. output, h_n and c_n
equal what rnn(x, hx) returns (eval mode: dropout between layers is not applied). A Trace is
a result to read: output may share memory with h (copying it would cost a pass over the
largest tensor of a one-layer trace).

Interventions (`intervene`): an Intervention, a list of them, or a dict shorthand such as
{"f": 1.0, "i": 0.0}. Each replaces ("set"), shifts ("add") or multiplies ("scale") the
activated value of one gate — or the new state "c" / "h" — at the chosen layers,
directions, units and steps (input positions), for every sequence in the batch. The step
then proceeds with the edited value, so everything downstream (later steps, later layers,
output, h_n, c_n) shows the consequence; the Trace records the edited gate values.
Example: f := 1 and i := 0 for a unit keep its cell state exactly constant.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Optional, Sequence, Union

import torch
from torch import Tensor

from explorer.errors import InputError

from . import kinds, references
from .engine import layer_params, reverse_padded, run_layer
from .kinds import Kind

Index = Union[None, int, slice, range, Sequence[int]]


@dataclass
class Intervention:
    """Edit a gate (or the new state "c"/"h") where layers/directions/units/steps select.
    None selects everything; steps are input positions (also for the reverse direction)."""
    gate: str
    value: float
    mode: str = "set"            # "set" | "add" | "scale"
    layers: Index = None
    directions: Index = None
    units: Index = None
    steps: Index = None


@dataclass
class Trace:
    """Result of trace(). See the module docstring for the layout."""
    kind: str
    gates: dict[str, Tensor]
    h: Tensor
    c: Optional[Tensor]
    output: Tensor
    h_n: Tensor
    c_n: Optional[Tensor]
    lengths: Optional[Tensor] = None
    batch_first: bool = False
    meta: dict = field(default_factory=dict)
    states: dict[str, Tensor] = field(default_factory=dict)   # sLSTM: the normaliser "n" and stabiliser "m"

    @property
    def num_layers(self) -> int:
        return self.h.shape[0]

    @property
    def num_directions(self) -> int:
        return self.h.shape[1]

    @property
    def steps(self) -> int:
        return self.h.shape[2]

    def values(self, name: str) -> Tensor:
        """A gate or state by name ("i".."o", "r","z","n", "c", "h"): (L, D, T, B, H)."""
        if name == "h":
            return self.h
        if name == "c":
            if self.c is None:
                raise InputError(f"a {kinds.label(self.kind)} has no cell state c; pick one of {', '.join(self.names())}.")
            return self.c
        if name in self.states:
            return self.states[name]
        if name not in self.gates:
            raise InputError(f"a {kinds.label(self.kind)} has no gate {name!r}; pick one of {', '.join(self.names())}.")
        return self.gates[name]

    def names(self) -> list[str]:
        """Everything values() accepts, gates first."""
        return list(self.gates) + (["c"] if self.c is not None else []) + list(self.states) + ["h"]

    def plot(self, names=None, *, layer: int = 0, direction: int = 0, batch: int = 0, units=24, labels=None,
             start: int = 0):
        """A plotly figure (it shows itself in Jupyter) of every gate and state of this trace, stacked on
        one time axis: plot() for all, plot("f") or plot(["f", "c"]) for some.

        units: how many units (the most variable, by c for an LSTM, else h) or a list of unit ids;
        labels: what each step reads (e.g. list(text)), drawn under the time axis; start: the input
        position of step 0 (for a window). Needs plotly (installed with gate-explorer)."""
        from explorer import plots
        names = self.names() if names is None else ([names] if isinstance(names, str) else list(names))
        vals = {n: self.values(n)[layer, direction, :, batch].T.float().cpu().numpy() for n in names}
        top = lambda v, k: torch.argsort(torch.nan_to_num(torch.as_tensor(v).double()).std(1), descending=True)[:k].tolist()
        if isinstance(units, int):           # the most variable units of c (LSTM) or h; a projected h picks its own
            ref = self.values("c" if self.c is not None else "h")[layer, direction, :, batch].T
            chosen = top(ref, units)
            rows = {n: chosen if v.shape[0] == ref.shape[0] else top(v, units) for n, v in vals.items()}
        else:
            rows = {n: [u for u in units if u < v.shape[0]] for n, v in vals.items()}
        steps = torch.arange(start, start + self.steps).numpy()
        return plots.gates_figure({n: vals[n][rows[n]] for n in names}, rows, steps, labels)


def kind_of(rnn) -> str:
    """"lstm", "gru" or "rnn" for a stock module (kinds.of(rnn) gives the whole description)."""
    return kinds.of(rnn).name


def check_x(rnn, x) -> Tensor:
    if not isinstance(x, Tensor):
        raise InputError(f"x must be a torch.Tensor, got {type(x).__name__}.")
    if x.layout != torch.strided or x.is_meta:
        raise InputError(f"x must be a dense tensor with data (got a {'meta' if x.is_meta else str(x.layout)} tensor); "
                         "use x.to_dense() or a tensor on a real device.")
    if x.dim() not in (2, 3):
        raise InputError(f"x must have 2 (unbatched: T, input_size) or 3 dimensions, got shape {tuple(x.shape)}.")
    if x.shape[-1] != rnn.input_size:
        raise InputError(f"x has {x.shape[-1]} features per step but the module expects input_size={rnn.input_size}.")
    w = rnn.weight_ih_l0
    if not x.is_floating_point():
        raise InputError(f"x must be a floating-point tensor, got {x.dtype}; for characters, embed the ids first.")
    if x.dtype != w.dtype:
        raise InputError(f"x is {x.dtype} but the module's weights are {w.dtype}; convert one to match.")
    if x.device != w.device:
        raise InputError(f"x is on {x.device} but the module is on {w.device}; move one to the other.")
    # One reduction first (NaN or inf anywhere makes the sum non-finite; so can an overflow,
    # which the exact check then clears): isfinite over the whole input costs ten times more.
    if x.numel() and not math.isfinite(float(x.sum())) and not torch.isfinite(x).all():
        bad = (~torch.isfinite(x)).nonzero()[0].tolist()
        raise InputError(f"x contains NaN or inf (first at index {tuple(bad)}); clean the input first.")
    T = x.shape[1] if (x.dim() == 3 and rnn.batch_first) else x.shape[0]
    if T == 0 or x.numel() == 0:
        raise InputError(f"x is empty (shape {tuple(x.shape)}); give at least one step.")
    return x


def time_major(rnn, x, *, check: bool = True) -> tuple[Tensor, bool]:
    """x as the module takes it -> (a checked (T, B, I) view, whether x was batched).

    The one place the module's own layout is read: (T, B, I), (B, T, I) when rnn.batch_first,
    or unbatched (T, I) as a batch of one. Every public entry (trace, scan_long, gradient_flow)
    goes through here, so they all accept exactly the same inputs. check=False skips the checks
    (a pass over x) for an x that trace() has just checked."""
    if check:
        x = check_x(rnn, x)
    if x.dim() == 2:
        return x.unsqueeze(1), False
    return (x.transpose(0, 1) if rnn.batch_first else x), True


def _check_lengths(lengths, B: int, T: int, batched: bool) -> Optional[Tensor]:
    if lengths is None:
        return None
    if not batched:
        raise InputError("lengths only applies to a batched (3-D) x.")
    try:
        L = torch.as_tensor(lengths)
    except Exception:
        raise InputError("lengths must be a list or 1-D tensor of integers, one per sequence.") from None
    if L.dim() != 1 or L.numel() != B or L.is_floating_point() or L.dtype == torch.bool:
        raise InputError(f"lengths must be {B} integers (one per sequence), got {L.tolist() if L.numel() < 20 else L.shape}.")
    if (L < 1).any() or (L > T).any():
        raise InputError(f"every length must be between 1 and T={T}, got {L.tolist() if B < 20 else 'values outside'}.")
    return L.long().cpu()


def check_hx(rnn, hx, B: int, batched: bool):
    """hx as the module takes it -> (h0, c0) as (L*D, B, H_out) and (L*D, B, H) (c0 None for a kind
    without a cell state); zeros where hx is None. The one place initial states are read."""
    kind = kinds.of(rnn)
    LD = rnn.num_layers * (2 if rnn.bidirectional else 1)
    H, Hout = rnn.hidden_size, (rnn.proj_size or rnn.hidden_size)
    w = rnn.weight_ih_l0
    zeros = lambda n: torch.zeros(LD, B, n, dtype=w.dtype, device=w.device)
    if hx is None:
        return zeros(Hout), (zeros(H * max(1, len(kind.carried))) if kind.has_c else None)
    if len(kind.carried) > 1:                       # sLSTM: h_0 alone, or (h_0, c_0, n_0, m_0)
        if isinstance(hx, Tensor):
            hx = (hx, *(zeros(H)[:, 0] if not batched else zeros(H) for _ in kind.carried))
        if not (isinstance(hx, (tuple, list)) and len(hx) == 4):
            raise InputError(f"an {kind.label}'s hx must be h_0 or a tuple (h_0, c_0, n_0, m_0).")
        pairs = [("h_0", hx[0], Hout)] + [(f"{n}_0", t, H) for n, t in zip(kind.carried, hx[1:])]
    elif kind.has_c:
        if not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise InputError(f"an {kind.label}'s hx must be a tuple (h_0, c_0).")
        pairs = [("h_0", hx[0], Hout), ("c_0", hx[1], H)]
    else:
        if not isinstance(hx, Tensor):
            raise InputError(f"a {kind.label}'s hx must be one tensor h_0.")
        pairs = [("h_0", hx, Hout)]
    out = []
    for name, t, n in pairs:
        want = (LD, B, n) if batched else (LD, n)
        if not isinstance(t, Tensor) or tuple(t.shape) != want:
            got = tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__
            raise InputError(f"{name} must have shape {want}, got {got}.")
        if t.dtype != w.dtype:
            raise InputError(f"{name} is {t.dtype} but the module's weights are {w.dtype}; convert it.")
        out.append(t if batched else t.unsqueeze(1))
    return out[0], (torch.cat(out[1:], -1) if kind.has_c else None)     # sLSTM: c, n, m packed


def select_mask(idx: Index, n: int, what: str) -> torch.Tensor:
    """A boolean mask of length n from an Index."""
    m = torch.zeros(n, dtype=torch.bool)
    if idx is None:
        m[:] = True
        return m
    shown = repr(idx)[:40]
    if isinstance(idx, range):                       # a range is read by its ends, never listed (range(10**12))
        idx = slice(idx.start, idx.stop, idx.step)
    if isinstance(idx, slice):
        if idx.step is not None and (not isinstance(idx.step, int) or idx.step <= 0):
            raise InputError(f"intervention {what}s {shown} go backwards or by a non-integer step; give them in "
                             "increasing order.")
        try:
            m[idx] = True
        except (TypeError, ValueError):
            raise InputError(f"intervention {what}s {shown} are not a range of whole numbers.") from None
        return m
    if isinstance(idx, bool) or not isinstance(idx, (numbers.Integral, list, tuple, set, frozenset, torch.Tensor)):
        raise InputError(f"intervention {what}s must be a whole number, a list of them, a range or a slice, "
                         f"not {type(idx).__name__}.")
    items = [idx] if isinstance(idx, numbers.Integral) else list(idx)[:n + 1]
    if len(items) > n or not all(isinstance(i, numbers.Integral) and not isinstance(i, bool) or
                                 (isinstance(i, torch.Tensor) and i.dim() == 0 and not i.is_floating_point())
                                 for i in items):
        raise InputError(f"intervention {what}s {shown} must be whole numbers, at most {n} of them.")
    try:
        m[[int(i) for i in items]] = True
    except (IndexError, TypeError):
        raise InputError(f"intervention {what} {shown} is out of range (there are {n}).") from None
    return m


def interventions(intervene, kind: Kind) -> list[Intervention]:
    """`intervene` (an Intervention, a list of them or a {gate: value} dict) -> a checked list."""
    if intervene is None:
        return []
    if isinstance(intervene, Intervention):
        intervene = [intervene]
    elif isinstance(intervene, dict):
        intervene = [Intervention(k, v) for k, v in intervene.items()]
    if not isinstance(intervene, (list, tuple)):
        raise InputError(f"intervene must be an Intervention, a list of them or a {{gate: value}} dict, not "
                         f"{type(intervene).__name__}.")
    allowed = kind.names()
    for iv in intervene:
        if not isinstance(iv, Intervention):
            raise InputError(f"intervene holds a {type(iv).__name__}; every item must be an explorer.Intervention.")
        if iv.gate not in allowed:
            raise InputError(f"a {kind.label} cannot edit {str(iv.gate)[:20]!r}; choose from {', '.join(allowed)}.")
        if iv.mode not in ("set", "add", "scale"):
            raise InputError(f"intervention mode must be 'set', 'add' or 'scale', not {str(iv.mode)[:20]!r}.")
        if isinstance(iv.value, bool) or not isinstance(iv.value, (int, float)) or not math.isfinite(iv.value):
            raise InputError(f"an intervention's value must be a finite number, not {str(iv.value)[:20]!r}.")
    return list(intervene)


def _editor(ivs, layer, direction, L, D, T, H_of, lengths, B, device):
    """For one layer/direction: (edit(t) for forward-ordered step t, first step t0) or (None, T)."""
    rules = []
    for iv in ivs:
        if not (select_mask(iv.layers, L, "layer")[layer] and select_mask(iv.directions, D, "direction")[direction]):
            continue
        units = select_mask(iv.units, H_of(iv.gate), "unit").to(device)
        pos = select_mask(iv.steps, T, "step")                      # by input position
        t = torch.arange(T)[:, None].expand(T, B)
        if direction == 1:                                      # forward-ordered step -> input position
            Lb = lengths[None, :] if lengths is not None else torch.full((1, B), T)
            t = torch.where(t < Lb, Lb - 1 - t, t)
        rules.append((iv, pos[t].to(device), units))            # (T, B) mask of edited steps
    if not rules:
        return None, T
    t0 = min(int(m.any(1).nonzero()[0]) if m.any() else T for _, m, _ in rules)

    def edit_at(t):
        active = [(iv, m[t], u) for iv, m, u in rules if m[t].any()]
        if not active:
            return None

        def edit(name, v):
            for iv, mb, u in active:
                if iv.gate == name:
                    new = {"set": torch.full_like(v, iv.value), "add": v + iv.value, "scale": v * iv.value}[iv.mode]
                    v = torch.where(mb[:, None] & u[None, :], new, v)
            return v
        return edit
    return edit_at, t0


def trace(rnn, x: Tensor, hx=None, *, lengths=None, intervene=None) -> Trace:
    """Trace every gate and state of a stock nn.LSTM / nn.GRU / nn.RNN over x.

    x: (T, B, input_size), or (B, T, input_size) if rnn.batch_first, or unbatched (T, input_size).
    hx: as the module takes it. lengths: B ints for a padded batch (same as a PackedSequence).
    Returns a Trace; gates/h/c are (num_layers, num_directions, T, B, H), padded steps NaN.
    Also explorer.MinGRU / MinLSTM / SLSTM, and the reference packages' modules (references.py).
    """
    adopted = references.adopt(rnn)
    if adopted is not None:
        return _reference_trace(adopted, x, hx, lengths, intervene)
    kind = kinds.of(rnn)
    x, batched = time_major(rnn, x)
    T, B = x.shape[:2]
    lengths = _check_lengths(lengths, B, T, batched)
    h0, c0 = check_hx(rnn, hx, B, batched)
    ivs = interventions(intervene, kind)

    L, D = rnn.num_layers, (2 if rnn.bidirectional else 1)
    H, Hout = rnn.hidden_size, (rnn.proj_size or rnn.hidden_size)
    H_of = lambda g: Hout if g == "h" else H
    nonlin = getattr(rnn, "nonlinearity", "tanh")
    names = kind.gates
    per = {n: [] for n in ("h", "c", *names)}          # (T, B, H) per layer and direction, in input order
    h_n, c_n = [], []

    with torch.no_grad():
        inp = x
        for l in range(L):
            for d in range(D):
                k = l * D + d
                xs = inp if d == 0 else reverse_padded(inp, lengths)
                edit, t0 = _editor(ivs, l, d, L, D, T, H_of, lengths, B, x.device)
                lt = run_layer(kind, layer_params(rnn, l, d), xs, h0[k], c0[k] if c0 is not None else None,
                               lengths=lengths, nonlinearity=nonlin, edit=edit, t0=t0)
                back = (lambda t: t) if d == 0 else (lambda t: reverse_padded(t, lengths))
                per["h"].append(back(lt.h))
                per["c"].append(back(lt.c) if lt.c is not None else None)
                for g in names:
                    per[g].append(back(lt.gates[g]))
                h_n.append(lt.h_n)
                c_n.append(lt.c_n)
            inp = torch.cat(per["h"][-D:], -1) if D == 2 else per["h"][-1]
        output = inp.clone() if lengths is not None else inp      # padding: 0 here, NaN in h

        # (L, D, T, B, H): a view when there is one layer and direction, else one copy.
        stack = lambda ts: ts[0].unsqueeze(0).unsqueeze(0) if L * D == 1 else torch.stack(ts).unflatten(0, (L, D))
        h_all = stack(per["h"])
        c_all = stack(per["c"]) if kind.has_c else None
        gates = {g: stack(per[g]) for g in names}
        if lengths is not None:
            pad = (torch.arange(T)[:, None] >= lengths[None, :]).to(x.device)     # (T, B)
            output[pad] = 0.0
            for t in [h_all, c_all, *gates.values()]:
                if t is not None:
                    t[:, :, pad] = float("nan")
    h_n = torch.stack(h_n)
    c_n = torch.stack(c_n) if kind.has_c else None
    states, finals = {}, {}
    if len(kind.carried) > 1:                    # sLSTM: c, n, m were carried packed; the trace names them
        states, finals = kind.unpack(c_all), kind.unpack(c_n)
        c_all, c_n = states.pop("c"), finals.pop("c")
    if not batched:
        output, h_n = output[:, 0], h_n[:, 0]
        c_n = c_n[:, 0] if c_n is not None else None
    elif rnn.batch_first:
        output = output.transpose(0, 1)
    if not batched:
        finals = {k: v[:, 0] for k, v in finals.items()}
    return Trace(kind.name, gates, h_all, c_all, output, h_n, c_n, lengths, bool(rnn.batch_first),
                 {"nonlinearity": nonlin, "hidden_size": H, "proj_size": rnn.proj_size, "batched": batched,
                  "finals": finals}, states)


def _reference_trace(a: references.Adopted, x, hx, lengths, intervene) -> Trace:
    """trace() of a reference package's module through our module with its weights (references.py):
    x (B, T, I) as the module takes it, or unbatched (T, I); output is the module's own."""
    if not isinstance(x, Tensor) or x.dim() not in (2, 3) or x.shape[-1] != a.input_size:
        got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise InputError(f"a {type(a.source).__name__} reads (B, T, {a.input_size}) (batch first), got {got}.")
    batched = x.dim() == 3
    xb = x if batched else x[None]
    with torch.no_grad():
        tr = trace(a.inner, a.front(xb), a.hx(hx, xb.shape[1]), lengths=lengths, intervene=intervene)
        out = a.back(tr.output if batched else tr.output[None])
    tr.output = out if batched else out[0]
    tr.meta["reference"] = type(a.source).__name__
    return tr
