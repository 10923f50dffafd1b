"""What the 2024 cells (minGRU, minLSTM, sLSTM) share as kinds: no fused PyTorch kernel, so each runs its
own scan (modern.py) that keeps every gate as it goes, and its backward through time is autograd through
that same scan with a zero probe added to every h_t (and c_t): the probes' gradients are the total
derivatives dJ/dh_t, dJ/dc_t that gradient_flow reports, exactly as the probe definition says."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from .. import modern
from ..params import LayerParams, LayerTrace
from .base import Kind


class Scanned(Kind):
    """A kind whose module is ours (core/modules.py) and whose trace is its own scan."""
    own_scan = True
    num_heads_option = False

    def make(self, input_size, hidden_size, *, nonlinearity="tanh", proj_size=0, num_heads=None, **kw):
        if proj_size:
            raise ValueError(f"a {self.label} has no proj_size")
        own = {"num_heads": num_heads} if (self.num_heads_option and num_heads) else {}
        return self.module(input_size, hidden_size, **own, **kw)

    def settings(self, rnn):
        return {"num_heads": rnn.num_heads} if self.num_heads_option else {}

    def pre(self, p: LayerParams, x: Tensor) -> Tensor:
        """W x + b for every step: (T, B, G·H)."""
        return F.linear(x, p.w_ih, p.b_ih)

    def scan(self, p: LayerParams, x: Tensor, h0: Tensor, c0: Optional[Tensor],
             lengths: Optional[Tensor] = None) -> LayerTrace:
        """Every gate and state of one layer over x (T, B, I), forward-ordered; padded steps (beyond
        lengths) keep the state, as a PackedSequence would."""
        raise NotImplementedError

    def differentiable(self, p: LayerParams, pre: Tensor, h0: Tensor, c0: Optional[Tensor], ph: Tensor,
                       pc: Optional[Tensor], fixed: dict) -> Tensor:
        """h (T, B, H) from pre with the probes ph (and pc) added to every h_t (c_t); gates in `fixed`
        are constants (no derivative through them)."""
        raise NotImplementedError

    def backward(self, p, direct, h, c, gates, h0, c0, *, nonlinearity="tanh", fixed=None, x=None, forward=None):
        with torch.enable_grad():
            pre = self.pre(p, x).detach().requires_grad_(True)
            ph = torch.zeros_like(h, requires_grad=True)
            pc = torch.zeros_like(h, requires_grad=True) if self.has_c else None
            hs = self.differentiable(p, pre, h0, c0, ph, pc, fixed or {})
            wrt = [ph, pre] + ([pc] if pc is not None else [])
            grads = torch.autograd.grad((hs * direct).sum(), wrt, allow_unused=True)
        grads = [g if g is not None else torch.zeros_like(w) for g, w in zip(grads, wrt)]
        return grads[0], (grads[2] if pc is not None else None), grads[1]


def held(fixed: dict, name: str, v: Tensor) -> Tensor:
    """v with no derivative where fixed[name] says the gate was clamped."""
    return torch.where(fixed[name], v.detach(), v) if name in fixed else v


def valid_steps(lengths: Optional[Tensor], T: int, device) -> Optional[Tensor]:
    """(T, B) bool: the steps within each sequence's length; None without lengths."""
    if lengths is None:
        return None
    return (torch.arange(T)[:, None] < lengths[None, :].cpu()).to(device)


class Minimal(Scanned):
    """minGRU and minLSTM: gates from x_t alone, h_t = a_t h_{t-1} + b_t by a parallel scan."""
    keep_gate = None
    gates_see_past = False

    def gate_values(self, pre: Tensor, edit=None) -> dict[str, Tensor]:
        return (modern.mingru_gates if self.name == "mingru" else modern.minlstm_gates)(pre, edit)

    def scan(self, p, x, h0, c0, lengths=None):
        gates = self.gate_values(self.pre(p, x))
        a, b = modern.coefficients(self.name, gates)
        valid = valid_steps(lengths, x.shape[0], x.device)
        if valid is not None:                       # a padded step: h_t = 1·h_{t-1} + 0
            a, b = torch.where(valid[..., None], a, 1.0), torch.where(valid[..., None], b, 0.0)
        h = modern.linear_scan(a, b, h0)
        return LayerTrace(h, None, gates, h[-1], None)

    def step(self, x, h, c, p, *, nonlinearity="tanh", edit=None):
        h_new, g = modern.minimal_step(self.name, F.linear(x, p.w_ih, p.b_ih), h, edit)
        return h_new, None, g

    def preactivations(self, x, h, p):
        return dict(zip(self.gates, F.linear(x, p.w_ih, p.b_ih).chunk(len(self.gates), -1)))

    def differentiable(self, p, pre, h0, c0, ph, pc, fixed):
        gates = {k: held(fixed, k, v) for k, v in self.gate_values(pre).items()}
        a, b = modern.coefficients(self.name, gates)
        return modern.linear_scan(a, b + ph, h0)       # h_t + p_t feeds h_{t+1}: p enters as b_t
