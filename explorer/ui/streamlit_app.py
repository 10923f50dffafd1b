"""The page's script: what the ASGI apps (app.py, ui/asgi_app.py) serve to every session, and what AppTest runs.
Streamlit runs it as a file, not as part of the package, so its import is absolute."""
import explorer.ui.preload  # noqa: F401,I001  (first: every library the page needs, before any session uses one)
from explorer.ui.page import main

main()
