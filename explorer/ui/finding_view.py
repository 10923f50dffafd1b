"""The first screen: one sentence about what this network does on this input, and its picture (the text coloured by
the unit the sentence is about, or that unit over the series), above the input, on the Explore tab."""
from __future__ import annotations

import numpy as np
import streamlit as st

import explorer
from explorer import plots
from explorer.analysis.finding import finding
from explorer.core.cells import gate_name

from . import state
from .state import md_escape

STEPS = 400                    # the finding reads the input's first steps (the default text is 205 characters)
WIDTH = 80                     # characters per row of the text picture


def _find(p, ui):
    n = min(len(ui.payload), STEPS)
    x = state.core_input(p, ui.payload)[:n]
    tr = explorer.trace(p.core, x)
    if ui.text is not None:
        return finding(tr, text=ui.text[:n]), n
    if ui.series is not None:
        return finding(tr, series=ui.series[:n], names=ui.columns), n
    return finding(tr), n


def first_screen(p, ui):
    """The finding and its figure, built once per model and input for every session (state.shared: single flight)."""
    key = f"{p.key}|{ui.key}"
    f, n = state.shared(f"finding|{key}", lambda: _find(p, ui))
    st.markdown(f"**What this network does:** {md_escape(f.sentence)}")
    if f.values is None:
        return
    title = f"unit {f.unit}'s {gate_name(f.name, p.kind)} over the input"
    if ui.text is not None:
        fig = state.shared_figure(f"finding_fig|{key}", lambda: plots.text_heatmap(
            list(ui.text[:n]), f.values, f.name, 0, width=WIDTH, title=title,
            scale=plots.gate_scale(f.name, f.values, kind=p.kind)))
    else:
        fig = state.shared_figure(f"finding_fig|{key}", lambda: plots.state_lines(
            {f"{f.name} u{f.unit}": f.values}, np.arange(n), title=title))
    state.chart(fig, key="finding_fig")
