"""The reference implementations' modules, traced as ours: minGRU-pytorch's `minGRU` / `minLSTM` and the
xlstm package's `sLSTMLayer` / `sLSTMCell` (its "vanilla" backend). Neither package is imported here:
a module is recognised by its class name and the parameters it holds, which is all we read.

    a = adopt(module)        # None for anything else
    a.inner                  # our MinGRU / MinLSTM / SLSTM with the module's weights (batch_first=True)
    a.front(x)               # the module's input (B, T, I) -> what a.inner reads
    a.back(out)              # a.inner's output (B, T, H) -> the module's own output
    a.hx(state)              # the module's initial state -> a.inner's hx

minGRU-pytorch stacks (hidden, gate) where ours stacks (z, n), and (hidden, f, i) where ours stacks
(f, i, n); it has no biases and an optional `to_out`. xlstm's sLSTMLayer computes i from its `fgate`
projection and f from its `igate` one (layer.py: `i, f, z, o = self.fgate(x_conv), self.igate(x_conv), …`),
feeds i and f a causal convolution of x, and normalises the cell's output per head (`group_norm`);
its cell keeps R as (heads, 4·d, d) and the bias gate-major, the layouts our SLSTM uses.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch
from torch import Tensor, nn

from explorer.errors import InputError

from .modern import g
from .modules import SLSTM, MinGRU, MinLSTM


@dataclass
class Adopted:
    source: nn.Module
    inner: nn.Module
    front: Callable[[Tensor], Tensor]
    back: Callable[[Tensor], Tensor]
    hx: Callable                 # (the module's initial state or None, T) -> a.inner's hx
    input_size: int              # what the module reads per step


    def as_core(self) -> nn.Module:
        """The module as connectivity() runs a core: x (B, T, I) -> (output (B, T, F), h_n), differentiable,
        with the attributes it reads (input_size, batch_first …). The sLSTMCell's (B, heads, T, d) output
        is given as (B, T, H): the same numbers."""
        return _Core(self)


class _Core(nn.Module):
    batch_first, bidirectional, proj_size, num_layers = True, False, 0, 1

    def __init__(self, a: Adopted):
        super().__init__()
        self.a = a
        self.inner = a.inner
        self.input_size = a.input_size
        with torch.no_grad():
            w = a.inner.weight_ih_l0
            self.hidden_size = self(w.new_zeros(1, 1, a.input_size))[0].shape[-1]
        self.weight_ih_l0 = a.inner.weight_ih_l0

    def forward(self, x, hx=None):
        out, state = self.a.inner(self.a.front(x))
        y = self.a.back(out)
        return (y if y.dim() == 3 else out), (state[0] if isinstance(state, tuple) else state)


_same = lambda v: v                                     # noqa: E731


def _copy(dst: Tensor, src: Tensor):
    with torch.no_grad():
        dst.copy_(src)


def _min(source: nn.Module, kind: str) -> Adopted:
    lin = source.to_hidden_and_gate if kind == "mingru" else source.to_hidden_and_f_i_gate
    W = lin.weight.detach()
    G = 2 if kind == "mingru" else 3
    H, I = W.shape[0] // G, W.shape[1]
    inner = (MinGRU if kind == "mingru" else MinLSTM)(I, H, bias=False, batch_first=True).to(W.dtype).to(W.device)
    blocks = W.chunk(G, 0)                               # (hidden, gate) or (hidden, f, i)
    _copy(inner.weight_ih_l0, torch.cat([*blocks[1:], blocks[0]]))
    to_out = source.to_out

    def hx(prev, T):
        """minGRU-pytorch's prev_hidden (B, 1, H). Its minLSTM's parallel path (more than one step)
        starts from g(prev_hidden) (minLSTM.py: log_h_0 = log_g(prev_hidden)); a single step from it."""
        if prev is None:
            return None
        return (g(prev) if kind == "minlstm" and T > 1 else prev).transpose(0, 1)
    return Adopted(source, inner, _same, lambda out: to_out(out), hx, I)


def _slstm_cell(source: nn.Module) -> tuple[SLSTM, int, int]:
    R, b = source._recurrent_kernel_.detach(), source._bias_.detach()
    K, d = R.shape[0], R.shape[2]
    H = K * d
    inner = SLSTM(4 * H, H, num_heads=K, batch_first=True).to(R.dtype).to(R.device)
    inner.register_parameter("bias_ih_l0", None)          # the cell's input is W x already: no bias there
    _copy(inner.weight_ih_l0, torch.eye(4 * H, dtype=R.dtype))    # identity: exact (x·1 + sums of zeros)
    _copy(inner.weight_hh_l0, R)
    _copy(inner.bias_hh_l0, b)
    return inner, K, d


def _cell_hx(state, T=1):
    """xlstm's state (4, B, H): y, c, n, m -> our (h, c, n, m), each (1, B, H)."""
    return None if state is None else tuple(s[None] for s in state.unbind(0))


def _slstm(source: nn.Module, layer: bool) -> Adopted:
    cell = source.slstm_cell if layer else source
    if getattr(getattr(cell, "config", None), "backend", "vanilla") != "vanilla":
        raise InputError("this sLSTM uses xlstm's CUDA backend; build it with backend=\"vanilla\" to trace it "
                         "(the CUDA backend keeps its weights in another layout).")
    inner, K, d = _slstm_cell(cell)
    if not layer:                                      # the cell: input (B, T, 4H), output (B, K, T, d)
        back = lambda out: out.unflatten(-1, (K, d)).transpose(1, 2)      # noqa: E731
        return Adopted(source, inner, _same, back, _cell_hx, 4 * K * d)

    def front(x):
        conv = getattr(source, "conv1d", None)
        xc = source.conv_act_fn(conv(x)) if (conv is not None and source.config.conv1d_kernel_size > 0) else x
        return torch.cat([source.fgate(xc), source.igate(xc), source.zgate(x), source.ogate(x)], -1)

    def back(out):
        B, T = out.shape[:2]
        y = source.dropout(out.unflatten(-1, (K, d)).transpose(1, 2))
        return source.group_norm(y).transpose(1, 2).reshape(B, T, -1)

    def hx(state, T):
        if state is None:
            return None
        if isinstance(state, dict):
            if state.get("conv_state") is not None:
                raise InputError("tracing an sLSTMLayer from a conv_state is not supported; start from slstm_state only.")
            state = state.get("slstm_state")
        return _cell_hx(state)
    return Adopted(source, inner, front, back, hx, source.config.embedding_dim)


def adopt(module) -> Optional[Adopted]:
    """An Adopted for a reference module, None for anything else (a stock module, ours)."""
    name = type(module).__name__
    if not isinstance(module, nn.Module):
        return None
    if name == "minGRU" and hasattr(module, "to_hidden_and_gate"):
        return _min(module, "mingru")
    if name == "minLSTM" and hasattr(module, "to_hidden_and_f_i_gate"):
        return _min(module, "minlstm")
    if name == "sLSTMLayer" and hasattr(module, "slstm_cell"):
        return _slstm(module, layer=True)
    if name.startswith("sLSTMCell") and hasattr(module, "_recurrent_kernel_"):
        return _slstm(module, layer=False)
    return None
