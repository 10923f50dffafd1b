"""The whole page: page config, sidebar, lesson panel and the tabs -> explorer/ui/*.

Run by explorer/ui/streamlit_app.py, the script both `streamlit run app.py` and `gate-explorer` serve (as an
st.App whose start-up imports the page's libraries: ui/startup.py), so both serve the same page.
"""
import streamlit as st

TABS = ["Explore", "Cell", "Gradient flow", "Train", "Units"]


def main():
    # A presentation link (?present=true) opens with the sidebar folded away: the projector shows the figure.
    present = st.query_params.get("present", "").lower() in ("true", "1")
    st.set_page_config(page_title="Gate Explorer", page_icon="🔬", layout="wide",
                       initial_sidebar_state="collapsed" if present else "auto")
    from . import state
    from .cell import cell_tab
    from .classroom import CSS, classroom_sidebar, hidden, lesson_panel
    from .explore import explore_tab, read_input
    from .finding_view import first_screen
    from .gradflow import gradflow_tab
    from .sidebar import sidebar
    from .train import train_tab
    from .units import units_tab

    if state.presenting():                     # from the link's first run: no title, no intro, larger type
        st.html(CSS)                           # our own constant stylesheet; never user text
    else:
        st.title("Gate Explorer")
        st.caption("What happens inside LSTM, GRU and vanilla RNN cells, and the 2024 minGRU, minLSTM and sLSTM, "
                   "while they read a real sequence.")
    state.keep_widget_state()
    sidebar()
    classroom_sidebar()
    lesson_panel()
    tabs = dict(zip(TABS, (explore_tab, cell_tab, gradflow_tab, train_tab, units_tab)))
    if hidden("input"):
        # Presentation mode: the tabs first, the input under them, folded (there to change, off the first screen).
        # The input is read before the tabs run (they read it), so the tabs go into a container made above it.
        above = st.container()
        read_input(collapsed=True)
        with above:
            state.lazy_tabs(tabs, "tab")
        return
    # The first screen on the Explore tab: a finding and its picture, above the input (computed once the input is
    # read, drawn in a container made before it). A tab link (?tab=Cell) opens on its own figure instead.
    first = st.container() if (st.session_state.get("tab") or st.query_params.get("tab") or "Explore") == "Explore" else None
    read_input()
    if first is not None and st.session_state.get("input") is not None:
        with first, state.error_boundary("finding what the network does"):
            first_screen(state.picked(), st.session_state["input"])
    # The active tab is part of the URL (?tab=Units), like every bound widget, so a link reopens the same view.
    # Only the open tab runs and is drawn (tab.open); the widgets of the others keep their values through
    # state.keep_widget_state().
    # "go there" from the Units tab sets pending_tab.
    state.lazy_tabs(tabs, "tab")
