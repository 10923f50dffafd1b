"""The first screen's finding: one true, interesting sentence about this model on this input, and the values of the
one unit it is about, so the page can draw it (the text coloured by that unit, as Karpathy, Johnson & Fei-Fei's
"Visualizing and Understanding Recurrent Networks", 2015, drew theirs).

    f = finding(tr, text=text)                  # a char model on its text
    f = finding(tr, series=x, names=["Passengers"])   # a model reading a series
    f.sentence, f.kind, f.values                # kind: "unit" | "gate" | "none"; values (T,) of the unit

In order of what a newcomer can see at a glance:
1. the unit finder's strongest unit (|r| ≥ MIN_R) and the feature it tracks (position in the line, inside quotes,
   bracket depth, or a series' value, rising, falling …);
2. else a gate that is nearly always open (above 0.9 on ≥ 90% of the steps: a memory kept almost untouched);
3. else a plain sentence that the finder has nothing for this input.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from explorer.core import kinds
from explorer.core.cells import gate_name, value_range

from .units import find_units, series_tracks

# How a correlation reads for the text's features (units.feature_tracks), by the sign of r.
READS = {("position in line", False): "high at the start of each line, falling as the line goes on",
         ("position in line", True): "rising as each line goes on",
         ("inside quotes", True): "high inside quotation marks", ("inside quotes", False): "low inside quotation marks",
         ("bracket depth", True): "rising with each open bracket", ("whitespace", True): "high on spaces and newlines",
         ("newline", True): "high at the ends of lines", ("start of word", True): "high at the start of each word",
         ("uppercase", True): "high on capital letters", ("vowel", True): "high on vowels"}
MIN_R = 0.5           # below this a "tracks" sentence would overstate what the unit does
OPEN, OPEN_SHARE = 0.9, 0.9


@dataclass
class Finding:
    sentence: str
    kind: str                                   # "unit" | "gate" | "none"
    name: Optional[str] = None                  # the gate or state ("c", "f" …)
    layer: int = 0
    direction: int = 0
    unit: int = 0
    r: float = 0.0
    values: Optional[np.ndarray] = None         # (T,) that unit over the input, float64


def _values(tr, name, layer, direction, unit) -> np.ndarray:
    return tr.values(name)[layer, direction, :, 0, unit].double().numpy()


def _where(tr, name: str, layer: int, direction: int) -> str:
    L, D = tr.values(name).shape[:2]
    parts = ([f"layer {layer}"] if L > 1 else []) + ([("backward" if direction else "forward")] if D > 1 else [])
    return f" ({', '.join(parts)})" if parts else ""


def finding(tr, *, text: Optional[str] = None, series=None, names: Optional[Sequence[str]] = None) -> Finding:
    """The finding for a Trace `tr` of one sequence (batch 0): over its characters `text`, or its `series` (N, F)."""
    # A first layer's gates that read x_t alone (minGRU, minLSTM) are functions of the current input: a perfect
    # match with "whitespace" says nothing learned about the past, so only h (or a higher layer) may be the finding.
    blind = not kinds.get(tr.kind).gates_see_past
    top = 10 if blind else 1
    if text is not None:
        rows = find_units(tr, text, top=top)
    elif series is not None:
        rows = find_units(tr, None, top=top, tracks=series_tracks(series, names))
    else:
        rows = []
    if blind:
        rows = [r for r in rows if r["name"] == "h" or r["layer"] > 0]
    best = max(rows, key=lambda row: abs(row["r"])) if rows else None
    if best is not None and abs(best["r"]) >= MIN_R:
        name, l, d, u, r = best["name"], best["layer"], best["direction"], best["unit"], best["r"]
        what = gate_name(name, tr.kind)
        how = READS.get((best["track"], r > 0), "high where the feature is high" if r > 0 else "running opposite to it")
        taught = ("No one told it to: it learned this from the text it was trained on." if text is not None else
                  "Nothing in its training named this feature: it found it useful.")
        sentence = (f"Unit {u}'s {what}{_where(tr, name, l, d)} tracks the {best['track']} on this input "
                    f"(r = {r:+.2f}: {how}). {taught}")
        return Finding(sentence, "unit", name, l, d, u, r, _values(tr, name, l, d, u))
    gate = _open_gate(tr)
    if gate is not None:
        return gate
    said = f" (its strongest unit reaches |r| = {abs(best['r']):.2f})" if best is not None else ""
    return Finding(f"On this input the unit finder finds no unit that tracks a simple feature{said}, and no gate "
                   "stays open: the Units tab searches further, and you can give it your own feature.", "none")


def _open_gate(tr) -> Optional[Finding]:
    """The gate unit open (above OPEN) on the largest share of steps, if that share is at least OPEN_SHARE: the
    gates in [0, 1] of this kind (cells.value_range; an sLSTM's z is a tanh, its i and f stabilised into [0, 1])."""
    best = None
    for name in (n for n in tr.names() if value_range(n, tr.kind) == (0, 1)):
        try:
            v = tr.values(name)[:, :, :, 0].double()            # (L, D, T, H)
        except (KeyError, AttributeError, ValueError):
            continue
        share = (v > OPEN).double().mean(2)                     # (L, D, H)
        k = int(share.argmax())
        l, rem = divmod(k, share.shape[1] * share.shape[2])
        d, u = divmod(rem, share.shape[2])
        s = float(share[l, d, u])
        if best is None or s > best[0]:
            best = (s, name, l, d, u)
    if best is None or best[0] < OPEN_SHARE:
        return None
    s, name, l, d, u = best
    what = gate_name(name, tr.kind)
    keeps = {"f": "keeps its memory almost untouched", "z": "keeps its state almost untouched",
             "i": "lets almost every new input in", "o": "shows almost all of its memory", "r": "reads its whole past"}
    if name == "z" and kinds.get(tr.kind).keep_gate != "z":    # minGRU: h_t = (1 − z) h_{t−1} + z h̃, an open z writes
        keeps["z"] = "writes the new candidate over its state almost every step"
    sentence = (f"Unit {u}'s {what}{_where(tr, name, l, d)} is open (above {OPEN}) on {s:.0%} of the steps: that unit "
                f"{keeps.get(name, 'stays open')}.")
    return Finding(sentence, "gate", name, l, d, u, 0.0, _values(tr, name, l, d, u))
