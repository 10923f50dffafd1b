"""minLSTM (Feng et al. 2024): the LSTM with gates that read x_t alone, f and i normalised to sum to 1,
and no output gate or cell state apart from h: h_t = f'_t h_{t-1} + i'_t n_t, a linear recurrence
computed by a parallel scan. Gates f (forget, normalised), i (input, normalised), n (candidate g(h̃))."""
from __future__ import annotations

from .. import modern
from ..modules import MinLSTM
from .base import num, pnum
from .scanned import Minimal


class MINLSTM(Minimal):
    name, label, module = "minlstm", "minLSTM", MinLSTM
    gates = modern.MINLSTM_GATES
    blocks = 3
    keep_gate, write_gate = "f", "i"
    reading = ("Each band is one gate: a row per unit, a column per character. minLSTM's gates read only the "
               "current character, never h: f and i are normalised so f + i = 1 (0 dark to 1 yellow), n is the "
               "candidate (g(·) > 0). h' = f·h + i·n.")

    def equations(self, s, u, *, nonlinearity="tanh"):
        tp, pre = s.prev, s.pre
        f, i, n = (float(s.gates[k][u]) for k in "fin")
        return (r"\begin{aligned}"
                f"f_t &= \\frac{{\\sigma(W_f x_t + b_f)}}{{\\sigma(W_f x_t + b_f) + \\sigma(W_i x_t + b_i)}} = "
                f"\\frac{{\\sigma({num(pre['f'][u])})}}{{\\sigma({num(pre['f'][u])}) + \\sigma({num(pre['i'][u])})}} = {num(f)}"
                + r"\\"
                f"i_t &= 1 - f_t = {num(i)}" + r"\\"
                f"n_t &= g(W_{{n}}x_t + b_{{n}}) = g({num(pre['n'][u])}) = {num(n)}" + r"\\"
                f"h_t &= f_t\\,h_{{{tp}}} + i_t\\,n_t = {num(f)}\\cdot {pnum(s.h_prev[u])} + {num(i)}\\cdot {pnum(n)} "
                f"= {num(s.h[u])}"
                r"\end{aligned}")
