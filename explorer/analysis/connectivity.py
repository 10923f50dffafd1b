"""Which inputs each output depends on: connectivity (every output step against every input step) and
attribution (the final output against each input step).

    C = explorer.connectivity(m, "To be, or not to be")     # (T_out, T_in, B): C[t, s] = ‖∂y_t/∂x_s‖
    a = explorer.attribute(m, x, method="integrated_gradients")   # a.values (T, B), a.delta

y_t follows the model's task (an explorer.open_model result): the logit of the token that actually came
next for a language model (the model's own top token where the input does not say, e.g. at the last
step), the class logit for a classifier (the class it finally picks, or `target`), the prediction for a
regressor; for a stock core, `target` is a unit of the last layer's output h_t or a callable h_t -> y_t
(default: the sum of h_t's units). Bidirectional classifiers and regressors speak once, so T_out is 1;
for other bidirectional models every y_t sees the whole window (s > t is not zero).

All T targets share one pass: the window is copied T times along the batch, copy t keeps only y_t, and
one backward through the stock module gives every row (Madsen 2019, "Visualizing memorization in RNNs",
Distill, computes the same quantity). Attribution follows Captum's definitions (saliency, input × gradient,
integrated gradients with Gauss-Legendre steps and the completeness delta), checked against Captum in
the tests.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
from torch import Tensor, nn

from explorer.core import references
from explorer.core.modules import MODULES
from explorer.errors import InputError
from explorer.io.models.opened import OpenedModel

from . import integrated

METHODS = ("saliency", "input_x_gradient", "integrated_gradients")
MAX_STEPS = 2000            # a window's steps: the T copies hold T² steps of the core
COMPLETENESS = 0.01         # the page's integrated gradients add up to the output's change within 1%


@dataclass
class Attribution:
    values: Tensor                  # (T, B): the final output's attribution to each input step, summed over features
    method: str
    delta: Optional[Tensor] = None  # (B,): sum(values) − (f(x) − f(baseline)), integrated gradients only
    output: Optional[Tensor] = None  # (B,): f(x), the output attributed
    steps: int = 0                  # integration points used (raised until `tolerance` is met, within a bound)
    change: Optional[Tensor] = None  # (B,): f(x) − f(baseline), what the attributions should add up to

    @property
    def error(self) -> Optional[float]:
        """The worst completeness error as a share of |f(x) − f(baseline)| (None for other methods)."""
        if self.delta is None or self.change is None:
            return None
        return float((self.delta.abs() / self.change.abs().clamp_min(1e-12)).max())


def _prepare(model, x, target):
    """(core, x0 (T, B, I) time-major core input, y(out (T, B', F), h_n) -> (T_out, B'), ids or None)."""
    ids = None
    if isinstance(model, OpenedModel):
        core = model.core
        if isinstance(x, str):
            if model.vocab is None:
                raise InputError("this model reads tokens: give its vocabulary to open_model (vocab=…) or pass ids.")
            ids = model.vocab.encode(x)
            x = model.embed(ids)
        elif isinstance(x, Tensor) and not x.is_floating_point():
            ids = x
            x = model.embed(x)
        elif model.embedding is not None and isinstance(model.embedding, nn.Linear):
            x = model.embed(x)                   # our sequence models: the projection is part of the model
        y = _task_target(model, target, ids)
    elif isinstance(model, nn.RNNBase) or type(model) in MODULES.values():
        core = model
        y = _core_target(core, target)
    elif references.adopt(model) is not None:          # a reference package's module (minGRU-pytorch, xlstm)
        core = references.adopt(model).as_core()
        y = _core_target(core, target)
    else:
        raise InputError("connectivity and attribute take an explorer.open_model result, a stock nn.LSTM/GRU/RNN or "
                         "an explorer MinGRU/MinLSTM/SLSTM.")
    if not isinstance(x, Tensor) or not x.is_floating_point() or x.dim() not in (2, 3):
        raise InputError("x must be a floating-point (T, input_size) or batched tensor in the module's own layout.")
    if x.shape[-1] != core.input_size:
        raise InputError(f"x has {x.shape[-1]} features per step but the module reads {core.input_size}.")
    x = x[:, None] if x.dim() == 2 else (x.transpose(0, 1) if core.batch_first else x)
    if not 1 <= x.shape[0] <= MAX_STEPS:
        raise InputError(f"connectivity takes windows of 1 to {MAX_STEPS:,} steps, not {x.shape[0]:,}; pick a window.")
    return core, x.detach().to(core.weight_ih_l0.dtype), y, ids


def _run(core, x):
    """The core on time-major x (T, B, I): output (T, B, D*H_out) and h_n (L*D, B, H_out)."""
    out, state = core(x.transpose(0, 1) if core.batch_first else x)
    out = out.transpose(0, 1) if core.batch_first else out
    return out, (state[0] if isinstance(state, tuple) else state)


def _core_target(core, target):
    if target is None:
        return lambda out, h_n: out.sum(-1)
    if callable(target):
        return lambda out, h_n: target(out)
    width = (2 if core.bidirectional else 1) * (core.proj_size or core.hidden_size)
    if isinstance(target, bool) or not isinstance(target, int) or not 0 <= target < width:
        raise InputError(f"target must be a unit of h_t (0 to {width - 1}) or a callable h_t -> y_t, not {str(target)[:20]!r}.")
    return lambda out, h_n: out[..., target]


def _task_target(m: OpenedModel, target, ids):
    if m.head is None or m.task == "encoder":
        return _core_target(m.core, target)
    head = m.head

    def logits(out, h_n):
        if m.final_only and m.task == "classifier":
            return head(torch.cat([h_n[-2], h_n[-1]], -1))[None]            # (1, B, K)
        return head((out[-1:] if m.final_only else out).to(head.weight.dtype))
    if m.task == "language model":
        def y(out, h_n):
            z = logits(out, h_n)                                            # (T, B, V)
            pick = z.argmax(-1)
            if ids is not None:
                nxt = ids.reshape(-1)[1:].to(z.device)
                pick = pick.clone()
                pick[:len(nxt)] = nxt[:, None].expand(-1, pick.shape[1]) if pick.dim() == 2 else nxt
            return z.gather(-1, pick[..., None])[..., 0]
        return y
    if m.task == "classifier":
        def y(out, h_n):
            z = logits(out, h_n)
            if z.shape[-1] == 1:
                return z[..., 0]
            c = target if isinstance(target, int) else int(z[-1, 0].argmax())
            return z[..., c]
        return y
    j = target if isinstance(target, int) else 0
    return lambda out, h_n: logits(out, h_n)[..., j]


def connectivity(model, x, *, target=None, times_input: bool = False) -> Tensor:
    """C[t, s, b] = ‖∂y_t/∂x_s‖ (or ‖x_s ⊙ ∂y_t/∂x_s‖ with times_input): (T_out, T_in, B), float64 where
    the model is. See the module docstring for y_t; all targets in one batched backward."""
    core, x, y, _ = _prepare(model, x, target)
    T, B, _ = x.shape
    T_out = 1 if isinstance(model, OpenedModel) and model.final_only and model.head is not None else T
    # copy k of sequence b keeps only y_k: (T, B, T_out, I) -> batch B*T_out
    xr = x[:, :, None].expand(T, B, T_out, x.shape[-1]).reshape(T, B * T_out, -1).clone().requires_grad_(True)
    with torch.enable_grad():
        out, h_n = _run(core, xr)
        yy = y(out, h_n)                                                   # (T_out, B*T_out)
        k = torch.arange(T_out).repeat(B)                                  # the target each copy keeps
        sel = yy[k, torch.arange(B * T_out)]
        (g,) = torch.autograd.grad(sel.sum(), xr)
    g = g.reshape(T, B, T_out, -1)
    if times_input:
        g = g * x[:, :, None]
    return g.norm(dim=-1).permute(2, 0, 1)                               # (T_out, T_in, B)


def _final(core, y):
    """f(x) per sequence: the task's output at the last step (or its single verdict)."""
    def f(x):
        out, h_n = _run(core, x)
        return y(out, h_n)[-1]
    return f


MAX_IG_POINTS = 2000         # the most integration points the tolerance may raise the points to


def attribute(model, x, *, method: str = "integrated_gradients", baseline=None, steps: int = 50,
              target=None, tolerance: Optional[float] = None) -> Attribution:
    """The final output's attribution to each input step, summed over features: (T, B). Methods as Captum
    defines them; baseline: None (zeros), a number, or a tensor shaped like x; steps: integration points.
    tolerance (integrated gradients): add points where the path needs them (integrated.adaptive) until
    |sum − (f(x) − f(baseline))| is within this share of |f(x) − f(baseline)|, up to MAX_IG_POINTS; `error` and
    `steps` say what was reached. None: exactly `steps` Gauss-Legendre points, as Captum computes them."""
    if method not in METHODS:
        raise InputError(f"method must be one of {', '.join(METHODS)}, not {str(method)[:30]!r}.")
    core, x, y, _ = _prepare(model, x, target)
    f = _final(core, y)
    if method != "integrated_gradients":
        with torch.enable_grad():
            xg = x.clone().requires_grad_(True)
            out = f(xg)
            (g,) = torch.autograd.grad(out.sum(), xg)
        vals = g.abs() if method == "saliency" else g * x
        return Attribution(vals.sum(-1), method, None, out.detach())
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= 1000:
        raise InputError(f"steps must be a whole number from 1 to 1000, not {str(steps)[:20]!r}.")
    base = _baseline(baseline, x)
    if tolerance is None:
        vals, used = integrated.fixed(f, x, base, steps)
    else:
        vals, used = integrated.adaptive(f, x, base, tolerance, max_points=max(steps, MAX_IG_POINTS))
    with torch.no_grad():
        fx, fb = f(x), f(base)
    return Attribution(vals, "integrated_gradients", vals.sum(0) - (fx - fb), fx, used, fx - fb)


def _baseline(baseline, x: Tensor) -> Tensor:
    if baseline is None:
        return torch.zeros_like(x)
    if isinstance(baseline, (int, float)) and not isinstance(baseline, bool):
        return torch.full_like(x, float(baseline))
    if isinstance(baseline, Tensor):
        b = baseline.to(x.dtype)
        b = b[:, None] if b.dim() == 2 else b
        if b.shape != x.shape:
            raise InputError(f"the baseline is shaped {tuple(baseline.shape)}; give one shaped like x.")
        return b
    raise InputError("baseline must be None (zeros), a number or a tensor shaped like x.")


def reach(C: Tensor) -> np.ndarray:
    """How far back: for each distance d (0 = the output's own step), the median over output steps of
    C[t, t-d] / max_s C[t, s], (T,) with NaN where no step is that far back. From one connectivity (B = 0)."""
    c = C[..., 0].double()
    T_out, T_in = c.shape
    peak = c.max(1).values.clamp_min(1e-300)
    rel = c / peak[:, None]
    out = np.full(T_in, np.nan)
    last = min(T_out, T_in)
    for d in range(min(T_in, last)):                 # a single verdict (T_out = 1) has only d = 0 on this diagonal
        t = torch.arange(d, last)
        out[d] = float(rel[t, t - d].median())
    return out


def horizon(C: Tensor, fraction: float = 0.1) -> Optional[int]:
    """The distance (steps back) at which the typical connectivity first falls below `fraction` of its
    peak; None if it never does within the window."""
    r = reach(C)
    below = np.nonzero(r < fraction)[0]
    return int(below[0]) if len(below) else None


def window_view(m, inp, fraction: float = 0.1) -> dict:
    """Everything the page draws for one window, as numpy: "C" (T_out, T_in), "reach" (T_in,), "horizon",
    and for a classifier or regressor the final output's integrated-gradients "attribution" (T,) with its
    completeness "delta". inp: what connectivity takes (ids, text, or the core's input)."""
    C = connectivity(m, inp)
    out = {"C": C[..., 0].double().numpy(), "reach": reach(C), "horizon": horizon(C, fraction),
           "attribution": None, "delta": None, "final_only": C.shape[0] == 1}
    if isinstance(m, OpenedModel) and m.task in ("classifier", "regressor") and m.head is not None:
        a = attribute(m, inp, steps=32, tolerance=COMPLETENESS)
        out["attribution"], out["delta"] = a.values[:, 0].double().numpy(), float(a.delta[0])
        out["output"], out["steps"], out["error"] = float(a.output[0]), a.steps, a.error
        out["change"] = float(a.change[0])
    return out


def decades(row: np.ndarray, floor: float = -3.0) -> np.ndarray:
    """One output's connectivity over its inputs as log10 of the share of its peak, floored (for colouring
    text: the long tail an LSTM keeps is invisible on a linear scale)."""
    r = np.asarray(row, dtype=np.float64)
    rel = r / max(float(r.max()), 1e-300)
    return np.maximum(np.log10(np.clip(rel, 1e-300, None)), floor)


def far_back(horizons: dict[str, Optional[int]], T: int, fraction: float = 0.1) -> str:
    """A sentence that reads the "how far back" curves."""
    parts = [f"the {name}'s falls below {fraction:.0%} of its peak {h} step{'s' if h != 1 else ''} back" if h is not None
             else f"the {name}'s stays above {fraction:.0%} of its peak over the whole window ({T} steps)"
             for name, h in horizons.items()]
    if not parts:
        return ""
    known = {k: v for k, v in horizons.items() if v is not None}
    tail = ""
    if len(horizons) > 1 and known:
        short_ = min(known, key=known.get)
        tail = f" The {short_} depends mostly on the last few inputs; a larger distance means a longer memory."
    return "Connectivity (typical output step): " + "; ".join(parts) + "." + tail

