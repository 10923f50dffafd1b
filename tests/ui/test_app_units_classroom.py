"""AppTest for the Units tab, shareable URLs (query parameters), presentation mode and every lesson."""

import pytest
from apptools import APP, gates, ok, open_tab, plain, run_app, specs, titles
from streamlit.testing.v1 import AppTest

LONG = ("KING: What say you, lords? (Shall we) to the field tonight,\nOr wait the morning and the better light?\n" * 8)


def test_units_tab_finder_pattern_clusters():
    at = run_app()
    at.text_area(key="text_area").set_value(LONG).run()
    open_tab(at, "Units")
    table = at.dataframe[0].value
    assert {"feature", "gate/state", "unit", "r"} <= set(table.columns)
    assert (table["r"].abs().diff().dropna() <= 1e-9).all()              # ranked by |r|
    assert "the unit next to the feature" in titles(at)
    at.selectbox(key="uf_row").set_value(3).run()
    ok(at)
    at.text_input(key="uf_regex").set_value(r"\bthe\b").run()
    ok(at)
    assert "regex" in set(at.dataframe[0].value["feature"])
    at.text_input(key="uf_regex").set_value("(").run()
    ok(at)
    assert any("regular expression" in plain(e.value) for e in at.error)
    at.text_input(key="uf_regex").set_value("").run()
    assert any("in cluster order" in t for t in titles(at))
    at.slider(key="pt_thr").set_value(-0.5).run()
    ok(at)
    go = [b for b in at.button if b.key and b.key.startswith("pt_go_")]
    assert go, "pattern matches are listed"
    first = next(c.value for c in at.get("code") if c.value.startswith("steps "))
    start = int(first.split("–")[0].split()[1].replace(",", ""))
    go[0].click().run()
    ok(at)
    assert at.session_state["tab"] == "Explore"                                 # "go there" opens Explore
    N, W = len(LONG), at.session_state["win_len"]
    assert at.session_state["win_start"] == max(0, min(start - W // 4, N - W))   # the window moved there
    assert at.session_state["xtab"] == "Step inspector"                         # and the inspector, at that step
    assert at.session_state["insp_t"] == start


def test_url_reproduces_a_view():
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params.update({"model_choice": "shakespeare-gru", "sample": "nested brackets", "topk": "8",
                            "tab": "Units", "insp_t": "5", "order": "clustered", "xtab": "Step inspector"})
    at.run()
    ok(at)
    assert at.sidebar.selectbox(key="model_choice").value == "shakespeare-gru"
    assert at.selectbox(key="sample").value == "nested brackets"
    assert at.session_state["tab"] == "Units"
    assert any("in cluster order" in t for t in titles(at))                       # the Units tab is drawn
    assert not gates(at)                                                           # and the Explore tab is not
    open_tab(at, "Explore")                                   # the link's Explore settings hold when it opens
    assert at.slider(key="topk").value == 8 and at.slider(key="insp_t").value == 5
    assert at.selectbox(key="order").value == "clustered"
    assert len(gates(at)["z"]["y"]) == 8


def test_url_carries_a_short_typed_text_and_a_window():
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params.update({"text": LONG, "win_start": "100", "win_len": "60"})
    at.run()
    ok(at)
    assert at.text_area(key="text_area").value == LONG
    x = gates(at)["f"]["x"]
    assert x[0] == 100 and len(x) == 60
    at.text_area(key="text_area").set_value("a new text to share").run()
    assert at.query_params["text"] == "a new text to share"


def test_presentation_mode_hides_chosen_sections():
    at = run_app()
    at.sidebar.toggle(key="present").set_value(True).run()
    ok(at)
    at.sidebar.multiselect(key="hide").set_value(["input", "step inspector", "export"]).run()
    ok(at)
    heads = [h.value for h in at.subheader]
    assert "Step inspector" not in heads and "Export this window" not in heads
    # the input is under the tabs, folded away (still there to change), and the page has no title
    folded = [e for e in at.expander if "hidden up top" in e.label]
    assert len(folded) == 1 and not folded[0].proto.expanded
    assert at.text_area(key="text_area").value and not at.title
    assert "f" in gates(at)                                               # the gates are still shown
    assert any("font-size" in h.proto.body for h in at.get("html"))      # larger fonts


def test_a_presentation_link_presents_from_its_first_run():
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params.update({"present": "true", "tab": "Cell"})
    at.run()
    ok(at)
    assert not at.title and not [c for c in at.caption if "What happens inside" in c.value]
    folded = [e for e in at.expander if "What the model reads" in e.label]
    assert len(folded) == 1 and not folded[0].proto.expanded
    assert at.selectbox(key="cell_unit").value is not None                 # the unit is still there to pick
    spec = next(s for s in specs(at) if s.get("frames"))
    assert spec["layout"]["height"] <= 620 and spec["layout"]["font"]["size"] >= 16     # projector-sized


@pytest.mark.parametrize("lesson", ["vanishing gradients", "forget gate", "GRU parameters", "interpretable unit",
                                    "padding and packing", "how far back"])
def test_every_lesson_opens(lesson):
    at = run_app()
    at.sidebar.selectbox(key="lesson").set_value(lesson).run()
    ok(at)
    assert not [e for e in at.error], [e.value for e in at.error]
    body = " ".join(m.value for m in at.markdown)
    from explorer.ui.classroom import LESSONS
    assert LESSONS[lesson] in [h.value for h in at.subheader]
    if lesson == "vanishing gradients":
        assert "‖dJ/dh_t‖ over t (log scale)" in titles(at)
        assert at.session_state["tab"] == "Gradient flow"
    if lesson == "forget gate":
        assert "Largest change of the clamped cell after step 99: 0.0e+00" in " ".join(c.value for c in at.caption)
    if lesson == "GRU parameters":
        rows = at.dataframe[0].value
        assert (rows["GRU / LSTM"] == 0.75).all()
    if lesson == "interpretable unit":
        assert "correlated **r =" in body
    if lesson == "how far back":
        assert "how far back each model looks" in titles(at) and at.session_state["xtab"] == "What it depends on"
        reading = " ".join(i.value for i in at.info)
        assert all(k in reading for k in ("LSTM", "GRU", "RNN")) and "steps back" in reading
    if lesson == "padding and packing":
        import re
        diff = float(re.search(r"PackedSequence \(output, h_n, c_n\): \*\*([0-9.e+-]+)\*\*", body).group(1))
        assert diff <= 1e-6


def test_long_inputs_run_whole_text_passes_on_demand(monkeypatch):
    import explorer.ui.units as U
    monkeypatch.setattr(U, "LONG", 500)               # the same path as a book, on a small text
    at = run_app()
    at.text_area(key="text_area").set_value(LONG * 2).run()
    open_tab(at, "Units")
    assert not at.dataframe                           # nothing ran yet
    at.button(key="uf_go").click().run()
    ok(at)
    assert at.dataframe and "the unit next to the feature" in titles(at)


def test_a_lesson_opens_from_the_url():
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params["lesson"] = "padding and packing"
    at.run()
    ok(at)
    assert "Lesson 5 · Padded batches are handled like packed sequences" in [h.value for h in at.subheader]
