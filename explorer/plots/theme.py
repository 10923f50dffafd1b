"""Figures for a light or a dark page: the colours a figure draws its text, axes and neutral ink in, per
theme, and themed(), which finishes any figure of this package for one. Re-exported by plots.

    fig = themed(gates_figure(...), "dark")

Backgrounds are transparent in both themes: the page shows through, so a figure never sits on the page
as a slab of another colour (not even in a browser whose theme changed since the figure was drawn).
The text colours are Streamlit's own (1.67) for its light and dark themes (the page's body text, read from
the served page's computed style), so every
label has the contrast the page's text has (at least 4.5:1, WCAG AA, against either background).
"""
from __future__ import annotations

from dataclasses import dataclass

import plotly.graph_objects as go

TRANSPARENT = "rgba(0,0,0,0)"


@dataclass(frozen=True)
class Theme:
    """What a figure draws in, besides its data's colour scales."""
    name: str
    background: str      # the page's own background (opaque fills that must hide wires: operator nodes)
    text: str            # every label: titles, ticks, legends, colour bars
    muted: str           # secondary text (footnotes inside a figure)
    ink: str             # neutral data ink: "the actual series", wires, outlines
    grid: str            # grid lines, faint
    axis: str            # axis lines and ticks
    legend: str          # a legend's box over data


THEMES = {
    "light": Theme("light", background="#ffffff", text="#2f2d2b", muted="#5a5753", ink="#4d4a46", grid="#e8e6e3",
                   axis="#8c8884", legend="rgba(255,255,255,0.8)"),
    "dark": Theme("dark", background="#171614", text="#edebe8", muted="#c2bfba", ink="#cfccc7",
                  grid="rgba(237,235,232,0.14)", axis="#8c8884", legend="rgba(23,22,20,0.8)"),
}


def theme_of(name: str | None) -> Theme:
    """THEMES[name], light for anything else (a page that has not said which theme it shows)."""
    return THEMES.get(name or "light", THEMES["light"])


def themed(fig: go.Figure, theme: str | None = "light", large: bool = False) -> go.Figure:
    """The same figure (changed in place and returned) for a page in `theme` ("light" or "dark"):
    transparent backgrounds, text, axes, grid, spikes and legend boxes in the theme's colours.
    large: for a projector (presentation mode): the figure's own text at 16 px at least, lines 3 px.
    Colours a builder set for its data (scales, lines, the cell diagram's ink) stay as they are:
    builders whose ink depends on the theme take it themselves (cell_figure, forecast_figure)."""
    t = theme_of(theme)
    fig.update_layout(paper_bgcolor=TRANSPARENT, plot_bgcolor=TRANSPARENT, font_color=t.text,
                      legend_bgcolor=t.legend if fig.layout.legend.bgcolor else None)
    axes = dict(gridcolor=t.grid, linecolor=t.axis, zerolinecolor=t.axis, tickcolor=t.axis)
    fig.update_xaxes(**axes)
    fig.update_yaxes(**axes)
    fig.update_xaxes(spikecolor=t.text, selector=dict(showspikes=True))
    # a figure's own footnotes and hover boxes: the page's colours (plotly's default hover box is the trace's)
    fig.update_annotations(selector=lambda a: a.font.color is None, font_color=t.text)
    if large:
        fig.update_layout(font_size=max(16, fig.layout.font.size or 12))
        # a data line (plotly's default 2 px) gets thicker; a faint guide a builder drew thinner stays as it is
        fig.update_traces(line_width=3, selector=lambda tr: tr.type == "scatter" and "lines" in (tr.mode or "lines")
                          and tr.line.width in (None, 2))
    return fig
