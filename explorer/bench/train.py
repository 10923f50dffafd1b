"""python -m explorer.bench train: what watching a model learn costs the trainer.

The same TrainingJob (same models, seed and batches) three ways, in rounds so that a slow spell of the
machine hits all alike: without a History, with one History per model (the app's: on the CPU it computes
each snapshot's frame as it takes it), and with the History read while it trains the way the Train tab's
live view reads it (in this process's main thread, every 2 s: the frames so far, the newest sample,
the live figures built) while the job trains in its own thread, as in the app. Prints seconds and ratios
against the run without a History, the snapshots kept and the MB they hold. Two settings: the Train
tab's defaults (LSTM, GRU and RNN on Tiny Shakespeare, 500 steps) and its largest model (hidden 512,
3 layers, batch 128; T = 100 and 6 steps, a snapshot at every step).
"""
from __future__ import annotations

import os
import statistics
import threading
import time

from explorer.core import kinds
from explorer.io.inputs.corpus import tiny_shakespeare
from explorer.io.inputs.data import Vocab
from explorer.io.models.ours import ModelConfig, build
from explorer.training.jobs import TrainingJob
from explorer.training.trainer import TrainConfig


def _job(archs, hidden, layers, steps, batch, T, watch, text, max_snapshots=64):
    vocab = Vocab.from_text(text)
    models = {a: build(ModelConfig(a, vocab_size=len(vocab), embedding_size=64, hidden_size=hidden, num_layers=layers),
                       vocab, seed=0) for a in archs}
    cfg = TrainConfig("char", steps=steps, batch_size=batch, seq_len=T, lr=3e-3, eval_every=max(10, steps // 20),
                      device="cpu")
    return TrainingJob(models, cfg, text, watch=watch, max_snapshots=max_snapshots,
                       probe="KING:\nWhat say you, lords? Shall we to the field tonight,\nOr wait the morning and the "
                             "better light?\n\nQUEEN:\nMy lord, 'the night is kind to those who wait,' they say;\n")


def _viewer(job, stop: threading.Event):
    """What the Train tab's live view does every 2 s while the job trains (ui/watch.live): read the frames the
    trainer computed and the newest sample; build the live figures when a snapshot has arrived; the loss curves."""
    import numpy as np

    from explorer import plots
    from explorer.analysis import learning as AL
    seen = -1
    while not stop.is_set():
        by = {n: h.cached_frames() for n, h in job.histories.items()}
        [h.latest_sample() for h in job.histories.values()]
        snap = job.snapshot()
        curves = {n: (m["history"]["step"], np.asarray(m["history"]["loss"])) for n, m in snap["models"].items()}
        if all(len(c[0]) for c in curves.values()):
            plots.themed(plots.log_curves(curves, "loss", "loss", log_y=False)).to_dict()
        n = min(len(f) for f in by.values())
        if n and n != seen:
            seen = n
            by = {k: f[:n] for k, f in by.items()}
            plots.themed(plots.history_figure({kinds.label(k): f for k, f in by.items()}, list(job.histories["lstm"].probe.data),
                                              top=8, animate=False)).to_dict()
            plots.themed(plots.horizon_figure({kinds.label(k): AL.horizons(f) for k, f in by.items()}, 150)).to_dict()
        stop.wait(2.0)


def _run(job, view: bool) -> float:
    stop = threading.Event()
    t = time.perf_counter()
    job.start()
    if view:
        _viewer_thread_free_loop(job, stop)
    job.join()
    return time.perf_counter() - t


def _viewer_thread_free_loop(job, stop):
    """The viewer runs here, in the main thread (as the page's script thread does), until the job ends."""
    done = threading.Thread(target=lambda: (job.join(), stop.set()), daemon=True)
    done.start()
    _viewer(job, stop)


def _setting(name, rounds, **kw):
    text = tiny_shakespeare()
    times = {"without": [], "with History": [], "with History, viewed live": []}
    cpu = {k: [] for k in times}
    overhead = {k: [] for k in times}       # the run's time over the run less the History's own time in it
    kept = {}
    for _ in range(rounds):
        for label, watch, view in (("without", False, False), ("with History", True, False),
                                   ("with History, viewed live", True, True)):
            job = _job(watch=watch, text=text, **kw)
            times[label].append(_run(job, view))
            cpu[label].append(job.cpu_s)
            if watch:
                own = sum(h.overhead_s for h in job.histories.values())
                span = max(h.trained_s for h in job.histories.values())
                overhead[label].append(span / max(span - own, 1e-9))
                for h in job.histories.values():
                    h.frames()
                kept = {n: (len(h), h.nbytes / 2**20) for n, h in job.histories.items()}
                watched = job
    base, cbase = statistics.median(times["without"]), statistics.median(cpu["without"])
    print(f"\n{name}: medians of {rounds} round(s); wall clock, and the training thread's own CPU time")
    for label, ts in times.items():
        print(f"  {label:28} {statistics.median(ts):7.1f} s   ratio {statistics.median(ts) / base:5.3f}   "
              f"(runs: {', '.join(f'{t:.1f}' for t in ts)})   trainer CPU {statistics.median(cpu[label]):6.1f} s   "
              f"ratio {statistics.median(cpu[label]) / cbase:5.3f}")
    for label, xs in overhead.items():
        if xs:
            print(f"  {label:28} the History's own time in the trainer's thread: the run ÷ (the run − it) = "
                  f"{statistics.median(xs):5.3f} (runs: {', '.join(f'{x:.3f}' for x in xs)})")
    import plotly.io as pio

    from explorer import plots
    by = {kinds.label(n): h.frames() for n, h in watched.histories.items()}
    n = min(len(f) for f in by.values())
    fig = plots.history_figure({k: f[:n] for k, f in by.items()}, watched.histories[next(iter(watched.histories))].labels(),
                               top=16 if len(by) == 1 else 8)
    print(f"  the gates-through-training figure: {len(fig.frames)} frames, {len(pio.to_json(fig)) / 2**20:.2f} MB of JSON")
    total = sum(mb for _, mb in kept.values())
    print("  kept: " + ", ".join(f"{kinds.label(n)} {k} snapshots {mb:.1f} MB" for n, (k, mb) in kept.items()) +
          f"; {total:.1f} MB in all (weights and cached frames)")


def bench_train(rounds: int = int(os.environ.get("GATE_EXPLORER_BENCH_ROUNDS", "2"))):
    """A History's cost: the same training run with and without it (and viewed live), app defaults and largest."""
    which = os.environ.get("GATE_EXPLORER_BENCH_TRAIN", "defaults largest")     # e.g. "largest" for only that
    if "defaults" in which:
        _setting("the Train tab's defaults (LSTM, GRU, RNN; H=128, T=64, batch 32, 500 steps)", rounds,
                 archs=("lstm", "gru", "rnn"), hidden=128, layers=1, steps=500, batch=32, T=64)
    for archs in () if "largest" not in which else (("lstm",), ("lstm", "gru", "rnn")):
        _setting(f"the largest model ({', '.join(a.upper() for a in archs)}; H=512, 3 layers, batch 128, T=100, 6 steps, "
                 "a snapshot at every step)", 1, archs=archs, hidden=512, layers=3, steps=6, batch=128, T=100)



