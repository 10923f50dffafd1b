"""The script `gate-explorer` hands to `streamlit run` (the installed twin of the top-level app.py)."""
from .page import main

main()
