"""Trainer: char models on text, sequence models on synthetic tasks and CSV series, any device.

Reports through callbacks, minGPT-style: Trainer(..., callbacks=[fn]) calls fn(trainer) after
every step, and a callback's on_start(trainer) / on_end(trainer), where it has them, when run() begins
(before the first update) and ends (History uses both); trainer.step, .loss, .val_loss, .grad_norm, .lr, .steps_per_s, .tokens_per_s,
.device tell where it is. trainer.stop() (any thread) ends the run between steps, keeping the
weights trained so far. A NaN/inf loss or gradient restores the weights that produced the last
finite loss, stops, and leaves a one-sentence message in trainer.error.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from explorer.errors import InputError
from explorer.io.inputs import data as D


def available_devices() -> list[str]:
    """The devices this machine can train on: cpu, then cuda and mps where present."""
    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else []) + \
        (["mps"] if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available() else [])


def best_device() -> str:
    """cuda if available, else mps, else cpu."""
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def device_label(device: str) -> str:
    if device.startswith("cuda") and torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name(torch.device(device))})"
    if device == "mps":
        return "mps (Apple GPU)"
    return f"cpu ({torch.get_num_threads()} threads)"


@dataclass
class TrainConfig:
    task: str = "char"              # char | adding | copy | sine | series
    steps: int = 1000
    batch_size: int = 32
    seq_len: int = 128              # char/series windows; T for the synthetic tasks
    lr: float = 2e-3
    clip: float = 1.0               # global grad-norm clip; 0 = off
    eval_every: int = 100
    eval_batches: int = 4
    seed: int = 0
    device: str = ""                # "" = best_device()
    lr_decay: bool = True           # cosine decay to 10% over `steps`


def task_loss(model: nn.Module, kind: str, x: Tensor, y: Tensor) -> Tensor:
    """The loss a task trains on: next-char/class cross-entropy, or MSE."""
    out = model(x)
    if kind == "ce":
        return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1), ignore_index=-1)
    return F.mse_loss(out, y)


class Trainer:
    """Train `model` on `tcfg.task`. source: the text (char) or 1-D series tensor (series)."""

    def __init__(self, model: nn.Module, tcfg: TrainConfig, source=None,
                 callbacks: Optional[list[Callable[["Trainer"], None]]] = None):
        self.model, self.cfg = model, tcfg
        self.device = tcfg.device or best_device()
        self.model.to(self.device)
        self.callbacks = list(callbacks or [])
        self.step, self.loss, self.val_loss, self.grad_norm = 0, math.nan, math.nan, math.nan
        self.lr, self.steps_per_s, self.tokens_per_s = tcfg.lr, 0.0, 0.0
        self.history: dict[str, list] = {"step": [], "loss": [], "grad_norm": [], "val_step": [], "val_loss": []}
        self.error: Optional[str] = None
        self._stop = False
        self.opt = torch.optim.AdamW(model.parameters(), lr=tcfg.lr, weight_decay=0.0)
        self._setup_data(source)
        self._good = [p.detach().clone() for p in model.parameters()]

    # ---- data ------------------------------------------------------------------------------
    def _setup_data(self, source):
        c = self.cfg
        if c.task == "char":
            if not isinstance(source, str) or len(source) < c.seq_len + 2:
                raise InputError(f"the training text must have more than {c.seq_len + 1} characters.")
            ids = self.model.vocab.encode(source)
            n = int(len(ids) * 0.9)                   # first 90% train, last 10% held out
            if len(ids) - n < c.seq_len + 2:
                n = len(ids) - (c.seq_len + 2)
            self.train_ids, self.val_ids = ids[:n], ids[n:]
            self.loss_kind, self.baseline = "ce", math.log(len(self.model.vocab))
        elif c.task == "series":
            s = torch.as_tensor(source, dtype=torch.float32).flatten()
            if s.numel() < 4:
                raise InputError("the series needs at least 4 values to train on.")
            mu, sd = s.mean(), s.std().clamp_min(1e-8)
            s = (s - mu) / sd
            n = max(int(s.numel() * 0.9), 3)
            self.train_series, self.val_series = s[:n], s[max(n - c.seq_len - 1, 0):]
            self.loss_kind = "mse_seq"
            self.baseline = D.series_windows(self.val_series, 256, c.seq_len, torch.Generator().manual_seed(1)).baseline
        elif c.task in ("adding", "copy", "sine"):
            t = self._synthetic(4, torch.Generator().manual_seed(0))
            self.loss_kind, self.baseline = t.loss, t.baseline
        else:
            raise InputError(f"unknown task {c.task!r}; choose char, adding, copy, sine or series.")

    def _synthetic(self, B, g) -> D.Task:
        c = self.cfg
        return {"adding": lambda: D.adding_problem(B, c.seq_len, g), "copy": lambda: D.copy_task(B, c.seq_len, generator=g),
                "sine": lambda: D.sine_task(B, c.seq_len, n_waves=2, generator=g)}[c.task]()

    def batch(self, step: int, split: str = "train") -> tuple[Tensor, Tensor]:
        """Deterministic in (seed, step, split), so a resumed run sees the same batches."""
        c = self.cfg
        g = torch.Generator().manual_seed(c.seed * 1_000_003 + step * 2 + (split == "val"))
        if c.task == "char":
            ids = self.train_ids if split == "train" else self.val_ids
            starts = torch.randint(0, len(ids) - c.seq_len - 1, (c.batch_size,), generator=g)
            w = ids[starts[:, None] + torch.arange(c.seq_len + 1)]
            x, y = w[:, :-1], w[:, 1:]
        elif c.task == "series":
            t = D.series_windows(self.train_series if split == "train" else self.val_series, c.batch_size, c.seq_len, g)
            x, y = t.x, t.y
        else:
            t = self._synthetic(c.batch_size, g)
            x, y = t.x, t.y
        return x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)

    # ---- control ---------------------------------------------------------------------------
    def stop(self):
        """Ask the run to end after the current step (safe from another thread)."""
        self._stop = True

    @property
    def stopped(self) -> bool:
        return self._stop

    @torch.no_grad()
    def evaluate(self, batches: Optional[int] = None) -> float:
        self.model.eval()
        n = batches or self.cfg.eval_batches
        losses = [task_loss(self.model, self.loss_kind, *self.batch(10**9 + i, "val")).item() for i in range(n)]
        self.model.train()
        return sum(losses) / len(losses)

    def run(self, until: Optional[int] = None) -> "Trainer":
        """Train up to step `until` (default cfg.steps); call again to continue (jobs interleave models)."""
        c, model = self.cfg, self.model
        until = c.steps if until is None else min(until, c.steps)
        model.train()
        tokens = c.batch_size * c.seq_len
        t_last, s_last = time.perf_counter(), self.step
        self._notify("on_start")
        while self.step < until and not self._stop:
            if c.lr_decay:
                self.lr = c.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * self.step / max(c.steps, 1))))
                for grp in self.opt.param_groups:
                    grp["lr"] = self.lr
            x, y = self.batch(self.step)
            problem = None
            try:
                loss = task_loss(model, self.loss_kind, x, y)
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                norm = nn.utils.clip_grad_norm_(model.parameters(), c.clip if c.clip > 0 else float("inf"))
                loss_v, norm_v = loss.item(), float(norm)
                if not math.isfinite(loss_v):
                    problem = f"the loss became {loss_v}"
                elif not math.isfinite(norm_v):
                    problem = f"the gradient norm became {norm_v}"
                else:
                    with torch.no_grad():             # these weights gave a finite loss: keep them
                        torch._foreach_copy_(self._good, [p.detach() for p in model.parameters()])
                    self.opt.step()
                    if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
                        problem = "the weights overflowed"
            except (RuntimeError, FloatingPointError, OverflowError) as e:
                problem = f"the optimizer failed ({str(e).splitlines()[0][:80]})"
            if problem:
                with torch.no_grad():
                    for p, g in zip(model.parameters(), self._good):
                        p.copy_(g)
                self.opt.state.clear()                # moments computed from the bad step are gone too
                self.error = (f"Training stopped at step {self.step + 1}: {problem}; the last good weights are "
                              "kept (try a lower learning rate or gradient clipping).")
                self._stop = True
                break
            self.step += 1
            self.loss, self.grad_norm = loss_v, norm_v
            h = self.history
            h["step"].append(self.step), h["loss"].append(loss_v), h["grad_norm"].append(norm_v)
            if c.eval_every and (self.step % c.eval_every == 0 or self.step == c.steps):
                self.val_loss = self.evaluate()
                h["val_step"].append(self.step), h["val_loss"].append(self.val_loss)
            now = time.perf_counter()
            if now - t_last > 0.5 or self.step == c.steps:
                self.steps_per_s = (self.step - s_last) / (now - t_last)
                self.tokens_per_s = self.steps_per_s * tokens
                t_last, s_last = now, self.step
            for cb in self.callbacks:
                cb(self)
        model.eval()
        self._notify("on_end")
        return self

    def _notify(self, event: str):
        for cb in self.callbacks:
            fn = getattr(cb, event, None)
            if fn is not None:
                fn(self)

    def probe(self, text: Optional[str] = None, length: int = 200):
        """What a History of this run reads (explorer.training.history.Probe): a char model's `text` (default:
        the first `length` characters of the held-out part); a series task's first `length` held-out values
        (normalised as the training data is); one fixed sample of a synthetic task (T = seq_len)."""
        from .history import Probe, as_probe
        c = self.cfg
        if c.task == "char":
            return Probe(text if text else self.model.vocab.decode(self.val_ids[:length]))
        if c.task == "series":
            v = self.val_series[:length + 1]
            return Probe(v[:-1, None], v[1:], "mse_seq")
        return as_probe(self._synthetic(1, torch.Generator().manual_seed(12345)))

    # ---- checkpoints -----------------------------------------------------------------------
    def card(self, **extra) -> dict:
        return {"task": self.cfg.task, "steps": self.step, "train": asdict(self.cfg), "device": self.device,
                "final_loss": self.loss, "final_val_loss": self.val_loss, **extra}

    def save(self, path: str, **card_extra) -> None:
        """Model (safetensors, with card) + optimizer state beside it (path + '.optim')."""
        from explorer.io.models.checkpoints import save_model
        save_model(self.model, path, self.card(**card_extra))
        torch.save({"opt": self.opt.state_dict(), "step": self.step}, path + ".optim")

    def resume(self, path: str) -> "Trainer":
        """Continue a run saved by save(): weights, step and optimizer state."""
        from explorer.io.models.checkpoints import load_model
        model, card = load_model(path, self.device)
        self.model.load_state_dict(model.state_dict())
        self.step = int(card.get("steps", 0))
        try:
            st = torch.load(path + ".optim", map_location=self.device, weights_only=True)
            self.opt.load_state_dict(st["opt"])
        except FileNotFoundError:
            pass
        self._good = [p.detach().clone() for p in self.model.parameters()]
        return self


@torch.no_grad()
def heldout_loss(model, ids: Tensor, seq_len: int = 256, batch: int = 64) -> float:
    """Mean next-char cross-entropy (nats) over all of ids, in consecutive windows of seq_len
    (state reset at each window), every character predicted exactly once."""
    model.eval()
    dev = next(model.parameters()).device
    n = (len(ids) - 1) // seq_len
    x = ids[:n * seq_len].view(n, seq_len)
    y = ids[1:n * seq_len + 1].view(n, seq_len)
    total = 0.0
    for s in range(0, n, batch):
        logits = model(x[s:s + batch].to(dev))
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y[s:s + batch].reshape(-1).to(dev),
                                 reduction="sum").item()
    return total / (n * seq_len)
