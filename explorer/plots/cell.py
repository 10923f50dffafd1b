"""The cell at work: the textbook diagram of an LSTM / GRU / RNN cell filled with a real model's
numbers, animated over a window in the browser (plotly frames: no server round trip per step).

    fig = cell_figure(story, labels, steps, path, explained)    # story: diagram.cell_story(...)

One figure, three panels that move together: the diagram (top left: every gate a box coloured by
its value, every wire labelled with what flows on it, and the step in one sentence), the path of
the state in its first principal components (top right, the current step marked), and the text
with the current token highlighted above the unit's c and h traced up to the step (bottom).
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .figures import FONT, STYLE, safe_label

SIG = [[0, "#f7fbff"], [1, "#08519c"]]              # sigmoid gates: 0 white (shut) .. 1 blue (open)
DIV = "RdBu_r"                                       # tanh values and states: -1 blue .. +1 red
LINE = {"c": "#d62728", "h": "#1f77b4", "m": "#1f77b4"}

# Per kind: boxes (wire key, x, y, label, scale "sig"|"tanh"|"state"), operator nodes (symbol, x, y),
# wires ((x0, y0), (x1, y1)) and wire labels (key, x, y, text before the value).
LAYOUTS = {
    "lstm": dict(
        boxes=[("f", 3.0, 3.0, "forget f", "sig"), ("i", 5.0, 3.0, "input i", "sig"), ("g", 6.6, 3.0, "candidate g", "tanh"),
               ("o", 9.0, 3.0, "output o", "sig"), ("tanh_c", 10.4, 4.6, "tanh", "tanh"),
               ("c_prev", 0.6, 6.0, "c(t-1)", "state"), ("c", 12.6, 6.0, "c(t)", "state"),
               ("h", 12.6, 1.2, "h(t)", "tanh")],
        ops=[("×", 3.0, 6.0), ("+", 5.8, 6.0), ("×", 5.8, 4.6), ("×", 10.4, 3.0)],
        wires=[((0.6, 6.0), (12.6, 6.0)), ((3.0, 3.0), (3.0, 6.0)), ((5.0, 3.0), (5.8, 4.6)), ((6.6, 3.0), (5.8, 4.6)),
               ((5.8, 4.6), (5.8, 6.0)), ((10.4, 6.0), (10.4, 3.0)), ((9.0, 3.0), (10.4, 3.0)), ((10.4, 3.0), (10.4, 1.2)),
               ((10.4, 1.2), (12.6, 1.2)), ((0.6, 1.2), (9.0, 1.2)), ((3.0, 1.2), (3.0, 3.0)), ((5.0, 1.2), (5.0, 3.0)),
               ((6.6, 1.2), (6.6, 3.0)), ((9.0, 1.2), (9.0, 3.0))],
        labels=[("f*c_prev", 4.4, 6.45, "f·c(t-1) = "), ("i*g", 5.8, 5.3, "i·g = "), ("m", 11.5, 2.5, "o·tanh c = "),
                ("h_prev", 1.2, 0.6, "h(t-1) = ")]),
    "gru": dict(
        boxes=[("r", 2.6, 3.0, "reset r", "sig"), ("z", 7.0, 3.0, "update z", "sig"), ("n", 5.0, 3.0, "new n", "tanh"),
               ("h_prev", 0.6, 6.0, "h(t-1)", "tanh"), ("h", 12.6, 6.0, "h(t)", "tanh")],
        ops=[("×", 7.0, 6.0), ("+", 10.0, 6.0), ("×", 8.6, 4.6), ("1−", 8.6, 3.0)],
        wires=[((0.6, 6.0), (12.6, 6.0)), ((7.0, 3.0), (7.0, 6.0)), ((7.0, 3.0), (8.6, 3.0)), ((8.6, 3.0), (8.6, 4.6)),
               ((5.0, 3.0), (5.0, 4.6)), ((5.0, 4.6), (8.6, 4.6)), ((8.6, 4.6), (10.0, 6.0)), ((0.6, 1.2), (7.0, 1.2)),
               ((2.6, 1.2), (2.6, 3.0)), ((5.0, 1.2), (5.0, 3.0)), ((7.0, 1.2), (7.0, 3.0)), ((2.6, 3.0), (5.0, 3.0)),
               ((1.4, 6.0), (1.4, 1.2))],
        labels=[("z*h_prev", 8.4, 6.45, "z·h(t-1) = "), ("(1-z)*n", 9.9, 4.6, "(1−z)·n = "),
                ("z*n", 9.9, 4.6, "z·n = "), ("(1-z)*h_prev", 8.4, 6.45, "(1−z)·h(t-1) = ")]),
    "rnn": dict(
        boxes=[("h_prev", 0.6, 4.0, "h(t-1)", "tanh"), ("a", 5.0, 4.0, "W x + W h + b", "state"), ("h", 12.6, 4.0, "h(t)", "tanh")],
        ops=[("tanh", 8.6, 4.0)],
        wires=[((0.6, 4.0), (12.6, 4.0)), ((3.0, 1.2), (3.0, 4.0))],
        labels=[]),
}


def _sentence(kind: str, v: dict, t: int, convention: str) -> str:
    f = lambda k: float(v[k][t])
    if kind == "lstm":
        s = (f"forget gate {f('f'):.2f} kept {f('f'):.0%} of c = {f('c_prev'):+.2f} → {f('f*c_prev'):+.2f}<br>"
             f"input gate {f('i'):.2f} × candidate {f('g'):+.2f} adds {f('i*g'):+.2f}  →  c = {f('c'):+.2f}")
        return s + (f"<br>output gate {f('o'):.2f} × tanh c {f('tanh_c'):+.2f} → h = {f('h'):+.2f}" if "h" in v else
                    f"<br>output gate {f('o'):.2f} × tanh c {f('tanh_c'):+.2f} = {f('m'):+.2f}")
    if kind == "gru" and convention == "pytorch":
        return (f"update gate z = {f('z'):.2f} keeps {f('z'):.0%} of the old h = {f('h_prev'):+.2f} and takes "
                f"{1 - f('z'):.0%} of the new candidate n = {f('n'):+.2f} (reset gate r = {f('r'):.2f}) → h = {f('h'):+.2f}")
    if kind == "gru":
        return (f"textbook: update gate z = {f('z'):.2f} takes {f('z'):.0%} of the new candidate n = {f('n'):+.2f} and "
                f"keeps {1 - f('z'):.0%} of the old h = {f('h_prev'):+.2f} → h = {f('h'):+.2f}")
    a = f"tanh({f('a'):+.2f}) = " if "a" in v else ""
    return f"h = {a}{f('h'):+.2f}   (a vanilla RNN: no gates, the whole state is rewritten every step)"


def cell_figure(story, labels: Optional[Sequence[str]], steps: np.ndarray, path: np.ndarray, explained: np.ndarray,
                title: str = "", frame_ms: int = 350, large: bool = False) -> go.Figure:
    """The animated cell (see the module docstring). story: diagram.CellStory over T steps; labels (T,):
    what each step reads; steps (T,): input positions; path (T, k) and explained (k,): state_path();
    large: bigger type for a projector (presentation mode)."""
    kind, v, T = story.kind, story.values, story.steps
    lay = LAYOUTS[kind]
    fig = make_subplots(rows=3, cols=2, column_widths=[0.64, 0.36], row_heights=[0.66, 0.07, 0.27], vertical_spacing=0.04,
                        horizontal_spacing=0.06,
                        specs=[[{}, {}], [{"colspan": 2}, None], [{"colspan": 2, "secondary_y": True}, None]],
                        subplot_titles=("", f"path of h: PC1 (→) {explained[0]:.0%}"
                                        + (f", PC2 (↑) {explained[1]:.0%}" if len(explained) > 1 else "") + " of its variance",
                                        "", ""))
    for (x0, y0), (x1, y1) in lay["wires"]:                       # static: wires and operator nodes
        fig.add_trace(go.Scatter(x=[x0, x1], y=[y0, y1], mode="lines", line=dict(color="#888", width=2),
                                 hoverinfo="skip", showlegend=False), 1, 1)
    fig.add_trace(go.Scatter(x=[o[1] for o in lay["ops"]], y=[o[2] for o in lay["ops"]], mode="markers+text",
                             text=[o[0] for o in lay["ops"]], marker=dict(size=26, color="white", line=dict(color="#555", width=2)),
                             textfont=dict(size=15), hoverinfo="skip", showlegend=False), 1, 1)
    boxes = [b for b in lay["boxes"] if b[0] in v]
    fig.add_trace(go.Scatter(x=[b[1] for b in boxes], y=[b[2] + 0.72 for b in boxes], mode="text",
                             text=[f"<b>{b[3]}</b>" for b in boxes], textfont=dict(size=13), hoverinfo="skip",
                             showlegend=False), 1, 1)
    fig.add_trace(go.Scatter(x=[0.6], y=[0.25], mode="text", text=["x(t) ↑ with h(t-1) into every gate"],
                             textposition="middle right", textfont=dict(size=11, color="#666"), hoverinfo="skip",
                             showlegend=False), 1, 1)
    state_max = max([float(np.nanmax(np.abs(v[k]))) for k in ("c", "c_prev", "a") if k in v] + [1.0])
    wires = [w for w in lay["labels"] if w[0] in v]
    txt = labels if labels is not None else [str(s) for s in steps]
    shown = [safe_label(c) for c in txt]
    unit_lines = [k for k in ("c", "h", "m") if k in v][:2]
    first_dyn = len(fig.data)

    def dynamic(t: int) -> list:
        """The traces that change from step to step, in a fixed order (frames replace them)."""
        out = []
        for scale in ("sig", "tanh", "state"):
            sel = [b for b in boxes if b[4] == scale]
            vals = [float(v[b[0]][t]) for b in sel]
            cs, lo, hi = (SIG, 0, 1) if scale == "sig" else (DIV, -1, 1) if scale == "tanh" else (DIV, -state_max, state_max)
            out.append(go.Scatter(x=[b[1] for b in sel], y=[b[2] for b in sel], mode="markers+text",
                                  marker=dict(symbol="square", size=52, color=vals, colorscale=cs, cmin=lo, cmax=hi,
                                              line=dict(color="#333", width=1.5)),
                                  text=[f"<b>{x:+.2f}</b>" if scale != "sig" else f"<b>{x:.2f}</b>" for x in vals],
                                  textposition="bottom center", textfont=dict(size=14, color="#111"),
                                  hovertemplate="%{text}<extra></extra>", showlegend=False, xaxis="x", yaxis="y"))
        out.append(go.Scatter(x=[w[1] for w in wires], y=[w[2] for w in wires], mode="text",
                              text=[f"{w[3]}{float(v[w[0]][t]):+.2f}" for w in wires], textfont=dict(size=12, color="#222"),
                              hoverinfo="skip", showlegend=False, xaxis="x", yaxis="y"))
        out.append(go.Scatter(x=[-0.2], y=[7.45], mode="text", text=[_sentence(kind, v, t, story.convention)],
                              textposition="middle right", textfont=dict(size=13, color="#000"), hoverinfo="skip",
                              showlegend=False, xaxis="x", yaxis="y"))
        out.append(go.Scatter(x=[path[t, 0]], y=[path[t, 1] if path.shape[1] > 1 else 0.0], mode="markers",
                              marker=dict(size=16, color="black", symbol="circle-open", line=dict(width=3)),
                              hoverinfo="skip", showlegend=False, xaxis="x2", yaxis="y2"))
        out.append(go.Scatter(x=[steps[t]], y=[1.0], mode="markers", marker=dict(size=18, color="rgba(255,200,0,.6)",
                              symbol="square"), hoverinfo="skip", showlegend=False, xaxis="x3", yaxis="y3"))
        for k in unit_lines:                 # c on its own scale (right axis): it is not bounded like h
            out.append(go.Scatter(x=steps[:t + 1], y=v[k][:t + 1], mode="lines", line=dict(color=LINE[k], width=2),
                                  name=f"{k} of unit {story.unit}" + (" (right axis)" if k == "c" else ""),
                                  xaxis="x4", yaxis="y5" if k == "c" else "y4"))
        return out

    for tr in dynamic(0):
        fig.add_trace(tr)
    n_dyn = len(fig.data) - first_dyn
    # the path (static, coloured by position) and the text strip (static)
    y2 = path[:, 1] if path.shape[1] > 1 else np.zeros(T)
    fig.add_trace(go.Scatter(x=path[:, 0], y=y2, mode="lines+markers", line=dict(color="rgba(120,120,120,.3)", width=1),
                             marker=dict(size=7, color=np.asarray(steps), colorscale="Viridis",
                                         colorbar=dict(title="step", len=0.5, y=0.78, x=1.02, thickness=10)),
                             text=shown, hovertemplate="%{text} · step %{marker.color}<extra></extra>", showlegend=False), 1, 2)
    fig.add_trace(go.Scatter(x=np.asarray(steps), y=np.ones(T), mode="text", text=shown,
                             textfont=dict(family="monospace", size=13 if T <= 120 else 9), hoverinfo="skip",
                             showlegend=False), 2, 1)
    fig.frames = [go.Frame(data=dynamic(t), traces=list(range(first_dyn, first_dyn + n_dyn)), name=str(t))
                  for t in range(T)]
    span = lambda k: (float(np.nanmin(v[k])) - 0.1, float(np.nanmax(v[k])) + 0.1)
    fig.update_xaxes(visible=False, range=[-0.3, 13.5], row=1, col=1)
    fig.update_yaxes(visible=False, range=[0, 8.3], row=1, col=1)
    fig.update_xaxes(title=None, zeroline=False, row=1, col=2)          # named in the panel's title
    fig.update_yaxes(title="PC2", zeroline=False, row=1, col=2)
    xr = [float(steps[0]) - 1, float(steps[-1]) + 1]
    fig.update_xaxes(range=xr, visible=False, row=2, col=1)
    fig.update_yaxes(range=[0.5, 1.5], visible=False, row=2, col=1)
    fig.update_xaxes(range=xr, title="step", row=3, col=1)
    h_key = "h" if "h" in v else "m"
    fig.update_yaxes(range=[min(span(h_key)[0], -1.05), max(span(h_key)[1], 1.05)], title=h_key, row=3, col=1,
                     secondary_y=False)
    if "c" in v:
        fig.update_yaxes(range=list(span("c")), title="c", row=3, col=1, secondary_y=True, showgrid=False)
    play = dict(frame=dict(duration=frame_ms, redraw=True), transition=dict(duration=0), fromcurrent=True, mode="immediate")
    fig.update_layout(
        title=title, font=dict(FONT, size=16) if large else FONT, height=900 if large else 800, **STYLE,
        margin=dict(l=20, r=20, t=50, b=90),
        legend=dict(orientation="h", y=0.27, x=0.01, bgcolor="rgba(255,255,255,.7)"),
        updatemenus=[dict(type="buttons", direction="left", x=0.0, y=-0.07, xanchor="left", yanchor="top", showactive=False,
                          buttons=[dict(label="▶ play", method="animate", args=[None, play]),
                                   dict(label="❚❚ pause", method="animate",
                                        args=[[None], dict(frame=dict(duration=0, redraw=False), mode="immediate")])])],
        sliders=[dict(active=0, x=0.14, y=-0.07, len=0.86, yanchor="top", currentvalue=dict(prefix="step ", xanchor="right"),
                      steps=[dict(label=str(int(steps[t])), method="animate",
                                  args=[[str(t)], dict(frame=dict(duration=0, redraw=True), mode="immediate")])
                             for t in range(T)])])
    return fig
