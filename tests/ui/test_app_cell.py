"""AppTest for the Cell tab: the diagram and the state path for LSTM, GRU and RNN, its numbers equal to
the trace at the chosen step and unit, play controls, the textbook GRU toggle."""
import pytest
from apptools import ok, open_tab, run_app, specs


def cell_spec(at):
    return next(s for s in specs(at) if s.get("frames"))


def frame_trace(spec, t: int, name: str) -> dict:
    return next(tr for tr in spec["frames"][t]["data"] if tr.get("name") == name)


def frame_numbers(spec, t: int) -> list[float]:
    """The numbers drawn on the diagram's boxes at frame t (each box reads "name<br><b>[letter ]value</b>")."""
    return [float(x.split("<b>")[1].split("</b>")[0].split()[-1]) for x in frame_trace(spec, t, "boxes")["text"]]


@pytest.mark.parametrize("model", ["shakespeare-lstm", "shakespeare-gru", "shakespeare-rnn"])
def test_the_cell_tab_draws_diagram_path_and_play(model):
    import explorer
    at = run_app()
    at.sidebar.selectbox(key="model_choice").set_value(model).run()
    open_tab(at, "Cell")
    assert not at.error, [e.value for e in at.error]
    spec = cell_spec(at)
    T = len(spec["frames"])
    assert T > 50
    labels = [b["label"] for b in spec["layout"]["updatemenus"][0]["buttons"]]
    assert labels == ["▶ play", "❚❚ pause"] and len(spec["layout"]["sliders"][0]["steps"]) == T
    assert any("path of h: PC1" in a["text"] for a in spec["layout"]["annotations"])
    # the numbers on the boxes at step t are the trace's, for the chosen unit
    unit = at.selectbox(key="cell_unit").value
    text = at.text_area(key="text_area").value
    m = explorer.load_pretrained(model)
    tr = explorer.trace(m.core, m.embed(text))
    t = 17
    drawn = sorted(round(x, 2) for x in frame_numbers(spec, t))
    want = [tr.h[0, 0, t, 0, unit]] + [g[0, 0, t, 0, unit] for g in tr.gates.values()]
    if tr.c is not None:
        want += [tr.c[0, 0, t, 0, unit], tr.c[0, 0, t - 1, 0, unit]]
    for w in want:
        assert round(float(w), 2) in drawn, (float(w), drawn)
    assert frame_numbers(spec, t) != frame_numbers(spec, t + 1)            # the numbers move with the step


def test_unit_choice_and_the_textbook_gru():
    at = run_app()
    at.sidebar.selectbox(key="model_choice").set_value("shakespeare-gru").run()
    open_tab(at, "Cell")
    at.selectbox(key="cell_unit").set_value(7).run()
    ok(at)
    assert "unit 7" in cell_spec(at)["layout"]["title"]["text"]
    before = frame_numbers(cell_spec(at), 10)
    at.toggle(key="cell_textbook").set_value(True).run()
    ok(at)
    assert any("Cho" in i.value for i in at.info)
    assert frame_numbers(cell_spec(at), 10) != before
    sentence = frame_trace(cell_spec(at), 10, "sentence")["text"][0]
    assert sentence.startswith("textbook: update gate z")
