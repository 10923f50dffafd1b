"""A class on one link: a cold server opened by many sessions at once (Streamlit's own websocket protocol,
concurrent real sessions, not AppTest threads), with a mix of tab links. No session may see an error:
the libraries the page needs are imported before any session uses them (explorer/ui/preload.py)."""
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
    assert sum(s.charts for s in sessions) >= len(sessions)        # every page drew its figures


def test_a_frozen_figure_hands_out_one_dict():
    import plotly.graph_objects as go
    fig = go.Figure(go.Heatmap(z=[[1, 2], [3, 4]]))
    want = fig.to_dict()
    f = frozen(fig)
    assert f.to_dict() is f.to_dict() and f.to_dict() == want
