"""A training job: one or several models (e.g. LSTM, GRU and RNN) trained in a background thread
on the same batches, in lockstep, so their curves compare fairly, each watched by a History on the
same probe. No streamlit: the app polls job.snapshot() and reads job.histories; a notebook can call
job.run() directly.

    job = TrainingJob({"lstm": m1, "gru": m2}, TrainConfig("adding", steps=500))
    job.start(); ...; job.stop(); job.join()
    job.histories["lstm"].frame(-1)
"""
from __future__ import annotations

import copy
import threading
import time
from typing import Optional

import torch
from torch import nn

from .history import PRECOMPUTE_SHARE, History
from .trainer import TrainConfig, Trainer


class TrainingJob:
    CHUNK = 5            # steps per model before switching: lockstep, and a Stop lands within a chunk

    def __init__(self, models: dict[str, nn.Module], tcfg: TrainConfig, source=None, *, probe=None,
                 watch: bool = True, max_snapshots: int = 64, max_bytes: int = 256 * 2**20):
        """probe: the text a char model's History reads (default: the start of the held-out text; other
        tasks: Trainer.probe()); watch=False keeps no history; max_bytes is shared by the models."""
        # Every model gets the same config and seed, hence the same batches (Trainer.batch is a
        # function of seed and step).
        self.trainers = {name: Trainer(m, copy.deepcopy(tcfg), source) for name, m in models.items()}
        self.histories: dict[str, History] = {}
        if watch:
            first = next(iter(self.trainers.values()))
            shared = first.probe(probe)                    # one probe for every model
            for name, tr in self.trainers.items():
                # the models train in turn, so each History's frames get its share of one wall clock
                self.histories[name] = History(shared, max_snapshots=max_snapshots, max_bytes=max_bytes // len(models),
                                               precompute_share=PRECOMPUTE_SHARE / len(models))
                tr.callbacks.append(self.histories[name])
        self.cfg = tcfg
        self.thread: Optional[threading.Thread] = None
        self.started = self.finished = None
        self.error: Optional[str] = None
        self._stop = threading.Event()

    @property
    def baseline(self) -> float:
        return next(iter(self.trainers.values())).baseline

    def run(self):
        self.started = time.time()
        cpu0 = time.thread_time()
        restore = None
        if threading.current_thread() is not threading.main_thread() and self._one_thread():
            # In a thread of its own beside the page's, a CPU kernel's two-thread OpenMP team has to share the
            # cores with the team the page's thread keeps: every parallel region then sleeps and wakes (see
            # CONTRIBUTING). One thread here avoids that (a thread already running, like the page's, keeps its own count). Measured
            # on 2 cores, LSTM+GRU+RNN, hidden 128, 100 steps: 26.2 s with two threads here, 7.3 s with one,
            # 7.9 s in the main thread alone; hidden 256: 4.3 s vs 2.9 s; at hidden 512 one thread is slower
            # (7.3 s vs 6.7 s), so larger models keep the default.
            # PyTorch hands the last value set to every thread started afterwards (the page's next runs), so the
            # process's own is put back when the job ends.
            restore = torch.get_num_threads()
            torch.set_num_threads(1)
        try:
            step = 0
            while step < self.cfg.steps and not self._stop.is_set():
                step = min(step + self.CHUNK, self.cfg.steps)
                for tr in self.trainers.values():
                    if not tr.stopped:
                        tr.run(until=step)
                if all(tr.stopped for tr in self.trainers.values()):
                    break
        except Exception as e:                    # never lose the weights: report and keep them
            self.error = f"training failed: {type(e).__name__}: {str(e).splitlines()[0][:160]}"
        finally:
            self.finished = time.time()
            self.cpu_s = time.thread_time() - cpu0       # this thread's CPU seconds (what the benchmark compares)
            if restore is not None:
                torch.set_num_threads(restore)

    def _one_thread(self) -> bool:
        return all(tr.device == "cpu" for tr in self.trainers.values()) and \
            max(tr.model.core.hidden_size for tr in self.trainers.values()) <= 256

    def start(self) -> "TrainingJob":
        self.thread = threading.Thread(target=self.run, daemon=True, name="gate-explorer-training")
        self.thread.start()
        return self

    def stop(self):
        """Stop every model after its current step; weights trained so far are kept."""
        self._stop.set()
        for tr in self.trainers.values():
            tr.stop()

    def join(self, timeout: Optional[float] = None):
        if self.thread is not None:
            self.thread.join(timeout)

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def snapshot(self) -> dict:
        """A consistent copy of the progress for drawing (the lists are copied, not shared)."""
        now = time.time()
        out = {"running": self.running, "stopped": self._stop.is_set(), "error": self.error,
               "elapsed": (self.finished or now) - (self.started or now), "steps": self.cfg.steps, "models": {}}
        for name, tr in self.trainers.items():
            h = tr.history
            n = len(h["step"])
            out["models"][name] = {"step": tr.step, "loss": tr.loss, "val_loss": tr.val_loss, "steps_per_s": tr.steps_per_s,
                                   "tokens_per_s": tr.tokens_per_s, "error": tr.error, "device": tr.device,
                                   "history": {k: list(v[:n] if k in ("step", "loss", "grad_norm") else v)
                                               for k, v in h.items()}}
        return out
