"""What the model says, drawn: a forecast against the series, class probabilities as the model reads,
a final verdict, the probability of the actual next token. Data in (explorer.analysis.says.Says),
a finished figure out; one dict validated once, like the other figures."""
from __future__ import annotations

import html
from typing import Optional, Sequence

import numpy as np
import plotly.graph_objects as go

from .figures import FONT, PALETTE, STYLE, safe_label
from .theme import theme_of


def _labels(labels: Optional[Sequence[str]]):
    return [safe_label(str(c)) for c in labels] if labels is not None else None


def _layout(title: str, y_title: str, height: int = 380, **extra) -> dict:
    # The legend hangs below the x-axis title (never over it): anchored by its top, with the margin to hold it.
    return dict(title=title, font=FONT, **STYLE, height=height, margin=dict(l=60, r=10, t=50, b=100),
                legend=dict(orientation="h", y=-0.3, yanchor="top"), xaxis=dict(title=dict(text="step")),
                yaxis=dict(title=dict(text=y_title)), **extra)


def forecast_figure(steps: np.ndarray, prediction: np.ndarray, actual: np.ndarray,
                    labels: Optional[Sequence[str]] = None, unit: str = "value", theme: str = "light") -> go.Figure:
    """The forecast made after each step against the value that actually followed it (both in the
    data's units); labels (dates, times) name the steps on hover; theme: the page's ("light"/"dark"),
    for the actual series' neutral ink."""
    text = _labels(labels)
    hover = "step %{x}" + (" · %{text}" if text else "") + "<br>%{y:.4g}<extra>%{fullData.name}</extra>"
    data = [dict(type="scatter", x=np.asarray(steps), y=np.asarray(actual, dtype=np.float64), mode="lines",
                 name="the actual next value", line=dict(color=theme_of(theme).ink, width=2), text=text, hovertemplate=hover),
            dict(type="scatter", x=np.asarray(steps), y=np.asarray(prediction, dtype=np.float64), mode="lines",
                 name="the model's prediction", line=dict(color=PALETTE[1], width=2, dash="dot"), text=text,
                 hovertemplate=hover)]
    return go.Figure(dict(data=data, layout=_layout("prediction after each step vs what came next", unit)))


def class_figure(steps: np.ndarray, probs: np.ndarray, classes: Sequence[str],
                 labels: Optional[Sequence[str]] = None) -> go.Figure:
    """Class probabilities after each step (T, K): the verdict forming as the model reads. With more classes than
    colours (18 languages), the classes that ever come highest get a colour each, in order of their peak, and the
    others are drawn as one grey line, their probabilities together."""
    text = _labels(labels)
    hover = "step %{x}" + (" · %{text}" if text else "") + "<br>%{y:.1%}<extra>%{fullData.name}</extra>"
    probs = np.asarray(probs, dtype=np.float64)
    K = probs.shape[1]
    shown = list(range(K)) if K <= len(PALETTE) else list(np.argsort(-probs.max(0), kind="stable")[:len(PALETTE) - 1])
    data = [dict(type="scatter", x=np.asarray(steps), y=probs[:, k], mode="lines", name=html.escape(str(classes[k])),
                 line=dict(color=PALETTE[j], width=2), text=text, hovertemplate=hover) for j, k in enumerate(shown)]
    if len(shown) < K:
        rest = probs[:, [k for k in range(K) if k not in shown]].sum(1)
        data.append(dict(type="scatter", x=np.asarray(steps), y=rest, mode="lines", name=f"the other {K - len(shown)} together",
                         line=dict(color="#999999", width=1.5, dash="dot"), text=text, hovertemplate=hover))
    ticks = dict(tickmode="array", tickvals=list(np.asarray(steps)), ticktext=text) if text and len(text) <= 60 else {}
    lay = _layout("what the classifier would say if the input ended here", "probability")
    lay["yaxis"].update(range=[0, 1], tickformat=".0%")
    lay["xaxis"].update(ticks)
    return go.Figure(dict(data=data, layout=lay))


def verdict_figure(probs: np.ndarray, classes: Sequence[str]) -> go.Figure:
    """A final verdict (K,) as bars."""
    p = np.asarray(probs, dtype=np.float64).reshape(-1)
    data = [dict(type="bar", x=[html.escape(c) for c in classes], y=p, marker=dict(color=PALETTE[:len(p)]),
                 text=[f"{v:.1%}" for v in p], textposition="outside", hovertemplate="%{x}: %{y:.1%}<extra></extra>")]
    lay = _layout("the verdict after the whole input", "probability", height=280)
    lay["yaxis"].update(range=[0, 1.1], tickformat=".0%")
    lay["xaxis"] = dict()
    return go.Figure(dict(data=data, layout=lay))


def next_token_figure(steps: np.ndarray, p_actual: np.ndarray, labels: Optional[Sequence[str]] = None) -> go.Figure:
    """The probability the model gave to the token that actually came next, after each step."""
    text = _labels(labels)
    hover = "step %{x}" + (" · %{text}" if text else "") + "<br>p = %{y:.1%}<extra></extra>"
    data = [dict(type="scatter", x=np.asarray(steps), y=np.asarray(p_actual, dtype=np.float64), mode="lines+markers",
                 name="p(actual next token)", line=dict(color=PALETTE[0]), marker=dict(size=4), text=text,
                 hovertemplate=hover)]
    lay = _layout("how sure the model was of what came next", "probability")
    lay["yaxis"].update(range=[0, 1], tickformat=".0%")
    return go.Figure(dict(data=data, layout=lay))
