"""Gate Explorer: the Streamlit entry. Page config, sidebar, tabs -> explorer/ui/*."""
import streamlit as st

st.set_page_config(page_title="Gate Explorer", layout="wide")
st.title("Gate Explorer")
st.write("See every gate of LSTM, GRU and vanilla RNN cells while they read a real sequence.")
st.info("The app is being built. The tracing engine is ready to use from Python today: "
        "`import explorer; explorer.trace(rnn, x)`. The Explore, Gradient flow, Train and Units "
        "tabs are coming in later issues.")
