"""The script `gate-explorer` hands to `streamlit run` (the installed twin of the top-level app.py).
Streamlit runs it as a file, not as part of the package, so its import is absolute."""
import explorer.ui.preload  # noqa: F401,I001  (first: every library the page needs, before any session uses one)
from explorer.ui.page import main

main()
