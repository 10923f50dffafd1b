"""Explore's "What it depends on" view: which earlier inputs each output uses (connectivity), the text
lit up by what one step depends on, how far back the LSTM, GRU and RNN (and minGRU, minLSTM, sLSTM) look next to the picked model,
and for a classifier or forecaster the attribution of its final output. Numbers from
explorer.analysis.connectivity, figures from explorer.plots."""
from __future__ import annotations

import streamlit as st

from explorer import plots
from explorer.analysis import connectivity as CN
from explorer.core import kinds
from explorer.core.kinds import KINDS

from . import state

MAX_WINDOW = 150         # steps: connectivity holds T² steps of the core
TRIO = ("shakespeare-lstm", "shakespeare-gru", "shakespeare-rnn")
MODERN = tuple(f"shakespeare-{k}" for k in kinds.MODERN)     # the 2024 cells, when shipped


@st.cache_data(show_spinner=False, max_entries=16)
def _view(key: str, a: int, b: int, _m, _inp) -> dict:
    return CN.window_view(_m, _inp)


@st.cache_data(show_spinner=False, max_entries=16)
def _trio(text: str) -> dict:
    out = {}
    for name in TRIO + tuple(n for n in MODERN if n in state.pretrained_names()):
        m = state.opened_model(f"pretrained:{name}", state.pretrained(name), None)
        v = CN.window_view(m, text)
        out[name] = (v["reach"], v["horizon"])
    return out


def depends_view(w):
    p, ui = w.p, w.ui
    a, b = w.a, min(w.b, w.a + MAX_WINDOW)
    st.subheader("What it depends on")
    m = p.opened
    y = {"language model": "the logit of the token that actually came next", "classifier": "the class logit",
         "regressor": "the prediction"}.get(m.task, "the sum of the last layer's h_t")
    st.caption(f"Connectivity (Madsen 2019): for every output step t and input step s, how much y_t changes with "
               f"the input at s, ‖∂y_t/∂x_s‖, where y_t is {y}. Steps {a:,}–{b - 1:,}"
               + (f" (the first {MAX_WINDOW} of the window)" if w.b - w.a > MAX_WINDOW else "") + ".")
    if p.core.bidirectional:
        st.caption("This model reads in both directions, so each output can depend on inputs after it too.")
    key = f"{p.key}|{ui.key}"
    # token ids (connectivity embeds them) or the model's data (a scaled series, or the core's own input)
    v = _view(key, a, b, _m=m, _inp=ui.payload[a:b])
    labels = ui.labels[a:b] if ui.labels is not None else None
    T = b - a
    if ui.text is not None and not v["final_only"]:
        state.start_at("dep_step", min(T - 1, max(0, T // 2)), 0, T - 1)
        t = st.slider("output step (characters it depends on light up)", 0, T - 1, key="dep_step",
                      help="Pick a step: each character is coloured by how much the output there depends on it.")
        rel = CN.decades(v["C"][t])                       # log10 of the share of the step's peak, floored at -3
        st.html(plots.scale_key({"log10 of the step's peak (−3: a thousandth)": plots.DECADE_SCALE}))
        state.chart(state.shared_figure(f"dep_text|{key}|{a}|{b}|{t}", lambda: plots.text_heatmap(
            list(ui.text[a:b]), rel, "h", a, scale=plots.DECADE_SCALE, colorbar=False,
            title=f"what the output after step {a + t} (“{plots.safe_label(ui.text[a + t])}”) depends on")),
            key="dep_text")
    state.chart(state.shared_figure(f"dep_tri|{key}|{a}|{b}", lambda: plots.connectivity_figure(v["C"], a, labels)),
                    key="dep_triangle")
    curves = {f"{p.label} (yours)": v["reach"]}
    horizons = {f"{KINDS[p.kind].label} you picked": v["horizon"]}
    if ui.text is not None:
        for name, (r, h) in _trio(ui.text[a:b]).items():
            if f"pretrained:{name}" == p.key:
                continue
            curves[name] = r
            horizons[KINDS[name.split("-")[1]].label] = h
    if not v["final_only"]:
        state.chart(plots.reach_figure(curves), key="dep_reach")
        st.info(CN.far_back(horizons, T))
    if v["attribution"] is not None:
        met = v["error"] <= CN.COMPLETENESS
        st.markdown(f"**What drove the final {'verdict' if m.task == 'classifier' else 'forecast'}**: integrated "
                    f"gradients from an all-zero input ({v['steps']} steps; the attributions add up to the output's "
                    f"change of {v['change']:.3g} within {abs(v['delta']):.1e}, "
                    + (f"{v['error']:.1%} of it)." if met else
                       f"**{v['error']:.0%} of it: the 1% it aims for was not met** within the step bound, so read "
                       "the bars as approximate)."))
        state.chart(plots.attribution_figure(v["attribution"], a, labels), key="dep_attr")
