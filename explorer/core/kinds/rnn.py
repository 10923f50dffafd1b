"""The vanilla (Elman) RNN as nn.RNN computes it: no gates, h' = tanh or relu(W_ih x + b_ih + W_hh h + b_hh)."""
from __future__ import annotations

import torch
from torch import _VF, nn

from .. import cells
from .base import Kind, num


class RNN(Kind):
    name, label, module = "rnn", "RNN", nn.RNN
    gates = ()
    options = ("nonlinearity",)
    reading = ("A vanilla RNN has no gates: h' = tanh(W_ih x + b_ih + W_hh h + b_hh). The heatmap shows h, a row per "
               "unit, a column per step, from −1 (blue) to 1 (red).")

    def kernel(self, nonlinearity):
        return _VF.rnn_tanh if nonlinearity == "tanh" else _VF.rnn_relu

    def step(self, x, h, c, p, *, nonlinearity="tanh", edit=None):
        h_new, g = cells.rnn_cell(x, h, p.w_ih, p.w_hh, p.b_ih, p.b_hh, nonlinearity, edit=edit)
        return h_new, None, g

    def preactivations(self, x, h, p):
        return cells.preactivations("rnn", x, h, p.w_ih, p.w_hh, p.b_ih, p.b_hh)

    def equations(self, s, u, *, nonlinearity="tanh"):
        fn = r"\tanh" if nonlinearity == "tanh" else r"\mathrm{relu}"
        return f"h_t = {fn}(W_{{ih}}x_t + b_{{ih}} + W_{{hh}}h_{{{s.prev}}} + b_{{hh}}) = {fn}({num(s.pre['a'][u])}) = {num(s.h[u])}"

    def backward(self, p, direct, h, c, gates, h0, c0, *, nonlinearity="tanh", fixed=None, x=None, forward=None):
        T = h.shape[0]
        W = p.w_hh
        d_act = (1 - h * h) if nonlinearity == "tanh" else (h > 0).to(h.dtype)
        da = torch.empty_like(h)
        gh = torch.empty_like(h)
        for t in range(T - 1, -1, -1):
            if t == T - 1:
                gh[t] = direct[t]
            else:
                torch.addmm(direct[t], da[t + 1], W, out=gh[t])
            torch.mul(gh[t], d_act[t], out=da[t])
        return gh, None, da
