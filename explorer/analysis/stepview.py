"""One step of one layer, the equations filled in: what the app's step inspector shows.

    s = step_numbers(core, layer=0, direction=0, x=x_t, h_prev=h, c_prev=c)
    s.gates["f"][5], s.h[5]            # this step's numbers, unit 5
    s.latex(5)                         # the step's equations for unit 5, filled in (LaTeX)
    s.matches(h_traced)                # the equations reproduce the trace's h at this step

Everything is computed from the module's weights with the kind's step (cells.py), on a single
sequence: x (I,), h_prev (H_out,), c_prev (H,) or None -> vectors (H,) per gate.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from explorer.core import kinds
from explorer.core.params import layer_params


@dataclass
class StepNumbers:
    kind: str
    prev: str                              # the previous step's name in the equations: "t-1" (reverse: "t+1")
    x_norm: float                          # ‖x_t‖
    pre: dict[str, np.ndarray]             # cells.preactivations: the numbers inside the activations
    gates: dict[str, np.ndarray]           # activated gates (H,)
    h_prev: np.ndarray                     # (H_out,)
    c_prev: Optional[np.ndarray]           # (H,) or None; an sLSTM's (3H,): c, n, m packed
    h: np.ndarray                          # h_t (H_out,)
    c: Optional[np.ndarray]                # c_t (H,) or None; an sLSTM's (3H,)
    projected: bool                        # an LSTM with proj_size: h = W_hr (o tanh c)
    nonlinearity: str = "tanh"
    textbook: Optional[tuple[np.ndarray, dict[str, np.ndarray]]] = None   # GRU: Cho et al.'s (h, gates)

    def latex(self, u: int) -> str:
        """This step's equations for unit u, filled in."""
        return kinds.get(self.kind).equations(self, u, nonlinearity=self.nonlinearity)

    def textbook_latex(self, u: int) -> Optional[str]:
        """The GRU's textbook form (Cho et al. 2014) for unit u with the same weights, or None."""
        if self.textbook is None:
            return None
        return kinds.get(self.kind).textbook_equations(self, u, *self.textbook)

    def matches(self, h_traced, atol: float = 1e-5) -> bool:
        """Whether the equations reproduce the traced h_t (H_out,)."""
        return bool(np.allclose(self.h, np.asarray(h_traced), atol=atol))


def _vec(v, like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(np.asarray(v)).to(like.dtype)[None]


def step_numbers(core, layer: int, direction: int, x, h_prev, c_prev=None, *, textbook: bool = False) -> StepNumbers:
    """The step of `core` (a recurrent module) at one layer and direction that reads x (I,) after h_prev (H_out,)
    and c_prev (H,; an sLSTM's c, n, m packed, (3H,)), all array-likes (None: the zero initial state).
    textbook=True also computes the GRU's textbook form with the same weights (Cho et al. 2014;
    cells.gru_cell(convention="cho"))."""
    kind = kinds.of(core)
    p = layer_params(core, layer, direction)
    w = p.w_ih
    x = _vec(x, w)
    h = _vec(h_prev, w) if h_prev is not None else w.new_zeros(1, core.proj_size or core.hidden_size)
    c = None
    if kind.has_c:
        c = _vec(c_prev, w) if c_prev is not None else w.new_zeros(1, core.hidden_size * max(1, len(kind.carried)))
    nonlin = getattr(core, "nonlinearity", "tanh")
    arr = lambda t: t[0].detach().cpu().numpy()
    with torch.no_grad():
        pre = kind.preactivations(x, h, p)
        h_new, c_new, g = kind.step(x, h, c, p, nonlinearity=nonlin)
        extra = None
        if textbook and kind.textbook_form:
            hc, _, gc = kind.step(x, h, c, p, convention="cho")
            extra = (arr(hc), {k: arr(v) for k, v in gc.items()})
    return StepNumbers(kind.name, "t-1" if direction == 0 else "t+1", float(x.norm()),
                       {k: arr(v) for k, v in pre.items()}, {k: arr(v) for k, v in g.items()},
                       arr(h), arr(c) if c is not None else None, arr(h_new), arr(c_new) if c_new is not None else None,
                       bool(core.proj_size), nonlin, extra)
