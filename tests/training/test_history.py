"""History: snapshots exact (trace(i) against the independent reference on the weights recorded at that
step, float64 1e-12), step 0 untrained, the bounds on count and memory, Stop and NaN stops, one History per
model in a TrainingJob, two jobs at once that never share, and the task probes (char, adding, series)."""
import copy
import math
import threading

import pytest
import torch
from reference import reference

from explorer.io.inputs.data import TASK_SHAPES, Vocab
from explorer.io.models.ours import ModelConfig, build
from explorer.training.history import History
from explorer.training.jobs import TrainingJob
from explorer.training.trainer import TrainConfig, Trainer

TEXT = "the quick brown fox jumps over the lazy dog; " * 30


def char_model(kind="lstm", H=8, dtype=torch.float64, layers=1):
    vocab = Vocab.from_text(TEXT)
    return build(ModelConfig(kind, vocab_size=len(vocab), embedding_size=6, hidden_size=H, num_layers=layers), vocab,
                 seed=0).to(dtype)


class Recorder:
    """Every step's weights, recorded independently of History (deep copies of the state dict)."""

    def __init__(self):
        self.at = {}

    def on_start(self, tr):
        self.at.setdefault(tr.step, copy.deepcopy(tr.model.state_dict()))

    def __call__(self, tr):
        self.at[tr.step] = copy.deepcopy(tr.model.state_dict())


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_trace_at_a_snapshot_equals_the_reference_on_the_weights_of_that_step(kind):
    model = char_model(kind, layers=2)
    untrained = copy.deepcopy(model.state_dict())
    rec, hist = Recorder(), History(TEXT[:40], max_snapshots=12)
    Trainer(model, TrainConfig("char", steps=30, batch_size=4, seq_len=16, lr=1e-2, eval_every=10, device="cpu"),
            TEXT, callbacks=[rec, hist]).run()
    assert hist.steps[0] == 0 and hist.steps[-1] == 30 and len(hist) <= 12
    step0 = hist.snaps[0].state                               # step 0 holds the untrained weights, every one
    assert set(step0) == set(untrained) and all(torch.equal(step0[n], untrained[n]) for n in untrained)
    ref_model = copy.deepcopy(model)
    for i, step in enumerate(hist.steps):
        ref_model.load_state_dict(rec.at[step])
        x = ref_model.embedding(ref_model.vocab.encode(TEXT[:40])).detach()
        want = reference(ref_model.core, x[:, None])          # time-major (T, 1, E), from the documented equations
        got = hist.trace(i)
        torch.testing.assert_close(got.h, want["h"], rtol=0, atol=1e-12)   # measured: ≤ 4e-16
        for g, v in got.gates.items():
            torch.testing.assert_close(v, want[g], rtol=0, atol=1e-12)
        if got.c is not None:
            torch.testing.assert_close(got.c, want["c"], rtol=0, atol=1e-12)
        # and model_at(i) is the model as it was: its forward equals the recorded weights' forward
        m = hist.model_at(i)
        ids = m.vocab.encode(TEXT[:40])[None]
        torch.testing.assert_close(m(ids), ref_model(ids), rtol=0, atol=0)


def test_gradient_flow_at_a_snapshot_is_the_next_character_loss_through_those_weights():
    model = char_model("lstm")
    rec, hist = Recorder(), History(TEXT[:30], max_snapshots=4)
    Trainer(model, TrainConfig("char", steps=6, batch_size=4, seq_len=16, device="cpu"), TEXT, callbacks=[rec, hist]).run()
    i = 2
    m = copy.deepcopy(model)
    m.load_state_dict(rec.at[hist.steps[i]])
    ids = m.vocab.encode(TEXT[:30])
    # autograd through the stock module, step by step: dJ/dh_t as the gradient of a zero probe added to h_t
    emb = m.embedding(ids).detach()
    probes = torch.zeros(30, 8, dtype=torch.float64, requires_grad=True)
    h = c = torch.zeros(1, 8, dtype=torch.float64)
    cell = torch.nn.LSTMCell(6, 8).double()
    cell.load_state_dict({k[:-3]: v for k, v in m.core.state_dict().items()})
    outs = []
    for t in range(30):
        h, c = cell(emb[t:t + 1], (h, c))
        h = h + probes[t]
        outs.append(h)
    J = torch.nn.functional.cross_entropy(m.head(outs[-2]), ids[-1:])
    (want,) = torch.autograd.grad(J, probes)
    got = hist.gradient_flow(i)
    torch.testing.assert_close(got.h_grad[0, 0, :, 0], want, rtol=0, atol=1e-12 * float(want.abs().max()))
    fr = hist.frame(i)
    assert fr["horizon"] >= 0 and fr["h_norm"].shape == (30,) and len(hist.sample(i)) == 120


def test_frames_taken_by_the_trainer_equal_frames_computed_later(monkeypatch):
    """On the CPU the callback computes each frame as it snapshots (and samples at about SAMPLED of them), so
    a page reading it while it trains runs no torch work; those frames equal the ones computed afterwards.
    Past PRECOMPUTE_SHARE of the training time it leaves them for later (a tiny model trains in microseconds
    a step, so here the share is lifted first, then kept)."""
    from explorer.training import history as H
    from explorer.training.history import SAMPLED
    monkeypatch.setattr(H, "PRECOMPUTE_SHARE", 1e9)
    eager, lazy = History(TEXT[:30], max_snapshots=40), History(TEXT[:30], max_snapshots=40, precompute=False)
    Trainer(char_model("lstm", dtype=torch.float32), TrainConfig("char", steps=60, batch_size=2, seq_len=8, eval_every=0,
                                                                  device="cpu"), TEXT, callbacks=[eager, lazy]).run()
    assert len(eager.cached_frames()) == len(eager) and lazy.cached_frames() == []
    sampled = [f["step"] for f in eager.cached_frames() if "sample" in f]
    assert sampled[0] == 0 and sampled[-1] == 60 and len(sampled) <= SAMPLED + 1
    for i in range(len(eager)):
        a, b = eager.frame(i), lazy.frame(i)
        assert a["step"] == b["step"] and a["horizon"] == b["horizon"]
        assert all((a["gates"][n] == b["gates"][n]).all() for n in a["gates"])
        assert eager.sample(i) == lazy.sample(i)
    step, text = eager.latest_sample()
    assert step == 60 and text == eager.sample(-1)
    monkeypatch.setattr(H, "PRECOMPUTE_SHARE", 0.08)
    kept = History(TEXT[:30], max_snapshots=40)
    Trainer(char_model("lstm", dtype=torch.float32), TrainConfig("char", steps=60, batch_size=2, seq_len=8, eval_every=0,
                                                                  device="cpu"), TEXT, callbacks=[kept]).run()
    assert 1 <= len(kept.cached_frames()) < len(kept)          # step 0's, then only while within the share
    assert [f["step"] for f in kept.frames()] == kept.steps    # the rest computed when asked for


def test_snapshots_are_bounded_in_count_and_bytes_and_denser_early():
    model = char_model("lstm", dtype=torch.float32)
    hist = History(TEXT[:40], max_snapshots=10)
    Trainer(model, TrainConfig("char", steps=200, batch_size=2, seq_len=8, eval_every=0, device="cpu"), TEXT,
            callbacks=[hist]).run()
    s = hist.steps
    assert s[0] == 0 and s[-1] == 200 and len(s) <= 10
    gaps = [b - a for a, b in zip(s, s[1:])]
    assert gaps[0] < gaps[-1] and gaps == sorted(gaps)       # quadratic spacing: denser early
    every = History(TEXT[:40], every=1, max_snapshots=7)      # a snapshot every step, thinned to the bound
    Trainer(char_model(dtype=torch.float32), TrainConfig("char", steps=40, batch_size=2, seq_len=8, eval_every=0,
                                                         device="cpu"), TEXT, callbacks=[every]).run()
    assert len(every) == 7 and every.steps[0] == 0 and every.steps[-1] == 40
    per = every.bytes_per_snapshot()
    tight = History(TEXT[:40], max_bytes=3 * per)             # the byte budget lowers the count (never below 2)
    Trainer(char_model(dtype=torch.float32), TrainConfig("char", steps=40, batch_size=2, seq_len=8, eval_every=0,
                                                         device="cpu"), TEXT, callbacks=[tight]).run()
    tight.frames()
    assert len(tight) == 3 and tight.nbytes <= 3 * per


def test_stop_and_nan_keep_the_history():
    model = char_model("gru", dtype=torch.float32)
    hist = History(TEXT[:30], every=2)

    def stop_at_7(tr):
        if tr.step == 7:
            tr.stop()
    Trainer(model, TrainConfig("char", steps=100, batch_size=2, seq_len=8, eval_every=0, device="cpu"), TEXT,
            callbacks=[stop_at_7, hist]).run()
    assert hist.steps == [0, 2, 4, 6, 7]                       # the stop's weights are the last snapshot
    bad = History(TEXT[:30], every=1)
    tr = Trainer(char_model("rnn", dtype=torch.float32), TrainConfig("char", steps=50, batch_size=2, seq_len=8, lr=1e38,
                                                                     eval_every=0, device="cpu"), TEXT, callbacks=[bad])
    tr.run()
    assert tr.error and len(bad) >= 1 and bad.steps[0] == 0
    for i in range(len(bad)):                                  # every snapshot before the NaN, all finite
        assert all(torch.isfinite(t).all() for t in bad.snaps[i].state.values())
        assert math.isfinite(bad.frame(i)["probe_loss"])
    assert bad.steps[-1] == tr.step


def test_a_job_keeps_one_history_per_model_on_one_probe_and_two_jobs_never_share():
    def job(seed):
        vocab = Vocab.from_text(TEXT)
        models = {k: build(ModelConfig(k, vocab_size=len(vocab), embedding_size=6, hidden_size=8), vocab, seed=seed)
                  for k in ("lstm", "gru", "rnn")}
        return TrainingJob(models, TrainConfig("char", steps=20, batch_size=2, seq_len=8, eval_every=5, seed=seed,
                                               device="cpu"), TEXT, probe=TEXT[seed:seed + 25])
    a, b = job(0), job(3)
    threads = [threading.Thread(target=j.run) for j in (a, b)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    for j, seed in ((a, 0), (b, 3)):
        assert set(j.histories) == {"lstm", "gru", "rnn"}
        assert {h.probe.data for h in j.histories.values()} == {TEXT[seed:seed + 25]}
        for name, h in j.histories.items():
            assert h.steps[0] == 0 and h.steps[-1] == 20
            final = h.snaps[-1].state                          # its own trainer's weights, nobody else's
            own = dict(j.trainers[name].model.named_parameters())
            assert all(torch.equal(final[k], own[k].detach()) for k in final)
    assert not any(x is y for x in a.histories.values() for y in b.histories.values())
    assert not torch.equal(a.histories["lstm"].snaps[-1].state["core.weight_hh_l0"],
                           b.histories["lstm"].snaps[-1].state["core.weight_hh_l0"])


def test_the_task_probes_adding_and_series():
    i, o, r = TASK_SHAPES["adding"]
    m = build(ModelConfig("lstm", input_size=i, embedding_size=4, hidden_size=8, output_size=o, readout=r), seed=0)
    job = TrainingJob({"lstm": m}, TrainConfig("adding", steps=10, batch_size=4, seq_len=20, eval_every=5, device="cpu"))
    job.run()
    h = job.histories["lstm"]
    assert len(h.probe.marks) == 2 and h.probe.target.numel() == 1
    fr = h.frame(-1)
    assert fr["prediction"].shape == (1,) and set(fr["gates"]) == {"i", "f", "g", "o", "c", "h"}
    # the probe's loss is the task's: MSE of the prediction against the sum
    assert fr["probe_loss"] == pytest.approx((float(fr["prediction"][0]) - float(h.probe.target)) ** 2, rel=1e-5)
    s = build(ModelConfig("gru", input_size=1, embedding_size=4, hidden_size=8, output_size=1, readout="all"), seed=0)
    series = torch.sin(torch.arange(300) * 0.1)
    job = TrainingJob({"gru": s}, TrainConfig("series", steps=5, batch_size=4, seq_len=20, eval_every=5, device="cpu"), series)
    job.run()
    fr = job.histories["gru"].frame(-1)
    held_out = len(job.trainers["gru"].val_series)              # the probe: the held-out series' start
    assert fr["prediction"].shape == (min(200, held_out - 1),) and job.histories["gru"].labels() is None


def test_plot_works_in_a_notebook():
    hist = History(TEXT[:30], max_snapshots=5)
    Trainer(char_model("lstm", dtype=torch.float32), TrainConfig("char", steps=8, batch_size=2, seq_len=8, eval_every=0,
                                                                  device="cpu"), TEXT, callbacks=[hist]).run()
    fig = hist.plot()
    assert len(fig.frames) == len(hist) >= 4                # 0, 2, 4, 8: quadratic spacing, rounded
    assert [s["label"] for s in fig.layout.sliders[0].steps] == [f"{s:,}" for s in hist.steps]
    assert fig.layout.updatemenus[0].buttons[0].label == "▶ play"
    # frames differ: the gates change as it learns
    z0, z1 = fig.frames[0].data[0].z, fig.frames[-1].data[0].z
    assert not torch.equal(torch.as_tensor(z0), torch.as_tensor(z1))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
def test_cuda_snapshots_are_copied_off_the_device_and_exact():
    model = char_model("lstm", dtype=torch.float32)
    hist = History(TEXT[:30], max_snapshots=6)
    Trainer(model, TrainConfig("char", steps=10, batch_size=2, seq_len=8, eval_every=0, device="cuda"), TEXT,
            callbacks=[hist]).run()
    assert all(t.device.type == "cpu" for t in hist.snaps[-1].state.values())
    own = {k: p.detach().cpu() for k, p in model.named_parameters()}
    assert all(torch.equal(hist.model_at(-1).state_dict()[k], own[k]) for k in own)


def test_a_job_in_its_own_thread_puts_the_thread_count_back():
    """The job trains on one thread in its own thread (small models), and PyTorch hands the last count set to
    threads started later (the page's next runs): when the job ends, those get the process's count again."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        vocab = Vocab.from_text(TEXT)
        job = TrainingJob({"lstm": build(ModelConfig("lstm", vocab_size=len(vocab), embedding_size=6, hidden_size=8), vocab)},
                          TrainConfig("char", steps=3, batch_size=2, seq_len=8, eval_every=0, device="cpu"), TEXT)
        seen = []
        job.trainers["lstm"].callbacks.append(lambda tr: seen.append(torch.get_num_threads()))
        job.start().join()
        assert seen and set(seen) == {1}
        after = []
        t = threading.Thread(target=lambda: after.append(torch.get_num_threads()))
        t.start()
        t.join()
        assert after == [2]
    finally:
        torch.set_num_threads(before)
