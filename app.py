"""Gate Explorer: `streamlit run app.py`. The page itself lives in explorer/ui/page.py."""
from explorer.ui.page import main

main()
