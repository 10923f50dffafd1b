"""Gate Explorer: `streamlit run app.py`. An ASGI app (Streamlit's st.App) whose start-up imports every library the
page needs before the first visitor arrives (explorer/ui/startup.py); the page is explorer/ui/streamlit_app.py."""
import streamlit as st

from explorer.ui.startup import PAGE, lifespan, routes

app = st.App(PAGE, lifespan=lifespan, routes=routes())
