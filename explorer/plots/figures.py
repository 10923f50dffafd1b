"""plotly figure builders: data in, go.Figure out. No streamlit, no model code.

Every builder is bounded in size whatever the input length: callers pass at most a few
thousand time columns (decimated or windowed, see windows.scan_long), values travel as
float32 arrays (plotly encodes them compactly), and per-cell text only for short windows.
User text drawn inside a figure goes through safe_label(), so plotly's pseudo-HTML
(<b>, <a href=...>) in a user's text shows as the characters typed, never as markup.
"""
from __future__ import annotations

import html
from typing import Optional, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.core.cells import gate_name

from .scales import DIV, GRADIENT_DECADES, SEQ, fills, gate_scale, ink_on  # noqa: F401  (re-exported by plots)
from .theme import THEMES, TRANSPARENT

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]
FONT = dict(family='"Source Sans Pro", "Source Sans 3", sans-serif', size=13, color=THEMES["light"].text)
# Every figure carries its own plain style, and the page draws it as it is (st.plotly_chart(theme=None)):
# the page's theme would rewrite each figure's whole JSON in the browser on every redraw.
# What a figure costs on the page grows with its JSON: Streamlit 1.67's chart element is keyed by its
# spec, so a figure whose JSON changed is mounted afresh (Plotly.newPlot, never an in-place update),
# and before drawing, the page runs about forty replaceAll passes over the JSON text (theme colours)
# whatever the theme. So figures carry no per-cell data that their hover does not show.
# Transparent backgrounds: the page shows through, whatever its theme (see theme.py; themed() sets the text).
STYLE = dict(template="none", paper_bgcolor=TRANSPARENT, plot_bgcolor=TRANSPARENT)
# The overview's plot area sits this many px from the figure's (left, right) edges, so the page can draw
# the window's place under its time axis without touching the figure: a figure that stays the same is
# not drawn again when the window moves (see above).
OVERVIEW_MARGINS = (60, 20)


def safe_label(ch: str, space: str = "␣") -> str:
    """A character as plotly should draw it: visible whitespace, entities escaped."""
    ch = {"\n": "↵", "\t": "⇥", " ": space}.get(ch, ch)
    return html.escape(ch, quote=False)


def label_every(labels: Sequence[str], max_labels: int, width_px: int = 1000) -> int:
    """Label every k-th step so the labels fit side by side: characters one per step, dates ("1949-01")
    or words every few steps (about 7 px per character of the time axis' monospace font)."""
    T = len(labels)
    widest = max((len(str(c)) for c in labels), default=1)
    fit = T if widest <= 1 else max(1, width_px // (7 * widest + 8))     # one character per step always fits
    return max(1, -(-T // max_labels), -(-T // fit))


def gate_heatmap(name: str, values: np.ndarray, units: Sequence[int], steps: np.ndarray,
                 chars: Optional[Sequence[str]] = None, title: Optional[str] = None,
                 height: Optional[int] = None, step_label: str = "step",
                 row_labels: Optional[Sequence[str]] = None, margins: Optional[tuple[int, int]] = None,
                 scale: Optional[tuple] = None, colorbar: bool = True, kind: str = "") -> go.Figure:
    """Units × time heatmap. values (n_units, n_steps); steps: the position of each column
    (block start for a decimated view); chars: the input character of each column (windows);
    row_labels: what to call each row on the axis (default u<unit>); margins: the plot area's
    (left, right) distance in px from the figure's edges, fixed so that a page can line something up
    with the time axis (see OVERVIEW_MARGINS; with colorbar=False, as a bar would push the margin); scale:
    (colorscale, lo, hi), default gate_scale(name, values); colorbar=False: none (see scale_key)."""
    values = np.asarray(values, dtype=np.float32)
    cs, lo, hi = scale or gate_scale(name, values, kind=kind)
    hover = f"{step_label} %{{x}}<br>%{{y}}<br>value %{{z:.3f}}"
    ylab = [f"u{u}" for u in units]
    kw = {}
    if chars is not None:
        labels = [safe_label(c) for c in chars]
        kw["text"] = np.array([labels] * len(units), dtype=object)
        hover = f"{step_label} %{{x}} · char %{{text}}<br>%{{y}}<br>value %{{z:.3f}}"
    fig = go.Figure(go.Heatmap(
        z=values, x=np.asarray(steps), y=ylab,
        colorscale=cs, zmin=lo, zmax=hi, hovertemplate=hover + "<extra></extra>",
        colorbar=dict(thickness=12, len=0.9), showscale=colorbar, **kw))
    fig.update_layout(title=title or f"{name}: {gate_name(name, kind)}", font=FONT, **STYLE,
                      height=height or max(220, 60 + 14 * len(units)), margin=dict(l=50, r=10, t=40, b=40),
                      yaxis=dict(autorange="reversed", title="unit"), xaxis=dict(title=step_label))
    if chars is not None and len(chars) <= 150:
        k = label_every(chars, 150)
        fig.update_xaxes(tickmode="array", tickvals=list(steps)[::k], ticktext=[safe_label(c) for c in chars[::k]], tickangle=0,
                         tickfont=dict(family="monospace", size=11), title=None, ticklabeloverflow="allow", automargin=False)
    if margins is not None:
        fig.update_layout(margin=dict(l=margins[0], r=margins[1]))
    if row_labels is not None:
        fig.update_yaxes(ticktext=list(row_labels), tickvals=ylab)
    return fig


def state_lines(series: dict[str, np.ndarray], steps: np.ndarray, chars: Optional[Sequence[str]] = None,
                title: str = "cell state over time", y_title: str = "value",
                panels: Optional[Sequence[str]] = None) -> go.Figure:
    """One line per (label -> values (n_steps,)). panels: label prefixes drawn in separate stacked
    panels sharing the time axis (e.g. ("c ", "h ") since c is unbounded and h lives in (-1, 1)).
    Written as one dict, validated once (see gates_figure)."""
    panels = list(panels or [""])
    P, gap = len(panels), 0.08
    size = (1 - gap * (P - 1)) / P
    text = [safe_label(c) for c in chars] if chars is not None else None
    hover = "step %{x}" + (" · %{text}" if text else "") + "<br>%{y:.3f}<extra>%{fullData.name}</extra>"
    colors, data, layout = {}, [], {}
    for label, v in series.items():
        row = next((k for k, p in enumerate(panels) if label.startswith(p)), 0)
        unit = label[len(panels[row]):]
        colors.setdefault(unit, len(colors))
        ax = "" if row == 0 else str(row + 1)
        data.append(dict(type="scatter", x=np.asarray(steps), y=np.asarray(v, dtype=np.float32), mode="lines",
                         name=html.escape(label), legendgroup=unit, line=dict(color=PALETTE[colors[unit] % len(PALETTE)]),
                         text=text, hovertemplate=hover, xaxis=f"x{ax}", yaxis=f"y{ax}"))
    annotations = []
    for k, p in enumerate(panels):                    # panel 0 on top
        ax = "" if k == 0 else str(k + 1)
        top = 1 - k * (size + gap)
        layout[f"yaxis{ax}"] = dict(domain=[max(0.0, top - size), min(1.0, top)], anchor=f"x{ax}")
        layout[f"xaxis{ax}"] = dict(anchor=f"y{ax}", showticklabels=k == P - 1,
                                    **({"title": dict(text="step")} if k == P - 1 else {"matches": f"x{P}"}))
        if P > 1 and p.strip():
            annotations.append(dict(text=p.strip(), x=0.5, y=top, xref="paper", yref="paper", xanchor="center",
                                    yanchor="bottom", showarrow=False, font=dict(size=14)))
    layout.update(title=title, font=FONT, **STYLE, height=300 + 160 * (P - 1), margin=dict(l=50, r=10, t=50, b=40),
                  legend=dict(orientation="h", y=-0.18), annotations=annotations)
    return go.Figure(dict(data=data, layout=layout))


def text_heatmap(chars: Sequence[str], values: np.ndarray, name: str, start: int = 0, width: int = 64,
                 title: str = "", scale: Optional[tuple] = None, colorbar: bool = True) -> go.Figure:
    """The input text laid out in rows of `width` characters (breaking at newlines), each
    character's cell coloured by a unit's value: Karpathy et al.'s picture, as a figure.
    scale: (colorscale, lo, hi), default gate_scale(name, values); colorbar=False: none drawn."""
    rows, row, vals, vrow, pos, prow = [], [], [], [], [], []
    for k, (c, v) in enumerate(zip(chars, values)):
        row.append(safe_label(c, space=" ")), vrow.append(float(v)), prow.append(start + k)
        if c == "\n" or len(row) == width:
            rows.append(row), vals.append(vrow), pos.append(prow)
            row, vrow, prow = [], [], []
    if row:
        rows.append(row), vals.append(vrow), pos.append(prow)
    pad = lambda r, fill: r + [fill] * (width - len(r))
    z = np.array([pad(v, np.nan) for v in vals], dtype=np.float32)
    txt = np.array([pad(r, "") for r in rows], dtype=object)
    cd = np.array([pad(p, -1) for p in pos])
    cs, lo, hi = scale or gate_scale(name, z)
    # Each letter in black or white, whichever reads on its own cell (a heatmap's text has one colour for all):
    # the letters are a text layer over the cells, coloured cell by cell, in either theme.
    at = np.argwhere(txt != "")
    inks = [ink_on(f) for f in fills(z[tuple(at.T)], cs, lo, hi)] if len(at) else []
    fig = go.Figure([go.Heatmap(z=z, text=txt, customdata=cd, colorscale=cs, zmin=lo, zmax=hi, showscale=colorbar,
                                hovertemplate="step %{customdata} · %{text}<br>value %{z:.3f}<extra></extra>",
                                xgap=1, ygap=1, colorbar=dict(thickness=12)),
                     go.Scatter(x=at[:, 1], y=at[:, 0], text=txt[tuple(at.T)], mode="text", hoverinfo="skip",
                                showlegend=False, textfont=dict(family="monospace", size=13, color=inks))])
    fig.update_layout(title=title, font=FONT, **STYLE, height=max(200, 40 + 22 * len(rows)), margin=dict(l=10, r=10, t=40, b=10),
                      xaxis=dict(visible=False), yaxis=dict(visible=False, autorange="reversed"))
    return fig


def saturation_scatter(points: dict[str, tuple[np.ndarray, np.ndarray]], title: str = "gate saturation",
                       kind: str = "") -> go.Figure:
    """Per gate, one dot per unit: fraction of steps left-saturated (x) vs right-saturated (y)."""
    fig = go.Figure()
    for gate, (lo, hi) in points.items():
        fig.add_trace(go.Scatter(x=np.asarray(lo, dtype=np.float32), y=np.asarray(hi, dtype=np.float32), mode="markers",
                                 name=f"{gate} ({gate_name(gate, kind)})", customdata=np.arange(len(lo)),
                                 hovertemplate="unit %{customdata}<br>left %{x:.2f} · right %{y:.2f}<extra>" + gate + "</extra>",
                                 marker=dict(size=7, opacity=0.7)))
    fig.add_shape(type="line", x0=0, y0=1, x1=1, y1=0, line=dict(dash="dot", color="grey"))
    fig.update_layout(title=title, font=FONT, **STYLE, height=420, margin=dict(l=50, r=10, t=40, b=40),
                      xaxis=dict(title="fraction of steps left-saturated (< 0.1; tanh < −0.9)", range=[-0.02, 1.02]),
                      yaxis=dict(title="fraction right-saturated (> 0.9)", range=[-0.02, 1.02]))
    return fig


def side_by_side(name: str, before: np.ndarray, after: np.ndarray, units: Sequence[int], steps: np.ndarray,
                 title: str, kind: str = "") -> go.Figure:
    """The same units × time heatmap before and after an intervention, sharing one colour scale."""
    before, after = np.asarray(before, np.float32), np.asarray(after, np.float32)
    cs, lo, hi = gate_scale(name, np.concatenate([before, after], 1), kind=kind)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("original", "with the intervention"), shared_yaxes=True)
    for k, v in enumerate((before, after)):
        fig.add_trace(go.Heatmap(z=v, x=np.asarray(steps), y=[f"u{u}" for u in units], colorscale=cs, zmin=lo, zmax=hi,
                                 showscale=k == 1, hovertemplate="step %{x}<br>%{y}<br>%{z:.3f}<extra></extra>"), 1, k + 1)
    fig.update_layout(title=title, font=FONT, **STYLE, height=max(240, 80 + 14 * len(units)), margin=dict(l=50, r=10, t=60, b=40))
    fig.update_yaxes(autorange="reversed")
    return fig


def gradient_curves(norms: dict[str, tuple[np.ndarray, np.ndarray]], ratios: dict[str, tuple[np.ndarray, np.ndarray]],
                    title: str, ratio_title: str) -> go.Figure:
    """Two log panels on one step axis, as one figure: the gradient norms (label -> (steps, values))
    on top, the step-to-step ratios below (with the ratio 1 marked: above it the gradient grows)."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.1, row_heights=[0.62, 0.38],
                        subplot_titles=(None, ratio_title))
    first = {}                                  # model name (first word) -> the colour of its first curve
    for k, (label, (x, y)) in enumerate(norms.items()):
        c = PALETTE[k % len(PALETTE)]
        first.setdefault(label.split()[0], c)
        fig.add_trace(go.Scatter(x=np.asarray(x), y=np.asarray(y, dtype=np.float64), mode="lines", name=html.escape(label),
                                 line=dict(color=c), legendgroup=label.split()[0]), 1, 1)
    for label, (x, y) in ratios.items():         # each ratio in its model's colour, named in the hover only
        fig.add_trace(go.Scatter(x=np.asarray(x), y=np.asarray(y, dtype=np.float64), mode="lines", name=html.escape(label),
                                 line=dict(color=first.get(label.split()[0], "grey")), legendgroup=label.split()[0],
                                 showlegend=False), 2, 1)
    fig.add_hline(y=1, line=dict(dash="dot", color="grey"), row=2, col=1)
    fig.update_layout(title=title, font=FONT, **STYLE, height=560, margin=dict(l=70, r=10, t=40, b=40),
                      legend=dict(orientation="h", y=-0.16, yanchor="top"))   # under the axis title "step"
    fig.update_yaxes(type="log", exponentformat="power")
    fig.update_yaxes(title="‖dJ/dh_t‖", row=1, col=1)
    # ratios near 1 are the story (slightly below: shrinking); a step the gradient never reaches
    # would stretch the axis to the clip values, so the panel shows 10^-4..10^4 and lines leave it
    fig.update_yaxes(title="ratio", range=[-4, 4], row=2, col=1)
    fig.update_xaxes(title="step", row=2, col=1)
    fig.layout.annotations[0].update(font=dict(size=13))
    return fig


def log_curves(curves: dict[str, tuple[np.ndarray, np.ndarray]], title: str, y_title: str,
               baseline: Optional[float] = None, log_y: bool = True, x_title: str = "step") -> go.Figure:
    """Lines (label -> (x, y)) on a log y axis; an optional horizontal baseline."""
    fig = go.Figure()
    for label, (x, y) in curves.items():
        fig.add_trace(go.Scatter(x=np.asarray(x), y=np.asarray(y, dtype=np.float64), mode="lines", name=label))
    if baseline is not None:
        fig.add_hline(y=baseline, line=dict(dash="dash", color="grey"), annotation_text=f"baseline {baseline:.3g}")
    fig.update_layout(title=title, font=FONT, **STYLE, height=380, margin=dict(l=70, r=10, t=40, b=40), xaxis_title=x_title,
                      yaxis=dict(title=y_title, type="log" if log_y else "linear", exponentformat="power"),
                      legend=dict(orientation="h", y=-0.28))
    return fig


def heatmap_stack(panels: list[dict], steps: np.ndarray, labels: Optional[Sequence[str]] = None,
                  title: Optional[str] = None, max_labels: int = 120, row_px: int = 11,
                  step_label: str = "step", colorbars: bool = True) -> go.Figure:
    """Heatmaps stacked on one time axis, as one figure (one plotly instance on the page, not one per
    panel). Each panel is a dict: z (rows, T); rows (row labels, e.g. "u5"); name (bold axis title);
    about (its words); scale (colorscale, zmin, zmax); and optionally customdata (rows, T, k) and
    hovertemplate. Panels with the same scale share one colour bar, drawn beside the first of them
    and titled with all their names, so a figure has as many bars as it has distinct scales.
    labels: what each column reads (characters, words), drawn once under the last panel (every
    k-th when there are more than max_labels). colorbars=False draws none (the page shows a
    scale_key instead).

    The figure is written as one dict and validated once (a subplot grid built call by call costs
    several times more in Python), and it carries its own plain style (template "none"): the page
    draws it as it is, without a theme pass over its data in the browser."""
    steps = np.asarray(steps)
    n = len(panels)
    heights = [max(len(p["rows"]), 1) * row_px for p in panels]
    gap = 18
    total = sum(heights) + gap * (n - 1)
    text = None if labels is None else np.array([[safe_label(c) for c in labels]], dtype=object)
    where = f"<b>%{{text}}</b> · {step_label} %{{x}}" if text is not None else f"{step_label} %{{x}}"
    axes: dict[tuple, dict] = {}                  # scale -> its shared colour axis
    data, layout, top = [], {}, total
    for k, p in enumerate(panels):
        cs, lo, hi = p["scale"]
        dom = [(top - heights[k]) / total, top / total]          # rows from the top, gap px apart
        top -= heights[k] + gap
        ca = axes.get((str(cs), lo, hi))
        if ca is None:
            ca = axes[(str(cs), lo, hi)] = dict(id="coloraxis" + (str(len(axes) + 1) if axes else ""), names=[])
            # three fixed ticks (low, middle, high): the bar reads the same, with less text to lay out
            layout[ca["id"]] = dict(colorscale=cs, cmin=lo, cmax=hi, colorbar=dict(
                thickness=10, len=0.9 * heights[k] / total, y=sum(dom) / 2, yanchor="middle", x=1.005,
                tickvals=[lo, (lo + hi) / 2, hi], ticktext=[f"{lo:.3g}", f"{(lo + hi) / 2:.3g}", f"{hi:.3g}"],
                tickfont=dict(size=9), outlinewidth=0, title=dict(font=dict(size=10), side="top")),
                showscale=colorbars)
        ca["names"].append(p["name"])
        ax = "" if k == 0 else str(k + 1)
        data.append(dict(
            type="heatmap", z=np.asarray(p["z"], np.float32), x=steps, y=list(p["rows"]), coloraxis=ca["id"],
            customdata=p.get("customdata"), text=None if text is None else np.repeat(text, len(p["rows"]), 0),
            xaxis=f"x{ax}", yaxis=f"y{ax}",
            hovertemplate=p.get("hovertemplate") or f"{where}<br>%{{y}}<br>%{{z:.3f}}<extra>{p['name']}</extra>"))
        bottom = k == n - 1
        # row labels only when few: each tick label is a text box the browser measures on every redraw;
        # no grid (a heatmap covers it) and no tick marks where there are no labels: less to draw
        few = len(p["rows"]) <= 16
        layout[f"yaxis{ax}"] = dict(domain=dom, anchor=f"x{ax}", autorange="reversed", showticklabels=few,
                                    ticks="outside" if few else "", showgrid=False, zeroline=False,
                                    tickfont=dict(size=9), title=dict(text=_band_title(p, heights[k]), font=dict(size=12)))
        layout[f"xaxis{ax}"] = dict(anchor=f"y{ax}", showticklabels=bottom, ticks="outside" if bottom else "",
                                    showgrid=False, zeroline=False, showspikes=True, spikemode="across",
                                    spikesnap="cursor", spikethickness=1, spikecolor=THEMES["light"].text, spikedash="solid",
                                    **({} if bottom else {"matches": f"x{n}"}))
    for ca in axes.values():
        layout[ca["id"]]["colorbar"]["title"]["text"] = " ".join(ca["names"]) if len(ca["names"]) > 1 else ""
    last = layout[f"xaxis{'' if n == 1 else n}"]
    if labels is not None:
        every = label_every(labels, max_labels)
        # Labels fixed, upright and spaced by construction: telling plotly not to check them for overlap and
        # overflow (ticklabeloverflow="allow", no automargin) makes drawing the figure 3-4x cheaper in the browser.
        last.update(tickmode="array", tickvals=steps[::every].tolist(), ticktext=[safe_label(c) for c in labels[::every]],
                    tickangle=0, tickfont=dict(family="monospace", size=11), ticklabeloverflow="allow", automargin=False)
    else:
        last.update(title=dict(text=step_label))
    layout.update(title=title, font=FONT, **STYLE, height=total + 90, margin=dict(l=120, r=20, t=40 if title else 10, b=40),
                  hoverlabel=dict(font=dict(family="monospace", size=12)))
    return go.Figure(dict(data=data, layout=layout))


def _band_title(panel: dict, px: int) -> str:
    """A band's axis title: its name in bold and its words, or the name alone where the words would run
    past the band into its neighbours (about 6.5 px a character at 12 px)."""
    full = f"{panel['name']} {panel.get('about', '')}".strip()
    words = f" {panel['about']}" if panel.get("about") and len(full) * 6.5 <= px else ""
    return f"<b>{panel['name']}</b>{words}"


def gates_figure(values: dict[str, np.ndarray], units: dict[str, Sequence[int]], steps: np.ndarray,
                 labels: Optional[Sequence[str]] = None, title: Optional[str] = None, max_labels: int = 120,
                 row_px: int = 11, scales: Optional[dict[str, tuple]] = None, colorbars: bool = True,
                 kind: str = "") -> go.Figure:
    """Every gate and state of one window in one figure: heatmaps stacked on one time axis
    (heatmap_stack), gates with the same range sharing one colour bar.

    values: {name: (n_units, T)} in display order (e.g. i, f, g, o, c, h); units: {name: the unit id
    of each row}; steps (T,): input positions; labels: what each column reads (characters, words).
    Hovering a cell shows its label, step and unit and, for that unit at that step, the value of
    every row's quantity, so a column reads down as one step of the cell.
    scales: {name: (colorscale, lo, hi)} where not gate_scale's default for these values (e.g. c's
    range over the whole input); colorbars=False: none drawn (show plots.scale_key beside it)."""
    names = list(values)
    T = len(steps)
    # per cell: the value of every other quantity for this row's unit at this step (NaN where a unit has
    # none); the row's own value is its z. The largest part of the figure's JSON, so nothing twice.
    everything = {m: dict(zip(units[m], np.asarray(values[m], np.float32))) for m in names}
    where = "<b>%{text}</b> · step %{x}" if labels is not None else "step %{x}"
    panels = []
    for m in names:
        v = np.asarray(values[m], np.float32)
        others = [q for q in names if q != m]
        custom = np.full((len(units[m]), T, len(others)), np.nan, np.float32) if others else None
        for r, u in enumerate(units[m]):
            for j, q in enumerate(others):
                if u in everything[q]:
                    custom[r, :, j] = everything[q][u]
        rows = "<br>".join(f"{q} %{{z:.3f}}" if q == m else f"{q} %{{customdata[{others.index(q)}]:.3f}}" for q in names)
        scale = (scales or {}).get(m) or gate_scale(m, v, kind=kind)
        # without colour bars, each band names its range (the key above the figure may be scrolled away)
        words = gate_name(m, kind)                # a band named by its caller ("GRU z") has no words of its own
        about = (words if words != m else "") + ("" if colorbars else f" ({scale[1]:.3g} … {scale[2]:.3g})")
        panels.append(dict(z=v, rows=[f"u{u}" for u in units[m]], name=m, about=about, scale=scale,
                           customdata=custom,
                           hovertemplate=f"{where}<br>unit %{{y}}<br>{rows}<extra>{m}</extra>"))
    return heatmap_stack(panels, steps, labels, title, max_labels, row_px, colorbars=colorbars)


def gradient_units(flows: dict, labels: dict[str, str], top: int = 24, colorbars: bool = True) -> go.Figure:
    """The Gradient flow tab's per-unit view as one figure: for each model (labels: {key: its name},
    flows[key]["unit_grad"] (T, H)) log10 |dJ/dh_t| of its `top` units with the largest gradient,
    relative to that model's largest (0 = its largest, -12 = twelve decades below), then the LSTM's
    product of forget gates from step t to the end (flows["lstm"]["forget_product"], (T, H)) for its
    `top` units that keep most, all on one step axis. Relative decades share one colour scale
    (GRADIENT_DECADES), so the models compare by colour: how fast each one's gradient fades."""
    panels = []
    for k, label in labels.items():
        g = np.asarray(flows[k]["unit_grad"])
        units = np.argsort(-g.max(0))[:top].tolist()
        v = np.log10(np.maximum(g[:, units].T, 1e-30)) - np.log10(max(float(g.max()), 1e-30))
        panels.append(dict(z=np.maximum(v, -30.0), rows=[f"u{u}" for u in units], name=label,
                           about="log10 |dJ/dh_t|" if colorbars else "",      # short: a band is 8 px a unit
                           scale=GRADIENT_DECADES,
                           hovertemplate="step %{x}<br>unit %{y}<br>%{z:.1f} decades below " + html.escape(label) +
                                         "'s largest<extra></extra>"))
    fp = np.asarray(flows["lstm"]["forget_product"])
    units = np.argsort(-fp[0])[:top].tolist()
    panels.append(dict(z=fp[:, units].T, rows=[f"u{u}" for u in units], name="LSTM ∏f",
                       about="c_t kept to the end" if colorbars else "",
                       scale=gate_scale("f", fp)))
    title = "per unit: log10 |dJ/dh_t| (0 = the model's largest), then the LSTM's ∏ f to the last step"
    return heatmap_stack(panels, np.arange(fp.shape[0]), title=title, row_px=8, colorbars=colorbars)

