"""The LSTM (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000), as nn.LSTM
computes it: gates i, f, g, o stacked in that order, a cell state c, optional projection (proj_size)."""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch import _VF, Tensor, nn

from .. import cells, onednn
from ..params import LayerParams, LayerTrace, cell_scan
from .base import Kind, free, num, pnum


class LSTM(Kind):
    name, label, module = "lstm", "LSTM", nn.LSTM
    gates = cells.LSTM_GATES
    has_c, blocks = True, 4
    options = ("proj_size",)
    keep_gate, write_gate = "f", "i"
    reading = ("Each band of the figure below is one gate: a row per unit, a column per character. Sigmoid gates "
               "(i, f, o) run from 0 (closed, dark) to 1 (open, yellow); g, h run from −1 (blue) to 1 (red); c is the "
               "cell state, the long-term memory. c' = f·c + i·g, h' = o·tanh(c').")

    def kernel(self, nonlinearity):
        return _VF.lstm

    def kernel_state(self, h0, c0):
        return (h0[None], c0[None])

    def fast_route(self, p, x, h0, c0):
        # The oneDNN kernel's workspace holds every step's gates and cell states (onednn.py).
        r = onednn.lstm_forward(p, x, h0, c0)
        if r is None:
            return None
        out, h_n, c_n, stacked, c = r                       # already checked against the kernel
        return LayerTrace(out, c, dict(zip(self.gates, stacked.unbind(2))), h_n, c_n, stacked)

    def gates_from_h(self, p, x, h0, out):
        T, B = x.shape[:2]
        x2 = x.reshape(T * B, -1)
        # One buffer, GEMMs accumulating into it, activations in place: the buffer is
        # T*B*4H floats, so every extra pass over it (or a fresh copy) costs like a GEMM.
        pre = torch.mm(x2, p.w_ih.t()) if p.b_ih is None else torch.addmm(p.b_ih + p.b_hh, x2, p.w_ih.t())
        pre = pre.view(T, B, -1)
        pre[0].addmm_(h0, p.w_hh.t())
        if T > 1:
            pre[1:].view((T - 1) * B, -1).addmm_(out[:-1].reshape((T - 1) * B, -1), p.w_hh.t())
        return cells.lstm_gates(pre, inplace=True)

    def cell_states(self, gates, c0):
        return cell_scan(gates["i"], gates["f"], gates["g"], c0)

    def step(self, x, h, c, p, *, nonlinearity="tanh", edit=None):
        return cells.lstm_cell(x, h, c, p.w_ih, p.w_hh, p.b_ih, p.b_hh, p.w_hr, edit=edit)

    def preactivations(self, x, h, p):
        return cells.preactivations("lstm", x, h, p.w_ih, p.w_hh, p.b_ih, p.b_hh)

    def equations(self, s, u, *, nonlinearity="tanh"):
        tp, pre, g = s.prev, s.pre, s.gates
        out = r"\begin{aligned}"
        for n, fn in (("i", r"\sigma"), ("f", r"\sigma"), ("g", r"\tanh"), ("o", r"\sigma")):
            out += (f"{n}_t &= {fn}(W_{{i{n}}}x_t + b_{{i{n}}} + W_{{h{n}}}h_{{{tp}}} + b_{{h{n}}}) = {fn}({num(pre[n][u])}) "
                    f"= {num(g[n][u])}" + r"\\")
        gi, gf, gg, go = (float(g[n][u]) for n in "ifgo")
        out += (f"c_t &= f_t\\,c_{{{tp}}} + i_t\\,g_t = {num(gf)}\\cdot {pnum(s.c_prev[u])} + {num(gi)}\\cdot {pnum(gg)} "
                f"= {num(s.c[u])}" + r"\\")
        if s.projected:
            out += (r"m_t &= o_t \tanh(c_t) = " + f"{num(go)}\\cdot\\tanh({num(s.c[u])}) = {num(go * np.tanh(float(s.c[u])))}"
                    + r"\\ h_t &= W_{hr} m_t \;\text{(projection: mixes all units)}")
        else:
            out += f"h_t &= o_t \\tanh(c_t) = {num(go)}\\cdot\\tanh({num(s.c[u])}) = {num(s.h[u])}"
        return out + r"\end{aligned}"

    def backward(self, p, direct, h, c, gates, h0, c0, *, nonlinearity="tanh", fixed=None, x=None, forward=None):
        zero_where = free(fixed)
        T, B, P = h.shape
        i, f, g, o = gates["i"], gates["f"], gates["g"], gates["o"]
        H = i.shape[-1]
        c_prev = torch.cat([c0[None], c[:-1]])
        tc = torch.tanh(c)
        A = o * (1 - tc * tc)                                 # d h_t / d c_t (before projection)
        K3 = torch.stack([zero_where("i", g * i * (1 - i)), zero_where("f", c_prev * f * (1 - f)),
                          zero_where("g", i * (1 - g * g))], 2)
        Ko = zero_where("o", tc * o * (1 - o))
        if x is not None and not fixed:
            r = _from_kernel(p, x, h0, c0, direct, gates, c, A, K3, Ko, f, forward)
            if r is not None:
                return r
        W = p.w_hh                                            # (4H, P)
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


def _from_kernel(p: LayerParams, x: Tensor, h0: Tensor, c0: Tensor, direct: Tensor, gates: dict, c: Tensor,
                 A: Tensor, K3: Tensor, Ko: Tensor, f: Tensor, forward=None) -> Optional[tuple]:
    """LSTM.backward without a loop over steps: dJ/dh_t from the oneDNN kernel's backward
    (onednn.lstm_backward), then dJ/dc_t by a reverse scan (dc_t = dh_t A_t + f_{t+1} dc_{t+1}) and
    the pre-activation gradients all at once. Checked at sampled steps against the recurrence
    dh_t = direct_t + da_{t+1} W_hh; None (the loop runs instead) where anything does not hold."""
    stacked = torch.stack([gates[k] for k in cells.LSTM_GATES], 2)
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
