"""Everything the page needs, imported once per process, and the imports' objects frozen out of the
garbage collector. Imported when a server starts (ui/startup.py's lifespan, for app.py and gate-explorer), and
first by the page's script (streamlit_app.py) wherever it runs without that start-up (AppTest).

Why first: Streamlit runs each session's script in a thread of its own, so on a freshly started server
the first visitors' scripts import the page's libraries at the same moment. plotly looks pandas up in
sys.modules while another thread is half-way through importing it ("partially initialized module
'pandas' has no attribute 'Series'"). Importing it all here, at the top of the script, makes every
other session's first line wait on this module's import lock until everything is fully imported.

Why freeze: Streamlit collects garbage after every script run (runner.postScriptGC), and a full
collection walks the ~250k objects the imports left behind: about a third of the server's CPU with a
class opening the page. gc.freeze() moves them to a generation the collector never scans.
"""
import gc

import numpy  # noqa: F401
import pandas  # noqa: F401
import plotly.graph_objects  # noqa: F401
import plotly.io  # noqa: F401
import pyarrow  # noqa: F401  (st.dataframe)
import streamlit  # noqa: F401
import torch  # noqa: F401

import explorer  # noqa: F401
import explorer.plots  # noqa: F401
import explorer.plots.cell  # noqa: F401
import explorer.plots.readout  # noqa: F401

gc.collect()
gc.freeze()
