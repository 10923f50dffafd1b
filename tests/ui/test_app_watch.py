"""AppTest for the Train tab's history ("watch it learn"): every view after a short run for an LSTM alone, for
all three, for the adding problem and for a CSV series; a snapshot opened in Explore; the seventh lesson;
the task picker's defaults; the shipped corpus as the default task."""
import time

from apptools import array, ok, open_tab, plain, run_app, specs, titles
from test_app_train_grad import start, train_until_done


def history_spec(at):
    return next(s for s in specs(at) if s.get("frames") and s["layout"].get("sliders"))


def trained_on_explore_text(arch: str, steps: int):
    """The app after a short char run on the Explore tab's text: (AppTest, the history figure's JSON)."""
    at = run_app()
    open_tab(at, "Train")
    start(at, train_task="char: the text from the Explore tab", train_arch=arch, train_steps=steps, train_hidden=16)
    train_until_done(at)
    return at, history_spec(at)


def test_lstm_alone_every_view_then_a_snapshot_opens_in_explore():
    at, h = trained_on_explore_text("LSTM", 12)
    job = at.session_state["job"]
    steps = job.histories["lstm"].steps
    assert [s["label"] for s in h["layout"]["sliders"][0]["steps"]] == [f"{s:,}" for s in steps]
    assert len(h["frames"]) == len(steps) and steps[0] == 0 and steps[-1] == 12
    # the probe is the Explore tab's window (at most 150 characters of it): the figure's columns read it
    ui, v = at.session_state["input"], at.session_state["view"]
    assert job.histories["lstm"].probe.data == ui.text[v["a"]:v["b"]][:150]
    assert len(array(h["data"][0]["x"])) == len(job.histories["lstm"].probe.data)
    first, last = array(h["frames"][0]["data"][1]["z"]), array(h["frames"][-1]["data"][1]["z"])
    assert first.shape == last.shape and (first != last).any()          # the forget gate moved while it learned
    assert "training step 0 · before the first update" == h["frames"][0]["layout"]["title"]["text"]
    t = titles(at)
    assert any(x.startswith("how far back the gradient reaches") for x in t)
    assert any(x.startswith("‖dJ/dh_t‖ over the probe at training step") for x in t)
    assert any("How far back the gradient reaches over training" in i.value for i in at.info)
    assert any("What it says at step" in m.value for m in at.markdown)
    at.select_slider(key="watch_step").set_value(steps[1]).run()
    ok(at)
    assert any(x == f"‖dJ/dh_t‖ over the probe at training step {steps[1]:,}" for x in titles(at))
    btn = next(b for b in at.button if b.key and b.key.startswith("watch_explore_lstm"))
    assert f"at step {steps[1]:,}" in btn.label
    btn.click().run()
    ok(at)
    choice = at.sidebar.selectbox(key="model_choice")
    assert f"step {steps[1]:,}" in choice.format_func(choice.value)


def test_all_three_on_one_probe():
    at, h = trained_on_explore_text("all three", 8)
    bands = [h["layout"][k]["title"]["text"] for k in sorted(h["layout"]) if k.startswith("yaxis")]
    names = {b.split("</b>")[0].replace("<b>", "") for b in bands}
    assert names == {"LSTM i", "LSTM f", "LSTM g", "LSTM o", "LSTM c", "LSTM h", "GRU r", "GRU z", "GRU n", "GRU h", "RNN h"}
    horizon = next(s for s in specs(at) if s["layout"]["title"]["text"].startswith("how far back"))
    assert {d["name"] for d in horizon["data"]} == {"LSTM", "GRU", "RNN"}
    assert len({h.probe.data for h in at.session_state["job"].histories.values()}) == 1


def test_all_six_train_on_the_same_batches_and_are_watched_on_one_probe():
    at, h = trained_on_explore_text("all six", 6)
    job = at.session_state["job"]
    assert set(job.trainers) == {"lstm", "gru", "rnn", "mingru", "minlstm", "slstm"}
    assert len({h.probe.data for h in job.histories.values()}) == 1
    batches = {name: tr.batch(3) for name, tr in job.trainers.items()}          # the same batch at a step, every model
    first = next(iter(batches.values()))
    assert all(all((a == b).all() for a, b in zip(first, other)) for other in batches.values())
    names = {k: h["layout"][k]["title"]["text"].split("</b>")[0].replace("<b>", "") for k in h["layout"] if k.startswith("yaxis")}
    assert {"minGRU z", "minGRU n", "minLSTM f", "sLSTM z", "sLSTM n", "sLSTM m", "sLSTM c", "LSTM f"} <= set(names.values())
    # the sLSTM's z (its cell input, a tanh) spans −1 … 1, its normaliser n its own range: not a gate's 0 … 1
    by = {v: k for k, v in names.items()}
    color = lambda band: h["layout"][next(d for d in h["data"] if d["yaxis"] == "y" + by[band][5:])["coloraxis"]]  # noqa: E731
    assert (color("sLSTM z")["cmin"], color("sLSTM z")["cmax"]) == (-1, 1)
    assert (color("minGRU z")["cmin"], color("minGRU z")["cmax"]) == (0, 1)
    assert color("sLSTM n")["cmin"] == -color("sLSTM n")["cmax"] and color("sLSTM n")["cmax"] > 0
    horizon = next(s for s in specs(at) if s["layout"]["title"]["text"].startswith("how far back"))
    assert {d["name"] for d in horizon["data"]} == {"LSTM", "GRU", "RNN", "minGRU", "minLSTM", "sLSTM"}


def test_adding_problem_story():
    at = open_tab(run_app(), "Train")
    start(at, train_task="adding problem", train_arch="LSTM and RNN", train_steps=20, train_hidden=16, train_T=20)
    train_until_done(at)
    story = next(s for s in specs(at) if any(d.get("name") == "i at the two marks" for d in s["data"]))
    assert {d["name"] for d in story["data"]} >= {"i at the two marks", "i elsewhere", "f between the marks",
                                                   "LSTM prediction", "RNN prediction"}
    assert any(i.value.startswith("On this sample: the LSTM") for i in at.info)
    assert any("the sum on this probe is" in plain(m.value) for m in at.markdown)


def test_csv_series_prediction_against_target():
    at = open_tab(run_app(), "Train")
    at.selectbox(key="train_task").set_value("CSV series (upload)").run()
    csv = "t,v\n" + "\n".join(f"{i},{(i % 17) / 17:.4f}" for i in range(400))
    at.file_uploader(key="train_csv").set_value(("s.csv", csv.encode(), "text/csv")).run()
    start(at, train_task="CSV series (upload)", train_arch="GRU", train_steps=10, train_hidden=16, train_T=20)
    train_until_done(at)
    assert any(t.startswith("output on the probe at training step") for t in titles(at))
    assert history_spec(at)


def test_the_default_task_is_the_shipped_corpus_and_each_task_has_its_defaults():
    at = open_tab(run_app(), "Train")
    assert at.selectbox(key="train_task").value.startswith("char: Tiny Shakespeare")
    assert not [w for w in at.text_input if w.key == "train_corpus"]          # no path to give
    assert (at.select_slider(key="train_hidden").value, at.number_input(key="train_steps").value) == (128, 500)
    assert at.selectbox(key="train_arch").value == "all three"
    at.selectbox(key="train_task").set_value("adding problem").run()
    assert (at.select_slider(key="train_T").value, at.number_input(key="train_steps").value,
            at.select_slider(key="train_lr").value) == (50, 1000, 1e-2)


def test_lesson_seven_trains_narrates_and_opens_the_model():
    at = run_app()
    at.sidebar.selectbox(key="lesson").set_value("watch it learn").run()
    ok(at)
    assert at.session_state["tab"] == "Train"
    # a shorter run than the lesson's own (400 steps): the same code path, fewer steps
    import explorer.ui.train as T
    real = T.start_job
    T.start_job = lambda *a, **k: real(*a, **dict(k, steps=12, hidden=16))
    try:
        at.button(key="lesson_train").click().run()
    finally:
        T.start_job = real
    ok(at)
    job = at.session_state["job"]
    assert set(job.trainers) == {"lstm", "rnn"} and job.lesson
    t = time.time()
    while job.running and time.time() - t < 120:
        time.sleep(0.3)
    at.run()
    lines = [plain(m.value) for m in at.markdown if m.value.startswith("- ")]
    assert any(x.startswith("- Forget gate: at step 0") for x in lines), lines
    assert any("How far back the gradient reaches" in x for x in lines)
    at.button(key="lesson_explore").click().run()
    ok(at)
    choice = at.sidebar.selectbox(key="model_choice")
    assert "lesson 7" in choice.format_func(choice.value)
