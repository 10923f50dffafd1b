"""The baseline page: one plotly heatmap and one slider."""
import numpy as np
import plotly.graph_objects as go
import streamlit as st

k = st.slider("shift", 0, 100, 0, key="shift")
z = np.sin(np.arange(24)[:, None] * 0.3 + np.arange(120)[None, :] * 0.1 + k)
st.plotly_chart(go.Figure(go.Heatmap(z=z)), key="hm")
