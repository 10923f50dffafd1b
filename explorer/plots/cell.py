"""The cell at work: the textbook diagram of an LSTM / GRU / RNN cell filled with a real model's
numbers, animated over a window in the browser (plotly frames: no server round trip per step).

    fig = cell_figure(story, labels, steps, path, explained)    # story: diagram.cell_story(...)

One figure whose panels move together: the diagram across the top (drawn as the textbooks draw it,
see LAYOUTS: every gate a box coloured by its value with its name and value inside, every wire
labelled with what flows on it, and the step in one sentence), the text with the current token
highlighted, then the path of the state in its first principal components (the current step marked)
beside the unit's c and h traced up to the step. On a projector (large=True) the diagram and the path
share the top, over the text, in larger type, within a 1280×720 screen.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.core.cells import value_range

from .figures import FONT, STYLE, safe_label
from .scales import DIV, SEQ, fills, ink_on
from .theme import theme_of

# Drawn as the textbooks draw the cell (Olah 2015, "Understanding LSTM Networks"; Cho et al. 2014 for
# the GRU): the memory (c, or the GRU's h) runs along the top from left to right; h(t-1) enters at the
# left and x(t) from below, joined into one bus that feeds every gate; the gates stand in a row above
# the bus, each a box coloured by its value with its name and value inside. Coordinates in data units
# of the diagram panel, x in [X0, X1] and y in [0, Y1].
X0, X1, Y1 = -0.2, 14.2, 9.0
STATE_KEYS = ("c", "c_prev", "a")                   # unbounded: coloured on ±their largest |value|
SIG_KEYS = ("f", "i", "o", "r", "z")                # gates whose letter goes before their value ("f 0.92")
T_1, T = "<sub>t−1</sub>", "<sub>t</sub>"
LINE = {"c": "#d62728", "h": "#1f77b4", "m": "#1f77b4"}   # the unit's c and h over time (bottom panel)

GRU_BOXES = [("h_prev", 0.9, 6.8, f"h{T_1}", 1.5), ("h", 13.1, 6.8, f"h{T}", 1.5),
             ("z", 3.4, 3.6, "update", 1.5), ("r", 5.6, 3.6, "reset", 1.5), ("n", 8.2, 3.6, "new", 1.5)]

# Per kind: boxes (key, x, y, name, width), operator nodes (symbol, x, y), wires (polylines), values on
# wires (key, x, y, prefix, "center" above a wire | "right" beside it), inputs drawn as words (text, x, y).
LAYOUTS = {
    "lstm": dict(
        boxes=[("c_prev", 0.9, 6.8, f"c{T_1}", 1.5), ("c", 13.1, 6.8, f"c{T}", 1.5),
               ("h_prev", 0.9, 1.8, f"h{T_1}", 1.5), ("h", 13.1, 3.6, f"h{T}", 1.5), ("m", 13.1, 3.6, f"m{T}", 1.5),
               ("f", 3.0, 3.6, "forget", 1.65), ("i", 4.8, 3.6, "input", 1.65), ("g", 6.6, 3.6, "candidate", 1.65),
               ("o", 8.8, 3.6, "output", 1.65)],
        ops=[("×", 3.0, 6.8), ("+", 6.6, 6.8), ("×", 6.6, 5.2), ("tanh", 10.8, 5.2), ("×", 10.8, 3.6)],
        wires=[[(0.9, 6.8), (13.1, 6.8)], [(0.9, 1.8), (8.8, 1.8)], [(2.0, 0.72), (2.0, 1.8)],
               [(3.0, 1.8), (3.0, 6.8)], [(4.8, 1.8), (4.8, 5.2), (6.6, 5.2)], [(6.6, 1.8), (6.6, 6.8)],
               [(8.8, 1.8), (8.8, 3.6), (13.1, 3.6)], [(10.8, 6.8), (10.8, 3.6)]],
        labels=[("f*c_prev", 4.8, 7.25, f"f·c{T_1} = ", "center"), ("i*g", 6.85, 6.0, "i·g = ", "right"),
                ("tanh_c", 11.6, 5.2, "tanh c = ", "right")],
        inputs=[(f"x{T}", 2.0, 0.3)]),
    "gru": dict(
        boxes=GRU_BOXES,
        ops=[("×", 3.4, 6.8), ("+", 8.2, 6.8), ("×", 8.2, 5.2), ("1−", 5.8, 5.2)],
        wires=[[(0.9, 6.8), (13.1, 6.8)], [(2.0, 6.8), (2.0, 1.8), (8.2, 1.8)], [(2.6, 0.72), (2.6, 1.8)],
               [(3.4, 1.8), (3.4, 6.8)], [(3.4, 5.2), (8.2, 5.2)], [(5.6, 1.8), (5.6, 3.6), (8.2, 3.6)],
               [(8.2, 1.8), (8.2, 6.8)]],
        labels=[("z*h_prev", 5.8, 7.25, f"z·h{T_1} = ", "center"), ("(1-z)*n", 8.45, 6.0, "(1−z)·n = ", "right")],
        inputs=[(f"x{T}", 2.6, 0.3)]),
    # the textbook GRU weights the old state by 1 − z and the new one by z: the "1−" moves up to the top
    "gru_cho": dict(
        boxes=GRU_BOXES,
        ops=[("×", 3.4, 6.8), ("+", 8.2, 6.8), ("×", 8.2, 5.2), ("1−", 3.4, 5.7)],
        wires=[[(0.9, 6.8), (13.1, 6.8)], [(2.0, 6.8), (2.0, 1.8), (8.2, 1.8)], [(2.6, 0.72), (2.6, 1.8)],
               [(3.4, 1.8), (3.4, 6.8)], [(3.4, 4.65), (7.4, 4.65), (7.4, 5.2), (8.2, 5.2)],
               [(5.6, 1.8), (5.6, 3.6), (8.2, 3.6)], [(8.2, 1.8), (8.2, 6.8)]],
        labels=[("(1-z)*h_prev", 5.8, 7.25, f"(1−z)·h{T_1} = ", "center"), ("z*n", 8.45, 6.0, "z·n = ", "right")],
        inputs=[(f"x{T}", 2.6, 0.3)]),
    # minGRU (Feng et al. 2024): the GRU's layout with the h(t-1) branch to the gates cut: the gates stand on
    # the x(t) bus alone, and h(t-1) runs along the top only, where it is mixed with the candidate.
    "mingru": dict(
        boxes=[("h_prev", 0.9, 6.8, f"h{T_1}", 1.5), ("h", 13.1, 6.8, f"h{T}", 1.5),
               ("z", 3.6, 3.6, "update", 1.5), ("n", 8.2, 3.6, "candidate", 1.65)],
        ops=[("×", 3.6, 6.8), ("1−", 3.6, 5.2), ("+", 8.2, 6.8), ("×", 8.2, 5.2)],
        wires=[[(0.9, 6.8), (13.1, 6.8)], [(2.6, 0.72), (2.6, 1.8), (8.2, 1.8)], [(3.6, 1.8), (3.6, 6.8)],
               [(3.6, 4.35), (6.9, 4.35), (6.9, 5.2), (8.2, 5.2)], [(8.2, 1.8), (8.2, 6.8)]],
        labels=[("(1-z)*h_prev", 5.9, 7.25, f"(1−z)·h{T_1} = ", "center"), ("z*n", 8.45, 6.0, "z·n = ", "right")],
        inputs=[(f"x{T}", 2.6, 0.3)],
        asides=[(f"the gates read x{T} only: no wire from h{T_1}", 10.9, 1.2)],
        states=("n",)),
    "minlstm": dict(
        boxes=[("h_prev", 0.9, 6.8, f"h{T_1}", 1.5), ("h", 13.1, 6.8, f"h{T}", 1.5),
               ("f", 3.6, 3.6, "forget", 1.5), ("i", 5.9, 3.6, "input", 1.5), ("n", 8.2, 3.6, "candidate", 1.65)],
        ops=[("×", 3.6, 6.8), ("+", 8.2, 6.8), ("×", 8.2, 5.2)],
        wires=[[(0.9, 6.8), (13.1, 6.8)], [(2.6, 0.72), (2.6, 1.8), (8.2, 1.8)], [(3.6, 1.8), (3.6, 6.8)],
               [(5.9, 1.8), (5.9, 5.2), (8.2, 5.2)], [(8.2, 1.8), (8.2, 6.8)]],
        labels=[("f*h_prev", 5.9, 7.25, f"f·h{T_1} = ", "center"), ("i*n", 8.45, 6.0, "i·n = ", "right")],
        inputs=[(f"x{T}", 2.6, 0.3)],
        asides=[(f"f + i = 1; the gates read x{T} only", 10.9, 1.2)],
        states=("n",)),
    # sLSTM (Beck et al. 2024): an LSTM with a second memory line, the normaliser n, under c; h = o·c/n. The
    # exponential gates i and f are stabilised by m, a state carried beside c and n (its box at the left);
    # h(t-1) feeds the gates as in the LSTM. Its three-line sentence needs a unit more room at the top.
    "slstm": dict(
        boxes=[("nrm_prev", 0.9, 8.1, f"n{T_1}", 1.5), ("nrm", 13.1, 8.1, f"n{T}", 1.5),
               ("c_prev", 0.9, 6.45, f"c{T_1}", 1.5), ("c", 13.1, 6.45, f"c{T}", 1.5),
               ("h_prev", 0.9, 1.8, f"h{T_1}", 1.5), ("h", 13.1, 3.6, f"h{T}", 1.5),
               ("f", 3.0, 3.6, "forget", 1.55), ("i", 4.8, 3.6, "input", 1.55), ("z", 6.6, 3.6, "cell input", 1.65),
               ("o", 8.8, 3.6, "output", 1.55), ("m", 0.9, 4.05, "stabiliser", 1.5)],
        ops=[("×", 3.0, 8.1), ("+", 4.8, 8.1), ("×", 3.0, 6.45), ("+", 6.6, 6.45), ("×", 6.6, 4.88), ("÷", 10.4, 5.35),
             ("×", 10.4, 3.6)],
        wires=[[(0.9, 8.1), (13.1, 8.1)], [(0.9, 6.45), (13.1, 6.45)], [(0.9, 1.8), (8.8, 1.8)], [(2.0, 0.72), (2.0, 1.8)],
               [(3.0, 1.8), (3.0, 8.1)], [(4.8, 1.8), (4.8, 8.1)], [(4.8, 4.88), (6.6, 4.88)], [(6.6, 1.8), (6.6, 6.45)],
               [(8.8, 1.8), (8.8, 3.6), (13.1, 3.6)], [(10.4, 6.45), (10.4, 3.6)], [(11.9, 8.1), (11.9, 5.35), (10.4, 5.35)]],
        labels=[("i*z", 7.0, 4.88, "i·z = ", "right")],              # c/n: in the sentence (no room by ÷ on a projector)
        inputs=[(f"x{T}", 2.0, 0.3)],
        asides=[],
        states=("nrm", "nrm_prev", "m", "c/n"),
        room=1.2),
    "rnn": dict(
        boxes=[("h_prev", 0.9, 4.4, f"h{T_1}", 1.5), ("a", 5.6, 4.4, "W<sub>ih</sub>x + W<sub>hh</sub>h + b", 3.4),
               ("h", 13.1, 4.4, f"h{T}", 1.5)],
        ops=[("tanh", 9.4, 4.4)],
        wires=[[(0.9, 4.4), (13.1, 4.4)], [(3.2, 0.72), (3.2, 4.4)]],
        labels=[],
        inputs=[(f"x{T}", 3.2, 0.3)]),
}


def _box_colors(key: str, values: np.ndarray, state_max: float, lay: dict, kind: str) -> list[str]:
    """The fill of a box for each value: viridis on [0, 1] for the kind's gates in [0, 1] (cells.value_range:
    an sLSTM's z is its tanh cell input), blue–red otherwise (on ±the largest state for the unbounded ones: c,
    the minimal cells' candidate, an sLSTM's n and m)."""
    cs, lo, hi = (SEQ, 0.0, 1.0) if value_range(key, kind) == (0, 1) else (DIV, -state_max, state_max) \
        if key in STATE_KEYS + lay.get("states", ()) else (DIV, -1.0, 1.0)
    return fills(values, cs, lo, hi)


def _sentence(kind: str, v: dict, t: int, convention: str) -> str:
    f = lambda k: float(v[k][t])
    if kind == "lstm":
        s = (f"forget gate {f('f'):.2f} kept {f('f'):.0%} of c = {f('c_prev'):+.2f} → {f('f*c_prev'):+.2f}<br>"
             f"input gate {f('i'):.2f} × candidate {f('g'):+.2f} adds {f('i*g'):+.2f}  →  c = {f('c'):+.2f}")
        return s + (f"<br>output gate {f('o'):.2f} × tanh c {f('tanh_c'):+.2f} → h = {f('h'):+.2f}" if "h" in v else
                    f"<br>output gate {f('o'):.2f} × tanh c {f('tanh_c'):+.2f} = {f('m'):+.2f}")
    if kind == "mingru":
        return (f"update gate z = {f('z'):.2f}, read from x alone, keeps {1 - f('z'):.0%} of the old h = {f('h_prev'):+.2f}<br>"
                f"and takes {f('z'):.0%} of the candidate n = {f('n'):+.2f}  →  h = {f('h'):+.2f}")
    if kind == "minlstm":
        return (f"forget {f('f'):.2f} + input {f('i'):.2f} = 1, both read from x alone<br>"
                f"{f('f'):.0%} of the old h = {f('h_prev'):+.2f} and {f('i'):.0%} of the candidate n = {f('n'):+.2f}"
                f"  →  h = {f('h'):+.2f}")
    if kind == "slstm":
        return (f"input gate {f('i'):.2f} (exponential, m = {f('m'):+.2f}) writes z = {f('z'):+.2f} into c, {f('i'):.2f} into n"
                f"<br>forget gate {f('f'):.2f} keeps both  →  c = {f('c'):+.2f}, n = {f('nrm'):.2f}, "
                f"c/n = {f('c/n'):+.2f}<br>output gate {f('o'):.2f} × c/n → h = {f('h'):+.2f}")
    if kind == "gru" and convention == "pytorch":
        return (f"update gate z = {f('z'):.2f} keeps {f('z'):.0%} of the old h = {f('h_prev'):+.2f}<br>"
                f"and takes {1 - f('z'):.0%} of the new candidate n = {f('n'):+.2f} (reset gate r = {f('r'):.2f})<br>"
                f"→ h = {f('h'):+.2f}")
    if kind == "gru":
        return (f"textbook: update gate z = {f('z'):.2f} takes {f('z'):.0%} of the new candidate n = {f('n'):+.2f}<br>"
                f"and keeps {1 - f('z'):.0%} of the old h = {f('h_prev'):+.2f}<br>→ h = {f('h'):+.2f}")
    a = f"tanh({f('a'):+.2f}) = " if "a" in v else ""
    return f"h = {a}{f('h'):+.2f}<br>a vanilla RNN: no gates, the whole state is rewritten every step"


def cell_figure(story, labels: Optional[Sequence[str]], steps: np.ndarray, path: np.ndarray, explained: np.ndarray,
                title: str = "", frame_ms: int = 350, large: bool = False, theme: str = "light") -> go.Figure:
    """The animated cell (see the module docstring). story: diagram.CellStory over T steps; labels (T,):
    what each step reads; steps (T,): input positions; path (T, k) and explained (k,): state_path();
    large: a projector's figure (presentation mode): bigger type, thicker wires, the diagram wider and
    the whole figure within a 1280×720 screen; theme: the page's ("light"/"dark"), for the ink."""
    kind, v, T = story.kind, story.values, story.steps
    lay = LAYOUTS["gru_cho" if kind == "gru" and story.convention == "cho" else kind]
    ink = theme_of(theme)
    size = (17, 16, 15) if large else (13, 12, 12)           # the figure's text, the boxes', the wires'
    # On a laptop the diagram spans the figure's width (its words need it with the sidebar open), the text
    # under it, then the path and the unit's c and h side by side. A projector's figure keeps the diagram with
    # the path beside it over the text (the boxes already show c and h at each step): two rows, so that the
    # diagram gets the height its larger type needs within 720 px.
    title_path = (f"path of h: PC1 (→) {explained[0]:.0%}" + (f", PC2 (↑) {explained[1]:.0%}" if len(explained) > 1 else "")
                  + " of its variance")
    if large:
        fig = make_subplots(rows=2, cols=2, column_widths=[0.7, 0.3], row_heights=[0.9, 0.1], vertical_spacing=0.08,
                            horizontal_spacing=0.06, specs=[[{}, {}], [{"colspan": 2}, None]],
                            subplot_titles=("", title_path, ""))
        at = dict(path=(1, 2), strip=(2, 1), axes=dict(path=("x2", "y2"), strip=("x3", "y3")))
    else:
        fig = make_subplots(rows=3, cols=2, column_widths=[0.5, 0.5], row_heights=[0.54, 0.06, 0.4], vertical_spacing=0.05,
                            horizontal_spacing=0.1, specs=[[{"colspan": 2}, None], [{"colspan": 2}, None],
                                                           [{}, {"secondary_y": True}]],
                            subplot_titles=("", "", title_path, f"{'c and h' if 'c' in v else 'h'} of unit {story.unit} up to the step"))
        at = dict(path=(3, 1), strip=(2, 1), axes=dict(path=("x3", "y3"), strip=("x2", "y2")))    # c, h: x4, y4/y5
    top = Y1 + (1.0 if large else 0.0) + lay.get("room", 0.0)     # room for the sentence in larger type
    for line in lay["wires"]:                                      # static: wires, operator nodes, inputs
        fig.add_trace(go.Scatter(x=[p[0] for p in line], y=[p[1] for p in line], mode="lines",
                                 line=dict(color=ink.ink, width=3 if large else 2), hoverinfo="skip", showlegend=False), 1, 1)
    fig.add_trace(go.Scatter(x=[o[1] for o in lay["ops"]], y=[o[2] for o in lay["ops"]], mode="markers+text",
                             text=[o[0] for o in lay["ops"]], hoverinfo="skip", showlegend=False,
                             marker=dict(size=[(54 if large else 44) if len(o[0]) > 2 else (34 if large else 27) for o in lay["ops"]],
                                         color=ink.background, line=dict(color=ink.ink, width=2.5 if large else 2)),
                             textfont=dict(size=size[1] + 1, color=ink.text)), 1, 1)
    fig.add_trace(go.Scatter(x=[w[1] for w in lay["inputs"]], y=[w[2] for w in lay["inputs"]], mode="text",
                             text=[f"<b>{w[0]}</b>" for w in lay["inputs"]], textfont=dict(size=size[1] + 2, color=ink.text),
                             hoverinfo="skip", showlegend=False), 1, 1)
    state_max = max([float(np.nanmax(np.abs(v[k]))) for k in STATE_KEYS + lay.get("states", ()) if k in v] + [1.0])
    if lay.get("asides"):                                          # what the drawing says in words (minGRU's cut wire)
        fig.add_trace(go.Scatter(x=[w[1] for w in lay["asides"]], y=[w[2] for w in lay["asides"]], mode="text",
                                 text=[f"<i>{w[0]}</i>" for w in lay["asides"]], textfont=dict(size=size[2], color=ink.text),
                                 hoverinfo="skip", showlegend=False), 1, 1)
    # LSTM m: only when h is not the unit's
    boxes = [b for b in lay["boxes"] if b[0] in v and not (kind == "lstm" and b[0] == "m" and "h" in v)]
    fills = {b[0]: _box_colors(b[0], v[b[0]], state_max, lay, kind) for b in boxes}
    wires = [w for w in lay["labels"] if w[0] in v]
    txt = labels if labels is not None else [str(s) for s in steps]
    shown = [safe_label(c) for c in txt]
    unit_lines = [] if large else [k for k in ("c", "h", "m") if k in v][:2]
    # Boxes are drawn as thick lines: a line's width is in pixels, so a box keeps room for its two lines of
    # text (box_px tall) whatever the figure's height, and its width in data units; frames change only its
    # colour. An outline in the ink, drawn beneath it a little larger, is static.
    box_px = 56 if large else 46
    for b in boxes:
        fig.add_trace(go.Scatter(x=[b[1] - b[4] / 2 - 0.04, b[1] + b[4] / 2 + 0.04], y=[b[2], b[2]], mode="lines",
                                 line=dict(color=ink.ink, width=box_px + 3), hoverinfo="skip", showlegend=False), 1, 1)
    first_dyn = len(fig.data)
    letter = lambda k: f"{k} " if k in SIG_KEYS + ("g", "n", "m") else ""   # "forget" over "f 0.92"
    number = lambda k, x: f"{x:.2f}" if value_range(k, kind) == (0, 1) else f"{x:+.2f}"

    def dynamic(t: int, first: bool) -> list:
        """The traces that change from step to step, in a fixed order (frames replace them). The first
        frame's are whole traces; the others carry only what changes (plotly merges them)."""
        out = []
        for b in boxes:                # each box: a line as thick as a box, in its value's colour (see box_px)
            if first:
                out.append(go.Scatter(x=[b[1] - b[4] / 2, b[1] + b[4] / 2], y=[b[2], b[2]], mode="lines",
                                      line=dict(color=fills[b[0]][t], width=box_px), hoverinfo="skip", showlegend=False,
                                      xaxis="x", yaxis="y", name=b[0]))
            else:
                out.append(go.Scatter(line=dict(color=fills[b[0]][t])))
        out.append(go.Scatter(x=[b[1] for b in boxes], y=[b[2] for b in boxes], mode="text", name="boxes",
                              text=[f"{b[3]}<br><b>{letter(b[0])}{number(b[0], float(v[b[0]][t]))}</b>" for b in boxes],
                              textfont=dict(size=size[1], color=[ink_on(fills[b[0]][t]) for b in boxes]),
                              hovertemplate="%{text}<extra></extra>", showlegend=False, xaxis="x", yaxis="y"))
        out.append(go.Scatter(x=[w[1] for w in wires], y=[w[2] for w in wires], mode="text", name="wires",
                              text=[f"{w[3]}{float(v[w[0]][t]):+.2f}" for w in wires],
                              textposition=["top center" if w[4] == "center" else "middle right" for w in wires],
                              textfont=dict(size=size[2], color=ink.text), hoverinfo="skip", showlegend=False,
                              xaxis="x", yaxis="y"))
        out.append(go.Scatter(x=[X0 + 0.1], y=[top - (0.85 if large else 0.55)], mode="text", cliponaxis=False,
                              text=[_sentence(kind, v, t, story.convention)],
                              name="sentence", textposition="middle right", textfont=dict(size=size[1], color=ink.text),
                              hoverinfo="skip", showlegend=False, xaxis="x", yaxis="y"))
        out.append(go.Scatter(x=[path[t, 0]], y=[path[t, 1] if path.shape[1] > 1 else 0.0], mode="markers",
                              marker=dict(size=16, color=ink.text, symbol="circle-open", line=dict(width=3)),
                              hoverinfo="skip", showlegend=False, xaxis=at["axes"]["path"][0], yaxis=at["axes"]["path"][1]))
        out.append(go.Scatter(x=[steps[t]], y=[1.0], mode="markers", marker=dict(size=18, color="rgba(255,200,0,.6)",
                              symbol="square"), hoverinfo="skip", showlegend=False, xaxis=at["axes"]["strip"][0],
                              yaxis=at["axes"]["strip"][1]))
        for k in unit_lines:                 # c on its own scale (right axis): it is not bounded like h
            out.append(go.Scatter(x=steps[:t + 1], y=v[k][:t + 1], mode="lines", line=dict(color=LINE[k], width=3 if large else 2),
                                  name=f"{k} of unit {story.unit}" + (" (right axis)" if k == "c" else ""),
                                  xaxis="x4", yaxis="y5" if k == "c" else "y4"))           # only without large
        return out

    for tr in dynamic(0, True):
        fig.add_trace(tr)
    n_dyn = len(fig.data) - first_dyn
    # the path (static, coloured by position) and the text strip (static): one character per step, in type
    # small enough that neighbours do not touch on the strip (~850 px on a laptop with the sidebar open,
    # ~1100 px on a projector; a monospace glyph is ~0.6 em wide)
    strip_px = int(np.clip((1100 if large else 850) / max(T, 1) / 0.65, 6, 15 if large else 13))
    y2 = path[:, 1] if path.shape[1] > 1 else np.zeros(T)
    fig.add_trace(go.Scatter(x=path[:, 0], y=y2, mode="lines+markers", line=dict(color="rgba(128,128,128,.35)", width=1),
                             marker=dict(size=7, color=np.asarray(steps), colorscale=SEQ,
                                         colorbar=dict(title="step", len=0.5 if large else 0.3, y=0.78 if large else 0.2,
                                                       x=1.02 if large else 0.42, thickness=10)),
                             text=shown, hovertemplate="%{text} · step %{marker.color}<extra></extra>", showlegend=False),
                  *at["path"])
    fig.add_trace(go.Scatter(x=np.asarray(steps), y=np.ones(T), mode="text", text=shown,
                             textfont=dict(family="monospace", size=strip_px), hoverinfo="skip",
                             showlegend=False), *at["strip"])
    fig.frames = [go.Frame(data=dynamic(t, False), traces=list(range(first_dyn, first_dyn + n_dyn)), name=str(t))
                  for t in range(T)]
    span = lambda k: (float(np.nanmin(v[k])) - 0.1, float(np.nanmax(v[k])) + 0.1)
    fig.update_xaxes(visible=False, range=[X0, X1], row=1, col=1)
    fig.update_yaxes(visible=False, range=[0, top], row=1, col=1)
    fig.update_xaxes(title=None, zeroline=False, row=at["path"][0], col=at["path"][1])      # named in the panel's title
    fig.update_yaxes(title="PC2", zeroline=False, row=at["path"][0], col=at["path"][1])
    xr = [float(steps[0]) - 1, float(steps[-1]) + 1]
    fig.update_xaxes(range=xr, visible=False, row=2, col=1)
    fig.update_yaxes(range=[0.5, 1.5], visible=False, row=2, col=1)
    if not large:
        fig.update_xaxes(range=xr, title="step", row=3, col=2)
        h_key = "h" if "h" in v else "m"
        fig.update_yaxes(range=[min(span(h_key)[0], -1.05), max(span(h_key)[1], 1.05)], title=h_key, row=3, col=2,
                         secondary_y=False)
        if "c" in v:
            fig.update_yaxes(range=list(span("c")), title="c", row=3, col=2, secondary_y=True, showgrid=False)
    play = dict(frame=dict(duration=frame_ms, redraw=True), transition=dict(duration=0), fromcurrent=True, mode="immediate")
    fig.update_layout(
        title=title, font=dict(FONT, size=size[0], color=ink.text), height=580 if large else 920, **STYLE,
        margin=dict(l=50, r=20, t=40 if large else 50, b=80 if large else 90),
        legend=dict(orientation="h", y=0.375, x=0.56, yanchor="top", bgcolor=ink.legend),
        updatemenus=[dict(type="buttons", direction="left", x=0.0, y=-0.04 if large else -0.07, xanchor="left", yanchor="top",
                          showactive=False,
                          font=dict(size=size[1]),
                          buttons=[dict(label="▶ play", method="animate", args=[None, play]),
                                   dict(label="❚❚ pause", method="animate",
                                        args=[[None], dict(frame=dict(duration=0, redraw=False), mode="immediate")])])],
        sliders=[dict(active=0, x=0.14, y=-0.04 if large else -0.07, len=0.86, yanchor="top",
                      currentvalue=dict(prefix="step ", xanchor="right"),
                      font=dict(size=size[2]),
                      steps=[dict(label=str(int(steps[t])), method="animate",
                                  args=[[str(t)], dict(frame=dict(duration=0, redraw=True), mode="immediate")])
                             for t in range(T)])])
    return fig
