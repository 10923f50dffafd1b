"""Step inspector (the equations filled in with this step's numbers) and what-if interventions."""
from __future__ import annotations

import numpy as np
import streamlit as st

from explorer import plots
from explorer.analysis.stepview import step_numbers
from explorer.core import kinds
from explorer.core.cells import gate_label, gate_name
from explorer.core.trace import Intervention
from explorer.io.inputs.data import describe_chars
from explorer.io.models.ours import next_token_loss, top_next

from . import state


def _state_at(lt, key, t: int, l: int, d: int, N: int, arr, a: int, b: int):
    """(h, c) of layer l, direction d after input position t (None outside 0..N-1: the zero state); c is what
    the kind carries beside h, packed as its step reads it (an sLSTM's c, n, m side by side)."""
    if not 0 <= t < N:
        return None, None
    if t == (a - 1 if d == 0 else b):                 # just outside the window: the state it started from
        before = arr["before"]
        return before["h"][l, d], (before["c"][l, d] if before["c"] is not None else None)
    src, k = (arr, t - a) if a <= t < b else (state.window_cached(key, t, t + 1, "", _lt=lt), 0)
    carried = kinds.get(lt.kind).carried or (("c",) if "c" in src else ())
    return src["h"][l, d, k], (np.concatenate([src[n][l, d, k] for n in carried]) if carried else None)


def _layer_input(p, ui, lt, key, t, l, arr, a, b):
    """What layer l reads at position t: the embedded input, or the layer below's h (both directions)."""
    if l == 0:
        return state.core_input(p, ui.payload)[t:t + 1][0]
    src, k = (arr, t - a) if a <= t < b else (state.window_cached(key, t, t + 1, "", _lt=lt), 0)
    D = src["h"].shape[1]
    return np.concatenate([src["h"][l - 1, dd, k] for dd in range(D)])


@st.fragment
def inspector(p, ui, lt, arr, key, a, b, units):
    """A fragment: moving the step or picking units reruns only this section."""
    with state.error_boundary("inspecting the step"):
        _inspector(p, ui, lt, arr, key, a, b, units)


def _inspector(p, ui, lt, arr, key, a, b, units):
    st.subheader("Step inspector")
    st.caption("Pick a step and a few units: the equations below are filled in with this step's numbers, computed "
               "from the model's weights by explorer/core/cells.py and checked against the trace.")
    l, d, N = st.session_state["layer"], st.session_state["direction"], lt.steps
    c1, c2 = st.columns([3, 2])
    if "pending_insp_t" in st.session_state:
        st.session_state["insp_t"] = st.session_state.pop("pending_insp_t")
    # Starts mid-window: a step with history behind it (step 0 reads a zero state), and one that stays
    # put when the window moves a little, so its equations are not typeset again for nothing.
    state.start_at("insp_t", a + (b - a) // 2, a, b - 1)
    t = c1.slider("step t", a, b - 1, key="insp_t", bind="query-params")
    state.keep_valid("insp_units", units, units[:1])
    us = c2.multiselect("units", units, key="insp_units", max_selections=4, bind="query-params")
    prev_t = t - 1 if d == 0 else t + 1                    # the reverse direction comes from t+1
    h_prev, c_prev = _state_at(lt, key, prev_t, l, d, N, arr, a, b)
    kind = kinds.get(p.kind)
    cho = kind.textbook_form and st.session_state.get("cho", False)
    s = step_numbers(p.core, l, d, _layer_input(p, ui, lt, key, t, l, arr, a, b), h_prev, c_prev, textbook=cho)
    ok = s.matches(arr["h"][l, d, t - a])
    what = (f"character {state.md_escape(describe_chars([ui.text[t]]))}" if ui.text is not None else
            f"token {state.md_escape(repr(ui.labels[t]))}" if ui.labels is not None else "the input")
    src = ("the initial state (zeros)" if not 0 <= prev_t < N else
           f"the {'previous' if d == 0 else 'next (reverse direction)'} state, from step {prev_t}")
    st.markdown(f"**Step {t}** reads {what} ($\\lVert x_t \\rVert$ = {s.x_norm:.3f}) and {src}. "
                + ("✓ the equations reproduce the trace." if ok else "⚠ the equations do not reproduce the trace here."))
    if p.is_char and p.is_lm and d == 0 and l == p.core.num_layers - 1:
        nxt = top_next(p.model, arr["output"][t - a])
        st.caption("What the model expects next: " + ", ".join(f"{state.md_escape(repr(tok))} {pr:.0%}" for tok, pr in nxt)
                   + (f" (it is {state.md_escape(repr(ui.labels[t + 1]))})" if ui.labels is not None and t + 1 < N else ""))
    if kind.textbook_form:
        st.info("PyTorch's GRU differs from the textbook form (Cho et al. 2014) in two places: the "
                "reset gate multiplies $(W_{hn} h + b_{hn})$ *after* the matrix product, and $z$ weights the *old* state: "
                "$h' = (1 - z) \\odot n + z \\odot h$. The textbook resets h *before* the product and lets z weight the new state.")
        st.toggle("show the textbook (Cho) form with the same weights", key="cho")
    for u in us:
        st.markdown(f"**unit {u}**")
        st.latex(s.latex(u))
        if s.textbook is not None:
            st.latex(s.textbook_latex(u))
            st.caption(f"Same weights, different function: the textbook form gives h_t = {s.textbook[0][u]:.3f} here, "
                       f"PyTorch's {s.h[u]:.3f}.")


@st.fragment
def what_if(p, ui, lt, arr, key, a, b, units):
    """A fragment: choosing and applying an intervention reruns only this section."""
    with state.error_boundary("running the intervention"):
        _what_if(p, ui, lt, arr, key, a, b, units)


def _what_if(p, ui, lt, arr, key, a, b, units):
    st.subheader("What if…")
    st.caption("Clamp a gate for chosen units and steps and watch the consequences: the changed trace is shown beside "
               "the original. Try the forget gate := 1 and the input gate := 0 on an LSTM unit: its cell state freezes.")
    l, d = st.session_state["layer"], st.session_state["direction"]
    targets = kinds.get(p.kind).names()
    state.keep_valid("wi_units", units, units[:1])
    state.keep_valid("wi_gate", targets, "f" if "f" in targets else targets[0])
    state.start_at("wi_value", 1.0, -10.0, 10.0)
    with st.form("whatif"):
        c1, c2, c3, c4 = st.columns(4)
        gate = c1.selectbox("gate or state", targets,
                            format_func=lambda n: gate_label(n, p.kind), key="wi_gate")
        mode = c2.selectbox("operation", ["set", "scale", "add"], key="wi_mode")
        value = c3.number_input("value", -10.0, 10.0, step=0.1, key="wi_value")
        us = c4.multiselect("units", units, key="wi_units")
        state.start_at("wi_steps", (a + (b - a) // 4, b - 1), a, b - 1)
        lo, hi = st.slider("steps", a, b - 1, key="wi_steps")
        run = st.form_submit_button("apply")
    if run:
        st.session_state["wi_applied"] = dict(gate=gate, mode=mode, value=value, units=list(us), steps=(lo, hi),
                                              layer=l, direction=d, a=a, b=b, key=key)
    spec = st.session_state.get("wi_applied")
    if not spec or spec["key"] != key or (spec["a"], spec["b"]) != (a, b):
        st.caption("Choose an intervention and press apply.")
        return
    if not spec["units"]:
        st.warning("Pick at least one unit to intervene on.")
        return
    iv = Intervention(spec["gate"], spec["value"], spec["mode"], layers=spec["layer"], directions=spec["direction"],
                      units=spec["units"], steps=range(spec["steps"][0], spec["steps"][1] + 1))
    with state.error_boundary("running the intervention"):
        new = state.window_cached(key, a, b, repr(iv), _lt=lt, _iv=iv)
        view = kinds.get(p.kind).memory
        steps = np.arange(a, b)
        state.chart(plots.side_by_side(view, arr[view][l, d][:, units].T, new[view][l, d][:, units].T, units, steps,
                                           f"{gate_name(view, p.kind)} with {spec['gate']} {spec['mode']} {spec['value']:g} "
                                           f"on units {spec['units']}, steps {spec['steps'][0]}–{spec['steps'][1]}", kind=p.kind),
                        key="wi_side")
        u = spec["units"][0]
        state.chart(plots.state_lines({f"{view} u{u} original": arr[view][l, d][:, u],
                                           f"{view} u{u} with the intervention": new[view][l, d][:, u]}, steps,
                                          ui.labels[a:b] if ui.labels is not None else None,
                                          title=f"unit {u} before and after"), key="wi_line")
        if p.is_char and p.is_lm:
            base, alt = _char_loss(p, ui, arr, a, b), _char_loss(p, ui, new, a, b)
            if base is not None:
                st.markdown(f"Next-token loss over this window: **{base:.3f}** nats originally, **{alt:.3f}** with "
                            f"the intervention ({alt - base:+.3f}).")


def _char_loss(p, ui, arr, a, b):
    """Mean next-token cross-entropy (nats) of the window's steps that have a next token."""
    n = min(b, len(ui.payload) - 1) - a
    return next_token_loss(p.model, arr["output"][:max(n, 0)], ui.payload[a + 1:a + 1 + max(n, 0)])
