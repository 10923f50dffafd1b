"""Reading PyTorch's CPU LSTM kernel (oneDNN) from the inside.

In training mode the kernel keeps, in a workspace it returns, every step's activated gates and
every cell state but the last; after its backward call the same workspace holds, for every step,
the gradient that reaches h_t from the next step. Reading them costs no extra GEMM, no scan and
no Python loop over steps, which is what lets trace() and gradient_flow() cost little more than
the stock forward and backward.

The workspace layout is oneDNN's, not a public API: every region is found from what we already
know (its first values, computed from quantities we read before), and every result is checked
against the kernel's official outputs at sampled steps. Anything that does not match makes the
caller fall back to the plain routes (a gate GEMM and a scan; a BPTT loop), which are exact too.
"""
from __future__ import annotations

import functools
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor

from .params import LayerParams, cell_scan

# oneDNN's training-mode kernel costs about what its inference kernel does as long as each call's
# workspace stays small (about 15 KB per step and sequence at H=256): larger ones are fresh memory
# on every call, and page faults on it made a (T=500, B=32) call 1.8x the inference kernel (2
# cores). Calls of at most ROWS steps x sequences measured 0.94-1.03x at (500, 32), (2000, 1) and
# (4096, 1); so a layer goes through the kernel in time chunks of ROWS // B steps, state carried.
ROWS = 1024
MAX_BACKWARD_ROWS = 32768                 # the backward runs on one call over the whole layer
LSTM_MODE = 2                             # oneDNN's RNN modes: 0 RNN_RELU, 1 RNN_TANH, 2 LSTM, 3 GRU
PAGE = 1024                               # oneDNN aligns each workspace region to 4096 bytes


def applies(p: LayerParams, x: Tensor) -> bool:
    """Float32 CPU LSTM with biases and no projections: what the kernel reading below handles."""
    return (x.device.type == "cpu" and x.dtype == torch.float32 and p.w_hr is None and p.b_ih is not None
            and torch.backends.mkldnn.is_available())


def lstm_forward(p: LayerParams, x: Tensor, h0: Tensor, c0: Tensor):
    """PyTorch's CPU LSTM (oneDNN) keeps every step's activated gates, and every cell state but
    the last, in its training-mode workspace. Reading them costs no GEMM and no scan.

    x (T, B, I) -> (out (T, B, H), h_n, c_n, gates (T, B, 4, H) in i, f, g, o order, c (T, B, H)),
    checked against the kernel's own h and c_n (consistent()); None where the route does not apply,
    the kernel fails or the check does not hold (the caller then takes the plain route)."""
    r = _forward(p, x, h0, c0)
    if r is None:
        return None
    out, h_n, c_n, gates, c = r
    if c is None:                             # the cell states were not found: one cheap scan
        c = cell_scan(*gates.unbind(2)[:3], c0)
    # The workspace layout is the kernel's, not a public API: check what was read against what the
    # kernel returned (c_t = f c_{t-1} + i g, h_t = o tanh(c_t), c_n) before anyone uses it.
    if not consistent(out, c_n, gates, c, c0):
        return None
    return out, h_n, c_n, gates, c


def _forward(p: LayerParams, x: Tensor, h0: Tensor, c0: Tensor):
    T, B = x.shape[:2]
    if not applies(p, x):
        return None
    step = max(1, ROWS // B)
    if T <= step:
        r = _call(p, x, h0, c0)
        if r is None:
            return None
        out, h_n, c_n, gates, c = r           # copies, so the workspace can go
        return (out, h_n, c_n, gates.clone(memory_format=torch.contiguous_format),
                None if c is None else torch.cat([c, c_n[None]]))
    token = _KEEP.set(None)                   # not kept: the backward wants one call over the layer
    try:
        return _chunked(p, x, h0, c0, step)
    finally:
        _KEEP.reset(token)


def _chunked(p: LayerParams, x: Tensor, h0: Tensor, c0: Tensor, step: int):
    """lstm_forward in time chunks of `step` steps, the state carried from one to the next; each
    chunk's results are copied out at once, so its workspace can go."""
    T, B = x.shape[:2]
    H = p.w_hh.shape[1]
    out, c, gates = x.new_empty(T, B, H), x.new_empty(T, B, H), x.new_empty(T, B, 4, H)
    h, cc = h0, c0
    found_c = True
    for s in range(0, T, step):
        e = min(s + step, T)
        r = _call(p, x[s:e], h, cc)
        if r is None:
            return None
        out[s:e], h, cc, gates[s:e] = r[:4]
        c[e - 1] = cc
        if e - s > 1:                         # a one-step chunk's only cell state is its c_n
            if r[4] is None:
                found_c = False
            else:
                c[s:e - 1] = r[4]
    return out, h, cc, gates, (c if found_c else None)


@dataclass
class Forward:
    """One training-mode forward call, kept for a backward call on it: inputs as passed, outputs,
    and the workspace (uint8, as the kernel returned it)."""
    x: Tensor
    h0: Tensor
    c0: Tensor
    out: Tensor
    h_n: Tensor
    c_n: Tensor
    ws: Tensor


# While gradient_flow traces, the forward calls are kept here (a list) so that its backward need
# not run them again. A context variable: each thread (each app session) sees only its own.
_KEEP: ContextVar[Optional[list]] = ContextVar("gate_explorer_kept_forwards", default=None)


@contextmanager
def keeping_forwards():
    """with keeping_forwards() as kept: trace(...)  -> kept lists every single-call forward made."""
    kept: list[Forward] = []
    token = _KEEP.set(kept)
    try:
        yield kept
    finally:
        _KEEP.reset(token)


def _good_ld(n: int) -> int:
    """oneDNN's "good leading dimension" for rows of n floats: rounded up to 16 floats (64 bytes),
    plus 16 more when that is a multiple of 256 (to avoid cache-set aliasing)."""
    ld = -(-n // 16) * 16
    return ld + 16 if ld % 256 == 0 else ld


def _kernel(p: LayerParams, x: Tensor, h0: Tensor, c0: Tensor):
    """One training-mode forward call: out, h_n, c_n and the workspace as float32, or None.
    The kernel reads its inputs as if contiguous, whatever their strides: callers pass copies."""
    H = p.w_hh.shape[1]
    try:
        with torch.enable_grad():              # the kernel only fills its workspace when grad mode is on
            out, h_n, c_n, ws = torch.ops.aten.mkldnn_rnn_layer(
                x, p.w_ih, p.w_hh, p.b_ih, p.b_hh, h0, c0, reverse=False, batch_sizes=[], mode=LSTM_MODE,
                hidden_size=H, num_layers=1, has_biases=True, bidirectional=False, batch_first=False, train=True)
    except (RuntimeError, AttributeError):
        return None
    if ws is None or ws.dtype != torch.uint8 or ws.numel() % 4:
        return None
    return out.detach(), h_n.detach(), c_n.detach(), ws


def _call(p: LayerParams, x: Tensor, h0: Tensor, c0: Tensor):
    """One forward call. Returns out, h_n, c_n, gates (T, B, 4, H) and c for steps 0..T-2
    (T-1, B, H) or None, the last two as views into the workspace; or None on failure."""
    T, B = x.shape[:2]
    H = p.w_hh.shape[1]
    x, h0, c0 = x.contiguous(), h0.contiguous(), c0.contiguous()
    r = _kernel(p, x, h0, c0)
    if r is None:
        return None
    out, h_n, c_n, ws = r
    # The workspace opens with the gates: (T, B) rows of 4H values in i, f, g, o order, each row
    # padded to a good leading dimension.
    ld = _good_ld(4 * H)
    n = T * B * ld
    if ws.numel() < 4 * n:
        return None
    wsf = ws.view(torch.float32)
    gates = wsf[:n].view(T, B, ld)[:, :, :4 * H].view(T, B, 4, H)
    kept = _KEEP.get()
    if kept is not None:                      # gradient_flow will run the backward on this forward
        kept.append(Forward(x, h0, c0, out, h_n, c_n, ws))
    return out, h_n, c_n, gates, _cells(wsf, gates, c0, -(-n // PAGE) * PAGE, (T, B, H, x.shape[2]))


_PAGES: dict[tuple, int] = {}             # (what, T, B, H, I) -> the page where a search found it


def _find_page(ws: Tensor, first: Tensor, start: int, offset: int, span: int, key: tuple) -> Optional[int]:
    """The one page p >= start whose ws[p*PAGE + offset:][:len(first)] matches `first` (to 1e-4
    of its largest value, on its first 16 values), with `span` floats after it inside ws; None if
    no page or several do, or the probe is all zeros (every zero page would match it). The page
    found is remembered per key and tried first next time."""
    pages = (ws.numel() - start - offset - span) // PAGE + 1
    if pages <= 0:
        return None
    probe = first[:16]
    tol = 1e-4 * probe.abs().max()             # relative: gradients can be tiny
    if not tol > 0:                           # all zero: any zero page would match, remembered or not
        return None
    page = _PAGES.get(key)
    if page is not None and page < pages:     # the page this shape had last time, if it still matches
        at = start + page * PAGE + offset
        if bool(((ws[at:at + probe.numel()] - probe).abs() <= tol).all()):
            return start // PAGE + page
    rows = ws.as_strided((pages, probe.numel()), (PAGE, 1), start + offset)
    hit = ((rows - probe).abs() <= tol).all(1).nonzero()
    if hit.numel() != 1:
        return None
    page = _PAGES[key] = int(hit)
    if len(_PAGES) > 512:
        _PAGES.clear()
    return start // PAGE + page


def _cells(ws: Tensor, gates: Tensor, c0: Tensor, start: int, key: tuple) -> Optional[Tensor]:
    """The cell states c_0..c_{T-2} in the workspace: a (layer, step, B, H) block with layer 1's
    c_t at step t+1, on a page boundary somewhere after the gates (after the h regions, whose
    sizes depend on oneDNN's version). We look for c_0 = f_0 c0 + i_0 g_0, computed from the gates
    we read; None where it cannot be found unambiguously (the scan rebuilds c instead)."""
    T, B, _, H = gates.shape
    k = B * H
    if T < 2:
        return None
    offset = (T + 2) * k                      # layer 1, step 1 (step 0 holds c0)
    first = torch.addcmul(gates[0, :, 1] * c0, gates[0, :, 0], gates[0, :, 2]).flatten()
    page = _find_page(ws, first, start, offset, (T - 1) * k, ("c",) + key)
    if page is None:
        return None
    at = page * PAGE + offset
    return ws[at:at + (T - 1) * k].view(T - 1, B, H)


def lstm_backward(p: LayerParams, x: Tensor, h0: Tensor, c0: Tensor, direct: Tensor,
                  gates: Tensor, c: Tensor, forward: Optional[Forward] = None) -> Optional[Tensor]:
    """dJ/dh_t in total (through every later step) for every step of one layer, from the kernel's
    own backward: after it runs, the workspace holds what reaches each h_t from step t+1, for
    steps 0..T-2, at step t+1 of a (layer, step, B, ld) block whose rows have a good leading
    dimension for max(I, H) floats.

    x (T, B, I) forward-ordered layer input; direct (T, B, H) dJ/dh_t from above (the output
    gradient); gates (T, B, 4, H) and c (T, B, H) from the forward; forward: the kernel call that
    traced this layer (see keeping_forwards), used when its inputs are these, else the forward
    runs again. Returns gh (T, B, H), or None where the route does not apply or the rows cannot be
    found. The caller checks gh against the BPTT recurrence at sampled steps."""
    T, B, I = x.shape
    H = p.w_hh.shape[1]
    if not applies(p, x) or T * B > MAX_BACKWARD_ROWS:
        return None
    direct = direct.contiguous()
    live = direct.abs().amax(2) > 0                                   # (T, B): steps the objective reaches
    steps = live.any(1).nonzero()
    if steps.numel() == 0 or int(steps[-1]) == 0:
        return direct                       # nothing reaches any step from a later one
    if (forward is not None and forward.x.shape == x.shape and torch.equal(forward.x, x)
            and torch.equal(forward.h0, h0) and torch.equal(forward.c0, c0)):
        x, h0, c0, out, h_n, c_n, ws = (forward.x, forward.h0, forward.c0, forward.out, forward.h_n,
                                        forward.c_n, forward.ws)
    else:
        x, h0, c0 = x.contiguous(), h0.contiguous(), c0.contiguous()
        r = _kernel(p, x, h0, c0)
        if r is None:
            return None
        out, h_n, c_n, ws = r
    zero = h0.new_zeros(B, H)
    try:
        torch.ops.aten.mkldnn_rnn_layer_backward(
            x, p.w_ih, p.w_hh, p.b_ih, p.b_hh, h0, c0, out, h_n, c_n, grad_output=direct, grad_hy=zero, grad_cy=zero,
            reverse=False, mode=LSTM_MODE, hidden_size=H, num_layers=1, has_biases=True, train=True,
            bidirectional=False, batch_sizes=[], batch_first=False, workspace=ws)
    except (RuntimeError, AttributeError):
        return None
    ws = ws.view(torch.float32)
    # The rows hold what reaches h_t from step t+1, da_{t+1} W_hh (da: the pre-activation
    # gradients); dJ/dh_t is that plus direct_t. The row to look for comes from one BPTT step by
    # hand at the last step s with any direct gradient (for every later step, and into s from
    # them, everything is zero): dJ/dh_s = direct_s, then da_s W_hh, the row for step s-1. Taking
    # s = T-1 would fail wherever the objective does not reach the last step (the reverse
    # direction of a top layer under a last-step objective): its row is all zeros.
    s = int(steps[-1])
    b = int(live[s].nonzero()[0])
    i, f, g, o = gates[s].unbind(1)
    gh = direct[s]
    tc = torch.tanh(c[s])
    gc = gh * o * (1 - tc * tc)
    da = torch.cat([gc * g * i * (1 - i), gc * c[s - 1] * f * (1 - f), gc * i * (1 - g * g), gh * tc * o * (1 - o)], 1)
    first = torch.mm(da[b:b + 1], p.w_hh)[0]
    ld = _good_ld(max(I, H))
    k = B * ld
    page = _find_page(ws, first, 0, s * k + b * ld, (T + 1 - s) * k - b * ld, ("dh", T, B, H, I))
    if page is None:
        return None
    at = page * PAGE + k
    rows = ws[at:at + (T - 1) * k].view(T - 1, B, ld)[:, :, :H]
    return torch.cat([rows + direct[:-1], direct[-1:]])    # nothing reaches the last step from later


@functools.lru_cache(maxsize=64)
def sample_steps(T: int, samples: int) -> tuple[Tensor, Tensor]:
    """`samples` steps spread over 0..T-1 (both ends included) and the step before each."""
    ts = sorted({round(k * (T - 1) / max(samples - 1, 1)) for k in range(samples)})
    return torch.tensor(ts), torch.tensor([max(t - 1, 0) for t in ts])


def consistent(out: Tensor, c_n: Tensor, gates: Tensor, c: Tensor, c0: Tensor, samples: int = 16) -> bool:
    """Do gates (T, B, 4, H) and c (T, B, H) read from the workspace reproduce the kernel's own h
    and c_n? Checked at `samples` steps spread over the sequence, first and last included: a
    misread layout is wrong at every step (or grows wrong with t), so this catches it at a small
    fraction of a full pass. (Few ops on purpose: at T=200, H=128 each op costs about as much as
    one step of the kernel.)"""
    at, before = sample_steps(out.shape[0], samples)
    i, f, g, o = gates.index_select(0, at).unbind(2)
    prev = c.index_select(0, before)
    prev[0] = c0                              # ts[0] is step 0, whose c_{t-1} is c0
    cs = c.index_select(0, at)
    inf = float("inf")
    err = max(torch.dist(torch.addcmul(i * g, f, prev), cs, inf), torch.dist(o * torch.tanh(cs), out.index_select(0, at), inf),
              torch.dist(c[-1], c_n, inf))
    return bool(err <= 1e-5)
