"""Lesson 8, "Do RNNs need h_{t-1} in their gates?": the GRU against minGRU (Feng et al. 2024) on the same text,
live: their update gates, how much of each gate the past decides, how far back each looks, held-out loss."""
from __future__ import annotations

import numpy as np
import streamlit as st

from explorer import plots
from explorer.analysis import connectivity as CN
from explorer.analysis.lessons import past_in_gates
from explorer.core import kinds

from . import state


def h_in_gates(text: str):
    names = {"GRU": "shakespeare-gru", "minGRU": "shakespeare-mingru"}
    if any(n not in state.pretrained_names() for n in names.values()):
        st.warning("This lesson needs the pretrained shakespeare-gru and shakespeare-mingru models.")
        return
    models = {label: state.pretrained(n) for label, n in names.items()}
    text = text[:150]
    got = past_in_gates(models, text)
    st.markdown("A GRU's update gate reads the character **and** the state before it, "
                r"$z_t = \sigma(W_{iz}x_t + W_{hz}h_{t-1} + b)$; minGRU (Feng et al. 2024, *Were RNNs All We Needed?*) "
                r"drops $h_{t-1}$ from every gate, $z_t = \sigma(W_z x_t + b_z)$, so a whole sequence trains as one "
                "parallel scan. Both read the same text here, trained the same way on Tiny Shakespeare (pretrained/).")
    steps = np.arange(len(text))
    bands = {f"{label} z": got.z[label] for label in got.z}
    rows = {f"{label} z": got.units[label] for label in got.z}
    # both update gates live in [0, 1]: one viridis scale for the two bands
    scales = {f"{label} z": plots.gate_scale("z", kind=kinds.of(m.core).name) for label, m in models.items()}
    st.html(plots.scale_key({"z": next(iter(scales.values()))}))
    state.chart(plots.gates_figure(bands, rows, steps, list(text), scales=scales, colorbars=False), key="lesson_gates_z")
    said = "; ".join(f"{label}: {share:.0%}" for label, share in got.from_past.items())
    st.info(f"How much of z the past decides (its variance left once you know the current character): {said}. "
            "A minGRU's gate is the same every time a character comes round; the GRU's changes with what came before. "
            "Read the colours with care: PyTorch's GRU keeps its old state where z is near 1, minGRU where z is "
            "near 0 (its z weights the new candidate, as the paper writes it).")
    views = {label: CN.window_view(state.opened_model(f"pretrained:{names[label]}", m, None), text)
             for label, m in models.items()}
    state.chart(plots.reach_figure({label: v["reach"] for label, v in views.items()}), key="lesson_gates_reach")
    st.info(CN.far_back({label: v["horizon"] for label, v in views.items()}, len(text)))
    loss = ", ".join(f"{label} {v:.3f}" for label, v in got.heldout.items())
    st.caption(f"Held-out loss on Tiny Shakespeare's last 10% (nats per character, from the model cards): {loss}. "
               "Same recipe, same hidden size; minGRU has no recurrent weights at all, so it is also far smaller.")
