"""Our minGRU, minLSTM and sLSTM modules, with nn.GRU's arguments and names (modern.py has the equations).

    rnn = explorer.MinGRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False)
    output, h_n = rnn(x, hx=None)          # x (T, B, I), (B, T, I) with batch_first, or (T, I)
    rnn = explorer.SLSTM(input_size, hidden_size, num_heads=4, ...)
    output, (h_n, c_n, n_n, m_n) = rnn(x, hx=None)   # an sLSTM carries c, n and m too, like nn.LSTM's c

Weights, per layer k, named as nn.GRU names them so every reader and the tracer find them:
    weight_ih_l{k}  (G·H, I)     G = 2 (z, n) minGRU, 3 (f, i, n) minLSTM, 4 (i, f, z, o) sLSTM
    bias_ih_l{k}    (G·H,)
    weight_hh_l{k}  sLSTM only: (num_heads, 4·d, d), d = H / num_heads: one block per head, the layout
                    of the xlstm package's vanilla sLSTMCell `_recurrent_kernel_`
    bias_hh_l{k}    sLSTM only: (4·H,)
minGRU and minLSTM have no recurrent weights at all: that is the point of them. Their forward is a
parallel scan (modern.linear_scan); the sLSTM's steps. No bidirectional variant, no proj_size.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from explorer.errors import InputError

from . import modern


class _Gated(nn.Module):
    """What the three share: sizes, weights per layer, layouts, dropout between layers."""
    kind = ""
    blocks = 1
    recurrent = False
    bidirectional = False
    proj_size = 0
    mode = ""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, num_heads: int = 1):
        super().__init__()
        if bidirectional:
            raise InputError(f"{type(self).__name__} has no bidirectional form; use bidirectional=False.")
        if hidden_size < 1 or input_size < 1 or num_layers < 1:
            raise InputError("input_size, hidden_size and num_layers must be at least 1.")
        if hidden_size % num_heads:
            raise InputError(f"hidden_size {hidden_size} must be a multiple of num_heads {num_heads}.")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout, self.num_heads = bias, batch_first, float(dropout), num_heads
        self.mode = self.kind
        G, H, d = self.blocks, hidden_size, hidden_size // num_heads
        for k in range(num_layers):
            self.register_parameter(f"weight_ih_l{k}", nn.Parameter(torch.empty(G * H, input_size if k == 0 else H)))
            self.register_parameter(f"bias_ih_l{k}", nn.Parameter(torch.empty(G * H)) if bias else None)
            if self.recurrent:
                self.register_parameter(f"weight_hh_l{k}", nn.Parameter(torch.empty(num_heads, G * d, d)))
                self.register_parameter(f"bias_hh_l{k}", nn.Parameter(torch.empty(G * H)) if bias else None)
        self.reset_parameters()

    def reset_parameters(self):
        """U(−1/√H, 1/√H) for every weight and bias, as nn.GRU does."""
        s = 1.0 / math.sqrt(self.hidden_size)
        for w in self.parameters():
            nn.init.uniform_(w, -s, s)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.num_heads != 1:
            s += f", num_heads={self.num_heads}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        return s

    def forward(self, x: Tensor, hx=None):
        batched = x.dim() == 3
        xs = x if batched else x.unsqueeze(1 if not self.batch_first else 0)
        if self.batch_first:
            xs = xs.transpose(0, 1)                                   # (T, B, I)
        T, B = xs.shape[:2]
        h0, s0 = self._initial(hx, B, batched, xs)
        hn, sn = [], []
        for k in range(self.num_layers):
            if k > 0 and self.training and self.dropout > 0:
                xs = F.dropout(xs, self.dropout, True)
            pre = F.linear(xs, getattr(self, f"weight_ih_l{k}"), getattr(self, f"bias_ih_l{k}"))
            xs, s_last = self._layer(k, pre, h0[k], s0[k] if s0 is not None else None)
            hn.append(xs[-1])
            sn.append(s_last)
        out = xs.transpose(0, 1) if self.batch_first else xs
        h_n = torch.stack(hn)
        if not batched:
            out, h_n = out.squeeze(0 if self.batch_first else 1), h_n[:, 0]
        return out, self._final(h_n, sn, batched)

    def _initial(self, hx, B, batched, like):
        zeros = lambda n: like.new_zeros(self.num_layers, B, n)
        if hx is None:
            return zeros(self.hidden_size), None
        h0 = hx if batched else hx.unsqueeze(1)
        if h0.shape != (self.num_layers, B, self.hidden_size):
            raise InputError(f"h_0 must have shape {(self.num_layers, B, self.hidden_size)}, got {tuple(h0.shape)}.")
        return h0, None

    def _final(self, h_n, states, batched):
        return h_n

    def _layer(self, k, pre, h0, s0):
        gates = (modern.mingru_gates if self.kind == "mingru" else modern.minlstm_gates)(pre)
        a, b = modern.coefficients(self.kind, gates)
        return modern.linear_scan(a, b, h0), None


class MinGRU(_Gated):
    """minGRU (Feng et al. 2024): h_t = (1 − z_t) h_{t-1} + z_t g(W_n x_t + b_n), z_t = σ(W_z x_t + b_z)."""
    kind, blocks = "mingru", 2


class MinLSTM(_Gated):
    """minLSTM (Feng et al. 2024): h_t = f'_t h_{t-1} + i'_t g(W_n x_t + b_n), f' + i' = 1."""
    kind, blocks = "minlstm", 3


class SLSTM(_Gated):
    """sLSTM (Beck et al. 2024) with num_heads heads: hx and the returned state are (h, c, n, m), each
    (num_layers, B, H); hx may also be h_0 alone (c, n, m start at zero)."""
    kind, blocks, recurrent = "slstm", 4, True

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, num_heads: int = 4):
        if not isinstance(num_heads, int) or num_heads < 1:
            raise InputError(f"num_heads must be a whole number ≥ 1, not {str(num_heads)[:20]!r}.")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, num_heads)

    def _initial(self, hx, B, batched, like):
        if hx is None or isinstance(hx, Tensor):
            return super()._initial(hx, B, batched, like)[0], None
        if not (isinstance(hx, (tuple, list)) and len(hx) == 4):
            raise InputError("an sLSTM's hx is h_0 or a tuple (h_0, c_0, n_0, m_0).")
        parts = [t if batched else t.unsqueeze(1) for t in hx]
        return parts[0], torch.cat(parts[1:], -1)

    def _final(self, h_n, states, batched):
        s = torch.stack(states)                                       # (L, B, 3H)
        c, n, m = (v if batched else v[:, 0] for v in s.chunk(3, -1))
        return h_n, c, n, m

    def _layer(self, k, pre, h0, s0):
        if s0 is None:
            s0 = h0.new_zeros(h0.shape[0], 3 * self.hidden_size)
        h, s, _ = modern.slstm_scan(pre, h0, s0, getattr(self, f"weight_hh_l{k}"), getattr(self, f"bias_hh_l{k}"), keep=False)
        return h, s[-1]


MODULES = {m.kind: m for m in (MinGRU, MinLSTM, SLSTM)}
