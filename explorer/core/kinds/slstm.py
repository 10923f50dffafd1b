"""sLSTM (Beck et al. 2024, xLSTM): the LSTM with exponential input and forget gates, a normaliser n
that divides them back out of h, a stabiliser m that keeps the exponentials finite, and recurrent
weights block-diagonal over heads (each head's units see only their own head's h). Gates i, f
(stabilised, in [0, 1]), z (cell input, tanh) and o; states c, n, m and h. Its gates read h_{t-1},
so it steps: no parallel scan."""
from __future__ import annotations

import torch

from .. import modern
from ..modules import SLSTM
from ..params import LayerTrace
from .base import num, pnum
from .scanned import Scanned, held, valid_steps


class SLSTMKind(Scanned):
    name, label, module = "slstm", "sLSTM", SLSTM
    gates = modern.SLSTM_GATES
    has_c, blocks = True, 4
    carried = modern.SLSTM_STATES          # c, n, m travel together as one (B, 3H) state
    keep_gate, write_gate = "f", "i"
    num_heads_option = True
    options = ("num_heads",)
    reading = ("Each band is one gate or state: a row per unit, a column per character. i and f are exponential "
               "gates, stabilised into [0, 1] by m; z is the cell input (−1 to 1), o the output gate. c sums i·z, the "
               "normaliser n sums i, and h' = o·c/n: a weighted average of what was written.")

    def scan(self, p, x, h0, c0, lengths=None):
        s0 = c0 if c0 is not None else h0.new_zeros(h0.shape[0], 3 * h0.shape[1])
        h, s, g = modern.slstm_scan(self.pre(p, x), h0, s0, p.w_hh, p.b_hh, valid_steps(lengths, x.shape[0], x.device))
        return LayerTrace(h, s, dict(zip(self.gates, g.unbind(2))), h[-1], s[-1], g)

    def step(self, x, h, c, p, *, nonlinearity="tanh", edit=None):
        if c is None or c.shape[-1] != 3 * h.shape[-1]:
            raise ValueError("an sLSTM step needs its packed state (c, n, m), (B, 3H)")
        h_new, s_new, g = modern.slstm_step(self.pre(p, x), c, h, p.w_hh, p.b_hh, edit)
        return h_new, s_new, g

    def preactivations(self, x, h, p):
        raw = self.pre(p, x) + modern.head_matmul(h, p.w_hh)
        if p.b_hh is not None:
            raw = raw + p.b_hh
        return dict(zip(self.gates, raw.chunk(4, -1)))

    def equations(self, s, u, *, nonlinearity="tanh"):
        tp, pre, g = s.prev, s.pre, s.gates
        H = len(g["i"])
        c_prev, n_prev, m_prev = (s.c_prev[k * H + u] for k in range(3))
        c, n, m = (s.c[k * H + u] for k in range(3))
        line = lambda k, fn: (f"\\tilde {k}_t &= W_{{{k}}}x_t + R_{{{k}}}h_{{{tp}}} + b_{{{k}}} = {num(pre[k][u])}" + r"\\")
        return (r"\begin{aligned}"
                + line("i", "") + line("f", "")
                + f"m_t &= \\max(\\log\\sigma(\\tilde f_t) + m_{{{tp}}},\\ \\tilde i_t) = {num(m)}" + r"\\"
                + f"i_t &= e^{{\\tilde i_t - m_t}} = {num(g['i'][u])},\\quad f_t = e^{{\\log\\sigma(\\tilde f_t) + m_{{{tp}}} - m_t}} "
                f"= {num(g['f'][u])}" + r"\\"
                + f"z_t &= \\tanh(\\tilde z_t) = \\tanh({num(pre['z'][u])}) = {num(g['z'][u])},\\quad "
                f"o_t = \\sigma({num(pre['o'][u])}) = {num(g['o'][u])}" + r"\\"
                + f"c_t &= f_t\\,c_{{{tp}}} + i_t\\,z_t = {num(g['f'][u])}\\cdot {pnum(c_prev)} + {num(g['i'][u])}\\cdot "
                f"{pnum(g['z'][u])} = {num(c)}" + r"\\"
                + f"n_t &= f_t\\,n_{{{tp}}} + i_t = {num(g['f'][u])}\\cdot {pnum(n_prev)} + {num(g['i'][u])} = {num(n)}" + r"\\"
                + f"h_t &= o_t\\,c_t / n_t = {num(g['o'][u])}\\cdot {pnum(c)} / {num(n)} = {num(s.h[u])}"
                r"\end{aligned}")

    def differentiable(self, p, pre, h0, c0, ph, pc, fixed):
        s0 = c0 if c0 is not None else h0.new_zeros(h0.shape[0], 3 * h0.shape[1])
        if fixed:                                   # clamped gates: step with an edit that holds them
            h, s, out = h0, s0, []
            edit = lambda name, v: held(fixed_t, name, v)
            for t in range(pre.shape[0]):
                fixed_t = {k: m[t] for k, m in fixed.items()}
                h, s, _ = modern.slstm_step(pre[t], s, h, p.w_hh, p.b_hh, edit)
                H = h.shape[-1]
                h = h + ph[t]
                s = torch.cat([s[:, :H] + pc[t], s[:, H:]], -1)
                out.append(h)
            return torch.stack(out)
        return modern.slstm_scan(pre, h0, s0, p.w_hh, p.b_hh, probes=(ph, pc))[0]
