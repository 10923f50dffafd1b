"""AppTest (streamlit.testing.v1): app.py headless; the tabs; the Explore tab's charts and controls;
bad input shown as one sentence; user text never interpreted as HTML."""
import json

import pytest
from apptools import gates, ok, open_view, plain, run_app, specs


@pytest.fixture
def default_app():
    """A fresh app for each test: no test sees what another one did."""
    return run_app()


def test_tabs_and_default_model(default_app):
    at = default_app
    # the page's tabs, and inside Explore the views below the gates figure (only the open one is drawn)
    assert [t.label for t in at.tabs] == ["Explore", "One unit", "Units over time", "What it says", "What it depends on", "Step inspector",
                                         "What if",
                                         "Saturation", "Export", "Cell", "Gradient flow", "Train", "Units"]
    assert at.sidebar.selectbox(key="model_choice").value == "shakespeare-lstm"
    assert not at.error


def test_default_view_shows_every_lstm_gate(default_app):
    sp = specs(default_app)
    g = gates(default_app)
    assert list(g) == ["i", "f", "g", "o", "c", "h"]                       # one figure, rows in cell order
    assert g["f"]["trace"]["type"] == "heatmap"
    assert len(g["f"]["y"]) == 24 and g["f"]["y"] == g["c"]["y"]           # top-k units, the same in every row
    assert g["h"]["ticktext"][:4] == ["K", "I", "N", "G"]                   # the characters, once, at the bottom
    hover = g["f"]["trace"]["hovertemplate"]
    assert "f %{z:.3f}" in hover                                               # its own value, then every other
    assert all(f"{n} %{{customdata[{j}]" in hover for j, n in enumerate("igoch"))   # gate at that column
    assert not default_app.get("latex")                                        # closed views are not drawn
    assert not any(s["layout"].get("title", {}).get("text") == "gate saturation" for s in sp)
    open_view(default_app, "Saturation")
    assert any(s["layout"].get("title", {}).get("text") == "gate saturation" for s in specs(default_app))
    open_view(default_app, "Step inspector")
    assert default_app.get("latex"), "the step inspector's equations"
    open_view(default_app, "One unit")


def test_controls(default_app):
    at = default_app
    at.selectbox(key="sample").set_value("python code").run()
    ok(at)
    assert "def fib" in at.text_area(key="text_area").value
    at.slider(key="topk").set_value(8).run()
    ok(at)
    assert len(gates(at)["i"]["y"]) == 8
    at.selectbox(key="order").set_value("clustered").run()
    ok(at)
    at.multiselect(key="shown").set_value(["f", "c"]).run()
    ok(at)
    assert list(gates(at)) == ["f", "c"]
    at.selectbox(key="text_name").set_value("f").run()
    ok(at)
    open_view(at, "Step inspector")
    at.slider(key="insp_t").set_value(5).run()
    ok(at)
    assert any("Step 5" in m.value for m in at.markdown)
    assert any("reproduce the trace" in m.value and "✓" in m.value for m in at.markdown)


def test_what_if_forget_one_freezes_the_cell(default_app):
    at = open_view(default_app, "What if")
    at.selectbox(key="wi_gate").set_value("f")
    at.number_input(key="wi_value").set_value(1.0)
    at.form_submit_button[0].click().run()
    ok(at)
    sp = specs(at)
    side = [s for s in sp if "with f set 1" in s["layout"].get("title", {}).get("text", "")]
    assert side
    assert any("Next-token loss" in m.value for m in at.markdown)


def test_gru_inspector_cho_toggle_and_rnn():
    at = run_app(xtab="Step inspector")
    at.sidebar.selectbox(key="model_choice").set_value("shakespeare-gru").run()
    ok(at)
    assert any("textbook form" in i.value for i in at.info)
    at.toggle(key="cho").set_value(True).run()
    ok(at)
    assert any("textbook" in l.value for l in at.get("latex"))
    at.sidebar.selectbox(key="model_choice").set_value("shakespeare-rnn").run()
    ok(at)
    assert list(gates(at)) == ["h"]


def test_sequence_model_and_random_model():
    at = run_app()
    at.sidebar.selectbox(key="model_choice").set_value("adding-lstm").run()
    ok(at)
    assert specs(at) and not at.error
    at.sidebar.selectbox(key="model_choice").set_value("a fresh random model…").run()
    ok(at)
    at.sidebar.selectbox(key="rnd_kind").set_value("gru").run()
    ok(at)
    assert list(gates(at)) == ["r", "z", "n", "h"]


def test_html_in_user_text_is_shown_as_text():
    at = run_app()
    evil = '<b>bold</b> <img src=x onerror=alert(1)> $x$ [a](javascript:alert(1))'
    at.text_area(key="text_area").set_value(evil).run()
    ok(at)
    tv = next(s for s in specs(at) if len(s["data"]) > 1 and s["data"][1].get("mode") == "text")   # the text figure
    cells = list(tv["data"][1]["text"])
    assert "&lt;" in cells and "<" not in cells and "&gt;" in cells
    for m in list(at.markdown) + list(at.warning) + list(at.caption):
        assert "<img" not in m.value and "<b>" not in m.value


@pytest.mark.parametrize("name,data,match", [
    ("bin.txt", b"\x00\x01\x02\x03binary", "binary"),
    ("latin.txt", "café".encode("latin-1"), "not valid UTF-8"),
    ("empty.txt", b"   \n", "empty"),
])
def test_bad_text_uploads(name, data, match):
    at = run_app()
    at.file_uploader(key="text_upload").set_value((name, data, "text/plain")).run()
    ok(at)
    assert any(match in plain(e.value) for e in at.error), [e.value for e in at.error]
    assert specs(at), "the rest of the page keeps working"


def test_empty_text_and_unknown_characters():
    at = run_app()
    at.text_area(key="text_area").set_value("   ").run()
    ok(at)
    assert any("empty" in e.value for e in at.error)
    at.text_area(key="text_area").set_value("naïve café ✓").run()
    ok(at)
    assert any("not in this model's vocabulary" in w.value for w in at.warning)


def test_bad_checkpoint_upload():
    at = run_app()
    at.sidebar.selectbox(key="model_choice").set_value("upload a checkpoint…").run()
    ok(at)
    at.sidebar.file_uploader(key="ckpt_upload").set_value(("model.pt", b"not a checkpoint at all", "application/octet-stream")).run()
    ok(at)
    assert any("could not be loaded" in e.value for e in at.error)


def test_foreign_checkpoint_upload(tmp_path):
    import io

    import torch
    m = torch.nn.Module()
    m.rnn = torch.nn.GRU(5, 12, num_layers=2)
    buf = io.BytesIO()
    torch.save(m.state_dict(), buf)
    at = run_app()
    at.sidebar.selectbox(key="model_choice").set_value("upload a checkpoint…").run()
    at.sidebar.file_uploader(key="ckpt_upload").set_value(("wlm.pt", buf.getvalue(), "application/octet-stream")).run()
    ok(at)
    assert not at.error
    assert list(gates(at)) == ["r", "z", "n", "h"]


def test_long_input_is_windowed_and_figures_stay_small():
    text = ("To be, or not to be, that is the question:\n" * 25_000)[:1_000_000]
    at = run_app()
    at.file_uploader(key="text_upload").set_value(("book.txt", text.encode(), "text/plain")).run()
    ok(at)
    assert not at.error
    sp = [c.proto.spec for c in at.get("plotly_chart")]
    assert max(len(s) for s in sp) < 2_000_000
    overview = next(json.loads(s) for s in sp if "whole input" in json.loads(s)["layout"].get("title", {}).get("text", ""))
    assert overview["layout"]["xaxis"]["title"]["text"] == "block start"
    at.slider(key="win_start").set_value(500_000).run()
    ok(at)
    x = gates(at)["f"]["x"]
    assert x[0] == 500_000 and len(x) == 120


def test_no_widget_gets_a_second_default_beside_session_state(monkeypatch):
    """Streamlit warns when a widget has a default and its key is also set through Session State;
    every remembered widget must take its value from one place. Changing the remembered ones
    (window length, colour-by) and rerunning must not warn either."""
    import streamlit.elements.lib.policies as policies
    warned = []
    monkeypatch.setattr(policies._LOGGER, "warning", lambda msg, *a, **k: warned.append(msg % a if a else msg))
    at = run_app()
    at.run()
    [w for w in at.select_slider if w.key == "win_len"][0].set_value(200).run()
    [w for w in at.selectbox if w.key == "text_name"][0].set_value("h").run()
    ok(at.run())
    assert not [w for w in warned if "Session State" in w], warned


def test_the_first_screen_says_what_the_network_does_and_only_on_the_explore_tab():
    at = run_app()
    said = [mk.value for mk in at.markdown if mk.value.startswith("**What this network does:**")]
    assert len(said) == 1 and "tracks the position in line" in said[0] and "r = -0.9" in said[0]
    assert any("over the input" in json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart"))
    assert not any("whole input" in json.loads(c.proto.spec)["layout"].get("title", {}).get("text", "")
                   for c in at.get("plotly_chart"))                  # 205 steps: no overview repeating the figure
    cell = run_app(tab="Cell")
    assert not [mk for mk in cell.markdown if mk.value.startswith("**What this network does:**")]
    series = run_app(model_choice="adding-lstm")
    said = [mk.value for mk in series.markdown if mk.value.startswith("**What this network does:**")]
    assert len(said) == 1 and ("tracks" in said[0] or "open" in said[0] or "finds no unit" in said[0]), said
