"""The Units tab: which units mean something (unit finder), where a pattern recurs, and clusters."""
from __future__ import annotations

import numpy as np
import streamlit as st

from explorer import plots
from explorer.analysis import patterns as P
from explorer.analysis import units as A
from explorer.core import kinds
from explorer.core.cells import gate_label

from . import state
from .explore import window_of
from .state import error_boundary

LONG = 20_000       # above this many steps, whole-input passes run when asked, not on every page load


def _run_when_asked(key: str, what: str, N: int, button_key: str) -> bool:
    """True when a whole-input pass may run: always for short inputs, after a click for long ones."""
    done = st.session_state.setdefault("units_ready", set())
    if N <= LONG or (key, what) in done:
        return True
    if st.button(f"{what} over all {N:,} steps (one pass through the text, about {max(1, N // 40_000)} s)",
                 key=button_key):
        done.add((key, what))
        return True
    return False


@st.cache_data(show_spinner=False, max_entries=16)
def _find(key: str, regex: str, top: int, _lt, _text) -> list[dict]:
    return A.find_units(_lt, _text, regex or None, top=top)


@st.cache_data(show_spinner=False, max_entries=16)
def _pattern(key: str, name: str, l: int, d: int, s: int, e: int, thr: float, _lt):
    return P.find_pattern(_lt, name, l, d, s, e, thr, top=8)


def units_tab():
    p = st.session_state.get("picked")
    ui = st.session_state.get("input")
    if p is None or ui is None:
        st.info("Pick a model in the sidebar and give it an input above; this tab analyses what it reads.")
        return
    key = f"{p.key}|{ui.key}"
    view = st.session_state.get("view")
    if view is None or view.get("key") != key:          # the Explore tab has not shown this input yet
        a, b = window_of(len(ui.payload))
        view = dict(a=a, b=b, key=key)
        st.caption(f"The current window is steps {a:,}–{b - 1:,} (change it in the Explore tab).")
    lt = state.scan(key, p.core, state.core_input(p, ui.payload), len(ui.payload))
    names = kinds.get(p.kind).names()
    if ui.text is not None:
        _finder(p, ui, lt, key, view)
    elif not p.is_char:
        _series_finder(p, ui, lt, key, view)
    else:
        st.caption("The unit finder correlates units with features of characters; this input is read word by word.")
    _patterns(p, ui, lt, key, names, view)
    _clusters(p, ui, lt, key, names, view)


@st.fragment
def _finder(p, ui, lt, key, view):
    """A fragment: its widgets rerun only this section."""
    with error_boundary("finding units"):
        _finder_body(p, ui, lt, key, view)


def _finder_body(p, ui, lt, key, view):
    st.subheader("Unit finder")
    st.caption("Every unit of every gate and state, correlated with simple features of the text (Pearson r over the "
               "whole input, computed window by window for long inputs). High |r| = a unit that tracks the feature."
               + ("" if kinds.get(p.kind).gates_see_past else
                  f" A {kinds.label(p.kind)}'s first-layer gates read the current character alone, so a gate that "
                  "matches a feature of that character exactly is expected; memory of the past shows in h."))
    c1, c2 = st.columns([2, 1])
    state.start_at("uf_regex", "")
    regex = c1.text_input("your own feature: a regular expression (1 inside a match)", key="uf_regex",
                          help=r"e.g. \bthe\b, [A-Z]+:, or \d+. " + A.REGEX_HELP)
    state.start_at("uf_top", 3, 1, 10)
    top = c2.slider("units per feature", 1, 10, key="uf_top")
    if not _run_when_asked(key, "find units", len(ui.text), "uf_go"):
        return
    with st.spinner(f"Correlating units with features over {len(ui.text):,} characters…"):
        rows = _find(key, regex, top, _lt=lt, _text=ui.text)
    table = [{"rank": k + 1, "feature": r["track"], "gate/state": r["name"], "layer": r["layer"],
              "direction": r["direction"], "unit": r["unit"], "r": round(r["r"], 3)} for k, r in enumerate(rows)]
    st.dataframe(table, hide_index=True, height=260, key="uf_table")
    labels = [f"{k + 1}. {r['track']} · {r['name']} unit {r['unit']} (layer {r['layer']}, dir {r['direction']}) · "
              f"r = {r['r']:+.2f}" for k, r in enumerate(rows)]
    pick = st.selectbox("show", range(len(rows)), format_func=lambda i: labels[i], key="uf_row")
    r = rows[pick]
    a, b = view["a"], view["b"]
    arr = state.window_cached(key, a, b, "", _lt=lt)
    vals = arr[r["name"]][r["layer"], r["direction"]][:, r["unit"]]
    track = A.feature_tracks(ui.text[a:b] if r["track"] != "regex" else ui.text, regex or None)[r["track"]]
    if r["track"] == "regex":
        track = track[a:b]
    chars = list(ui.text[a:b])
    c1, c2 = st.columns(2)
    state.chart(c1, plots.text_heatmap(chars, vals, r["name"], a, width=48,
                                       title=f"{r['name']} unit {r['unit']} over the text"), key="uf_text")
    # The feature scaled onto the unit's range; flipped when r < 0, so that the two lines overlay.
    span = float(np.ptp(vals)) or 1.0
    f = track.numpy() / max(float(track.max()), 1e-9)
    f = 1 - f if r["r"] < 0 else f
    label = f"feature: {r['track']} (scaled{', flipped since r < 0' if r['r'] < 0 else ''})"
    state.chart(c2, plots.state_lines({f"{r['name']} u{r['unit']}": vals, label: f * span + float(vals.min())},
                                      np.arange(a, b), chars, title="the unit next to the feature"), key="uf_line")


@st.fragment
def _patterns(p, ui, lt, key, names, view):
    with error_boundary("searching for the pattern"):
        _patterns_body(p, ui, lt, key, names, view)


def _patterns_body(p, ui, lt, key, names, view):
    st.subheader("Pattern search")
    st.caption("After LSTMVis: select a few steps and a threshold. The units that stay above it over the whole "
               "selection form a pattern; below are the places where the most similar set of units is on, ranked.")
    a, b = view["a"], view["b"]
    c1, c2, c3 = st.columns([2, 1, 1])
    state.start_at("pt_range", (a + (b - a) // 3, min(a + (b - a) // 3 + 4, b - 1)), a, b - 1)
    s, e = c1.slider("selected steps (in the current window)", a, b - 1, key="pt_range")
    state.keep_valid("pt_name", names, "h")
    name = c2.selectbox("of", names, key="pt_name", format_func=lambda n: gate_label(n, p.kind))
    state.start_at("pt_thr", 0.5, -1.0, 1.0)
    thr = c3.slider("threshold", -1.0, 1.0, step=0.05, key="pt_thr")
    l, d = st.session_state["layer"], st.session_state["direction"]
    if not _run_when_asked(key, "search the pattern", lt.steps, "pt_search"):
        return
    units, hits = _pattern(key, name, l, d, s, e + 1, thr, _lt=lt)
    if not units:
        st.warning("No unit stays above the threshold over the whole selection; lower the threshold or select fewer steps.")
        return
    st.markdown(f"**{len(units)} unit(s)** are on over steps {s}–{e}: {', '.join(map(str, units[:30]))}"
                + (" …" if len(units) > 30 else ""))
    if not hits:
        st.caption("No other place has any of these units on throughout a range of this length.")
    for k, h in enumerate(hits):
        c1, c2 = st.columns([5, 1])
        where = f"steps {h['start']:,}–{h['end'] - 1:,} · similarity {h['score']:.2f} · {h['shared']} shared unit(s)"
        if ui.text is not None:
            c1.code(f"{where}\n{ui.text[max(h['start'] - 20, 0):h['start']]}[{ui.text[h['start']:h['end']]}]"
                    f"{ui.text[h['end']:h['end'] + 20]}", language=None)
        else:
            c1.caption(where)
        if c2.button("go there", key=f"pt_go_{k}"):
            W = st.session_state.get("win_len", 120)
            st.session_state["pending_tab"] = "Explore"
            st.session_state["pending_win_start"] = max(0, min(h["start"] - W // 4, lt.steps - W))
            st.session_state["pending_insp_t"] = h["start"]
            st.session_state["pending_xtab"] = "Step inspector"         # and the view that shows that step
            st.rerun()


@st.fragment
def _clusters(p, ui, lt, key, names, view):
    with error_boundary("clustering units"):
        _clusters_body(p, ui, lt, key, names, view)


def _clusters_body(p, ui, lt, key, names, view):
    st.subheader("Clusters of units")
    st.caption("Units grouped by k-means on their activation profiles in the current window (standardised, so the "
               "shape of the profile decides). Rows are sorted by cluster.")
    c1, c2 = st.columns(2)
    state.keep_valid("cl_name", names, "h")
    name = c1.selectbox("of", names, key="cl_name", format_func=lambda n: gate_label(n, p.kind))
    state.start_at("cl_k", 5, 2, 12)
    k = c2.slider("clusters", 2, 12, key="cl_k")
    a, b = view["a"], view["b"]
    arr = state.window_cached(key, a, b, "", _lt=lt)
    l, d = st.session_state["layer"], st.session_state["direction"]
    v = arr[name][l, d].T                                             # (H, T)
    cl = _cluster(f"{key}|{a}|{b}|{name}|{l}|{d}|{k}", v, k)
    show = cl.order[:128]
    # The same clusters and figure for every session on this model, input and window (a class on one link).
    fig = state.shared_figure(f"clusters|{key}|{a}|{b}|{name}|{l}|{d}|{k}", lambda: plots.gate_heatmap(
        name, v[show], show, np.arange(a, b), ui.labels[a:b] if ui.labels is not None else None,
        title=f"{name} in cluster order ({len(cl.sizes)} clusters)", height=min(1400, 80 + 6 * len(show)),
        row_labels=[f"c{int(cl.labels[u])}·u{u}" for u in show], kind=p.kind))
    st.caption("cluster sizes: " + ", ".join(f"c{j}: {n}" for j, n in enumerate(cl.sizes)))
    state.chart(fig, key="clusters")


@st.cache_resource(show_spinner=False, max_entries=32)
def _cluster(key: str, _v, k: int):
    """k-means of the window's units, once per (model, input, window, gate, k) for every session."""
    return P.cluster_units(_v, k)


@st.cache_data(show_spinner=False, max_entries=16)
def _find_series(key: str, thr, top: int, _lt, _series, _names) -> list[dict]:
    return A.find_units(_lt, None, top=top, tracks=A.series_tracks(_series, _names, thr))


@st.fragment
def _series_finder(p, ui, lt, key, view):
    with error_boundary("finding units"):
        st.subheader("Unit finder")
        st.caption("Every unit of every gate and state, correlated with features of the series it reads (Pearson r "
                   "over the whole input): the value, rising, falling, above its mean, and your own threshold.")
        series = ui.series if ui.series is not None else ui.payload
        names = ui.columns or [f"input {j}" for j in range(series.shape[1])]
        c1, c2, c3 = st.columns([1, 1, 1])
        use = c1.checkbox(f"my threshold on {names[0]}", key="uf_use_thr")
        state.start_at("uf_thr", 0.0)
        thr = c2.number_input("threshold (the data's units)", key="uf_thr", disabled=not use)
        state.start_at("uf_top", 3, 1, 10)
        top = c3.slider("units per feature", 1, 10, key="uf_top")
        if not _run_when_asked(key, "find units", len(series), "uf_go"):
            return
        rows = _find_series(key, float(thr) if use else None, top, _lt=lt, _series=series, _names=tuple(names))
        st.dataframe([{"rank": k + 1, "feature": r["track"], "gate/state": r["name"], "layer": r["layer"],
                       "direction": r["direction"], "unit": r["unit"], "r": round(r["r"], 3)} for k, r in enumerate(rows)],
                     hide_index=True, height=260, key="uf_table")
        labels = [f"{k + 1}. {r['track']} · {r['name']} unit {r['unit']} · r = {r['r']:+.2f}" for k, r in enumerate(rows)]
        pick = st.selectbox("show", range(len(rows)), format_func=lambda i: labels[i], key="uf_row")
        r = rows[pick]
        a, b = view["a"], view["b"]
        vals = state.window_cached(key, a, b, "", _lt=lt)[r["name"]][r["layer"], r["direction"]][:, r["unit"]]
        track = A.series_tracks(series[a:b], names, float(thr) if use else None)[r["track"]].numpy()
        span = float(np.ptp(vals)) or 1.0
        f = (track - track.min()) / max(float(np.ptp(track)), 1e-12)
        f = 1 - f if r["r"] < 0 else f
        state.chart(plots.state_lines({f"{r['name']} u{r['unit']}": vals,
                                           f"feature: {r['track']} (scaled{', flipped' if r['r'] < 0 else ''})":
                                           f * span + float(vals.min())}, np.arange(a, b),
                                          ui.labels[a:b] if ui.labels is not None else None,
                                          title="the unit next to the feature"), key="uf_line")
