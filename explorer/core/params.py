"""What the engine, the kinds and the oneDNN reader share, below all three: one layer's weights
(LayerParams), one layer's results (LayerTrace) and the LSTM cell-state scan. Nothing here knows
about routes or kernels."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor


@dataclass
class LayerParams:
    """The weights of one layer and direction, named as in nn.LSTM (w_hr only with proj_size; no w_hh in
    minGRU and minLSTM; an sLSTM's w_hh is (heads, 4·d, d), one block per head)."""
    w_ih: Tensor
    w_hh: Optional[Tensor]
    b_ih: Optional[Tensor] = None
    b_hh: Optional[Tensor] = None
    w_hr: Optional[Tensor] = None

    def flat(self) -> list[Tensor]:
        """In the order torch's fused kernels expect."""
        return [w for w in (self.w_ih, self.w_hh, self.b_ih, self.b_hh, self.w_hr) if w is not None]


@dataclass
class LayerTrace:
    """Forward-ordered results for one layer and direction. h (T, B, H_out), c (T, B, H) or None."""
    h: Tensor
    c: Optional[Tensor]
    gates: dict[str, Tensor]
    h_n: Tensor
    c_n: Optional[Tensor]
    stacked: Optional[Tensor] = None     # (T, B, G, H): the gates in one tensor, when they are views of it

    def gate_block(self) -> Tensor:
        """All gates as one (T, B, G, H) tensor in the kind's gate order (a view when possible)."""
        if self.stacked is not None:
            return self.stacked
        return torch.stack(list(self.gates.values()), 2)


def layer_params(rnn: torch.nn.RNNBase, layer: int, direction: int) -> LayerParams:
    sfx = f"_l{layer}" + ("_reverse" if direction else "")
    get = lambda name: getattr(rnn, name + sfx, None)
    w_hh = get("weight_hh")                     # minGRU and minLSTM have none
    return LayerParams(get("weight_ih").detach(), w_hh.detach() if w_hh is not None else None,
                       get("bias_ih") if rnn.bias else None,
                       get("bias_hh") if rnn.bias else None, get("weight_hr") if rnn.proj_size > 0 else None)


def cell_scan(i: Tensor, f: Tensor, g: Tensor, c0: Tensor, block: int = 32) -> Tensor:
    """c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t for all t. i, f, g (T, B, H); c0 (B, H) -> (T, B, H).

    With many units per step one fused op per step, in place, is cheapest. With few (B*H
    small) the per-op dispatch dominates, so we scan blocks of `block` steps in parallel
    (Hillis-Steele: log2(block) rounds of (a, b) ∘ (a', b') = (a a', a' b + b'), products
    only, no division) and then carry the state across blocks, one op per block."""
    T, B, H = i.shape
    c = torch.mul(i, g)
    if B * H >= 4096 or T <= block:
        prev = c0
        for t in range(T):
            prev = c[t].addcmul_(f[t], prev)
        return c
    nb = -(-T // block)
    pad = nb * block - T
    a = torch.cat([f, f.new_ones(pad, B, H)]) if pad else f.clone()
    b = torch.cat([c, c.new_zeros(pad, B, H)]) if pad else c
    a, b = a.view(nb, block, B, H), b.view(nb, block, B, H)
    s = 1
    while s < block:                     # within each block: b_k = c_k given c_start = 0, a_k = ∏ f
        b = torch.cat([b[:, :s], torch.addcmul(b[:, s:], a[:, s:], b[:, :-s])], 1)
        a = torch.cat([a[:, :s], a[:, s:] * a[:, :-s]], 1)
        s *= 2
    prev = c0
    for j in range(nb):                  # carry the state from block to block
        b[j].addcmul_(a[j], prev)
        prev = b[j, -1]
    return b.view(nb * block, B, H)[:T]
