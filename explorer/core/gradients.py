"""gradient_flow(): dJ/dh_t and dJ/dc_t for every layer, direction and step.

    gf = explorer.gradient_flow(rnn, x, hx=None, *, objective=None)
    gf.h_norm   (num_layers, num_directions, T)  ‖dJ/dh_t‖ over batch and units
    gf.c_norm   same for the LSTM cell state, else None
    gf.h_grad   (num_layers, num_directions, T, B, H_out)  the raw total derivatives

"Total" means through every later step and every later layer, as if a zero probe were added
to h_t. Autograd through the fused kernel only sees how later *layers* use h_t (the step to
step dependence is inside the kernel), so we run backpropagation through time ourselves on
the traced gates: per step one small matrix multiply and a few elementwise ops, with every
gate-derivative factor computed for all steps at once beforehand.

The default objective is J = sum of output at the last time step; `objective` may be any
callable output -> scalar (output in the module's own layout).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from explorer.errors import InputError

from . import kinds, onednn, references
from .params import layer_params
from .trace import Trace, check_hx, interventions, select_mask, time_major, trace


@dataclass
class GradientFlow:
    kind: str
    h_norm: Tensor                 # (L, D, T)
    c_norm: Optional[Tensor]
    h_grad: Tensor                 # (L, D, T, B, H_out)
    c_grad: Optional[Tensor]       # (L, D, T, B, H)
    J: float
    trace: Trace

    def plot(self, *, layer: int = 0, direction: int = 0, title: str = "how much gradient reaches each step"):
        """A plotly figure (shows itself in Jupyter): ‖dJ/dh_t‖ (and ‖dJ/dc_t‖ for an LSTM) over t, log
        scale, for one layer and direction. Needs plotly (installed with gate-explorer)."""
        import numpy as np

        from explorer import plots
        steps = np.arange(self.h_norm.shape[-1])
        gap = lambda v: np.where(v > 0, v, np.nan)          # a zero gradient is a gap, not log(0)
        curves = {"‖dJ/dh_t‖": (steps, gap(self.h_norm[layer, direction].double().cpu().numpy()))}
        if self.c_norm is not None:
            curves["‖dJ/dc_t‖"] = (steps, gap(self.c_norm[layer, direction].double().cpu().numpy()))
        return plots.log_curves(curves, f"{kinds.label(self.kind)}: {title}", "gradient norm")

    def step_ratio(self) -> Tensor:
        """Pascanu et al. (2013): ‖dJ/dh_t‖ / ‖dJ/dh_{t+1}‖, (L, D, T-1). Below 1: vanishing backwards
        (for the reverse direction, 'backwards' runs forward in input order)."""
        n = self.h_norm
        fwd = n[:, :, :-1] / n[:, :, 1:]
        if n.shape[1] == 2:
            fwd[:, 1] = n[:, 1, 1:] / n[:, 1, :-1]
        return fwd


def last_step_sum(output: Tensor, batch_first: bool = False) -> Tensor:
    """The default objective: the sum of output at the last time step."""
    if output.dim() == 2:
        return output[-1].sum()
    return (output[:, -1] if batch_first else output[-1]).sum()


def char_objective(model, ids: Tensor, mode: str = "last") -> Callable[[Tensor], Tensor]:
    """For a CharModel reading ids (B, T): next-character cross-entropy at the last step
    ("last": predicting ids[:, T-1]'s successor is impossible, so the target of step T-2 is
    ids[:, T-1]) or averaged over all steps ("mean"). Use with gradient_flow(model.core, ...)."""
    if mode not in ("last", "mean"):
        raise InputError("the objective mode must be 'last' or 'mean'.")
    if ids.shape[1] < 2:
        raise InputError("the next-character objective needs at least 2 characters.")

    def J(output):
        logits = model.head(output[:, :-1])            # (B, T-1, V): step t predicts ids[t+1]
        tgt = ids[:, 1:].to(logits.device)
        if mode == "last":
            return F.cross_entropy(logits[:, -1], tgt[:, -1])
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1))
    return J


def last_reached(norm: Tensor) -> int:
    """The last step the objective reaches (next-character loss at the last step does not use
    the final output, so dJ/dh there is zero)."""
    nz = (norm > 0).nonzero()
    return int(nz.max()) if nz.numel() else norm.numel() - 1


def vanishing_point(norm: Tensor, threshold: float = 1e-6) -> Optional[int]:
    """Steps back from the last step the objective reaches at which ‖dJ/dh_t‖ first drops below
    threshold × its value there; None if it never does. norm (T,)."""
    last = last_reached(norm)
    ref = float(norm[last])
    if ref == 0:
        return None
    below = (norm[:last + 1] < threshold * ref).nonzero()
    return None if below.numel() == 0 else int(last - below.max())


def gradient_flow(rnn, x: Tensor, hx=None, *, objective: Optional[Callable] = None,
                  intervene=None) -> GradientFlow:
    """Total derivatives of J with respect to every h_t (and c_t), see the module docstring."""
    adopted = references.adopt(rnn)
    if adopted is not None:
        return _reference_flow(adopted, x, hx, objective, intervene)
    with onednn.keeping_forwards() as kept:        # a float32 CPU LSTM's backward reuses them
        tr = trace(rnn, x, hx, intervene=intervene)
    kind, L, D = kinds.get(tr.kind), tr.num_layers, tr.num_directions
    forwards = kept if (len(kept) == L * D and intervene is None) else [None] * (L * D)
    clamped = _clamped(intervene, tr)
    out = tr.output.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        J = objective(out) if objective is not None else last_step_sum(out, rnn.batch_first)
        if not (isinstance(J, Tensor) and J.numel() == 1):
            raise InputError("the objective must return a scalar tensor.")
        (g_out,) = torch.autograd.grad(J, out, allow_unused=True)
    if g_out is None:
        g_out = torch.zeros_like(out)
    if tr.meta["batched"] is False:
        g_out = g_out.unsqueeze(1)
    elif rnn.batch_first:
        g_out = g_out.transpose(0, 1)
    T, B = g_out.shape[:2]
    P = tr.h.shape[-1]
    h0, c0 = check_hx(rnn, hx, B, tr.meta["batched"])                   # (L*D, B, ·), as trace() read them
    h_grad = torch.empty_like(tr.h)
    c_grad = torch.empty_like(tr.c) if tr.c is not None else None
    direct = [g_out[..., d * P:(d + 1) * P] for d in range(D)]         # dJ/dh from above, input order
    x_tm, _ = time_major(rnn, x, check=False)                           # (T, B, I); trace() checked x
    with torch.no_grad():
        for l in reversed(range(L)):
            below = None
            inp = x_tm if l == 0 else torch.cat([tr.h[l - 1, d] for d in range(D)], -1)   # the layer's input
            for d in range(D):
                p = layer_params(rnn, l, d)
                fo = (lambda t: t) if d == 0 else (lambda t: t.flip(0))  # forward-ordered <-> input order
                k = l * D + d
                vals = {n: fo(v[l, d]) for n, v in tr.gates.items()}
                fixed = {n: fo(m[l, d]) for n, m in clamped.items()}
                gh, gc, da = kind.backward(p, fo(direct[d]), fo(tr.h[l, d]), fo(tr.c[l, d]) if c_grad is not None else None,
                                           vals, h0[k], c0[k] if c0 is not None else None,
                                           nonlinearity=tr.meta["nonlinearity"], fixed=fixed, x=fo(inp), forward=forwards[k])
                h_grad[l, d] = fo(gh)
                if c_grad is not None:
                    c_grad[l, d] = fo(gc)
                dx = fo(torch.matmul(da, p.w_ih))                           # dJ/d(layer input), input order
                below = dx if below is None else below + dx
            if l > 0:
                direct = [below[..., d * P:(d + 1) * P] for d in range(D)]
    norm = lambda g: g.flatten(3).norm(dim=-1) if g is not None else None
    return GradientFlow(kind.name, norm(h_grad), norm(c_grad), h_grad, c_grad, float(J.detach()), tr)


def _clamped(intervene, tr: Trace) -> dict[str, Tensor]:
    """{gate: bool mask (L, D, T, B, H)} of gate values fixed by "set" interventions: constants,
    so no gradient flows through their pre-activations. Other edits cannot be differentiated here."""
    out = {}
    L, D, T, B = tr.h.shape[:4]
    for iv in interventions(intervene, kinds.get(tr.kind)):
        if iv.mode != "set" or iv.gate not in tr.gates:
            raise InputError("gradient_flow follows only 'set' interventions on gates (e.g. f := 1); "
                             f"{iv.mode!r} on {iv.gate!r} is not supported.")
        H = tr.gates[iv.gate].shape[-1]
        m = out.setdefault(iv.gate, torch.zeros(L, D, T, B, H, dtype=torch.bool))
        sel = [select_mask(iv.layers, L, "layer"), select_mask(iv.directions, D, "direction"), select_mask(iv.steps, T, "step"),
               torch.ones(B, dtype=torch.bool), select_mask(iv.units, H, "unit")]
        grid = sel[0][:, None, None, None, None] & sel[1][None, :, None, None, None] & sel[2][None, None, :, None, None] \
            & sel[3][None, None, None, :, None] & sel[4][None, None, None, None, :]
        m |= grid
    return {k: v.to(tr.h.device) for k, v in out.items()}


def _reference_flow(a: references.Adopted, x, hx, objective, intervene) -> GradientFlow:
    """gradient_flow() of a reference package's module (references.py): through our module with its
    weights, the objective read on the module's own output (a.back of ours)."""
    tr = trace(a.source, x, hx)                                       # checks x as trace() does
    batched = x.dim() == 3
    xb = x if batched else x[None]
    J = objective if objective is not None else (lambda out: last_step_sum(out, batched))
    own = lambda out: J(a.back(out) if batched else a.back(out[None])[0])       # noqa: E731
    with torch.no_grad():
        xi = a.front(xb)
    gf = gradient_flow(a.inner, xi if batched else xi[0], a.hx(hx, xb.shape[1]), objective=own, intervene=intervene)
    gf.trace = tr
    return gf
