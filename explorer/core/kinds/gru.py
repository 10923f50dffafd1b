"""The GRU (Cho et al. 2014) as nn.GRU computes it: gates r, z, n stacked in that order, the reset
gate applied after the recurrent matrix product, z weighting the old state (cells.py has both forms)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import _VF, Tensor, nn

from .. import cells
from ..params import LayerParams, LayerTrace
from .base import Kind, free, num, pnum

# PyTorch's CPU GRU is a C++ loop of ATen ops (no oneDNN kernel). From 8 sequences on, redoing
# that loop op for op while keeping r, z, n costs less than the stock forward plus the gate GEMM
# (T=500, B=32, H=256, 2 cores: 1.25x vs 1.6x the stock forward; at B=1, 1.55x vs 1.15x).
LOOP_BATCH = 8


class GRU(Kind):
    name, label, module = "gru", "GRU", nn.GRU
    gates = cells.GRU_GATES
    blocks = 3
    textbook_form = True
    keep_gate = "z"                     # PyTorch's z weights the OLD state: z near 1 keeps memory
    reading = ("Each band of the figure below is one gate: a row per unit, a column per character. r and z run from 0 "
               "(dark) to 1 (yellow); n and h from −1 (blue) to 1 (red). In PyTorch h' = (1 − z)·n + z·h: z near 1 "
               "keeps the old state.")

    def kernel(self, nonlinearity):
        return _VF.gru

    def fast_route(self, p, x, h0, c0):
        if x.device.type != "cpu" or x.shape[1] < LOOP_BATCH:
            return None
        out, h_n, stacked = aten_loop(p, x, h0)
        return LayerTrace(out, None, dict(zip(self.gates, stacked.unbind(2))), h_n, None, stacked)

    def gates_from_h(self, p, x, h0, out):
        h_prev = torch.cat([h0[None], out[:-1]], 0)
        return cells.gru_gates(F.linear(x, p.w_ih, p.b_ih), F.linear(h_prev, p.w_hh, p.b_hh))

    def step(self, x, h, c, p, *, nonlinearity="tanh", edit=None, convention="pytorch"):
        h_new, g = cells.gru_cell(x, h, p.w_ih, p.w_hh, p.b_ih, p.b_hh, convention=convention, edit=edit)
        return h_new, None, g

    def preactivations(self, x, h, p):
        return cells.preactivations("gru", x, h, p.w_ih, p.w_hh, p.b_ih, p.b_hh)

    def equations(self, s, u, *, nonlinearity="tanh"):
        tp, pre = s.prev, s.pre
        r, z, n = (float(s.gates[k][u]) for k in "rzn")
        return (r"\begin{aligned}"
                f"r_t &= \\sigma(W_{{ir}}x_t + b_{{ir}} + W_{{hr}}h_{{{tp}}} + b_{{hr}}) = \\sigma({num(pre['r'][u])}) = {num(r)}" + r"\\"
                f"z_t &= \\sigma(W_{{iz}}x_t + b_{{iz}} + W_{{hz}}h_{{{tp}}} + b_{{hz}}) = \\sigma({num(pre['z'][u])}) = {num(z)}" + r"\\"
                f"n_t &= \\tanh(W_{{in}}x_t + b_{{in}} + r_t\\,(W_{{hn}}h_{{{tp}}} + b_{{hn}})) = "
                f"\\tanh({num(pre['n_x'][u])} + {num(r)}\\cdot {pnum(pre['n_h'][u])}) = {num(n)}" + r"\\"
                f"h_t &= (1-z_t)\\,n_t + z_t\\,h_{{{tp}}} = (1-{num(z)})\\cdot {pnum(n)} + {num(z)}\\cdot {pnum(s.h_prev[u])} "
                f"= {num(s.h[u])}"
                r"\end{aligned}")

    def textbook_equations(self, s, u, hc, gc) -> str:
        """LaTeX of Cho et al.'s form for unit u with the same weights: hc (H,), gc {gate: (H,)} from
        step(..., convention="cho")."""
        tp = s.prev
        return (r"\text{textbook: } n_t = \tanh(W_{in}x_t + b_{in} + W_{hn}(r_t \odot h_{" + tp + r"}) + b_{hn}) = "
                + num(gc['n'][u]) + r",\quad h_t = (1-z_t)\,h_{" + tp + r"} + z_t\,n_t = "
                + f"(1-{num(gc['z'][u])})\\cdot {pnum(s.h_prev[u])} + {num(gc['z'][u])}\\cdot {pnum(gc['n'][u])} = "
                + num(hc[u]))

    def backward(self, p, direct, h, c, gates, h0, c0, *, nonlinearity="tanh", fixed=None, x=None, forward=None):
        zero_where = free(fixed)
        T, B, P = h.shape
        W = p.w_hh                                            # (3H, H)
        r, z, n = gates["r"], gates["z"], gates["n"]
        H = r.shape[-1]
        h_prev = torch.cat([h0[None], h[:-1]])
        hn = F.linear(h_prev, W[2 * H:], p.b_hh[2 * H:] if p.b_hh is not None else None)   # W_hn h + b_hn
        Kz = zero_where("z", (h_prev - n) * z * (1 - z))
        Kn = zero_where("n", (1 - z) * (1 - n * n))
        Kr = zero_where("r", hn * r * (1 - r))
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


def aten_loop(p: LayerParams, x: Tensor, h0: Tensor):
    """ATen's GRUCell (aten/src/ATen/native/RNN.cpp) op for op, in the same order, so h equals the
    stock module's (bit for bit at H=33, 128, 256 in our checks; within a float rounding at tiny
    H, where the vector paths split differently); r, z, n are written straight into the result.
    The equations are cells.gru_cell's; tests check both against the reference.
    x (T, B, I) -> out (T, B, H), h_n (B, H), gates (T, B, 3, H) stacked r, z, n."""
    T, B = x.shape[:2]
    H = p.w_hh.shape[1]
    gi = F.linear(x, p.w_ih, p.b_ih).view(T, B, 3, H)   # all steps' input terms at once, as ATen does
    out, gates = x.new_empty(T, B, H), x.new_empty(T, B, 3, H)
    w_hh_t = p.w_hh.t()
    # Per-step views made once (unbind), results written in place (out=): the loop is the
    # twelve ops ATen's cell does and nothing else.
    I_r, I_z, I_n = (gi[:, :, j].unbind(0) for j in range(3))
    R, Z, N = (gates[:, :, j].unbind(0) for j in range(3))
    OUT = out.unbind(0)
    h = h0
    for t in range(T):
        gh = torch.addmm(p.b_hh, h, w_hh_t) if p.b_hh is not None else torch.mm(h, w_hh_t)
        h_r, h_z, h_n = gh.unsafe_chunk(3, 1)
        r = torch.add(h_r, I_r[t], out=R[t]).sigmoid_()
        z = torch.add(h_z, I_z[t], out=Z[t]).sigmoid_()
        n = torch.add(I_n[t], h_n.mul_(r), out=N[t]).tanh_()
        h = torch.sub(h, n, out=OUT[t]).mul_(z).add_(n)
    return out, h.clone(), gates
