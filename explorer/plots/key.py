"""Colour keys for figures drawn without colour bars: a line of HTML (CSS gradients, our own markup of
names and numbers, never user text) that the page shows above a figure. Re-exported by plots."""
from __future__ import annotations

import html

import plotly.colors as pcolors

from .scales import scale_name


def css_gradient(colorscale) -> str:
    """A plotly colorscale (a name such as "Viridis" or "RdBu_r", or [[pos, colour], ...]) as a CSS
    linear-gradient from left (low) to right (high)."""
    stops = pcolors.get_colorscale(colorscale) if isinstance(colorscale, str) else colorscale
    return "linear-gradient(to right, " + ", ".join(f"{c} {100 * float(p):.0f}%" for p, c in stops) + ")"


def scale_key(scales: dict[str, tuple]) -> str:
    """A colour key for figures drawn without colour bars, as a line of HTML (our own markup: names,
    numbers and colours, never user text). scales: {name: (colorscale, lo, hi)}; names with the same
    scale share one entry ("i f o  0 ▭ 1 viridis"), as they share one colour axis in heatmap_stack, and
    each entry names its scale (scales.py: all of them readable with colour-vision deficiency).
    Kept apart from the figures on purpose: a colour bar is the costliest part of drawing a heatmap in
    the browser (an axis of its own, measured text), and a key that does not change is not drawn again."""
    groups: dict[tuple, tuple] = {}                  # (scale as text) -> (its scale, the names it colours)
    for name, (cs, lo, hi) in scales.items():
        groups.setdefault((str(cs), float(lo), float(hi)), ((cs, float(lo), float(hi)), []))[1].append(name)
    items = []
    for (cs, lo, hi), names in groups.values():
        label = " ".join(names)
        items.append(
            "<span style='display:inline-flex;align-items:center;gap:6px;margin-right:28px;white-space:nowrap'>"
            f"<b>{html.escape(label)}</b><span>{lo:.3g}</span>"
            f"<span style='display:inline-block;width:140px;height:12px;border-radius:2px;background:{css_gradient(cs)}'>"
            f"</span><span>{hi:.3g}</span><span style='opacity:0.85;font-size:0.85em'>{html.escape(scale_name(cs))}</span>"
            "</span>")
    return "<div class='ge-key' style='font-size:0.95rem;color:inherit;line-height:1.8'>" + "".join(items) + "</div>"
