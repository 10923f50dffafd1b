"""minGRU (Feng et al. 2024, "Were RNNs All We Needed?"): the GRU with its gates cut off from h_{t-1}.
z_t and the candidate n_t read x_t alone, so h_t = (1 − z_t) h_{t-1} + z_t n_t is a linear recurrence
computed by a parallel scan. Gates z (update), n (candidate g(h̃)); no reset gate, no recurrent weights."""
from __future__ import annotations

from .. import modern
from ..modules import MinGRU
from .base import num, pnum
from .scanned import Minimal


class MINGRU(Minimal):
    name, label, module = "mingru", "minGRU", MinGRU
    gates = modern.MINGRU_GATES
    blocks = 2
    # no keep_gate: z weights the NEW state here (the paper's form), so z near 0 keeps memory, the
    # opposite of nn.GRU's z; a "start the keeping gate open" init would start it forgetting.
    reading = ("Each band is one gate: a row per unit, a column per character. minGRU's gates read only the "
               "current character, never h: z (update, 0 dark to 1 yellow) and the candidate n (g(·) > 0). "
               "h' = (1 − z)·h + z·n: z near 0 keeps the old state.")

    def equations(self, s, u, *, nonlinearity="tanh"):
        tp, pre = s.prev, s.pre
        z, n = float(s.gates["z"][u]), float(s.gates["n"][u])
        return (r"\begin{aligned}"
                f"z_t &= \\sigma(W_{{z}}x_t + b_{{z}}) = \\sigma({num(pre['z'][u])}) = {num(z)}" + r"\\"
                f"n_t &= g(W_{{n}}x_t + b_{{n}}) = g({num(pre['n'][u])}) = {num(n)}" + r"\\"
                f"h_t &= (1-z_t)\\,h_{{{tp}}} + z_t\\,n_t = (1-{num(z)})\\cdot {pnum(s.h_prev[u])} + {num(z)}\\cdot {pnum(n)} "
                f"= {num(s.h[u])}"
                r"\end{aligned}")
