"""A session as a browser opens one, spoken in Streamlit's own websocket protocol (its protobuf messages),
without a browser: for the classroom benchmark and the many-sessions tests, where 60 Chromium pages
would measure Chromium. Here in ui/ because it speaks the page's wire format (streamlit.proto); it
draws nothing and imports no torch.

    result = open_session("http://127.0.0.1:8501", "?tab=Cell")     # runs the page once, like a first visit
    result.seconds, result.errors, result.elements

A session connects to /_stcore/stream (subprotocol "streamlit"), sends the first BackMsg a browser sends
(rerun_script with the link's query string and the browser's context), and reads ForwardMsgs until the
script run finishes. Errors are the page's error and exception elements, by their text.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from urllib.parse import urlparse


@dataclass
class Session:
    query: str
    seconds: float = 0.0              # from connecting until the run finished
    elements: int = 0                 # deltas received
    charts: int = 0                   # plotly charts among them
    errors: list[str] = field(default_factory=list)
    finished: bool = False


def _first_message(query: str) -> bytes:
    from streamlit.proto import BackMsg_pb2
    msg = BackMsg_pb2.BackMsg()
    cs = msg.rerun_script
    cs.query_string = query.lstrip("?")
    cs.page_script_hash = ""
    ctx = cs.context_info
    ctx.timezone, ctx.timezone_offset, ctx.locale = "Europe/Berlin", -60, "en-US"
    ctx.url, ctx.is_embedded = "http://localhost/", False
    return msg.SerializeToString()


async def _session(base: str, query: str, timeout: float) -> Session:
    import websockets
    from streamlit.proto import ForwardMsg_pb2
    u = urlparse(base)
    url = f"ws://{u.netloc}/_stcore/stream"
    out = Session(query)
    t0 = time.perf_counter()
    # no client pings: a server busy with 60 first visits answers late, and the page would count as failed
    async with websockets.connect(url, subprotocols=["streamlit"], max_size=None, open_timeout=timeout,
                                  ping_interval=None) as ws:
        await ws.send(_first_message(query))
        deadline = t0 + timeout
        while time.perf_counter() < deadline:
            raw = await asyncio.wait_for(ws.recv(), timeout=max(0.1, deadline - time.perf_counter()))
            if isinstance(raw, str):
                continue
            fm = ForwardMsg_pb2.ForwardMsg()
            fm.ParseFromString(raw)
            kind = fm.WhichOneof("type")
            if kind == "delta" and fm.delta.WhichOneof("type") == "new_element":
                el = fm.delta.new_element
                what = el.WhichOneof("type")
                out.elements += 1
                out.charts += what == "plotly_chart"
                if what == "exception":
                    out.errors.append(f"{el.exception.type}: {el.exception.message[:200]}")
                elif what == "alert" and el.alert.format == el.alert.ERROR:
                    out.errors.append(el.alert.body[:200])
            elif kind == "script_finished":
                out.finished = True
                break
    out.seconds = time.perf_counter() - t0
    return out


async def _many(base: str, queries: list[str], timeout: float) -> list[Session]:
    async def one(q):
        try:
            return await _session(base, q, timeout)
        except Exception as e:        # a refused or dropped connection is a result too
            s = Session(q)
            s.errors.append(f"connection: {type(e).__name__}: {str(e)[:120]}")
            return s
    return await asyncio.gather(*(one(q) for q in queries))


def open_sessions(base: str, queries: list[str], timeout: float = 300) -> list[Session]:
    """Open one session per query string, all at once; each runs the page once and is closed."""
    return asyncio.run(_many(base, queries, timeout))


def open_session(base: str, query: str = "", timeout: float = 300) -> Session:
    return open_sessions(base, [query], timeout)[0]
