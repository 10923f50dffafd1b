"""Shared AppTest helpers: a fresh app per test, figures' JSON, uploads. Import from here."""
import json
import os

from streamlit.testing.v1 import AppTest

APP = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "explorer", "ui", "streamlit_app.py")


def ok(at):
    """No exception box on the page (the message of the first ones if there are)."""
    assert not at.exception, [str(e.value)[:300] for e in at.exception]
    return at


def run_app(**state):
    """A fresh AppTest of the page (explorer/ui/streamlit_app.py, what app.py serves) with this session state, run once."""
    at = AppTest.from_file(APP, default_timeout=300)
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    return ok(at)


def specs(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def titles(at) -> list[str]:
    return [s["layout"].get("title", {}).get("text", "") for s in specs(at)]


def array(v):
    """A plotly array from a figure's JSON as a numpy array of its shape: a list, or plotly's typed
    {"dtype", "bdata", "shape"} encoding."""
    import base64

    import numpy as np
    if isinstance(v, dict) and "bdata" in v:
        a = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
        return a.reshape([int(n) for n in str(v.get("shape", len(a))).split(",")])
    return np.asarray(v)


def arr(v):
    """A plotly array from a figure's JSON as a flat list."""
    if isinstance(v, dict) and "bdata" in v:
        return array(v).ravel().tolist()
    return list(v)


def plain(s: str) -> str:
    """Markdown-escaped UI text as the reader sees it."""
    return s.replace("\\", "")


def upload_checkpoint(at, name: str, data: bytes):
    """Pick "upload a checkpoint…" and upload data as `name`."""
    at.sidebar.selectbox(key="model_choice").set_value("upload a checkpoint…").run()
    at.sidebar.file_uploader(key="ckpt_upload").set_value((name, data, "application/octet-stream")).run()
    return ok(at)


def gates(at) -> dict[str, dict]:
    """The Explore tab's stacked gates figure as {name: {"trace", "y", "x", "ticktext"}}, one entry per row
    (names read from the row titles "<b>f</b> forget gate"). {} if the figure is not on the page."""
    import re
    for s in specs(at):
        lay = s["layout"]
        t0 = (lay.get("yaxis", {}).get("title") or {}).get("text", "")
        if not re.match(r"<b>\w</b>", t0):
            continue
        out = {}
        n = len(s["data"])
        for k, tr in enumerate(s["data"]):
            ax = lay["yaxis" if k == 0 else f"yaxis{k + 1}"]
            name = re.match(r"<b>(\w)</b>", ax["title"]["text"])[1]
            out[name] = {"trace": tr, "y": list(tr["y"]), "x": arr(tr["x"]),
                         "ticktext": lay["xaxis" if n == 1 else f"xaxis{n}"].get("ticktext")}
        return out
    return {}


def open_tab(at, name: str, key: str = "tab"):
    """Switch to a tab as a click would (only the open tab runs) and run. key="xtab": one of the
    Explore tab's views below the gates figure (One unit, Step inspector, What if, Saturation, ...)."""
    at.session_state[key] = name
    if key in at.query_params:            # the browser's address bar follows a click on a bound tab
        at.query_params[key] = name
    at.run()
    return ok(at)


def open_view(at, name: str):
    """Open one of the Explore tab's views (only the open one runs) and run."""
    return open_tab(at, name, "xtab")
