"""The Gradient flow tab: the same input through LSTM, GRU and vanilla RNN, ‖dJ/dh_t‖ side by side."""
from __future__ import annotations

import numpy as np
import streamlit as st

from explorer import plots
from explorer.analysis import compare as C
from explorer.analysis import units as A
from explorer.core.kinds import CLASSIC, KINDS, MODERN
from explorer.io.inputs.data import random_letters
from explorer.io.models.ours import ModelConfig

from . import state
from .state import error_boundary

SOURCES = ("pretrained (shakespeare-lstm, -gru, -rnn)", "pretrained: the modern cells beside them (minGRU, minLSTM, sLSTM)",
           "random, equal hidden size", "random, equal parameter count")


@st.cache_resource(show_spinner=False, max_entries=8)
def _three_models(source: str, hidden: int, init: str, seed: int, t_max: int):
    if source == SOURCES[0]:
        return {k: state.pretrained(f"shakespeare-{k}") for k in CLASSIC}
    if source == SOURCES[1]:                  # the 2024 cells beside the classic three, trained alike (pretrained/)
        return {k: state.pretrained(f"shakespeare-{k}") for k in CLASSIC + MODERN}
    vocab = state.pretrained("shakespeare-lstm").vocab
    base = ModelConfig("lstm", vocab_size=len(vocab), embedding_size=64, hidden_size=hidden)
    return C.random_trio(base, vocab, "params" if "parameter" in source else "hidden", init, seed, t_max)


@st.cache_data(show_spinner=False, max_entries=16)
def _flows(trio_key: tuple, text: str, objective: str, clamp, _models) -> dict:
    """Everything the tab draws, as numpy (cached per models, input, objective, clamp)."""
    return C.flow_arrays(_models, text, objective, clamp)


def _input_text(T: int, source: str, seed: int) -> str:
    ui = st.session_state.get("input")
    if source == "the text from the Explore tab" and ui is not None and ui.text:
        base = ui.text
    else:
        base = random_letters(T, seed)
    return (base * (T // len(base) + 1))[:T]


def gradflow_tab():
    # On a projector the figures come first and the controls under them; otherwise the controls lead.
    present = state.presenting()
    figures = st.container() if present else None
    if not present:
        st.caption("The vanishing-gradient problem (Bengio et al. 1994; Pascanu et al. 2013), measured: backpropagate a loss "
                   "at the end of the text and watch how much gradient reaches each earlier step. A vanilla RNN multiplies "
                   "by W_hh and tanh' at every step, so its gradient shrinks geometrically; the LSTM's cell state passes "
                   "it back multiplied only by the forget gate.")
    c1, c2, c3 = st.columns(3)
    state.keep_valid("gf_source", SOURCES, SOURCES[0])
    source = c1.selectbox("models", SOURCES, key="gf_source", bind="query-params")
    state.keep_valid("gf_obj", list(C.OBJECTIVES), list(C.OBJECTIVES)[0])
    objective = c2.selectbox("objective J", list(C.OBJECTIVES), format_func=C.OBJECTIVES.get, key="gf_obj",
                             bind="query-params")
    state.start_at("gf_T", 300, 10, 2000)
    T = c3.slider("sequence length", 10, 2000, step=10, key="gf_T", bind="query-params",
                  help="The input is repeated or cut to this length. Longer sequences make the vanishing visible.")
    c1, c2, c3, c4 = st.columns(4)
    text_src = c1.selectbox("input", ["the text from the Explore tab", "random characters"], key="gf_text", bind="query-params")
    random = source.startswith("random")
    init = c2.selectbox("init (random models)", A.INITS, key="gf_init", bind="query-params", disabled=not random,
                        help="forget bias 1: Gers et al. 2000; chrono: Tallec & Ollivier 2018; orthogonal W_hh keeps "
                             "the RNN's spectral radius at 1.")
    state.keep_valid("gf_hidden", [16, 32, 64, 128, 256], 128)
    hidden = c3.select_slider("hidden size (random)", [16, 32, 64, 128, 256], key="gf_hidden", bind="query-params",
                              disabled=not random)
    clamp = c4.checkbox("clamp the LSTM's forget gate", key="gf_clamp", bind="query-params")
    state.start_at("gf_fval", 1.0, 0.0, 1.0)
    fval = c4.slider("f :=", 0.0, 1.0, step=0.05, key="gf_fval", bind="query-params", disabled=not clamp)
    with error_boundary("computing the gradient flow"):
        trio = _three_models(source, hidden, init, 0, T)
        text = _input_text(T, text_src, 0)
        out = _flows((source, hidden, init, T), text, objective, fval if clamp else None, _models=trio)
        out = dict(out, picked=_picked(T))
        with figures or st.container():
            _draw(out, T)


def _picked(T: int):
    """The picked model's own flow on the Explore tab's input (its first T steps), with its task's objective;
    None when it is one of the pretrained trio drawn anyway, or there is no input."""
    p, ui = st.session_state.get("picked"), st.session_state.get("input")
    if p is None or ui is None or p.key.startswith("pretrained:shakespeare-"):
        return None
    return _picked_flow(f"{p.key}|{ui.key}", T, _p=p, _ui=ui)


@st.cache_data(show_spinner=False, max_entries=16)
def _picked_flow(key: str, T: int, _p, _ui) -> dict:
    n = min(T, len(_ui.payload))
    x = state.core_input(_p, _ui.payload)[0:n]
    out = C.model_flow(_p.opened, x, _ui.payload[:n] if _p.is_char else None)
    label = f"{_p.label} (yours)"
    out["reading"] = C.reading({f"{label}": out.pop("flow")}, _p.core.num_layers - 1).replace("Gradient ‖dJ/dh_t‖: ", "")
    out["label"] = label
    return out


def _draw(out: dict, T: int):
    """Two views, as tabs: only the open one is drawn (a tab switch to here draws one figure, not two)."""
    state.lazy_tabs(GVIEWS, "gtab", out, T)


def _over_time(out: dict, T: int):
    steps = np.arange(T)
    gap = lambda v: np.where(v > 0, v, np.nan)        # exactly 0 (underflow, or a step J never sees): a gap
    shown = _kinds(out)
    curves = {f"{KINDS[k].label} ‖dJ/dh_t‖": (steps, gap(out[k]["h_norm"])) for k in shown}
    for k in shown:                                    # the LSTM's (and sLSTM's) cell state
        if out[k]["c_norm"] is not None:
            curves[f"{KINDS[k].label} ‖dJ/dc_t‖"] = (steps, gap(out[k]["c_norm"]))
    ratios = {f"{KINDS[k].label} ratio": (steps[:-1], np.clip(out[k]["ratio"], 1e-12, 1e12)) for k in shown}
    mine = out.get("picked")
    if mine is not None:                     # the picked model's own, on its own input, its task's objective
        own = np.arange(len(mine["h_norm"]))
        curves[f"{mine['label']} ‖dJ/dh_t‖"] = (own, gap(mine["h_norm"]))
        if mine["c_norm"] is not None:
            curves[f"{mine['label']} ‖dJ/dc_t‖"] = (own, gap(mine["c_norm"]))
        ratios[f"{mine['label']} ratio"] = (own[:-1], np.clip(mine["ratio"], 1e-12, 1e12))
    # one figure, two panels on one step axis: one plotly instance on the page instead of two
    state.chart(plots.gradient_curves(curves, ratios, "how much gradient reaches each step (log scale)",
                                          "step ratio ‖dJ/dh_t‖ / ‖dJ/dh_t+1‖ (Pascanu et al. 2013): below 1 = shrinking"),
                    key="gf_curves")
    if out.get("modern"):
        st.info(out["modern"])
    st.info(out["reading"] + (f" The picked model, {mine['label']}, on the Explore tab's input with J = "
                               f"{mine['objective']}: {mine['reading']}" if mine is not None else ""))
    cols = st.columns(len(shown))
    s = out["summary"]
    for col, k in zip(cols, shown):
        col.metric(f"{KINDS[k].label} parameters (core)", f"{s[k]['core parameters']:,}", help=f"hidden size {s[k]['hidden size']}")
    ratio = s["gru"]["core parameters"] / s["lstm"]["core parameters"]
    extra = f" The RNN's W_hh has spectral radius {s['rnn']['spectral radius of W_hh']:.3f}" + \
        (" (< 1: repeated multiplication shrinks)." if s["rnn"]["spectral radius of W_hh"] < 1 else " (≥ 1).")
    st.caption(f"At equal hidden size a GRU has 3/4 of an LSTM's recurrent parameters; here the ratio is {ratio:.2f}." + extra)


def _per_unit(out: dict, T: int):
    st.caption("Each row is one unit: how much of the gradient reaches it at each step, in decades below the "
               "model's largest; the last band is the LSTM's product of forget gates, the share of c_t that "
               "survives to the end.")
    state.start_at("gf_top", 24, 4, 64)
    top = st.slider("units shown", 4, 64, key="gf_top")
    st.html(plots.scale_key({"log10 |dJ/dh_t| vs the model's largest": plots.GRADIENT_DECADES,
                             "LSTM ∏f": plots.gate_scale("f")}))
    state.chart(plots.gradient_units(out, {k: KINDS[k].label for k in _kinds(out)}, top, colorbars=False),
                    key="gf_units")


def _kinds(out: dict) -> list[str]:
    """The kinds drawn, in KINDS' order: the classic three, and the modern cells when they were picked."""
    return [k for k in KINDS if k in out]


GVIEWS = {"Over time": _over_time, "Per unit": _per_unit}      # the names are the URL's values (?gtab=...)
