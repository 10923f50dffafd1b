"""AppTest for the Gradient flow and Train tabs: curves and reading, a few-step training run, Stop,
the trained model in the picker, the NaN path, and two sessions that do not see each other's models."""
import time

from apptools import arr, gates, ok, open_tab, plain, run_app, specs, titles


def train_until_done(at, timeout=120):
    t = time.time()
    while time.time() - t < timeout:
        job = at.session_state["job"]
        if not job.running:
            break
        time.sleep(0.3)
        at.run()
    at.run()
    return ok(at)


def start(at, **values):
    defaults = dict(train_task="adding problem", train_arch="LSTM", train_steps=30, train_hidden=16, train_T=20,
                    train_batch=8)
    defaults.update(values)
    # the task first: picking one fills the form with that task's defaults, then the test's values go in
    at.selectbox(key="train_task").set_value(defaults.pop("train_task")).run()
    for k, v in defaults.items():
        w = next((w for w in at.get("selectbox") + at.get("select_slider") + at.get("number_input") if w.key == k), None)
        assert w is not None, k
        w.set_value(v)
    submit = next(b for b in list(at.form_submit_button) if "start training" in b.label)
    submit.click().run()
    return ok(at)


def test_gradient_flow_tab_default_and_controls():
    at = open_tab(run_app(), "Gradient flow")
    t = titles(at)
    assert "how much gradient reaches each step (log scale)" in t
    curves = next(s for s in specs(at) if s["layout"]["title"]["text"].startswith("how much gradient"))
    assert {d["name"] for d in curves["data"]} >= {"LSTM ‖dJ/dh_t‖", "GRU ‖dJ/dh_t‖", "RNN ‖dJ/dh_t‖", "LSTM ‖dJ/dc_t‖"}
    assert curves["layout"]["yaxis"]["type"] == "log"
    assert any("Gradient ‖dJ/dh_t‖:" in i.value for i in at.info)
    assert any("RNN parameters" in m.label for m in at.get("metric"))
    assert not [s for s in specs(at) if s["layout"]["title"]["text"].startswith("per unit")]    # a closed view
    open_tab(at, "Per unit", "gtab")
    per_unit = [s for s in specs(at) if s["layout"]["title"]["text"].startswith("per unit")]
    assert len(per_unit) == 1 and len(per_unit[0]["data"]) == 4      # one figure: RNN, GRU, LSTM, then ∏f
    assert not [s for s in specs(at) if s["layout"]["title"]["text"].startswith("how much gradient")]
    open_tab(at, "Over time", "gtab")
    at.selectbox(key="gf_source").set_value("random, equal parameter count").run()
    at.selectbox(key="gf_init").set_value("chrono")
    at.slider(key="gf_T").set_value(1000)
    at.checkbox(key="gf_clamp").check()
    at.run()
    ok(at)
    reading = next(i.value for i in at.info if "Gradient" in i.value)
    assert "the LSTM's stays above" in reading                 # f := 1: nothing vanishes on the cell path
    curves = next(s for s in specs(at) if s["layout"]["title"]["text"].startswith("how much gradient"))
    assert len(arr(curves["data"][0]["x"])) == 1000
    at.selectbox(key="gf_obj").set_value("mean").run()
    ok(at)


def test_train_few_steps_then_explore_it():
    at = open_tab(run_app(), "Train")
    start(at)
    train_until_done(at)
    assert any("finished after 30 steps" in s.value for s in at.success)
    assert "loss (train smoothed; held-out every few steps)" in titles(at)
    loss = next(s for s in specs(at) if s["layout"]["title"]["text"].startswith("loss"))
    assert any(sh.get("type") == "line" for sh in loss["layout"].get("shapes", []))    # the baseline
    assert any("gradient norm" in t for t in titles(at))
    at.button(key=[b.key for b in at.button if b.key and b.key.startswith("explore_lstm")][0]).click().run()
    ok(at)
    choice = at.sidebar.selectbox(key="model_choice")
    assert choice.value.startswith("session:")
    assert "(trained here)" in choice.format_func(choice.value)
    assert "f" in gates(at)                                                        # the Explore tab shows it


def test_train_all_three_char_and_generate():
    at = run_app()
    at.text_area(key="text_area").set_value("to be or not to be, that is the question. " * 20).run()
    open_tab(at, "Train")
    start(at, train_task="char: the text from the Explore tab", train_arch="all three", train_steps=10)
    train_until_done(at)
    assert len(at.session_state["job"].trainers) == 3
    samples = list(at.get("code"))
    # per model: its sample at the history's chosen snapshot, then one generated from the prompt
    assert len(samples) == 6 and all(len(c.value) > 100 for c in samples)


def test_stop_keeps_weights():
    at = open_tab(run_app(), "Train")
    start(at, train_steps=100000)
    time.sleep(1.0)
    at.run()
    at.button(key="train_stop").click().run()
    ok(at)
    job = at.session_state["job"]
    assert not job.running                              # stopped by the time the click's run ends
    assert 0 < job.trainers["lstm"].step < 100000
    hist = job.histories["lstm"]                         # Stop keeps the history, up to the weights it stopped with
    assert hist.steps[0] == 0 and hist.steps[-1] == job.trainers["lstm"].step
    at.run()
    assert any("stopped after" in s.value for s in at.success)


def test_absurd_learning_rate_says_so_and_keeps_weights():
    import torch
    at = open_tab(run_app(), "Train")
    start(at, train_lr=1e38, train_steps=50)
    train_until_done(at)
    assert any("last good weights" in plain(e.value) for e in at.error), [e.value for e in at.error]
    m = at.session_state["job"].trainers["lstm"].model
    assert all(torch.isfinite(p).all() for p in m.parameters())
    hist = at.session_state["job"].histories["lstm"]     # every snapshot before the NaN is kept, all finite
    assert hist.steps[0] == 0 and all(torch.isfinite(t).all() for s in hist.snapshots() for t in s.state.values())


def test_two_sessions_are_isolated():
    a, b = open_tab(run_app(), "Train"), run_app()
    start(a)
    train_until_done(a)
    a.button(key=[x.key for x in a.button if x.key and x.key.startswith("explore_lstm")][0]).click().run()
    ok(a)
    mine = a.sidebar.selectbox(key="model_choice").value
    b.run()
    assert mine not in b.sidebar.selectbox(key="model_choice").options
    assert "job" not in b.session_state
