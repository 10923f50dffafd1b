"""Trainer: callbacks, stop flag, NaN restore, determinism, resume; tiny models in seconds."""
import math

import pytest
import torch
from tiny import TEXT, tiny_char

from explorer import InputError, ModelConfig
from explorer.io.models.ours import SeqModel
from explorer.training.trainer import TrainConfig, Trainer, best_device, heldout_loss


def test_char_training_learns_and_reports():
    seen = []
    t = Trainer(tiny_char(), TrainConfig("char", steps=60, batch_size=8, seq_len=32, lr=1e-2, eval_every=20,
                                         device="cpu"), TEXT, callbacks=[lambda tr: seen.append((tr.step, tr.loss))])
    t.run()
    assert [s for s, _ in seen] == list(range(1, 61))
    assert t.history["val_step"] == [20, 40, 60] and t.val_loss < t.baseline * 0.8
    assert math.isfinite(t.grad_norm) and t.steps_per_s > 0 and t.device == "cpu"
    assert heldout_loss(t.model, t.val_ids, seq_len=16) < math.log(len(t.model.vocab))


def test_best_device_prefers_cuda_then_mps_then_cpu(monkeypatch):
    mps = torch.backends.mps
    for cuda, apple, want in [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")]:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
        monkeypatch.setattr(mps, "is_available", lambda: apple)
        assert best_device() == want


def test_stop_flag_keeps_weights():
    t = Trainer(tiny_char(), TrainConfig("char", steps=1000, batch_size=4, seq_len=16, device="cpu"), TEXT,
                callbacks=[lambda tr: tr.stop() if tr.step == 5 else None])
    t.run()
    assert t.step == 5 and t.stopped and t.error is None


@pytest.mark.parametrize("lr", [1e38, 3e38])
def test_absurd_learning_rate_stops_and_keeps_last_good_weights(lr):
    m = tiny_char()
    t = Trainer(m, TrainConfig("char", steps=50, batch_size=4, seq_len=16, lr=lr, clip=0, device="cpu"), TEXT)
    t.run()
    assert t.error and "last good weights" in t.error and t.step < 50
    assert all(torch.isfinite(p).all() for p in m.parameters())
    ids = m.vocab.encode(TEXT[:20])[None]
    assert torch.isfinite(m(ids)).all()


def test_nan_loss_restores_the_weights_that_gave_the_last_finite_loss():
    m = tiny_char()
    snap = {}

    def poison(tr):
        if tr.step == 2:            # the weights step 3's forward uses (its loss is finite)
            snap.update({k: v.clone() for k, v in m.state_dict().items()})
        if tr.step == 3:
            with torch.no_grad():
                m.head.bias.fill_(float("nan"))      # the next forward gives a NaN loss
    t = Trainer(m, TrainConfig("char", steps=20, batch_size=4, seq_len=16, device="cpu", eval_every=0), TEXT,
                callbacks=[poison]).run()
    assert t.step == 3 and "the loss became nan" in t.error
    for k, v in m.state_dict().items():
        assert torch.equal(v, snap[k]), k            # the poisoned bias is repaired too


def test_deterministic_and_resumable(tmp_path):
    cfg = TrainConfig("char", steps=20, batch_size=4, seq_len=16, device="cpu", eval_every=0, lr_decay=False)
    a = Trainer(tiny_char(), cfg, TEXT).run()
    b = Trainer(tiny_char(), cfg, TEXT).run()
    assert all(torch.equal(p, q) for p, q in zip(a.model.parameters(), b.model.parameters()))
    half = Trainer(tiny_char(), TrainConfig(**{**cfg.__dict__, "steps": 10}), TEXT).run()
    half.save(str(tmp_path / "half.safetensors"))
    c = Trainer(tiny_char(), cfg, TEXT).resume(str(tmp_path / "half.safetensors")).run()
    assert c.step == 20
    for p, q in zip(a.model.parameters(), c.model.parameters()):
        torch.testing.assert_close(p, q, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("task", ["adding", "copy", "sine"])
def test_sequence_tasks_run(task):
    inp, out, readout = {"adding": (2, 1, "last"), "copy": (10, 10, "all"), "sine": (1, 1, "all")}[task]
    m = SeqModel(ModelConfig("gru", input_size=inp, embedding_size=8, hidden_size=16, output_size=out, readout=readout))
    t = Trainer(m, TrainConfig(task, steps=5, batch_size=4, seq_len=12, device="cpu", eval_every=5)).run()
    assert math.isfinite(t.val_loss) and t.baseline > 0


def test_series_and_bad_inputs():
    m = SeqModel(ModelConfig("rnn", input_size=1, embedding_size=4, hidden_size=8))
    t = Trainer(m, TrainConfig("series", steps=3, batch_size=2, seq_len=8, device="cpu", eval_every=3),
                torch.sin(torch.arange(100.0))).run()
    assert math.isfinite(t.loss)
    with pytest.raises(InputError, match="more than"):
        Trainer(tiny_char(), TrainConfig("char", seq_len=64, device="cpu"), "short")
    with pytest.raises(InputError, match="unknown task"):
        Trainer(m, TrainConfig("poetry", device="cpu"))


def test_generation_is_seeded():
    m = tiny_char()
    assert m.generate("the", 30, 0.8, seed=3) == m.generate("the", 30, 0.8, seed=3)


def test_job_trains_several_models_in_lockstep_on_the_same_batches_and_stops():
    from explorer.training.jobs import TrainingJob
    models = {k: SeqModel(ModelConfig(k, input_size=2, embedding_size=8, hidden_size=16, readout="last"))
              for k in ("lstm", "gru", "rnn")}
    cfg = TrainConfig("adding", steps=40, batch_size=8, seq_len=20, device="cpu", eval_every=10)
    job = TrainingJob(models, cfg).start()
    job.join(60)
    snap = job.snapshot()
    assert not snap["running"] and all(m["step"] == 40 for m in snap["models"].values())
    tr = job.trainers
    assert all(torch.equal(tr["lstm"].batch(s)[0], tr["rnn"].batch(s)[0]) for s in (0, 17, 39))
    job2 = TrainingJob({"lstm": models["lstm"]}, TrainConfig("adding", steps=100000, batch_size=8, seq_len=20,
                                                                device="cpu", eval_every=0)).start()
    import time
    time.sleep(0.5)
    job2.stop()
    job2.join(60)                                  # a hang would fail here, not a slow machine
    assert not job2.running
    assert 0 < job2.trainers["lstm"].step < 100000
