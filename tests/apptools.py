"""Shared AppTest helpers: a fresh app per test, figures' JSON, uploads. Import from here."""
import json
import os

from streamlit.testing.v1 import AppTest

APP = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "app.py")


def ok(at):
    """No exception box on the page (the message of the first ones if there are)."""
    assert not at.exception, [str(e.value)[:300] for e in at.exception]
    return at


def run_app(**state):
    """A fresh AppTest of app.py with the given session state, run once."""
    at = AppTest.from_file(APP, default_timeout=300)
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    return ok(at)


def specs(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def titles(at) -> list[str]:
    return [s["layout"].get("title", {}).get("text", "") for s in specs(at)]


def arr(v):
    """A plotly array from a figure's JSON: a list, or plotly's typed {"dtype", "bdata"} encoding."""
    import base64

    import numpy as np
    if isinstance(v, dict) and "bdata" in v:
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"])).tolist()
    return list(v)


def plain(s: str) -> str:
    """Markdown-escaped UI text as the reader sees it."""
    return s.replace("\\", "")


def upload_checkpoint(at, name: str, data: bytes):
    """Pick "upload a checkpoint…" and upload data as `name`."""
    at.sidebar.selectbox(key="model_choice").set_value("upload a checkpoint…").run()
    at.sidebar.file_uploader(key="ckpt_upload").set_value((name, data, "application/octet-stream")).run()
    return ok(at)
