"""The Explore tab: every gate of the picked model on the user's own input."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from explorer import plots
from explorer.analysis import export
from explorer.analysis import units as A
from explorer.core import cells, kinds

from . import depends_view, inspect_step, says_view, state
from .classroom import hidden
from .inputs import user_input
from .state import error_boundary


def read_input(collapsed: bool = False):
    """The input every tab reads (drawn above the tabs, so it lives whichever tab is open):
    st.session_state["input"] is a UserInput, or None when there is none yet. collapsed: folded away
    (presentation mode draws it under the tabs: there, but off the projector's first screen)."""
    p = state.picked() if "picked" in st.session_state else None
    if p is None:
        st.session_state["input"] = None
        return
    with st.expander("What the model reads" + (" (hidden up top while presenting)" if collapsed else ""),
                     expanded=not collapsed):
        with error_boundary("reading the input"):
            st.session_state["input"] = None
            st.session_state["input"] = user_input(p)


def explore_tab():
    p = state.picked() if "picked" in st.session_state else None
    if p is None:
        st.info("Pick a model in the sidebar (or finish uploading a checkpoint) to explore it.")
        return
    if not state.presenting():                 # a projector shows the figure first; the teacher says this
        st.caption(kinds.get(p.kind).reading)
    ui = st.session_state.get("input")
    if ui is None:
        return
    N = len(ui.payload)
    key = f"{p.key}|{ui.key}"
    lt = None
    with error_boundary("tracing the model"):
        lt = state.scan(key, p.core, state.core_input(p, ui.payload), N)
    if lt is not None:
        view(p, ui, lt, key)


FULL = 150          # inputs up to this many steps are shown whole, every character labelled


def window_of(N: int) -> tuple[int, int]:
    """The window [a, b) the Explore tab's controls select, read from session state (draws nothing)."""
    if N <= FULL:
        return 0, N
    W = min(st.session_state.get("win_len", 120), N)
    a = max(0, min(st.session_state.get("win_start", 0), N - W))
    return a, a + W


def _window(N: int) -> tuple[int, int]:
    if N <= FULL:
        return 0, N
    if hidden("display controls"):
        return window_of(N)
    c1, c2 = st.columns([1, 3])
    state.keep_valid("win_len", [60, 120, 200, 300, 500], 120)
    W = c1.select_slider("window (steps at full resolution)", [60, 120, 200, 300, 500], key="win_len",
                         bind="query-params",
                         help="Up to 150 steps, every character is labelled on the time axis.")
    W = min(W, N)
    if "pending_win_start" in st.session_state:             # "go there" from the Units tab
        st.session_state["win_start"] = st.session_state.pop("pending_win_start")
    state.start_at("win_start", 0, 0, N - W)
    start = c2.slider("window start", 0, N - W, key="win_start", bind="query-params",
                      help="The overview above shows the whole input, averaged over blocks; the charts below show "
                           "this window exactly.")
    return start, start + W


@st.fragment
def view(p, ui, lt, key):
    """Everything that depends on the window and the display controls, as one fragment: moving the
    window or changing top k reruns and redraws this, not the sidebar, the input or the tabs."""
    with error_boundary("drawing the window"):
        _view(p, ui, lt, key)


def _view(p, ui, lt, key):
    l, d = st.session_state["layer"], st.session_state["direction"]
    N = lt.steps
    kind = kinds.get(p.kind)
    names = kind.names()
    H = p.core.hidden_size
    state.keep_valid("shown", names, names)
    if hidden("display controls"):
        shown = st.session_state.get("shown", names)
        top = min(st.session_state.get("topk", 24), H)
        how = st.session_state.get("order", A.ORDERS[0])
    else:
        c1, c2, c3 = st.columns([2, 1, 1])
        shown = c1.multiselect("gates and states", names, key="shown",
                               format_func=lambda n: cells.gate_label(n, kind.name))
        state.start_at("topk", min(24, H), 1, min(H, 128))
        top = c2.slider("units shown (top k)", 1, min(H, 128), key="topk", bind="query-params")
        how = c3.selectbox("order units", A.ORDERS, key="order", bind="query-params",
                           help="most variable: by the standard deviation of h over the whole input; clustered: units "
                                "that move together sit together.")
    ref = kind.memory
    std = lt.stats[ref].std[l, d, 0]
    if "pending_win_start" not in st.session_state:
        # The window's arrays before the first chart goes out: a two-thread kernel that runs while the
        # browser draws waits for a core at every step (after a 1M-character upload, a call that takes
        # 6 ms alone took 0.35 s). The call below the overview is then a cache hit.
        state.window_cached(key, *window_of(N), "", _lt=lt)
    # The overview only when it summarises: blocks of more than one step (a short text, e.g. the 205-character sample,
    # would be drawn step for step, the figure below it again).
    if N > FULL and lt.block > 1 and not hidden("overview"):
        st.subheader("The whole input")
        _overview(p, lt, key, l, d, names, top, std, N)
    a, b = _window(N)
    arr = state.window_cached(key, a, b, "", _lt=lt)
    units = A.order_units(arr[ref][l, d].T, how, top, std=std if how != "unit index" else None)
    Hout = p.core.proj_size or H
    # A projected LSTM's h has proj_size units, not H: it gets its own top units.
    h_units = units if Hout == H else A.order_units(arr["h"][l, d].T, how, top,
                                                    std=lt.stats["h"].std[l, d, 0] if how != "unit index" else None)
    units_of = {n: (h_units if n == "h" else units) for n in names}
    steps = np.arange(a, b)
    chars = list(ui.labels[a:b]) if ui.labels is not None else None
    st.session_state["view"] = dict(a=a, b=b, units=units, layer=l, direction=d, key=key)

    if not state.presenting():                 # on a projector the figure leads; the teacher says how to read it
        st.subheader("Gates, step by step" + (f" — steps {a:,}–{b - 1:,}" if N > FULL else ""))
        st.caption("Read down a column: one step of the cell, every gate and state at the same " +
                   ("character" if ui.text is not None else "step") + ". Hover shows all of them for that unit.")
    if shown:
        # c's colours span its range over the whole input (not this window's), so windows compare
        scales = {n: plots.gate_scale(n, bound=A.value_bound(lt, n, l, d, units_of[n])
                                      if cells.value_range(n, kind.name) is None else None, kind=kind.name)
                  for n in names if n in shown}
        st.html(plots.scale_key(scales))
        # One build for every session on this model, input, window and display (a class on one link).
        fig = state.shared_figure(f"gates|{key}|{a}|{b}|{l}|{d}|{shown}|{top}|{how}", lambda: plots.gates_figure(
            {n: arr[n][l, d][:, units_of[n]].T for n in names if n in shown}, {n: units_of[n] for n in names if n in shown},
            steps, chars, scales=scales, colorbars=False, kind=kind.name))
        state.chart(fig, key="gates", config={"toImageButtonOptions": {"filename": "gates"}})

    # The rest of the window's views are tabs, and only the open one runs and is drawn: moving the window
    # redraws the gates and one view, not six (each plotly figure is mounted afresh when it changes).
    w = View(p, ui, lt, arr, key, a, b, l, d, kind, names, units, units_of, steps, chars, Hout)
    views = {name: draw for name, draw, section in VIEWS
             if (section is None or not hidden(section)) and (name != "Saturation" or kind.gates)}
    if p.task != "language model":              # a classifier's or forecaster's verdict is what it is for: first
        views = {"What it says": views.pop("What it says"), **views}
    st.caption("Look closer at this window:")
    state.lazy_tabs(views, "xtab", w)                       # "go there" from the Units tab sets pending_xtab


@dataclass
class View:
    """What every view below the gates figure reads: the window [a, b) of one layer and direction."""
    p: object
    ui: object
    lt: object
    arr: dict
    key: str
    a: int
    b: int
    l: int
    d: int
    kind: object
    names: list
    units: list
    units_of: dict
    steps: np.ndarray
    chars: object
    Hout: int


def _one_unit(w: View):
    l, d, names, kind = w.l, w.d, w.names, w.kind
    st.subheader("One unit over the text" if w.chars is not None else "One unit over time")
    c1, c2 = st.columns([1, 3])
    state.keep_valid("text_name", names, kind.memory)
    name = c1.selectbox("colour by", names, key="text_name", format_func=lambda n: cells.gate_label(n, kind.name))
    state.keep_valid("text_unit", w.units_of[name], w.units_of[name][0])
    unit = c1.selectbox("unit", w.units_of[name], key="text_unit", bind="query-params")
    with c2:
        if w.chars is not None:
            scale = plots.gate_scale(name, bound=A.value_bound(w.lt, name, l, d, [unit])
                                     if cells.value_range(name, kind.name) is None else None, kind=kind.name)
            st.html(plots.scale_key({name: scale}))
            fig = state.shared_figure(f"text|{w.key}|{w.a}|{w.b}|{l}|{d}|{name}|{unit}", lambda: plots.text_heatmap(
                w.chars, w.arr[name][l, d][:, unit], name, w.a, scale=scale, colorbar=False,
                title=f"unit {unit}, {cells.gate_name(name, kind.name)}"))
            state.chart(fig, key="textview")
        else:
            pay = w.ui.payload
            state.chart(plots.state_lines({f"input {k}": pay[w.a:w.b, k].numpy() for k in range(pay.shape[1])}
                                              | {f"{name} u{unit}": w.arr[name][l, d][:, unit]}, w.steps,
                                              title="input and unit"), key="textview")


def _lines(w: View):
    l, d, kind = w.l, w.d, w.kind
    st.subheader("Units over time")
    state.keep_valid("line_units", w.units, w.units[:3])
    picks = st.multiselect("units to plot", w.units, key="line_units")
    series = {}
    for u in picks:
        if kind.has_c:
            series[f"c u{u}"] = w.arr["c"][l, d][:, u]
        if u < w.Hout:
            series[f"h u{u}"] = w.arr["h"][l, d][:, u]
    state.chart(plots.state_lines(series, w.steps, w.chars, title="cell state c (top) and hidden state h (bottom)"
                                      if kind.has_c else "hidden state over time",
                                      panels=("c ", "h ") if kind.has_c else None), key="lines")


def _saturation(w: View):
    st.subheader("Saturation")
    st.caption("Each dot is a unit: how often its gate is nearly shut (left) or nearly open (right) over the whole "
               "input. Dots in the corners act like switches; dots near (0, 0) stay in between.")
    pts = {g: tuple(x[w.l, w.d].numpy() for x in A.saturation(w.lt, g)) for g in w.kind.gates}
    state.chart(plots.saturation_scatter(pts, kind=w.kind.name), key="saturation")


# (tab name, its view, the presentation-mode section that hides it); the name is the URL's value (?xtab=...)
VIEWS = [
    ("One unit", _one_unit, None),
    ("Units over time", _lines, None),
    ("What it says", says_view.what_it_says, None),
    ("What it depends on", depends_view.depends_view, None),
    ("Step inspector", lambda w: inspect_step.inspector(w.p, w.ui, w.lt, w.arr, w.key, w.a, w.b, w.units), "step inspector"),
    ("What if", lambda w: inspect_step.what_if(w.p, w.ui, w.lt, w.arr, w.key, w.a, w.b, w.units), "what-if"),
    ("Saturation", _saturation, "saturation"),
    ("Export", lambda w: _export(w.p, w.ui, w.arr, w.a, w.b), "export"),
]


def _overview(p, lt, key, l, d, names, top, std, N):
    c1, c2 = st.columns([1, 4])
    state.keep_valid("ov_name", names, kinds.get(p.kind).memory)
    name = c1.selectbox("overview of", names, key="ov_name", format_func=lambda n: cells.gate_label(n, p.kind))
    c1.caption(f"{N:,} steps in {lt.overview[name].shape[2]} blocks of {lt.block} step{'s' if lt.block > 1 else ''} (block means).")
    units = A.order_units(lt.overview[name][l, d, :, 0].T, "most variable", top, std=std)
    v = lt.overview[name][l, d, :, 0][:, units].T.numpy()
    starts = np.arange(v.shape[1]) * lt.block
    scale = plots.gate_scale(name, v, kind=p.kind)
    c2.html(plots.scale_key({name: scale}))
    fig = state.shared_figure(f"overview|{key}|{l}|{d}|{name}|{top}", lambda: plots.gate_heatmap(
        name, v, units, starts, title=f"{name} over the whole input (block means)", step_label="block start",
        margins=plots.OVERVIEW_MARGINS, scale=scale, colorbar=False))
    state.chart(c2, fig, key="overview")
    with c2:
        _window_strip(*window_of(N), N, v.shape[1] * lt.block)


def _window_strip(a: int, b: int, N: int, span: int):
    """Where the window [a, b) lies in the whole input, as a bar under the overview's time axis (which
    spans `span` steps: whole blocks). Drawn apart from the overview's figure, so that moving the window
    leaves that figure as it was and the page does not draw it again. Our own markup of numbers only."""
    left, right = plots.OVERVIEW_MARGINS
    st.html(f"<div style='margin:-14px {right}px 0 {left}px' title='the window shown below'>"
            "<div style='position:relative;height:10px;background:rgba(128,128,128,0.25);border-radius:5px'>"
            f"<div style='position:absolute;top:0;bottom:0;left:{100 * a / span:.3f}%;"
            f"width:max(4px, {100 * (b - a) / span:.3f}%);background:#ff4b4b;border-radius:5px'></div></div>"
            f"<div style='font-size:0.8rem;color:inherit;opacity:0.85;margin-top:2px'>the window below: steps {a:,}–{b - 1:,} "
            f"of {N:,}</div></div>")


@st.cache_data(show_spinner=False, max_entries=8)
def _csv(key: str, a: int, b: int, _arr, _chars) -> bytes:
    return export.window_csv(_arr, a, _chars)


@st.cache_data(show_spinner=False, max_entries=8)
def _npz(key: str, a: int, b: int, _arr, _chars) -> bytes:
    return export.window_npz(_arr, a, _chars)


def _export(p, ui, arr, a, b):
    st.subheader("Export this window")
    chars = ui.labels[a:b] if ui.labels is not None else None
    c1, c2, c3 = st.columns([1, 1, 3])
    key = f"{st.session_state['picked'].key}|{ui.key}"
    # The files are made when a button is pressed (a callable), not on every run: a CSV of a window
    # is about 0.3 s of formatting that no view needs.
    c1.download_button("trace (CSV)", lambda: _csv(key, a, b, arr, chars), f"trace-{a}-{b}.csv", "text/csv",
                       key="dl_csv")
    c2.download_button("trace (NPZ)", lambda: _npz(key, a, b, arr, chars), f"trace-{a}-{b}.npz",
                       "application/octet-stream", key="dl_npz")
    c3.caption("Arrays are (layers, directions, steps, units). Every chart also saves as PNG from its toolbar "
               "(the camera icon).")
