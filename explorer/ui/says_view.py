"""Explore's "What it says" view: the model's own head over the window, read by its task (a forecast
against the series, class probabilities as it reads, a final verdict, p of the actual next token), or
a plain sentence for an encoder. The numbers come from explorer.analysis.says, the figures from plots."""
from __future__ import annotations

import streamlit as st

from explorer import plots
from explorer.analysis.says import says

from . import state


@st.cache_data(show_spinner=False, max_entries=16)
def _whole(key: str, _p, _ui):
    """The core's whole input, for a verdict that needs it (a bidirectional classifier), once per input."""
    return state.core_input(_p, _ui.payload)[0:len(_ui.payload)]


def what_it_says(w):
    p, ui, a, b = w.p, w.ui, w.a, w.b
    m = p.opened
    st.subheader("What the model says")
    st.caption(f"Task: **{m.task}**" + (f" ({state.md_escape(m.why)})" if m.why else "") + ". "
               "Only what the model's own head computes is shown.")
    last = w.l == p.core.num_layers - 1
    if m.head is not None and m.task != "encoder" and not last:
        st.caption(f"The head reads the last layer ({p.core.num_layers - 1}); pick it in the sidebar to line this "
                   "view up with the gates above. The numbers below are the head's, whatever layer is shown.")
    out = w.arr["output"] if last else state.window_cached(w.key, a, b, "", _lt=w.lt)["output"]
    x = _whole(f"{p.key}|{ui.key}", p, ui) if m.final_only else None
    s = says(m, out, a, ids=ui.payload if p.is_char else None, x=x, series=ui.series, scaler=ui.scaler)
    st.markdown(state.md_escape(s.sentence))
    labels = ui.labels[a:b] if ui.labels is not None else None
    if s.final and s.probs is not None:
        state.chart(plots.verdict_figure(s.probs[0], s.classes), key="says_verdict")
    elif s.final and s.prediction is not None:
        st.metric("prediction", f"{float(s.prediction[0]):.4g}")
    elif s.task == "classifier" and s.probs is not None:
        state.chart(plots.class_figure(s.steps, s.probs, s.classes, labels), key="says_classes")
    elif s.task == "regressor" and s.prediction is not None:
        if ui.series is None:
            st.caption("With a CSV as input, the actual next values are drawn beside the predictions.")
        unit = ui.columns[0] if ui.columns else "value"
        fig = plots.forecast_figure(s.steps, s.prediction, s.actual, labels, unit, theme=state.page_theme())
        state.chart(fig, key="says_forecast")
        if ui.columns and len(ui.columns) > 1:
            st.caption(f"The prediction is read as {state.md_escape(ui.columns[0])}, the first column the model reads "
                       "(assumed: the head has one output).")
    elif s.task == "language model" and s.probs is not None:
        state.chart(plots.next_token_figure(s.steps, s.probs[:, 0], labels), key="says_next")
