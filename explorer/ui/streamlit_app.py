"""The script `gate-explorer` hands to `streamlit run` (the installed twin of the top-level app.py).
Streamlit runs it as a file, not as part of the package, so its import is absolute."""
from explorer.ui.page import main

main()
