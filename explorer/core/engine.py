"""One recurrent layer, one direction, all steps: the tracer's inner engine.

Two routes, both exact (tests hold each to the independent reference):
- the kind's own fast route where it has one (kinds/): a float32 CPU LSTM reads its gates and cell
  states out of the oneDNN kernel's workspace (onednn.py), checked against the kernel's h and c_n;
  a CPU GRU with 8 or more sequences redoes ATen's GRU loop op for op, keeping r, z, n;
- otherwise PyTorch's own fused kernel produces h for every step, and the kind recovers every
  gate for all steps with one matrix multiply (h_{t-1} is known for all t at once), the LSTM's
  cell state with a cheap elementwise scan.

Where an intervention changes a gate, no kernel can produce h any more; from the first edited
step on we step through cells.py instead (the prefix stays on the fast route).

Everything here is time-major and "forward-ordered": the reverse direction is handled by
reversing each sequence within its own length before calling in (see reverse_padded).
"""
from __future__ import annotations

import warnings
from typing import Callable, Optional

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from . import cells
from .kinds import Kind
from .params import LayerParams, LayerTrace, layer_params  # noqa: F401  (re-exported: engine's public names)

# cuDNN wants a module's weights in one flat buffer and warns when they are not; stock() below hands
# it one layer's weights at a time, which it copies per call (a small copy next to the kernel).
# Silenced for calls from this file only (PyTorch reports the warning at the Python caller's line).
warnings.filterwarnings("ignore", message="RNN module weights are not part of single contiguous chunk",
                        category=UserWarning, module=r".*explorer[./\\]engine$")


def reverse_padded(x: Tensor, lengths: Optional[Tensor]) -> Tensor:
    """Reverse each sequence of x (T, B, ...) within its own length; padding stays at the end.
    Its own inverse. Turns the reverse direction into a forward scan over a padded batch."""
    if lengths is None:
        return x.flip(0)
    T, B = x.shape[:2]
    t = torch.arange(T, device=x.device)[:, None]
    L = lengths.to(x.device)[None, :]
    idx = torch.where(t < L, L - 1 - t, t)                      # (T, B)
    idx = idx.reshape(T, B, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(0, idx)


def stock(kind: Kind, p: LayerParams, x: Tensor, h0: Tensor, c0: Optional[Tensor], *,
          lengths: Optional[Tensor] = None, nonlinearity: str = "tanh"):
    """Run the fused kernel on one layer: returns out (T, B, H_out), h_n (B, H_out), c_n (B, H) or None.
    With lengths it runs on a PackedSequence exactly as the module would; out is zero-padded."""
    fn = kind.kernel(nonlinearity)
    # One layer, one direction, inference: the flags torch/nn/modules/rnn.py passes, by name.
    flags = dict(has_biases=p.b_ih is not None, num_layers=1, dropout=0.0, train=False, bidirectional=False)
    hx = kind.kernel_state(h0, c0)
    if lengths is None:
        res = fn(x, hx, p.flat(), **flags, batch_first=False)         # x is time-major here
        out, states = res[0], res[1:]
    else:
        packed = pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)
        perm = packed.sorted_indices
        hx = tuple(s.index_select(1, perm) for s in hx) if isinstance(hx, tuple) else hx.index_select(1, perm)
        res = fn(packed.data, packed.batch_sizes, hx, p.flat(), **flags)
        out = pad_packed_sequence(PackedSequence(res[0], packed.batch_sizes, perm, packed.unsorted_indices),
                                  total_length=x.shape[0])[0]
        states = tuple(s.index_select(1, packed.unsorted_indices) for s in res[1:])
    return out, states[0][0], (states[1][0] if len(states) > 1 else None)


def run_layer(kind: Kind, p: LayerParams, x: Tensor, h0: Tensor, c0: Optional[Tensor], *,
              lengths: Optional[Tensor] = None, nonlinearity: str = "tanh",
              edit: Optional[Callable[[int], cells.Edit]] = None, t0: int = 0) -> LayerTrace:
    """Trace one layer over x (T, B, I), forward-ordered.

    edit(t) returns the cells.py edit for step t (or None); t0 is the first step it may edit.
    """
    if kind.own_scan:                       # the 2024 cells: no PyTorch kernel, their own scan keeps every gate
        lt = kind.scan(p, x, h0, c0, lengths)
    else:
        lt = kind.fast_route(p, x, h0, c0) if lengths is None else None
    if lt is None:
        out, h_n, c_n = stock(kind, p, x, h0, c0, lengths=lengths, nonlinearity=nonlinearity)
        gates = kind.gates_from_h(p, x, h0, out)
        lt = LayerTrace(out, kind.cell_states(gates, c0), gates, h_n, c_n)
    if edit is not None and t0 < x.shape[0]:
        return step_from(kind, p, x, lt, h0=h0, c0=c0, lengths=lengths, nonlinearity=nonlinearity, edit=edit, t0=t0)
    return lt


def step_from(kind: Kind, p: LayerParams, x: Tensor, fast: LayerTrace, *, h0: Tensor, c0: Optional[Tensor],
              lengths: Optional[Tensor], nonlinearity: str, edit: Callable[[int], cells.Edit], t0: int) -> LayerTrace:
    """Re-run steps t0.. through the kind's step (cells.py) with edits; steps before t0 keep the
    fast route's results `fast`."""
    T = x.shape[0]
    h_all = fast.h.clone()
    c_all = fast.c.clone() if fast.c is not None else None
    gates = {k: v.clone() for k, v in fast.gates.items()}
    h = h0 if t0 == 0 else fast.h[t0 - 1]
    c = (c0 if t0 == 0 else fast.c[t0 - 1]) if c_all is not None else None
    valid = None if lengths is None else (torch.arange(T)[:, None] < lengths[None, :].cpu()).to(x.device)
    for t in range(t0, T):
        h_new, c_new, g = kind.step(x[t], h, c, p, nonlinearity=nonlinearity, edit=edit(t))
        if valid is not None:               # padded steps leave the state where it was
            m = valid[t][:, None]
            h_new = torch.where(m, h_new, h)
            c_new = torch.where(m, c_new, c) if c is not None else None
        h_all[t] = h_new
        for k, v in g.items():
            gates[k][t] = v
        h = h_new
        if c_all is not None:
            c_all[t], c = c_new, c_new
    return LayerTrace(h_all, c_all, gates, h, c)
