"""Which inputs each output depends on, drawn: the window's connectivity as a triangle (outputs down,
inputs across), how far back each model looks, and a final output's attribution over the input.
Data in (explorer.analysis.connectivity), a finished figure out."""
from __future__ import annotations

import html
from typing import Optional, Sequence

import numpy as np
import plotly.graph_objects as go

from .figures import FONT, PALETTE, STYLE, safe_label

REACH_SCALE = ("Cividis", 0.0, 1.0)      # connectivity relative to each output's peak
# log10 of that share, a thousandth to the peak, for text: one hue from white to a mid blue, so that the
# characters (drawn in the page's dark text colour) stay legible on every cell (contrast >= 6:1).
DECADE_SCALE = ([[0.0, "#ffffff"], [0.5, "#c6dbef"], [1.0, "#4292c6"]], -3.0, 0.0)


def connectivity_figure(C: np.ndarray, start: int, labels: Optional[Sequence[str]] = None,
                        title: str = "which inputs each output depends on") -> go.Figure:
    """C (T_out, T_in): each row scaled to its own peak (log10 decades below it, floored at -4), so every
    output step's reach reads the same way; the upper triangle of a unidirectional model stays empty."""
    c = np.asarray(C, dtype=np.float64)
    rel = c / np.clip(c.max(1, keepdims=True), 1e-300, None)
    z = np.where(rel > 0, np.log10(np.clip(rel, 1e-4, None)), np.nan).astype(np.float32)
    steps_in = np.arange(start, start + c.shape[1])
    steps_out = np.arange(start, start + c.shape[0]) if c.shape[0] > 1 else np.array([start + c.shape[1] - 1])
    text = [safe_label(str(s)) for s in labels] if labels is not None else None
    hover = "output step %{y} · input step %{x}<br>10^%{z:.2f} of the row's peak<extra></extra>"
    lay = dict(title=title, font=FONT, **STYLE, height=min(900, 160 + 4 * c.shape[0]) if c.shape[0] > 1 else 220,
               margin=dict(l=60, r=10, t=40, b=40), xaxis=dict(title=dict(text="input step s")),
               yaxis=dict(title=dict(text="output step t"), autorange="reversed"))
    if text is not None and len(text) <= 80:
        lay["xaxis"].update(tickmode="array", tickvals=list(steps_in), ticktext=text, tickangle=0,
                            tickfont=dict(family="monospace", size=10))
    heat = dict(type="heatmap", z=z, x=steps_in, y=steps_out, colorscale="Cividis", zmin=-4, zmax=0, hovertemplate=hover,
                colorbar=dict(thickness=12, title=dict(text="log10 of peak"), tickvals=[-4, -3, -2, -1, 0]))
    return go.Figure(dict(data=[heat], layout=lay))


def reach_figure(curves: dict[str, np.ndarray], fraction: float = 0.1) -> go.Figure:
    """How far back: for each model, connectivity at distance d relative to the peak (median over outputs)."""
    data = []
    for k, (name, r) in enumerate(curves.items()):
        d = np.arange(len(r))
        data.append(dict(type="scatter", x=d, y=np.clip(np.asarray(r, dtype=np.float64), 1e-6, None), mode="lines",
                         name=html.escape(name), line=dict(color=PALETTE[k % len(PALETTE)], width=2),
                         hovertemplate="%{x} steps back: %{y:.2e} of the peak<extra>%{fullData.name}</extra>"))
    lay = dict(title="how far back each model looks", font=FONT, **STYLE, height=340, margin=dict(l=70, r=10, t=40, b=40),
               legend=dict(orientation="h", y=-0.25), xaxis=dict(title=dict(text="steps back (d = t − s)")),
               yaxis=dict(title=dict(text="‖∂y_t/∂x_{t−d}‖ ÷ peak"), type="log", exponentformat="power"),
               shapes=[dict(type="line", xref="paper", x0=0, x1=1, y0=fraction, y1=fraction,
                            line=dict(dash="dot", color="grey"))])
    return go.Figure(dict(data=data, layout=lay))


def attribution_figure(values: np.ndarray, start: int, labels: Optional[Sequence[str]] = None,
                       title: str = "what drove the final output") -> go.Figure:
    """One bar per input step: its attribution to the final output (positive pushes it up)."""
    v = np.asarray(values, dtype=np.float64)
    steps = np.arange(start, start + len(v))
    text = [safe_label(str(s)) for s in labels] if labels is not None else None
    colors = np.where(v >= 0, PALETTE[0], PALETTE[1]).tolist()
    hover = "step %{x}" + (" · %{text}" if text else "") + "<br>%{y:.4g}<extra></extra>"
    lay = dict(title=title, font=FONT, **STYLE, height=300, margin=dict(l=60, r=10, t=40, b=40),
               xaxis=dict(title=dict(text="input step")), yaxis=dict(title=dict(text="attribution")), bargap=0.1)
    if text is not None and len(text) <= 60:
        lay["xaxis"].update(tickmode="array", tickvals=list(steps), ticktext=text, tickfont=dict(family="monospace", size=10))
    return go.Figure(dict(data=[dict(type="bar", x=steps, y=v, marker=dict(color=colors), text=text,
                                     textposition="none", hovertemplate=hover)], layout=lay))
