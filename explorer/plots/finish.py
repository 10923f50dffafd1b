"""A figure finished for the page: its dict computed once (frozen) and, for a page in a light or a dark
theme, patched with the theme's colours (themed). Re-exported by plots.

    fig = themed(gates_figure(...), "dark")        # a FrozenFigure: drawn as it is from now on

Streamlit's st.plotly_chart serialises fig.to_dict(), so a figure pays for one dict whatever we do; both
functions work on that dict in plain Python (a theme is a few dozen keys), never through plotly's
validators, which cost milliseconds per property (measured: 4-14 ms to theme one small figure through
update_layout, more than building it).
"""
from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

from .theme import TRANSPARENT, theme_of


class FrozenFigure(go.Figure):
    """A finished figure whose dict is computed once (see frozen())."""

    def to_dict(self):
        return self._frozen_dict


class FrozenDict(dict):
    """A frozen figure's dict. Its JSON, what st.plotly_chart sends (plotly.io.to_json of this dict), is computed once
    too: a figure shared by a class is then serialised once, not once per student. themed() clears it."""
    __slots__ = ("json",)

    def __init__(self, *args):
        super().__init__(*args)
        self.json = None


_to_json = pio.to_json


def _to_json_once(fig, *args, **kwargs):
    """plotly.io.to_json, remembered on a FrozenDict (Streamlit passes the figure's to_dict(): this dict)."""
    if isinstance(fig, FrozenDict) and not args and set(kwargs) <= {"validate"}:
        if fig.json is None:
            fig.json = _to_json(fig, **kwargs)
        return fig.json
    return _to_json(fig, *args, **kwargs)


pio.to_json = _to_json_once


def frozen(fig: go.Figure) -> go.Figure:
    """The same figure, finished: its dict (arrays already in plotly's typed form) is computed once and handed
    out by to_dict() from then on, so a figure shared by many sessions costs each of them no copy (Streamlit's
    st.plotly_chart serialises fig.to_dict()). Nothing may change it afterwards (themed() excepted)."""
    if not isinstance(fig, FrozenFigure):
        d = FrozenDict(fig.to_dict())
        fig.__class__ = FrozenFigure
        fig._frozen_dict = d
    return fig


def themed(fig: go.Figure, theme: str | None = "light", large: bool = False) -> go.Figure:
    """The same figure, frozen (see frozen()) and finished for a page in `theme` ("light" or "dark"):
    transparent backgrounds; text, axes, grid, spikes, legend boxes and the figure's own annotations in the
    theme's colours. large: for a projector (presentation mode): its text at 16 px at least, data lines 3 px.
    Colours a builder set for its data (scales, lines, the cell diagram's ink) stay as they are: builders
    whose ink depends on the theme take it themselves (cell_figure, forecast_figure). Theme last: what is
    drawn is the dict, so a plotly edit made afterwards no longer shows (theming again does)."""
    t = theme_of(theme)
    d = frozen(fig).to_dict()
    d.json = None                                      # patched below: its JSON is made again when next sent
    lay = d.setdefault("layout", {})
    lay.update(paper_bgcolor=TRANSPARENT, plot_bgcolor=TRANSPARENT)
    font = lay.setdefault("font", {})
    font["color"] = t.text
    if large:
        font["size"] = max(16, font.get("size", 12))
    lay.setdefault("xaxis", {}), lay.setdefault("yaxis", {})
    for name, ax in lay.items():
        if name.startswith(("xaxis", "yaxis")):
            ax.update(gridcolor=t.grid, linecolor=t.axis, zerolinecolor=t.axis, tickcolor=t.axis)
            if ax.get("showspikes"):
                ax["spikecolor"] = t.text
    if lay.get("legend", {}).get("bgcolor"):                    # a legend boxed over data: the theme's box
        lay["legend"]["bgcolor"] = t.legend
    notes = lay.get("annotations", [])
    if not hasattr(fig, "_theme_notes"):       # a figure's own titles and notes its builder left uncoloured
        fig._theme_notes = [k for k, a in enumerate(notes) if "color" not in a.get("font", {})]
    for k in fig._theme_notes:
        notes[k].setdefault("font", {})["color"] = t.text
    if large:
        # a data line (plotly's default 2 px) gets thicker; a faint guide a builder drew thinner stays as it is
        for tr in d.get("data", ()):
            line = tr.get("line", {})
            if tr.get("type", "scatter") == "scatter" and "lines" in tr.get("mode", "lines") and line.get("width", 2) == 2:
                tr["line"] = dict(line, width=3)
    return fig
