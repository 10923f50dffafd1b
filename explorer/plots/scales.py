"""The colour scales every figure and key uses, chosen to stay readable with colour-vision deficiency,
and the names the keys give them. Re-exported by plots.

    SEQ  viridis: values in [0, 1] (sigmoid gates: shut .. open). Perceptually uniform, and its
         lightness rises from end to end, so it reads the same with deuteranopia, protanopia or in grey
         (van der Walt & Smith 2015; matplotlib's default colormap).
    DIV  blue–white–red (ColorBrewer RdBu, reversed): signed values (tanh gates, h, c) around 0. Blue
         and red stay apart with red-green deficiency (ColorBrewer marks it colour-blind safe), and both
         halves darken away from the white middle, so the sign and the size read without hue.
    REACH cividis (in connectivity.py): optimised for deuteranopia (Nuñez et al. 2018).

tests/plots/test_scales.py checks these claims on the scales themselves, through a simulation of
deuteranopia and protanopia (Machado et al. 2009).
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from explorer.core.cells import value_range

SEQ = "Viridis"
DIV = "RdBu_r"
GRADIENT_DECADES = (SEQ, -12.0, 0.0)     # gradient_units' colour scale: decades below a model's largest
# what a key calls each scale (a key names the scale, so a reader knows how to read the colours)
SCALE_NAMES = {"Viridis": "viridis", "RdBu_r": "blue–red", "Cividis": "cividis"}


def scale_name(colorscale) -> str:
    """The name a key gives a colour scale: SCALE_NAMES for plotly's named ones; for our own stops
    ([[pos, colour], ...]) the colours of its ends, as words where we have them ("white–blue")."""
    if isinstance(colorscale, str):
        return SCALE_NAMES.get(colorscale, colorscale.lower())
    ends = [colorscale[0][1], colorscale[-1][1]]
    return "–".join(_WORDS.get(c.lower(), c) for c in ends)


_WORDS = {"#ffffff": "white", "#4292c6": "blue", "#08519c": "blue"}


def gate_scale(name: str, values: Optional[np.ndarray] = None, bound: Optional[float] = None, kind: str = ""):
    """(colorscale, zmin, zmax) for a gate or state of a cell `kind` (cells.value_range): gates in [0, 1] on
    the sequential scale; tanh gates and h in [-1, 1]; an unbounded value (c, the sLSTM's n and m, minGRU's
    h̃ and h) symmetric, ±bound when given (e.g. its largest |value| over a whole input, so that every window of
    it is coloured alike), else the largest |value| in values."""
    r = value_range(name, kind)
    if r == (0, 1):
        return SEQ, 0.0, 1.0
    if r == (-1, 1):
        return DIV, -1.0, 1.0
    if bound is None:
        v = np.asarray(values if values is not None else [])
        bound = float(np.nanmax(np.abs(v))) if v.size and np.isfinite(v).any() else 1.0
    m = max(float(bound), 1e-6)
    return DIV, -m, m


def ink_on(fill: str) -> str:
    """Black or white, whichever reads better on a fill ("rgb(r, g, b)" or "#rrggbb"): WCAG's luminance (the better
    of the two is always at least 4.58:1)."""
    import plotly.colors as pcolors
    r, g, b = pcolors.unlabel_rgb(fill) if fill.startswith("rgb") else pcolors.hex_to_rgb(fill)
    lin = [(c / 255) / 12.92 if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    L = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    return "#000000" if (L + 0.05) / 0.05 >= 1.05 / (L + 0.05) else "#ffffff"


def fills(values: np.ndarray, colorscale, lo: float, hi: float) -> list[str]:
    """The colour each value gets on a colour scale between lo and hi (NaN: the low end), as "rgb(r, g, b)"."""
    import plotly.colors as pcolors
    scale = pcolors.get_colorscale(colorscale) if isinstance(colorscale, str) else \
        [[float(a), c] for a, c in colorscale]          # a figure's validated scale is a tuple of pairs
    frac = np.clip((np.nan_to_num(np.asarray(values, np.float64), nan=lo) - lo) / ((hi - lo) or 1.0), 0, 1)
    return pcolors.sample_colorscale(scale, frac.ravel().tolist())
