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

from . import onednn
from .engine import cell_scan, layer_params
from .errors import InputError
from .trace import Trace, _check_hx, time_major, trace


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
        scale, for one layer and direction. Needs plotly (pip install "gate-explorer[app]")."""
        import numpy as np

        from . import plots
        steps = np.arange(self.h_norm.shape[-1])
        gap = lambda v: np.where(v > 0, v, np.nan)          # a zero gradient is a gap, not log(0)
        curves = {"‖dJ/dh_t‖": (steps, gap(self.h_norm[layer, direction].double().cpu().numpy()))}
        if self.c_norm is not None:
            curves["‖dJ/dc_t‖"] = (steps, gap(self.c_norm[layer, direction].double().cpu().numpy()))
        return plots.log_curves(curves, f"{self.kind.upper()}: {title}", "gradient norm")

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


def gradient_flow(rnn, x: Tensor, hx=None, *, objective: Optional[Callable] = None,
                  intervene=None) -> GradientFlow:
    """Total derivatives of J with respect to every h_t (and c_t), see the module docstring."""
    with onednn.keeping_forwards() as kept:        # a float32 CPU LSTM's backward reuses them
        tr = trace(rnn, x, hx, intervene=intervene)
    kind, L, D = tr.kind, tr.num_layers, tr.num_directions
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
    h0, c0 = _check_hx(rnn, kind, hx, B, tr.meta["batched"])             # (L*D, B, ·), as trace() read them
    h_grad = torch.empty_like(tr.h)
    c_grad = torch.empty_like(tr.c) if kind == "lstm" else None
    direct = [g_out[..., d * P:(d + 1) * P] for d in range(D)]         # dJ/dh from above, input order
    x_tm, _ = time_major(rnn, x, check=False)                           # (T, B, I); trace() checked x
    with torch.no_grad():
        for l in reversed(range(L)):
            below = None
            inp = None                                                  # the layer's input, for the LSTM kernel
            if kind == "lstm":
                inp = x_tm if l == 0 else torch.cat([tr.h[l - 1, d] for d in range(D)], -1)
            for d in range(D):
                p = layer_params(rnn, l, d)
                fo = (lambda t: t) if d == 0 else (lambda t: t.flip(0))  # forward-ordered <-> input order
                k = l * D + d
                vals = {n: fo(v[l, d]) for n, v in tr.gates.items()}
                fixed = {n: fo(m[l, d]) for n, m in clamped.items()}
                gh, gc, da = _bptt(kind, p, fo(direct[d]), fo(tr.h[l, d]), fo(tr.c[l, d]) if kind == "lstm" else None,
                                   vals, h0[k], c0[k] if c0 is not None else None, tr.meta["nonlinearity"], fixed,
                                   x=None if inp is None else fo(inp), forward=forwards[k])
                h_grad[l, d] = fo(gh)
                if kind == "lstm":
                    c_grad[l, d] = fo(gc)
                dx = fo(torch.matmul(da, p.w_ih))                           # dJ/d(layer input), input order
                below = dx if below is None else below + dx
            if l > 0:
                direct = [below[..., d * P:(d + 1) * P] for d in range(D)]
    norm = lambda g: g.flatten(3).norm(dim=-1) if g is not None else None
    return GradientFlow(kind, norm(h_grad), norm(c_grad), h_grad, c_grad, float(J.detach()), tr)


def _clamped(intervene, tr: Trace) -> dict[str, Tensor]:
    """{gate: bool mask (L, D, T, B, H)} of gate values fixed by "set" interventions: constants,
    so no gradient flows through their pre-activations. Other edits cannot be differentiated here."""
    from .trace import _interventions, _select
    out = {}
    L, D, T, B = tr.h.shape[:4]
    for iv in _interventions(intervene, tr.kind):
        if iv.mode != "set" or iv.gate not in tr.gates:
            raise InputError("gradient_flow follows only 'set' interventions on gates (e.g. f := 1); "
                             f"{iv.mode!r} on {iv.gate!r} is not supported.")
        H = tr.gates[iv.gate].shape[-1]
        m = out.setdefault(iv.gate, torch.zeros(L, D, T, B, H, dtype=torch.bool))
        sel = [_select(iv.layers, L, "layer"), _select(iv.directions, D, "direction"), _select(iv.steps, T, "step"),
               torch.ones(B, dtype=torch.bool), _select(iv.units, H, "unit")]
        grid = sel[0][:, None, None, None, None] & sel[1][None, :, None, None, None] & sel[2][None, None, :, None, None] \
            & sel[3][None, None, None, :, None] & sel[4][None, None, None, None, :]
        m |= grid
    return {k: v.to(tr.h.device) for k, v in out.items()}


def _bptt(kind, p, direct, h, c, gates, h0, c0, nonlin, fixed=None, x=None, forward=None):
    """Backward through one layer, forward-ordered tensors (T, B, ·). direct: dJ/dh_t from above.
    fixed: {gate: mask} of clamped gate values (their derivative factor is zero). x: the layer's
    input (T, B, I), which lets a float32 CPU LSTM take its dJ/dh_t from the kernel's own backward
    (forward: the kernel's forward call for this layer, if trace() kept it).
    Returns (dJ/dh_t total, dJ/dc_t total or None, dJ/d pre-activations (T, B, G·H))."""
    fixed = fixed or {}
    free = lambda name, K: K.masked_fill(fixed[name], 0.0) if name in fixed else K
    T, B, P = h.shape
    h_prev = torch.cat([h0[None], h[:-1]])
    W = p.w_hh                                                # (G·H, P)
    if kind == "lstm":
        i, f, g, o = gates["i"], gates["f"], gates["g"], gates["o"]
        H = i.shape[-1]
        c_prev = torch.cat([c0[None], c[:-1]])
        tc = torch.tanh(c)
        A = o * (1 - tc * tc)                                 # d h_t / d c_t (before projection)
        K3 = torch.stack([free("i", g * i * (1 - i)), free("f", c_prev * f * (1 - f)), free("g", i * (1 - g * g))], 2)
        Ko = free("o", tc * o * (1 - o))
        if x is not None and not fixed:
            r = _lstm_from_kernel(p, x, h0, c0, direct, gates, c, A, K3, Ko, f, forward)
            if r is not None:
                return r
        da = torch.empty(T, B, 4, H, dtype=h.dtype, device=h.device)
        gh, gc = torch.empty_like(h), torch.empty_like(c)
        # Every per-step view made once (unbind), results written in place (out=): the loop is
        # five ops a step and nothing else.
        GH, GC, GC1, DIR = gh.unbind(0), gc.unbind(0), gc.unsqueeze(2).unbind(0), direct.unbind(0)
        DA2, DA3, DAo = da.view(T, B, 4 * H).unbind(0), da[:, :, :3].unbind(0), da[:, :, 3].unbind(0)
        A_, F_, K3_, Ko_ = A.unbind(0), f.unbind(0), K3.unbind(0), Ko.unbind(0)
        GH[T - 1].copy_(DIR[T - 1])
        w_hr = p.w_hr
        for t in range(T - 1, -1, -1):
            if t < T - 1:
                torch.addmm(DIR[t], DA2[t + 1], W, out=GH[t])
            gm = GH[t] if w_hr is None else GH[t] @ w_hr
            dc = torch.mul(gm, A_[t], out=GC[t])
            if t < T - 1:
                dc.addcmul_(GC[t + 1], F_[t + 1])
            torch.mul(GC1[t], K3_[t], out=DA3[t])
            torch.mul(gm, Ko_[t], out=DAo[t])
        return gh, gc, da.view(T, B, 4 * H)
    if kind == "gru":
        r, z, n = gates["r"], gates["z"], gates["n"]
        H = r.shape[-1]
        hn = F.linear(h_prev, W[2 * H:], p.b_hh[2 * H:] if p.b_hh is not None else None)   # W_hn h + b_hn
        Kz = free("z", (h_prev - n) * z * (1 - z))
        Kn = free("n", (1 - z) * (1 - n * n))
        Kr = free("r", hn * r * (1 - r))
        da = torch.empty(T, B, 3, H, dtype=h.dtype, device=h.device)   # d pre-act of r, z, n (input side)
        dh_rec = torch.empty(T, B, 3, H, dtype=h.dtype, device=h.device)  # what multiplies W_hh
        gh = torch.empty_like(h)
        for t in range(T - 1, -1, -1):
            gt = direct[t].clone() if t == T - 1 else torch.addmm(direct[t], dh_rec[t + 1].view(B, -1), W)
            if t < T - 1:
                gt.addcmul_(gh[t + 1], z[t + 1])
            gh[t] = gt
            dn = gt * Kn[t]
            torch.mul(dn, Kr[t], out=da[t, :, 0])
            torch.mul(gt, Kz[t], out=da[t, :, 1])
            da[t, :, 2] = dn
            dh_rec[t, :, :2] = da[t, :, :2]
            torch.mul(dn, r[t], out=dh_rec[t, :, 2])
        return gh, None, da.view(T, B, 3 * H)
    d_act = (1 - h * h) if nonlin == "tanh" else (h > 0).to(h.dtype)
    da = torch.empty_like(h)
    gh = torch.empty_like(h)
    for t in range(T - 1, -1, -1):
        if t == T - 1:
            gh[t] = direct[t]
        else:
            torch.addmm(direct[t], da[t + 1], W, out=gh[t])
        torch.mul(gh[t], d_act[t], out=da[t])
    return gh, None, da


def _lstm_from_kernel(p, x, h0, c0, direct, gates, c, A, K3, Ko, f, forward=None):
    """The LSTM branch of _bptt without a loop over steps: dJ/dh_t from the oneDNN kernel's backward
    (onednn.lstm_backward), then dJ/dc_t by a reverse scan (dc_t = dh_t A_t + f_{t+1} dc_{t+1}) and
    the pre-activation gradients all at once. Checked at sampled steps against the recurrence
    dh_t = direct_t + da_{t+1} W_hh; None (the loop runs instead) where anything does not hold."""
    stacked = torch.stack([gates[k] for k in ("i", "f", "g", "o")], 2)
    gh = onednn.lstm_backward(p, x, h0, c0, direct, stacked, c, forward)
    if gh is None:
        return None
    T, B, H = gh.shape
    f_next = torch.cat([f[1:], f.new_zeros(1, B, H)])                  # f_{t+1}; nothing after the last step
    gc = cell_scan((gh * A).flip(0), f_next.flip(0), gh.new_ones(()), torch.zeros_like(gh[0])).flip(0)
    da = torch.cat([gc.unsqueeze(2) * K3, (gh * Ko).unsqueeze(2)], 2).view(T, B, 4 * H)
    if T > 1:
        at, _ = onednn.sample_steps(T - 1, 16)                         # steps t < T-1
        want = torch.baddbmm(direct[at], da[at + 1], p.w_hh.expand(len(at), *p.w_hh.shape))
        if not (gh[at] - want).abs().max() <= 1e-4 * (want.abs().max() + 1e-30):
            return None
    return gh, gc, da
