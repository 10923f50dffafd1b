"""History: watch a model learn. A Trainer callback that keeps snapshots of the weights while it
trains, and reads a fixed probe through any of them afterwards (or while the run goes on).

    hist = History("To be, or not to be, that is the question:")       # a text for a char model
    Trainer(model, cfg, text, callbacks=[hist]).run()
    hist.steps, hist.metrics["loss"]     # the training step and the batch loss of every snapshot
    hist.trace(i)                        # the probe's Trace through the weights of snapshot i
    hist.gradient_flow(i)                # its GradientFlow, with the task's objective
    hist.model_at(i)                     # a copy of the model as it was then
    hist.frame(i)                        # what the figures draw, as numpy (cached): see frame()
    hist.plot()                          # the history in a notebook (needs plotly)

What a snapshot holds: a CPU copy of every parameter (float32 for the app's models) and the loss, the
held-out loss (NaN unless the trainer evaluated at that step) and the gradient norm. What the figures
draw is computed from those weights and cached per snapshot (frame()): on the CPU, by the callback
itself as the snapshot is taken (precompute=True; a char model's sample at about SAMPLED of them) while
that costs at most PRECOMPUTE_SHARE of the training time, so a page reading the history while it trains
runs no torch work of its own; otherwise (CUDA, MPS, or past that share) when first asked for. The
callback costs nothing at the steps between snapshots.

When: step 0 (before the first update; the trainer calls on_start) and the last step (on_end, also
after Stop or a NaN stop, which restores the last good weights) are always kept. Between them,
`every` steps apart, or with every=None about max_snapshots spaced quadratically (denser early,
where most change happens). Memory is bounded twice: at most max_snapshots snapshots, and at most
max_bytes for the weights plus the cached frames (the count is lowered to fit, never below 2). Past
the bound, the snapshot closest to its neighbour makes room (never step 0 or the newest).
"""
from __future__ import annotations

import copy
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from explorer.core import kinds
from explorer.core.gradients import GradientFlow, gradient_flow, vanishing_point
from explorer.core.trace import Trace, trace
from explorer.io.inputs.data import Task
from explorer.io.models.ours import CharModel

HORIZON_FRACTION = 1e-4        # the horizon: steps back until ‖dJ/dh_t‖ < 1/10,000 of its value at the last step
SAMPLE_CHARS = 120
PRECOMPUTE_SHARE = 0.08       # frames computed while training: at most this share of the training time so far
SAMPLED = 16                   # samples taken while training (a char model's): about this many, step 0 and the last


@dataclass
class Snapshot:
    step: int
    state: dict[str, Tensor]              # parameter name -> CPU copy
    loss: float
    val_loss: float
    grad_norm: float
    ready: Optional[object] = None        # a CUDA event the copies wait on (non-blocking copies)


@dataclass
class Probe:
    """What History reads at every snapshot: `data` as model.embed takes it (a text, or a (T, I) series),
    with the target when it is one sample of a synthetic task (adding: a scalar; per-step tasks: (T,))."""
    data: object
    target: Optional[Tensor] = None
    loss: str = ""                        # the task's loss kind: "ce", "mse", "mse_seq" ("" = a char model's)
    marks: list = field(default_factory=list)   # the adding problem's two marked steps


def as_probe(probe) -> Probe:
    """A text, a (T, F) series, a Task (its first sample) or a Probe, as a Probe."""
    if isinstance(probe, Probe):
        return probe
    if isinstance(probe, str):
        return Probe(probe)
    if isinstance(probe, Task):
        x = probe.x[0]
        marks = (x[:, 1] > 0).nonzero().flatten().tolist() if probe.loss == "mse" and x.shape[-1] == 2 else []
        return Probe(x, probe.y[0], probe.loss, marks)
    x = torch.as_tensor(probe, dtype=torch.float32)
    return Probe(x[:, None] if x.dim() == 1 else x)


class History:
    """A Trainer callback keeping snapshots of a probe's model (see the module docstring)."""

    def __init__(self, probe, *, every: Optional[int] = None, max_snapshots: int = 64,
                 max_bytes: int = 128 * 2**20, prompt: str = "\n", sample_seed: int = 0, precompute: bool = True,
                 precompute_share: Optional[float] = None):
        if every is not None and every < 1:
            raise ValueError("every must be a positive number of steps, or None.")
        self.probe = as_probe(probe)
        self.every, self.max_snapshots, self.max_bytes = every, max(2, int(max_snapshots)), int(max_bytes)
        self.prompt, self.sample_seed, self.precompute = prompt, sample_seed, precompute
        self.precompute_share = PRECOMPUTE_SHARE if precompute_share is None else precompute_share
        self.sample_steps: set[int] = set()
        self.cap = self.max_snapshots             # lowered in on_start to fit max_bytes
        self.plan: set[int] = set()
        self.snaps: list[Snapshot] = []
        self._template: Optional[nn.Module] = None
        self._frames: dict[int, dict] = {}         # step -> frame (cached)
        self._lock = threading.Lock()
        self._t0, self._spent = time.perf_counter(), 0.0       # when training began, the frames' time since
        self._frame_cost = 0.0             # what the last precomputed frame took (the next is expected to take as long)
        self.overhead_s = 0.0              # seconds this callback has taken from the trainer (snapshots and frames)
        self.trained_s = 0.0               # seconds from on_start to the last on_end (the run, this callback included)

    # ---- the callback ----------------------------------------------------------------------
    def on_start(self, trainer) -> None:
        """Before the first update: the plan, and the snapshot of step 0 (once per run)."""
        if self._template is not None:
            return
        self._t0 = time.perf_counter()
        model = trainer.model
        self._template = copy.deepcopy(model).to("cpu").eval()
        S = int(trainer.cfg.steps)
        self.cap = max(2, min(self.max_snapshots, self.max_bytes // max(self.bytes_per_snapshot(), 1)))
        if self.every:
            self.plan = set(range(0, S + 1, self.every)) | {S}
        else:                                      # quadratic: denser early
            n = self.cap
            self.plan = {round(S * (k / (n - 1)) ** 2) for k in range(n)}
        plan = sorted(self.plan)
        every_k = max(1, math.ceil(len(plan) / SAMPLED))
        self.sample_steps = set(plan[::every_k]) | {S}
        if trainer.step == 0:
            self._take(trainer)

    def __call__(self, trainer) -> None:
        """After every step: a snapshot when the plan says so."""
        if trainer.step in self.plan:
            self._take(trainer)

    def on_end(self, trainer) -> None:
        """When a run ends (its last step, Stop, a NaN stop): the weights it ends with."""
        if (trainer.step >= trainer.cfg.steps or trainer.stopped) and (not self.snaps or self.snaps[-1].step != trainer.step):
            self._take(trainer)
        self.trained_s = time.perf_counter() - self._t0

    def _take(self, trainer) -> None:
        t_in = time.perf_counter()
        self._take_now(trainer)
        self.overhead_s += time.perf_counter() - t_in

    def _take_now(self, trainer) -> None:
        params = dict(trainer.model.named_parameters())
        ready = None
        if trainer.device.startswith("cuda"):
            # pinned buffers and asynchronous copies: the step goes on while they land (frame() waits)
            state = {k: torch.empty(p.shape, dtype=p.dtype, pin_memory=True).copy_(p.detach(), non_blocking=True)
                     for k, p in params.items()}
            ready = torch.cuda.Event()
            ready.record()
        else:
            state = {k: p.detach().to("cpu", copy=True) for k, p in params.items()}
        val = trainer.val_loss if trainer.history["val_step"][-1:] == [trainer.step] else math.nan
        snap = Snapshot(trainer.step, state, float(trainer.loss), float(val), float(trainer.grad_norm), ready)
        with self._lock:
            self.snaps = [s for s in self.snaps if s.step != snap.step] + [snap]
            while len(self.snaps) > self.cap:       # make room: drop the snapshot nearest its neighbour
                gaps = [self.snaps[k + 1].step - self.snaps[k - 1].step for k in range(1, len(self.snaps) - 1)]
                dropped = self.snaps.pop(1 + int(np.argmin(gaps)))
                self._frames.pop(dropped.step, None)
        elapsed = time.perf_counter() - self._t0
        if self.precompute and ready is None and trainer.device == "cpu" and \
                self._spent + self._frame_cost <= self.precompute_share * elapsed:
            # The frame now, in the trainer's thread (about 10 ms for the app's default models): the page then
            # only reads numpy while it trains, and no second thread runs torch work beside the trainer's. Only
            # while these frames cost at most PRECOMPUTE_SHARE of the time trained so far: past that (a large
            # model snapshotted every few steps) a frame waits until it is asked for.
            t = time.perf_counter()
            m = self.model_at(-1)
            fr = self._compute(snap, m)
            if isinstance(m, CharModel) and (snap.step in self.sample_steps or trainer.stopped):
                fr["sample"] = m.generate(self.prompt, SAMPLE_CHARS, 0.8, self.sample_seed)
            self._frame_cost = time.perf_counter() - t
            self._spent += self._frame_cost

    # ---- what it holds -----------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.snaps)

    def snapshots(self) -> list[Snapshot]:
        """A consistent copy of the list (the trainer may add to it meanwhile)."""
        with self._lock:
            return list(self.snaps)

    @property
    def steps(self) -> list[int]:
        return [s.step for s in self.snapshots()]

    @property
    def metrics(self) -> dict[str, list[float]]:
        snaps = self.snapshots()
        return {"loss": [s.loss for s in snaps], "val_loss": [s.val_loss for s in snaps],
                "grad_norm": [s.grad_norm for s in snaps]}

    def bytes_per_snapshot(self) -> int:
        """Weights (as the model holds them) plus a cached frame (float16 gates of layer 0 over the probe)."""
        m = self._template
        if m is None:
            return 0
        weights = sum(p.numel() * p.element_size() for p in m.parameters())
        T = len(self._inputs(m))
        names = len(kinds.get(kinds.of(m.core).name).names())
        return weights + 2 * names * T * m.core.hidden_size + 16 * T + 8 * SAMPLE_CHARS

    @property
    def nbytes(self) -> int:
        """The memory held now: the snapshots' weights and the cached frames."""
        snaps = self.snapshots()
        w = sum(t.numel() * t.element_size() for s in snaps for t in s.state.values())
        f = sum(a.nbytes for fr in list(self._frames.values()) for a in _arrays(fr))
        return w + f

    # ---- reading a snapshot ------------------------------------------------------------------
    def _snap(self, i: int) -> Snapshot:
        snaps = self.snapshots()
        if not snaps:
            raise IndexError("the history holds no snapshot yet; train first.")
        s = snaps[i]
        if s.ready is not None:
            s.ready.synchronize()
        return s

    def model_at(self, i: int) -> nn.Module:
        """A copy of the model (on the CPU, in eval mode) with its weights at snapshot i."""
        s = self._snap(i)
        m = copy.deepcopy(self._template)
        with torch.no_grad():
            for k, p in m.named_parameters():
                p.copy_(s.state[k])
        return m.eval()

    def _inputs(self, model) -> Tensor:
        """What the model feeds its core for the probe, (T, I)."""
        data = self.probe.data
        if isinstance(data, Tensor) and isinstance(model, nn.Module) and hasattr(model, "proj"):
            data = data.to(model.proj.weight.dtype)
        return model.embed(data)

    def trace(self, i: int, model: Optional[nn.Module] = None) -> Trace:
        """The probe's Trace through the weights of snapshot i (unbatched: B = 1)."""
        m = model if model is not None else self.model_at(i)
        return trace(m.core, self._inputs(m).detach())

    def objective(self, model):
        """J(output (T, D*H)) -> scalar, the task's loss at the last step the probe defines: the next
        character's cross-entropy for a char model, else the task's loss of the last prediction (the
        output itself when the probe has no target)."""
        head, p = model.head, self.probe
        if isinstance(model, CharModel):
            ids = model.vocab.encode(p.data)
            return lambda out: F.cross_entropy(head(out[-2:-1]), ids[-1:].to(out.device))
        if p.target is None:
            return lambda out: head(out[-1]).sum()
        y = p.target.reshape(-1)[-1:]
        if p.loss == "ce":
            return lambda out: F.cross_entropy(head(out[-1:]), y.long().to(out.device))
        return lambda out: F.mse_loss(head(out[-1]).reshape(-1), y.to(out.dtype).to(out.device))

    def gradient_flow(self, i: int, model: Optional[nn.Module] = None) -> GradientFlow:
        """The probe's GradientFlow through snapshot i's weights, with the task's objective (objective())."""
        m = model if model is not None else self.model_at(i)
        return gradient_flow(m.core, self._inputs(m).detach(), objective=self.objective(m))

    def frame(self, i: int) -> dict:
        """What the figures draw for snapshot i, as numpy (cached by step):
        step, loss, val_loss; gates {name: (T, H) float16} of layer 0 (gates and states, Explore's names);
        h_norm (T,) of the last layer, horizon (steps back until ‖dJ/dh_t‖ < HORIZON_FRACTION of its value
        at the last step the objective reaches; the probe's length when it never falls that low);
        prediction (a sequence model: its output on the probe, (T,) or (1,)) and probe_loss; "sample" where
        sample(i) has been taken (a char model's: precomputed at about SAMPLED snapshots, else on demand)."""
        s = self._snap(i)
        cached = self._frames.get(s.step)
        return cached if cached is not None else self._compute(s, self.model_at(i))

    def _compute(self, s: Snapshot, m: nn.Module) -> dict:
        gf = gradient_flow(m.core, self._inputs(m).detach(), objective=self.objective(m))   # its trace is the probe's
        tr = gf.trace
        L = m.core.num_layers - 1
        norm = gf.h_norm[L, 0]
        k = vanishing_point(norm, HORIZON_FRACTION)
        fr = {"kind": tr.kind, "step": s.step, "loss": s.loss, "val_loss": s.val_loss, "grad_norm": s.grad_norm,
              "gates": {n: tr.values(n)[0, 0, :, 0].float().numpy().astype(np.float16) for n in tr.names()},
              "h_norm": norm.double().numpy(), "horizon": int(k if k is not None else norm.numel()),
              "reaches_start": k is None, "probe_loss": float(gf.J)}
        if not isinstance(m, CharModel):
            with torch.no_grad():
                out = m(self.probe.data.to(m.proj.weight.dtype)[None])[0]
                # one value per step (or one at the end); a class per step where the task reads classes (copy)
                fr["prediction"] = (out.argmax(-1) if self.probe.loss == "ce" else out.reshape(-1)).double().numpy()
        with self._lock:
            if any(x.step == s.step for x in self.snaps):      # not dropped meanwhile
                self._frames[s.step] = fr
        return fr

    def sample(self, i: int) -> str:
        """A char model's SAMPLE_CHARS characters after `prompt` at snapshot i (temperature 0.8, the same seed at
        every snapshot), cached in its frame; "" for a sequence model."""
        fr = self.frame(i)
        if "sample" not in fr:
            m = self.model_at(i)
            fr["sample"] = m.generate(self.prompt, SAMPLE_CHARS, 0.8, self.sample_seed) if isinstance(m, CharModel) else ""
        return fr["sample"]

    def latest_sample(self) -> tuple[int, str]:
        """(step, sample) of the newest snapshot whose sample has been taken, without computing one: what the
        Train tab shows while the run goes (the trainer takes them at about SAMPLED snapshots)."""
        for s in reversed(self.snapshots()):
            fr = self._frames.get(s.step)
            if fr is not None and "sample" in fr:
                return s.step, fr["sample"]
        return -1, ""

    def frames(self) -> list[dict]:
        """frame(i) of every snapshot, in order (computes the ones not cached yet)."""
        return [self.frame(i) for i in range(len(self.snapshots()))]

    def cached_frames(self) -> list[dict]:
        """The frames computed so far, in order, computing none (what a page reads while the run goes)."""
        return [fr for s in self.snapshots() if (fr := self._frames.get(s.step)) is not None]

    def plot(self, names=None, top: int = 16):
        """The history in a notebook (needs plotly): the probe's gates at every snapshot, with play and a
        slider over the training steps (explorer.plots.history_figure)."""
        from explorer import plots
        frames = self.frames()
        return plots.history_figure({kinds.label(self.kind): frames}, self.labels(), top=top,
                                    names={kinds.label(self.kind): names} if names else None)

    @property
    def kind(self) -> str:
        return kinds.of(self._template.core).name if self._template is not None else ""

    def labels(self) -> Optional[list[str]]:
        """What each probe step reads (its characters), or None for a series."""
        return list(self.probe.data) if isinstance(self.probe.data, str) else None


def _arrays(fr: dict):
    yield from fr["gates"].values()
    yield fr["h_norm"]
    if "prediction" in fr:
        yield fr["prediction"]
