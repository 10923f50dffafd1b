"""AppTest for the 2024 cells' pretrained models (minGRU, minLSTM, sLSTM) in every tab: their own gate names and
colour ranges, the step inspector's equations equal to the trace, the Cell diagram's numbers equal to the trace,
Units, the Gradient flow tab with the six cells side by side, training them, and lesson 8."""
import numpy as np
import pytest
from apptools import gates, ok, open_tab, open_view, plain, run_app, specs, titles
from test_app_train_grad import start, train_until_done

import explorer
from explorer.core import cells
from explorer.core.kinds import KINDS

MODERN = ["shakespeare-mingru", "shakespeare-minlstm", "shakespeare-slstm"]


def _band(fig: dict, name: str) -> dict:
    """The stacked gates figure's band of one gate or state: its words ("about") and colour range (zmin, zmax,
    from the colour axis it shares with the bands of the same range)."""
    for k, tr in enumerate(fig["data"]):
        ax = fig["layout"]["yaxis" if k == 0 else f"yaxis{k + 1}"]
        if ax["title"]["text"].startswith(f"<b>{name}</b>"):
            color = fig["layout"][tr["coloraxis"]]
            return {"about": ax["title"]["text"], "zmin": color["cmin"], "zmax": color["cmax"]}
    raise AssertionError(name)


@pytest.mark.parametrize("model", MODERN)
def test_explore_names_every_gate_as_its_cell_does_and_the_inspector_reproduces_the_trace(model):
    kind = model.split("-")[1]
    at = run_app()
    at.sidebar.selectbox(key="model_choice").set_value(model).run()
    ok(at)
    assert not at.error, [e.value for e in at.error]
    g = gates(at)
    names = KINDS[kind].names()
    assert set(g) == set(names) and len(names) == {"mingru": 3, "minlstm": 4, "slstm": 8}[kind]   # gates, states, h
    fig = next(s for s in specs(at) if (s["layout"].get("yaxis", {}).get("title") or {}).get("text", "").startswith("<b>"))
    for name in names:
        band = _band(fig, name)
        # its words where they fit the band, else its name alone
        assert plain(band["about"]) in (f"<b>{name}</b>", f"<b>{name}</b> {cells.gate_name(name, kind)}") or \
            plain(band["about"]).startswith(f"<b>{name}</b> {cells.gate_name(name, kind)} (")
        want = cells.value_range(name, kind)
        if want is not None:                                       # a fixed range: the colours span exactly it
            assert (band["zmin"], band["zmax"]) == want, (name, band["zmin"], band["zmax"])
        else:                                                      # unbounded: symmetric around 0
            assert band["zmin"] == -band["zmax"] > -np.inf
    if kind == "slstm":                                            # z is the sLSTM's cell input, a tanh: −1 … 1
        assert _band(fig, "z")["zmin"] == -1
    open_view(at, "Step inspector")
    assert not at.error, [e.value for e in at.error]
    md = " ".join(m.value for m in at.markdown)
    assert "the equations reproduce the trace" in md, md[:500]
    for view in ("One unit", "Units over time", "What if", "Saturation", "What it depends on"):
        open_view(at, view)
        assert not at.error, (view, [e.value for e in at.error])


@pytest.mark.parametrize("model", MODERN)
def test_the_cell_tab_and_units_tab_draw_a_modern_cell(model):
    at = run_app()
    at.sidebar.selectbox(key="model_choice").set_value(model).run()
    open_tab(at, "Cell")
    assert not at.error, [e.value for e in at.error]
    spec = next(s for s in specs(at) if s.get("frames"))
    unit = at.selectbox(key="cell_unit").value
    m = explorer.load_pretrained(model)
    tr = explorer.trace(m.core, m.embed(at.text_area(key="text_area").value))
    t = 17
    boxes = next(d for d in spec["frames"][t]["data"] if d.get("name") == "boxes")["text"]
    drawn = sorted(round(float(x.split("<b>")[1].split("</b>")[0].split()[-1]), 2) for x in boxes)
    for name in tr.names():                                        # every gate and state the diagram shows
        v = round(float(tr.values(name)[0, 0, t, 0, unit]), 2)
        assert v in drawn, (name, v, drawn)
    open_tab(at, "Units")
    assert not at.error, [e.value for e in at.error]
    assert "the unit next to the feature" in titles(at)


def test_gradient_flow_puts_the_modern_cells_beside_the_classic_three():
    at = open_tab(run_app(), "Gradient flow")
    at.selectbox(key="gf_source").set_value(next(o for o in at.selectbox(key="gf_source").options if "modern" in o)).run()
    ok(at)
    assert not at.error, [e.value for e in at.error]
    curves = next(s for s in specs(at) if s["layout"]["title"]["text"].startswith("how much gradient"))
    names = {d["name"] for d in curves["data"]}
    for label in ("LSTM", "GRU", "RNN", "minGRU", "minLSTM", "sLSTM"):
        assert f"{label} ‖dJ/dh_t‖" in names
    assert "sLSTM ‖dJ/dc_t‖" in names and "LSTM ‖dJ/dc_t‖" in names
    modern = next(i.value for i in at.info if "steps back" in i.value)
    assert "minGRU" in modern and "(1 − z_t)" in modern
    assert {m.label for m in at.get("metric")} >= {"minGRU parameters (core)", "sLSTM parameters (core)"}
    open_tab(at, "Per unit", "gtab")
    assert not at.error, [e.value for e in at.error]


def test_training_the_modern_cells_side_by_side():
    at = open_tab(run_app(), "Train")
    at = start(at, train_arch="the modern cells (minGRU, minLSTM, sLSTM)", train_steps=20)
    at = train_until_done(at)
    assert not at.error, [e.value for e in at.error]
    job = at.session_state["job"]
    assert set(job.trainers) == {"mingru", "minlstm", "slstm"}
    md = " ".join(m.value for m in at.markdown)
    for label in ("minGRU", "minLSTM", "sLSTM"):
        assert f"**{label}**" in md


def test_lesson_8_sets_the_gru_beside_mingru():
    at = run_app(lesson="h in the gates")
    assert not at.error, [e.value for e in at.error]
    said = " ".join(i.value for i in at.info)
    assert "How much of z the past decides" in said and "minGRU" in said
    assert "lesson_gates_z" in [c.key for c in at.get("plotly_chart") if getattr(c, "key", None)] or len(specs(at)) >= 2
