"""Gate Explorer: the Streamlit entry. Page config, sidebar, tabs -> explorer/ui/*."""
import streamlit as st

st.set_page_config(page_title="Gate Explorer", page_icon="🔬", layout="wide")

from explorer.ui.classroom import classroom_sidebar, lesson_panel   # noqa: E402  (after set_page_config)
from explorer.ui.explore import explore_tab                         # noqa: E402
from explorer.ui.gradflow import gradflow_tab                       # noqa: E402
from explorer.ui.sidebar import sidebar                             # noqa: E402
from explorer.ui.train import train_tab                             # noqa: E402
from explorer.ui.units import units_tab                             # noqa: E402

TABS = ["Explore", "Gradient flow", "Train", "Units"]

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
