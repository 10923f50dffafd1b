"""Gate Explorer: `streamlit run app.py`. The page itself lives in explorer/ui/page.py."""
import explorer.ui.preload  # noqa: F401,I001  (first: every library the page needs, before any session uses one)
from explorer.ui.page import main

main()
