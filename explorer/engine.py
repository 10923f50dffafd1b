"""One recurrent layer, one direction, all steps: the tracer's inner engine.

Three routes, all exact (tests hold each to the independent reference), fastest first:
- a float32 CPU LSTM reads its gates and cell states out of the oneDNN kernel's own workspace
  (onednn.py), checked against the kernel's h and c_n;
- a CPU GRU with 8 or more sequences redoes ATen's GRU loop op for op, keeping r, z, n;
- otherwise PyTorch's own fused kernel produces h for every step, every gate pre-activation is
  recomputed for all steps with one matrix multiply (h_{t-1} is known for all t at once) and the
  LSTM cell state is rebuilt with a cheap elementwise scan, with the functions in cells.py that
  the step inspector uses.

Where an intervention changes a gate, no kernel can produce h any more; from the first edited
step on we step through cells.py instead (the prefix stays on the fast route).

Everything here is time-major and "forward-ordered": the reverse direction is handled by
reversing each sequence within its own length before calling in (see reverse_padded).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import _VF, Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from . import cells, onednn
from .params import LayerParams, cell_scan, layer_params  # noqa: F401  (re-exported: engine's public names)


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


def _stock(kind: str, p: LayerParams, x: Tensor, h0: Tensor, c0: Optional[Tensor],
           lengths: Optional[Tensor], nonlinearity: str):
    """Run the fused kernel on one layer: returns out (T, B, H_out), h_n (B, H_out), c_n (B, H) or None.
    With lengths it runs on a PackedSequence exactly as the module would; out is zero-padded."""
    fn = {"lstm": _VF.lstm, "gru": _VF.gru, "rnn": _VF.rnn_tanh if nonlinearity == "tanh" else _VF.rnn_relu}[kind]
    has_bias = p.b_ih is not None
    hx = (h0[None], c0[None]) if kind == "lstm" else h0[None]
    if lengths is None:
        res = fn(x, hx, p.flat(), has_bias, 1, 0.0, False, False, False)
        out, states = res[0], res[1:]
    else:
        packed = pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)
        perm = packed.sorted_indices
        hx = tuple(s.index_select(1, perm) for s in hx) if kind == "lstm" else hx.index_select(1, perm)
        res = fn(packed.data, packed.batch_sizes, hx, p.flat(), has_bias, 1, 0.0, False, False)
        out = pad_packed_sequence(PackedSequence(res[0], packed.batch_sizes, perm, packed.unsorted_indices),
                                  total_length=x.shape[0])[0]
        states = tuple(s.index_select(1, packed.unsorted_indices) for s in res[1:])
    return out, states[0][0], (states[1][0] if kind == "lstm" else None)


# PyTorch's CPU GRU is a C++ loop of ATen ops (no oneDNN kernel). From 8 sequences on, redoing
# that loop op for op while keeping r, z, n costs less than the stock forward plus the gate GEMM
# (T=500, B=32, H=256, 2 cores: 1.25x vs 1.6x the stock forward; at B=1, 1.55x vs 1.15x).
GRU_LOOP_BATCH = 8


def _gru_loop(p: LayerParams, x: Tensor, h0: Tensor):
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


def gates_from_h(kind: str, p: LayerParams, x: Tensor, h0: Tensor, out: Tensor) -> dict[str, Tensor]:
    """All gates for all steps at once, given every h the layer produced.

    x (T, B, I), h0 (B, H_out), out (T, B, H_out) -> {name: (T, B, H)}. h_{t-1} is out[t-1]
    (h0 at t=0), so the recurrent term is one GEMM over all steps instead of T small ones.
    """
    if kind == "rnn":
        return {}
    T, B = x.shape[:2]
    x2 = x.reshape(T * B, -1)
    if kind == "lstm":
        # One buffer, GEMMs accumulating into it, activations in place: the buffer is
        # T*B*4H floats, so every extra pass over it (or a fresh copy) costs like a GEMM.
        pre = torch.mm(x2, p.w_ih.t()) if p.b_ih is None else torch.addmm(p.b_ih + p.b_hh, x2, p.w_ih.t())
        pre = pre.view(T, B, -1)
        pre[0].addmm_(h0, p.w_hh.t())
        if T > 1:
            pre[1:].view((T - 1) * B, -1).addmm_(out[:-1].reshape((T - 1) * B, -1), p.w_hh.t())
        return cells.lstm_gates(pre, inplace=True)
    h_prev = torch.cat([h0[None], out[:-1]], 0)
    return cells.gru_gates(F.linear(x, p.w_ih, p.b_ih), F.linear(h_prev, p.w_hh, p.b_hh))


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
        """All gates as one (T, B, G, H) tensor in cells.GATES order (a view when possible)."""
        if self.stacked is not None:
            return self.stacked
        return torch.stack(list(self.gates.values()), 2)


def run_layer(kind: str, p: LayerParams, x: Tensor, h0: Tensor, c0: Optional[Tensor],
              lengths: Optional[Tensor] = None, nonlinearity: str = "tanh",
              edit: Optional[Callable[[int], cells.Edit]] = None, t0: int = 0) -> LayerTrace:
    """Trace one layer over x (T, B, I), forward-ordered.

    edit(t) returns the cells.py edit for step t (or None); t0 is the first step it may edit.
    """
    fused = onednn.lstm_forward(p, x, h0, c0) if (kind == "lstm" and lengths is None) else None
    stacked = None
    if fused is not None:
        out, h_n, c_n, stacked, c = fused                  # already checked by onednn against the kernel
        gates = dict(zip(cells.LSTM_GATES, stacked.unbind(2)))
    if kind == "gru" and lengths is None and x.device.type == "cpu" and x.shape[1] >= GRU_LOOP_BATCH:
        out, h_n, stacked = _gru_loop(p, x, h0)
        gates = dict(zip(cells.GRU_GATES, stacked.unbind(2)))
        c_n = c = None
    elif fused is None:
        out, h_n, c_n = _stock(kind, p, x, h0, c0, lengths, nonlinearity)
        gates = gates_from_h(kind, p, x, h0, out)
        c = cell_scan(gates["i"], gates["f"], gates["g"], c0) if kind == "lstm" else None
    if edit is not None and t0 < x.shape[0]:
        return _step_from(kind, p, x, out, c, gates, h0, c0, lengths, nonlinearity, edit, t0)
    return LayerTrace(out, c, gates, h_n, c_n, stacked)


def _step_from(kind, p, x, out, c, gates, h0, c0, lengths, nonlinearity, edit, t0) -> LayerTrace:
    """Re-run steps t0.. through cells.py with edits; steps before t0 keep the fast results."""
    T, B = x.shape[:2]
    h_all, c_all = out.clone(), (c.clone() if c is not None else None)
    gates = {k: v.clone() for k, v in gates.items()}
    h = h0 if t0 == 0 else out[t0 - 1]
    cc = (c0 if t0 == 0 else c[t0 - 1]) if kind == "lstm" else None
    valid = None if lengths is None else (torch.arange(T)[:, None] < lengths[None, :].cpu()).to(x.device)
    for t in range(t0, T):
        e = edit(t)
        if kind == "lstm":
            h_new, c_new, g = cells.lstm_cell(x[t], h, cc, p.w_ih, p.w_hh, p.b_ih, p.b_hh, p.w_hr, edit=e)
        elif kind == "gru":
            h_new, g = cells.gru_cell(x[t], h, p.w_ih, p.w_hh, p.b_ih, p.b_hh, edit=e)
        else:
            h_new, g = cells.rnn_cell(x[t], h, p.w_ih, p.w_hh, p.b_ih, p.b_hh, nonlinearity, edit=e)
        if valid is not None:               # padded steps leave the state where it was
            m = valid[t][:, None]
            h_new = torch.where(m, h_new, h)
            if kind == "lstm":
                c_new = torch.where(m, c_new, cc)
        h_all[t] = h_new
        for k, v in g.items():
            gates[k][t] = v
        h = h_new
        if kind == "lstm":
            c_all[t], cc = c_new, c_new
    return LayerTrace(h_all, c_all, gates, h, cc)
