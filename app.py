"""Gate Explorer: the Streamlit entry. Page config, sidebar, tabs -> explorer/ui/*."""
import streamlit as st

st.set_page_config(page_title="Gate Explorer", page_icon="🔬", layout="wide")

from explorer.ui.explore import explore_tab          # noqa: E402  (after set_page_config)
from explorer.ui.sidebar import sidebar              # noqa: E402

st.title("Gate Explorer")
st.caption("What happens inside LSTM, GRU and vanilla RNN cells while they read a real sequence.")
sidebar()
explore, grad, train, units = st.tabs(["Explore", "Gradient flow", "Train", "Units"])
with explore:
    explore_tab()
with grad:
    st.info("Gradient flow side by side (LSTM, GRU, vanilla RNN) is coming in a later issue; "
            "from Python: `explorer.gradient_flow(rnn, x)`.")
with train:
    st.info("Live training on any device is coming in a later issue; from the command line: `python -m explorer.train`.")
with units:
    st.info("The unit finder and classroom mode are coming in a later issue; from Python: "
            "`explorer.analysis.find_units(trace, text)`.")
