"""The Cell tab: the textbook diagram filled with the model's own numbers, played over the window,
beside the path of the state. Everything is computed by explorer.analysis.diagram and drawn by
explorer.plots.cell; the animation runs in the browser."""
from __future__ import annotations

import numpy as np
import streamlit as st

from explorer.analysis import diagram
from explorer.core.kinds import KINDS
from explorer.io.inputs.data import describe_chars
from explorer.plots import cell as plots_cell

from . import state
from .classroom import hidden
from .explore import window_of
from .state import error_boundary

MAX_STEPS = 300          # frames the browser animates smoothly


@st.cache_data(show_spinner=False, max_entries=16)
def _story(key: str, a: int, b: int, layer: int, direction: int, unit: int, convention: str, _lt=None, _x0=None):
    story, tr = diagram.story_for_window(_lt, a, b, layer, direction, unit, _x0, convention)
    path, explained = diagram.state_path(tr.h[layer, direction, :, 0].double().numpy(), 2)
    return story, path, explained


@st.cache_data(show_spinner=False, max_entries=16)
def _busiest(key: str, a: int, b: int, layer: int, direction: int, _lt=None) -> int:
    return diagram.busiest_unit(_lt.window(a, b), layer, direction)


def cell_tab():
    p, ui = st.session_state.get("picked"), st.session_state.get("input")
    if p is None or ui is None:
        st.info("Pick a model in the sidebar and give it an input above; this tab shows its cell reading it.")
        return
    present = state.presenting()
    if not present:
        feeds = ("x(t) comes in from below into every gate, and h(t−1) only along the top: these gates never see "
                 "the past" if not KINDS[p.kind].gates_see_past else
                 "h(t−1) comes in from the left and x(t) from below into every gate")
        st.caption("The cell as the textbooks draw it, filled in with this model's own numbers for one unit: the memory "
                   f"runs along the top, {feeds}; each box is a gate coloured by its value, each wire says what flows "
                   "along it. Press play, or drag the step slider under the figure; the animation runs in your browser.")
    key = f"{p.key}|{ui.key}"
    N = len(ui.payload)
    a, b = window_of(N)
    b = min(b, a + MAX_STEPS)
    l, d = st.session_state["layer"], st.session_state["direction"]
    with error_boundary("drawing the cell"):
        lt = state.scan(key, p.core, state.core_input(p, ui.payload), N)
        H = p.core.hidden_size
        # On a projector the figure comes first and its controls under it; otherwise the controls lead.
        figure_slot = st.container() if present else None
        c1, c2 = st.columns([1, 3])
        state.keep_valid("cell_unit", list(range(H)), _busiest(key, a, b, l, d, _lt=lt))
        unit = c1.selectbox("unit", list(range(H)), key="cell_unit", bind="query-params",
                            help="Starts at the unit whose state moves most in this window.")
        convention = "pytorch"
        if KINDS[p.kind].textbook_form:
            textbook = c1.toggle("textbook GRU (Cho et al. 2014)", key="cell_textbook", bind="query-params",
                                 help="Same weights, the textbook equations: reset before the matrix product, z "
                                      "weighting the new state. PyTorch's nn.GRU computes the other form.")
            convention = "cho" if textbook else "pytorch"
        story, path, explained = _story(key, a, b, l, d, unit, convention, _lt=lt, _x0=_x0(p, ui, a, b))
        labels = ui.labels[a:b] if ui.labels is not None else None
        title = (f"{KINDS[p.kind].label} unit {unit}, layer {l}" + (", reverse direction" if d else "")
                 + f": steps {a:,}–{b - 1:,}")
        theme = state.page_theme()
        fig = state.shared_figure(f"cell|{key}|{a}|{b}|{l}|{d}|{unit}|{convention}", lambda: plots_cell.cell_figure(
            story, labels, np.arange(a, b), path, explained, title=title, large=present, theme=theme))
        c2.caption(f"Window: steps {a:,}–{b - 1:,} (move it in the Explore tab; at most {MAX_STEPS} steps play here).")
        with figure_slot or st.container():
            state.chart(fig, key="cell_fig", config={"displayModeBar": False})
        for note in story.notes:
            st.info(note)
        if not present and not hidden("what-if"):
            _what_to_notice(p, labels, path, explained)


def _x0(p, ui, a, b):
    """The core's input over the window (the layer-0 input the diagram's x(t) stands for)."""
    return state.core_input(p, ui.payload)[a:b]


def _what_to_notice(p, labels, path, explained):
    hi, lo = diagram.path_extremes(path, labels)
    show = lambda xs: ", ".join(f"{describe_chars([s])} (step {t})" if labels is not None else f"step {t}" for s, t in xs)
    st.markdown(
        f"**The path of the state.** Each dot is h at one step, placed by the two directions in which h varies most "
        f"over this window (principal components; together they explain {sum(explained):.0%} of its variance, so the "
        f"picture is a shadow of {p.core.proj_size or p.core.hidden_size} dimensions). Along the first direction the "
        f"state is furthest one way after {state.md_escape(show(hi))}, and furthest the other way after "
        f"{state.md_escape(show(lo))}. Hover the dots to see which character each one follows: steps that read similar "
        "characters (spaces, line breaks, punctuation) often land near each other. Where they do not, the state is "
        "carrying something other than the current character.")
