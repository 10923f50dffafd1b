"""Analysis on top of traces: saturation, feature tracks over text, a unit finder, memory spans,
and the init/spectral quantities the gradient-flow comparison draws.

Everything works from a Trace, and the unit finder and saturation also from the long-input
pass (windows.scan_long), so a whole book never has to be held at full resolution.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import re2
import torch
from torch import Tensor, nn

from explorer.core import kinds
from explorer.core.stats import thresholds
from explorer.core.trace import Trace
from explorer.core.windows import LongTrace
from explorer.errors import InputError
from explorer.io.files import short

# ---- saturation (Karpathy, Johnson & Fei-Fei 2015) -----------------------------------------

def saturation(src, gate: str) -> tuple[Tensor, Tensor]:
    """Per unit, the fraction of steps left-saturated (< 0.1; tanh gates < -0.9) and
    right-saturated (> 0.9), from a Trace or a LongTrace. Returns two (L, D, H) tensors
    (averaged over the batch)."""
    if isinstance(src, LongTrace):
        if gate not in src.stats or src.stats[gate].low is None:
            raise InputError(f"no saturation statistics for {gate!r}; pick a gate of this {kinds.label(src.kind)}.")
        st = src.stats[gate]
        return st.frac_low.mean(2), st.frac_high.mean(2)
    v = src.values(gate)
    lo, hi = thresholds(gate, src.kind)
    valid = ~torch.isnan(v)
    n = valid.sum(2).clamp_min(1)
    n = n.double()
    return (((v < lo) & valid).sum(2) / n).mean(2), (((v > hi) & valid).sum(2) / n).mean(2)


# ---- feature tracks over text ----------------------------------------------------------------

TRACKS = ("inside quotes", "bracket depth", "position in line", "start of word", "uppercase",
          "digit", "whitespace", "newline", "vowel")


def feature_tracks(text: str, regex: Optional[str] = None) -> dict[str, Tensor]:
    """One float value per character for each named track (and "regex" if given: 1 inside a
    match of the user's pattern). Each track is a (len(text),) float32 tensor."""
    n = len(text)
    quote, depth, pos = [0.0] * n, [0.0] * n, [0.0] * n
    inside, d, col = False, 0, 0
    for k, ch in enumerate(text):               # the three tracks that carry state along the text
        if ch == '"':
            inside = not inside
        quote[k] = float(inside or ch == '"')
        if ch in "([{":
            d += 1
        depth[k] = d
        if ch in ")]}":
            d = max(d - 1, 0)
        pos[k] = col
        col = 0 if ch == "\n" else col + 1
    prev = " " + text[:-1]
    per_char = lambda test: torch.tensor([float(test(c)) for c in text], dtype=torch.float32)
    tr = {
        "inside quotes": torch.tensor(quote), "bracket depth": torch.tensor(depth),
        "position in line": torch.tensor(pos),
        "start of word": torch.tensor([float(c.isalnum() and not p.isalnum()) for c, p in zip(text, prev)]),
        "uppercase": per_char(str.isupper),
        "digit": per_char(str.isdigit),
        "whitespace": per_char(str.isspace),
        "newline": per_char(lambda c: c == "\n"),
        "vowel": per_char(lambda c: c.lower() in "aeiou"),
    }
    if regex:
        tr["regex"] = regex_track(text, regex)
    return tr


REGEX_HELP = ("RE2 syntax (linear time, so no pattern can stall the server): character classes, "
              "groups, alternation, repetition and anchors work; backreferences (\\1) and "
              "look-arounds ((?=…), (?!…), (?<=…), (?<!…)) do not exist in it.")
MAX_PATTERN = 1000          # characters: longer patterns are refused before compiling
# RE2 instructions (r"[\pL\pN]{100}$" compiles to 134,204, r"(?s).{700}x" to 4,905, r"\bthe\b" to 9). RE2's DFA
# keeps states as large as the program; over non-ASCII text a program past ~4,000 fills its cache and matching
# slows a hundredfold (r"(?s).{700}x": 2.2 s on 100,000 characters, r"(?s).{500}x" 0.04 s).
MAX_PROGRAM = 4_000
SAMPLE, MAX_SECONDS = 50_000, 3.0   # characters timed first, and the most a whole text may take


def compile_user_regex(regex: str):
    """A user's pattern compiled with RE2, whose matching time is linear in the text whatever the
    pattern (Python's re backtracks: "(a+)+$" on 30 characters runs for minutes and holds the GIL).
    Raises InputError with one sentence for what RE2 does not have or cannot parse."""
    if not isinstance(regex, str):
        raise InputError("the regular expression must be text.")
    if len(regex) > MAX_PATTERN:
        raise InputError(f"the regular expression is {len(regex):,} characters long; keep it under {MAX_PATTERN:,}.")
    shown = short(regex, 60)
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in regex):
        raise InputError("the regular expression holds a lone surrogate character (half of a character pair, not "
                         "text); remove it.")
    opts = re2.Options()
    opts.max_mem = 8 << 20                    # a bound on the compiled program and its DFA, not on the text
    opts.log_errors = False                   # our sentence, not RE2's log line on the server's stderr
    try:
        pat = re2.compile(regex, opts)
    except re2.error as e:
        for p, what in ((r"\(\?<?[=!]", "look-arounds ((?=…), (?!…), (?<=…), (?<!…))"),
                        (r"\\[1-9]|\(\?P=", "backreferences (\\1, (?P=name))")):
            if re.search(p, regex):
                raise InputError(f"the regular expression {shown!r} uses {what}, which the linear-time "
                                 "engine used here does not support; rewrite it without them.") from None
        msg = e.args[0].decode("utf-8", "replace") if e.args and isinstance(e.args[0], bytes) else str(e)
        if "too large" in msg:
            raise InputError(f"the regular expression {shown!r} is too large for the matcher; repeat groups fewer "
                             "times, e.g. {20} instead of {1000}.") from None
        why = short(msg.splitlines()[0], 100) if msg else "it does not parse"
        raise InputError(f"the regular expression {shown!r} is invalid ({why}); fix it and try again.") from None
    if pat.programsize > MAX_PROGRAM:
        raise InputError(f"the regular expression {shown!r} compiles to {pat.programsize:,} instructions (at most "
                         f"{MAX_PROGRAM:,}); repeat groups fewer times, e.g. {{20}} instead of {{200}}.")
    return pat


def regex_track(text: str, regex: str) -> Tensor:
    """(len(text),) float32: 1 on every character inside a match of `regex` (an empty match marks
    the character it stands before), else 0. Linear time in len(text) (see compile_user_regex)."""
    pat = compile_user_regex(regex)
    n = len(text)
    edges = np.zeros(n + 1, dtype=np.int64)        # +1 where a match starts, -1 where it ends
    # RE2 is linear in the text, but its constant depends on the pattern: nested stars can push it off its
    # DFA onto the NFA, ~1000 times slower per character. Time it on a sample and refuse what would stall.
    # Two samples, a small one first, so that a pattern that stalls is refused in a few tenths of a second
    # (a counted repetition such as [^x]{1000} over non-ASCII text is as slow as nested stars).
    for size in (SAMPLE // 25, SAMPLE):
        if n <= size:
            break
        t0 = time.perf_counter()
        for _ in pat.finditer(text[:size]):
            pass
        guess = (time.perf_counter() - t0) * n / size
        if guess > MAX_SECONDS:
            raise InputError(f"the regular expression {short(regex, 60)!r} would take about {guess:.0f} s over "
                             f"{n:,} characters (nested or long repetitions such as {{1000}} defeat the fast "
                             "matcher on this text); simplify it.")
    for mt in pat.finditer(text):
        s, e = mt.start(), mt.end()
        e = max(e, s + 1)
        if s < n:
            edges[s] += 1
            edges[min(e, n)] -= 1
    return torch.from_numpy((np.cumsum(edges[:n]) > 0).astype(np.float32))


# ---- unit finder -----------------------------------------------------------------------------

@dataclass
class Correlator:
    """Streaming Pearson correlation between every unit of every gate/state and every track.
    Feed windows with update(); sums are float64 so a million steps stay exact enough."""
    n: int = 0
    sums: Optional[dict] = None

    def update(self, tr: Trace, tracks: dict[str, Tensor], batch: int = 0):
        """tr covers steps [a, a+T); tracks are sliced to the same steps (T,) each."""
        F_ = torch.stack([tracks[k] for k in tracks], 1).double()            # (T, K)
        if self.sums is None:
            self.sums = {"names": list(tracks), "sf": torch.zeros(F_.shape[1], dtype=torch.float64),
                         "sff": torch.zeros(F_.shape[1], dtype=torch.float64)}
        s = self.sums
        s["sf"] += F_.sum(0)
        s["sff"] += (F_ * F_).sum(0)
        for name in tr.names():
            v = tr.values(name)[:, :, :, batch].double()                      # (L, D, T, H)
            vv = v.permute(0, 1, 3, 2)                                        # (L, D, H, T)
            if name not in s:
                s[name] = {"sv": 0, "svv": 0, "svf": 0}
            a = s[name]
            a["sv"] = a["sv"] + vv.sum(-1)
            a["svv"] = a["svv"] + (vv * vv).sum(-1)
            a["svf"] = a["svf"] + vv @ F_                                      # (L, D, H, K)
        self.n += F_.shape[0]

    def correlations(self) -> dict[str, Tensor]:
        """{gate/state: (L, D, H, K) Pearson r}, NaN-free (constant signals give 0)."""
        s, n = self.sums, self.n
        out = {}
        mf = s["sf"] / n
        vf = (s["sff"] / n - mf * mf).clamp_min(0)
        for name, a in s.items():
            if not isinstance(a, dict):
                continue
            mv = a["sv"] / n
            vv = (a["svv"] / n - mv * mv).clamp_min(0)
            cov = a["svf"] / n - mv[..., None] * mf
            den = (vv[..., None] * vf).sqrt()
            out[name] = torch.where(den > 1e-12, cov / den.clamp_min(1e-300), torch.zeros_like(cov))
        return out


def series_tracks(series, names: Optional[Sequence[str]] = None, threshold: Optional[float] = None) -> dict[str, Tensor]:
    """Features of a real-valued series (N, F) for the unit finder, per column: its value, rising (1
    where it went up from the step before), falling, above its mean, and above `threshold` (in the
    data's units, first column) when given. Each track is (N,) float32."""
    x = torch.as_tensor(series, dtype=torch.float64)
    x = x[:, None] if x.dim() == 1 else x
    names = list(names or [f"input {j}" for j in range(x.shape[1])])
    tr = {}
    for j, n in enumerate(names[:x.shape[1]]):
        v = x[:, j]
        d = torch.diff(v, prepend=v[:1])
        pre = f"{n}: " if x.shape[1] > 1 else ""
        tr[pre + "value"] = v.float()
        tr[pre + "rising"] = (d > 0).float()
        tr[pre + "falling"] = (d < 0).float()
        tr[pre + "above its mean"] = (v > v.mean()).float()
    if threshold is not None:
        tr[f"{names[0]} above {threshold:g}"] = (x[:, 0] > float(threshold)).float()
    return tr


def find_units(source, text: Optional[str], regex: Optional[str] = None, top: int = 10, window: int = 4096,
               tracks: Optional[dict[str, Tensor]] = None) -> list[dict]:
    """Rank (gate or state, layer, direction, unit) by |correlation| with each feature track.

    source: a Trace over `text` (batch 0), or a LongTrace whose steps are `text`'s characters
    (then the text is read window by window, never whole); or any input with `tracks` given
    ({name: (N,)}, e.g. series_tracks of a series). Returns rows sorted by |r|:
    {"track", "name", "layer", "direction", "unit", "r"}, `top` per track."""
    tracks = tracks if tracks is not None else feature_tracks(text, regex)
    cor = Correlator()
    if isinstance(source, LongTrace):
        for a in range(0, source.steps, window):
            b = min(a + window, source.steps)
            cor.update(source.window(a, b), {k: v[a:b] for k, v in tracks.items()})
    else:
        cor.update(source, tracks)
    rows = []
    names = cor.sums["names"]
    for name, r in cor.correlations().items():
        L, D, H, K = r.shape
        for k, track in enumerate(names):
            flat = r[..., k].abs().flatten()
            for idx in flat.topk(min(top, flat.numel())).indices.tolist():
                l, rem = divmod(idx, D * H)
                d, u = divmod(rem, H)
                rows.append({"track": track, "name": name, "layer": l, "direction": d, "unit": u,
                             "r": float(r[l, d, u, k])})
    rows.sort(key=lambda row: -abs(row["r"]))
    best = {}
    for row in rows:                                   # `top` per track across all gates/states
        best.setdefault(row["track"], [])
        if len(best[row["track"]]) < top:
            best[row["track"]].append(row)
    return sorted((r for v in best.values() for r in v), key=lambda row: -abs(row["r"]))


# ---- ordering units for display ----------------------------------------------------------

ORDERS = ("most variable", "clustered", "unit index")


def order_units(values: Tensor, how: str = "most variable", top: int = 24, std: Optional[Tensor] = None) -> list[int]:
    """Pick and order `top` units of values (H, T) for a heatmap.
    "most variable": by standard deviation (std (H,) if given, e.g. over a whole book, else over T);
    "clustered": the most variable ones, ordered by angle in the plane of their first two
    principal components, so units that move together sit together; "unit index": 0..top-1.
    values and std may be tensors or numpy arrays."""
    values = torch.as_tensor(values)
    std = torch.as_tensor(std) if std is not None else None
    H = values.shape[0]
    top = max(1, min(top, H))
    if how == "unit index":
        return list(range(top))
    s = std if std is not None else torch.nan_to_num(values.double()).std(1)
    pick = torch.argsort(s, descending=True)[:top]
    if how == "most variable" or top < 3:
        return pick.tolist()
    if how != "clustered":
        raise InputError(f"order must be one of {', '.join(ORDERS)}.")
    v = torch.nan_to_num(values[pick].double())
    v = v - v.mean(1, keepdim=True)
    v = v / v.norm(dim=1, keepdim=True).clamp_min(1e-12)
    u, sv, _ = torch.linalg.svd(v, full_matrices=False)
    ang = torch.atan2(u[:, 1] * sv[1], u[:, 0] * sv[0])
    return pick[torch.argsort(ang)].tolist()


def value_bound(lt: LongTrace, name: str, layer: int, direction: int, units: Sequence[int]) -> float:
    """The largest |value| of `name` that these units take anywhere in a LongTrace's input (from its
    running min and max, batch 0): one colour range for every window of that input, so that a window
    looks pale because its values are small, not because its neighbours' were large."""
    s = lt.stats[name]
    idx = torch.as_tensor(list(units), dtype=torch.long)
    lo, hi = s.min[layer, direction, 0].index_select(0, idx), s.max[layer, direction, 0].index_select(0, idx)
    return float(torch.maximum(lo.abs(), hi.abs()).max()) if len(idx) else 1.0


# ---- memory ----------------------------------------------------------------------------------

def memory_span(src) -> Tensor:
    """Effective memory span per LSTM unit, in steps: -1 / mean(ln f), the number of steps
    after which a value written to the cell has decayed to 1/e if nothing else writes.
    From a Trace (averaged over steps and batch): (L, D, H)."""
    f = src.values("f") if isinstance(src, Trace) else None
    if f is None:
        raise InputError("memory span needs an LSTM trace (a forget gate).")
    logf = torch.log(f.clamp_min(1e-30)).nanmean(2).mean(2)
    return -1.0 / logf.clamp_max(-1e-12)


def forget_product(tr: Trace) -> Tensor:
    """∏ f_s for s in (t, T-1]: how much of c_t survives to the last step, per unit.
    (L, D, T, B, H); the last step is 1. Reverse direction: products run toward position 0."""
    f = tr.values("f").double()
    out = torch.ones_like(f)
    fwd = torch.cumprod(f.flip(2), 2).flip(2)          # ∏_{s>=t} f_s
    out[:, 0, :-1] = fwd[:, 0, 1:]
    if f.shape[1] == 2:
        rev = torch.cumprod(f[:, 1], 1)                 # reverse dir: survives down to position 0
        out[:, 1, 1:] = rev[:, :-1]
    return out


# ---- inits and spectra for the comparison ----------------------------------------------------

INITS = ("pytorch default", "forget bias 1", "orthogonal W_hh", "chrono")


@torch.no_grad()
def init_core(core: nn.RNNBase, scheme: str = "pytorch default", t_max: int = 100, seed: int = 0) -> nn.RNNBase:
    """Re-initialise a recurrent module in place. "forget bias 1" (Gers et al. 2000; LSTM), "orthogonal
    W_hh" (each gate block; each head's for an sLSTM; minGRU and minLSTM have no W_hh), "chrono" (Tallec &
    Ollivier 2018: b_f ~ log U(1, t_max-1), b_i = -b_f; LSTM; for a GRU the update-gate bias plays b_f's role)."""
    if scheme not in INITS:
        raise InputError(f"init must be one of {', '.join(INITS)}.")
    g = torch.Generator().manual_seed(seed)
    H = core.hidden_size
    for name, p in core.named_parameters():
        if scheme == "orthogonal W_hh" and name.startswith("weight_hh") and p.dim() == 3:
            d = p.shape[2]                  # an sLSTM's (heads, 4d, d): each head's gate block, square
            for k in range(p.shape[0]):
                for j in range(0, p.shape[1], d):
                    p[k, j:j + d] = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))[0].to(p.dtype)
        elif scheme == "orthogonal W_hh" and name.startswith("weight_hh"):
            for k in range(0, p.shape[0], H):
                q, _ = torch.linalg.qr(torch.randn(H, p.shape[1], generator=g, dtype=torch.float64).T)
                p[k:k + H] = q.T[:H, :p.shape[1]].to(p.dtype) if p.shape[1] >= H else q.T.to(p.dtype)[:H]
        kind = kinds.of(core)
        if name.startswith("bias") and scheme in ("forget bias 1", "chrono") and kind.keep_gate:
            # The gate that keeps memory (LSTM f; GRU z, which in PyTorch weights the OLD state) starts
            # open: its input-side bias carries the value, the recurrent-side one is zeroed.
            block = lambda gate: slice(kind.gates.index(gate) * H, (kind.gates.index(gate) + 1) * H)
            ih = name.startswith("bias_ih")
            if scheme == "forget bias 1":
                p[block(kind.keep_gate)] = 1.0 if ih else 0.0
            else:
                bf = torch.log(1 + (t_max - 2) * torch.rand(H, generator=g)).to(p.dtype)
                p[block(kind.keep_gate)] = bf if ih else 0.0
                if kind.write_gate:
                    p[block(kind.write_gate)] = -bf if ih else 0.0
    return core


def spectral_radius(w_hh: Tensor) -> float:
    """Largest |eigenvalue| of a square recurrent matrix (a vanilla RNN's W_hh)."""
    return float(torch.linalg.eigvals(w_hh.detach().double().cpu()).abs().max())
