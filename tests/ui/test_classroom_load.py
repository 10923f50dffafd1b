"""A class on one link: a cold server opened by many sessions at once (Streamlit's own websocket protocol,
concurrent real sessions, not AppTest threads), with a mix of tab links. No session may see an error:
the libraries the page needs are imported before any session uses them (explorer/ui/preload.py)."""
import json
import threading
import time
import urllib.request

import pytest

from explorer.bench.browser import streamlit_server
from explorer.cli import SERVER_FLAGS
from explorer.plots import frozen
from explorer.ui.protocol import open_sessions

LINKS = ["", "tab=Cell", "tab=Gradient+flow", "tab=Units", "tab=Train", "xtab=Step+inspector", "tab=Units",
         "tab=Cell", "model_choice=shakespeare-gru&tab=Cell", "model_choice=shakespeare-rnn", "tab=Gradient+flow&gtab=Per+unit",
         "xtab=Saturation"]


@pytest.mark.slow
def test_a_cold_server_opened_by_a_class_at_once_shows_no_error():
    with streamlit_server(None, *SERVER_FLAGS) as url:
        sessions = open_sessions(url, LINKS * 2, timeout=240)
        assert all(s.finished for s in sessions), [s.query for s in sessions if not s.finished]
        bad = {s.query: s.errors for s in sessions if s.errors}
        assert not bad, bad
        assert all(s.elements > 10 for s in sessions)
        stats = json.loads(urllib.request.urlopen(url + "/_gate_explorer/stats", timeout=30).read())
    assert sum(s.charts for s in sessions) >= len(sessions)        # every page drew its figures
    assert stats["preload_s"] is not None                          # imported at start-up, before the first session
    # Single flight: four sessions on ?tab=Cell and two on the GRU's Cell link asked at once; each figure built once.
    assert stats["builds"].get("cell") == 2, stats["builds"]


def test_a_frozen_figure_hands_out_one_dict():
    import plotly.graph_objects as go
    fig = go.Figure(go.Heatmap(z=[[1, 2], [3, 4]]))
    want = fig.to_dict()
    f = frozen(fig)
    assert f.to_dict() is f.to_dict() and f.to_dict() == want


def at_once(n: int, call):
    """call() in n threads started together (sessions asking at the same moment); returns when all are done."""
    threads = [threading.Thread(target=call) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_a_shared_figure_is_built_once_while_many_sessions_ask_at_once(monkeypatch):
    from explorer.ui import state
    monkeypatch.setattr(state, "page_theme", lambda: "light")
    monkeypatch.setattr(state, "presenting", lambda: False)
    monkeypatch.setattr(state.plots, "themed", lambda fig, theme, large: fig)
    calls, got = [], []

    def build():
        calls.append(1)
        time.sleep(0.3)                                             # a slow figure, as the Cell tab's is
        return object()
    at_once(8, lambda: got.append(state.shared_figure("single|flight", build)))
    assert len(calls) == 1 and len({id(g) for g in got}) == 1 and len(got) == 8

    def broken():
        calls.append(2)
        raise RuntimeError("no figure")
    failed = []
    for _ in range(2):                                              # a failed build lets the next session try again
        try:
            state.shared_figure("single|broken", broken)
        except RuntimeError:
            failed.append(1)
    assert failed == [1, 1] and calls.count(2) == 2


def test_one_pass_per_input_however_many_sessions_ask_at_once(monkeypatch):
    from explorer.ui import state
    calls = []

    def slow_scan(core, x, **kw):
        calls.append(1)
        time.sleep(0.3)
        return object()
    monkeypatch.setattr(state, "scan_long", slow_scan)
    monkeypatch.setattr(state.st, "empty", lambda: type("E", (), {"empty": lambda self: None})())
    monkeypatch.setattr(state.st, "html", lambda *a, **k: None)
    got = []
    at_once(6, lambda: got.append(state.scan("single|scan", None, None, 10)))
    assert len(calls) == 1 and len({id(g) for g in got}) == 1 and len(got) == 6


def test_a_frozen_figures_json_is_made_once_and_again_after_theming():
    import plotly.graph_objects as go
    import plotly.io as pio

    from explorer.plots import finish, themed
    fig = frozen(go.Figure(go.Heatmap(z=[[1, 2], [3, 4]])))
    d = fig.to_dict()                                                # what st.plotly_chart serialises
    first = pio.to_json(d, validate=False)
    assert pio.to_json(d, validate=False) is first and first == finish._to_json(dict(d), validate=False)
    themed(fig, "dark")
    again = pio.to_json(fig.to_dict(), validate=False)
    assert again is not first and again == finish._to_json(dict(fig.to_dict()), validate=False)
