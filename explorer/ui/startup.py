"""What a server does once, when it starts, before any visitor: import every library the page needs.

`streamlit run app.py` and `gate-explorer` both serve an ASGI app (Streamlit's st.App) whose lifespan runs
ui/preload.py at start-up, so the first visitors' scripts find torch, plotly and the package already imported
(measured: a class of 11 on a just-started server waited a median 14.6 s when the first script imported them).
The page itself is explorer/ui/streamlit_app.py, which AppTest also runs.
"""
from __future__ import annotations

import time
from contextlib import asynccontextmanager
from pathlib import Path

PAGE = str(Path(__file__).resolve().parent / "streamlit_app.py")
STARTED: dict = {}                     # how long the imports took, for the log and the tests


@asynccontextmanager
async def lifespan(app):
    """Import the page's libraries (blocking: the server answers once they are in), then serve."""
    t = time.perf_counter()
    import explorer.ui.preload  # noqa: F401
    STARTED["preload_s"] = time.perf_counter() - t
    print(f"Gate Explorer: the page's libraries imported in {STARTED['preload_s']:.1f} s, before the first visitor.",
          flush=True)
    yield


async def stats(request):
    """/_gate_explorer/stats: how long the start-up imports took and how often each shared figure was built (the
    load tests count builds: a class opening one link should cost one build)."""
    from starlette.responses import JSONResponse

    from explorer.ui import state
    return JSONResponse({"preload_s": STARTED.get("preload_s"), "builds": dict(state.BUILDS)})


def routes() -> list:
    from starlette.routing import Route
    return [Route("/_gate_explorer/stats", stats)]
