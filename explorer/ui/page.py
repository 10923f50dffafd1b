"""The whole page: page config, sidebar, lesson panel and the tabs -> explorer/ui/*.

Run by the top-level app.py (`streamlit run app.py`) and by the `gate-explorer` command
(explorer/ui/streamlit_app.py), so both serve the same page.
"""
import streamlit as st

TABS = ["Explore", "Gradient flow", "Train", "Units"]


def main():
    st.set_page_config(page_title="Gate Explorer", page_icon="🔬", layout="wide")
    # Imported after set_page_config: it must be the first Streamlit call of a run.
    from .classroom import classroom_sidebar, lesson_panel
    from .explore import explore_tab
    from .gradflow import gradflow_tab
    from .sidebar import sidebar
    from .train import train_tab
    from .units import units_tab

    st.title("Gate Explorer")
    st.caption("What happens inside LSTM, GRU and vanilla RNN cells while they read a real sequence.")
    sidebar()
    classroom_sidebar()
    lesson_panel()
    # The active tab is part of the URL (?tab=Units), like every bound widget, so a link reopens the same view.
    # Every tab is drawn on every run (the heavy parts are cached): a widget that is not drawn loses its state.
    explore, grad, train, units = st.tabs(TABS, key="tab", bind="query-params")
    with explore:
        explore_tab()
    with grad:
        gradflow_tab()
    with train:
        train_tab()
    with units:
        units_tab()
