"""The 2024 gated cells' equations: minGRU, minLSTM (Feng et al. 2024, "Were RNNs All We Needed?",
arXiv:2410.01201) and sLSTM (Beck et al. 2024, "xLSTM: Extended Long Short-Term Memory",
arXiv:2405.04517). One layer, one direction, all steps; shapes time-major: x (T, B, I), h (T, B, H).

minGRU (weights stacked z, n):
    z_t = σ(W_z x_t + b_z)                      update gate: reads x_t only, never h_{t-1}
    n_t = g(W_n x_t + b_n)                      candidate h̃_t; g(a) = a + ½ for a ≥ 0, else σ(a)
    h_t = (1 − z_t) ⊙ h_{t-1} + z_t ⊙ n_t       (the paper's log-space version, Appendix B.3)

minLSTM (weights stacked f, i, n):
    f_t, i_t = σ(W_f x_t + b_f), σ(W_i x_t + b_i)
    f'_t = f_t / (f_t + i_t),  i'_t = i_t / (f_t + i_t)       normalised: f' + i' = 1
    n_t = g(W_n x_t + b_n);   h_t = f'_t ⊙ h_{t-1} + i'_t ⊙ n_t

Because no gate reads h_{t-1}, both are h_t = a_t ⊙ h_{t-1} + b_t with a, b known for all steps
at once: a linear recurrence, computed by a parallel scan (linear_scan).

sLSTM (weights stacked i, f, z, o; the recurrent matrix block-diagonal over heads):
    ĩ, f̃, z̃, õ = W x_t + b_ih + R h_{t-1} + b_hh      R: one (4·d, d) block per head
    m_t = max(log σ(f̃) + m_{t-1}, ĩ)                   stabiliser (= ĩ on a fresh state, n = 0)
    i_t = exp(ĩ − m_t),  f_t = exp(log σ(f̃) + m_{t-1} − m_t)     both in [0, 1] after stabilising
    z_t = tanh(z̃),  o_t = σ(õ)
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ z_t,   n_t = f_t ⊙ n_{t-1} + i_t,   h_t = o_t ⊙ c_t / n_t
This is what the xlstm package's "vanilla" backend computes (blocks/slstm/src/vanilla/slstm.py).
The stabiliser changes i and f but never h: c and n are scaled alike.

Every step function takes `edit(name, value) -> value`, as cells.py's do (interventions).
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from .cells import Edit

MINGRU_GATES = ("z", "n")
MINLSTM_GATES = ("f", "i", "n")
SLSTM_GATES = ("i", "f", "z", "o")
SLSTM_STATES = ("c", "n", "m")       # what an sLSTM carries besides h, packed side by side (B, 3H)


def g(a: Tensor) -> Tensor:
    """The minimal cells' positive activation: a + ½ for a ≥ 0, σ(a) below (continuous at 0)."""
    return torch.where(a >= 0, a + 0.5, torch.sigmoid(a))


def linear_scan(a: Tensor, b: Tensor, h0: Tensor, block: int = 32) -> Tensor:
    """h_t = a_t ⊙ h_{t-1} + b_t for all t: a, b (T, B, H), h0 (B, H) -> (T, B, H). Differentiable.

    A parallel scan (Hillis and Steele): within blocks of `block` steps, log2(block) rounds of
    (a, b) ∘ (a', b') = (a a', a' b + b') over all blocks at once (products only, no division or
    logarithm, so h stays exact where the log-space scan would round), then the state is carried
    from block to block. With many units per step one op per step is cheaper, so large batches step."""
    T = a.shape[0]
    # Steps are taken with unbind(), never a[t]: autograd's backward of each a[t] would fill a zero
    # tensor the size of all of a (T² work over a training sequence); unbind's backward stacks once.
    if T <= 2 or a[0].numel() >= 8192:
        out, prev = [], h0
        for a_t, b_t in zip(a.unbind(0), b.unbind(0)):
            prev = torch.addcmul(b_t, a_t, prev)
            out.append(prev)
        return torch.stack(out)
    block = min(block, T)
    nb = -(-T // block)
    pad = nb * block - T
    if pad:
        a = torch.cat([a, a.new_ones(pad, *a.shape[1:])])
        b = torch.cat([b, b.new_zeros(pad, *b.shape[1:])])
    A, Bs = a.reshape(nb, block, *a.shape[1:]), b.reshape(nb, block, *b.shape[1:])
    s = 1
    while s < block:
        Bs = torch.cat([Bs[:, :s], torch.addcmul(Bs[:, s:], A[:, s:], Bs[:, :-s])], 1)
        A = torch.cat([A[:, :s], A[:, s:] * A[:, :-s]], 1)
        s *= 2
    out, prev = [], h0
    for A_j, B_j in zip(A.unbind(0), Bs.unbind(0)):
        blk = torch.addcmul(B_j, A_j, prev)
        out.append(blk)
        prev = blk[-1]
    return torch.cat(out)[:T]


# ---- minGRU and minLSTM: every gate for every step at once --------------------------------------
def mingru_gates(pre: Tensor, edit: Edit = None) -> dict[str, Tensor]:
    """pre = W x + b (..., 2H) stacked z, n -> {"z": σ, "n": g}."""
    a_z, a_n = pre.chunk(2, dim=-1)
    z, n = torch.sigmoid(a_z), g(a_n)
    if edit is not None:
        z, n = edit("z", z), edit("n", n)
    return {"z": z, "n": n}


def minlstm_gates(pre: Tensor, edit: Edit = None) -> dict[str, Tensor]:
    """pre (..., 3H) stacked f, i, n -> {"f": f', "i": i', "n": g}: f' = σ(f)/(σ(f)+σ(i)) = σ(−d) with
    d = softplus(−f) − softplus(−i) (the paper's log-space form), i' = σ(d)."""
    a_f, a_i, a_n = pre.chunk(3, dim=-1)
    d = F.softplus(-a_f) - F.softplus(-a_i)
    f, i, n = torch.sigmoid(-d), torch.sigmoid(d), g(a_n)
    if edit is not None:
        f, i, n = edit("f", f), edit("i", i), edit("n", n)
    return {"f": f, "i": i, "n": n}


def coefficients(kind: str, gates: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
    """(a, b) of h_t = a_t h_{t-1} + b_t for minGRU ("mingru") or minLSTM ("minlstm")."""
    if kind == "mingru":
        return 1 - gates["z"], gates["z"] * gates["n"]
    return gates["f"], gates["i"] * gates["n"]


def minimal_step(kind: str, pre: Tensor, h: Tensor, edit: Edit = None):
    """One step of minGRU / minLSTM from pre = W x_t + b (B, G·H): (h', gates)."""
    gates = (mingru_gates if kind == "mingru" else minlstm_gates)(pre, edit)
    a, b = coefficients(kind, gates)
    h_new = torch.addcmul(b, a, h)
    if edit is not None:
        h_new = edit("h", h_new)
    return h_new, gates


# ---- sLSTM: one step at a time (its gates read h_{t-1}) -----------------------------------------
def head_matmul(h: Tensor, R: Tensor) -> Tensor:
    """R h for block-diagonal R: h (B, H), R (K, 4d, d) as xlstm keeps it -> (B, 4H) stacked gate-major
    (i of every head, then f, z, o), the order W x is stacked in."""
    B = h.shape[0]
    K, G, d = R.shape[0], R.shape[1] // R.shape[2], R.shape[2]
    r = torch.bmm(h.view(B, K, d).transpose(0, 1), R.transpose(1, 2))      # (K, B, 4d)
    return r.view(K, B, G, d).permute(1, 2, 0, 3).reshape(B, G * K * d)


def slstm_step(pre: Tensor, state: Tensor, h: Tensor, R: Tensor, b_hh: Optional[Tensor] = None,
               edit: Edit = None):
    """One sLSTM step. pre = W x_t + b_ih (B, 4H); state (B, 3H) packed c, n, m; h (B, H).
    Returns (h', state', gates {"i","f","z","o"} (B, H))."""
    raw = pre + head_matmul(h, R)
    if b_hh is not None:
        raw = raw + b_hh
    a_i, a_f, a_z, a_o = raw.chunk(4, dim=-1)
    c, n, m = state.chunk(3, dim=-1)
    log_f = F.logsigmoid(a_f) + m
    m_new = torch.where(n == 0, a_i, torch.maximum(a_i, log_f))
    if edit is not None:                           # an edited stabiliser rescales both exponential gates
        m_new = edit("m", m_new)
    i = torch.minimum(torch.exp(a_i - m_new), torch.ones_like(a_i))
    f = torch.minimum(torch.exp(log_f - m_new), torch.ones_like(a_i))
    z, o = torch.tanh(a_z), torch.sigmoid(a_o)
    if edit is not None:
        i, f, z, o = edit("i", i), edit("f", f), edit("z", z), edit("o", o)
    c_new = f * c + i * z
    n_new = f * n + i
    if edit is not None:
        c_new, n_new = edit("c", c_new), edit("n", n_new)
    h_new = o * c_new / n_new
    if edit is not None:
        h_new = edit("h", h_new)
    return h_new, torch.cat([c_new, n_new, m_new], -1), {"i": i, "f": f, "z": z, "o": o}


def slstm_scan(pre: Tensor, h0: Tensor, s0: Tensor, R: Tensor, b_hh: Optional[Tensor] = None,
               valid: Optional[Tensor] = None, probes: Optional[tuple[Tensor, Tensor]] = None, keep: bool = True):
    """Every step of one sLSTM layer: pre (T, B, 4H) -> h (T, B, H), states (T, B, 3H), gates (T, B, 4, H).
    valid (T, B) bool: padded steps keep the state. probes (ph, pc), each (T, B, H) zeros, are added to
    h_t and c_t (their gradients are the total derivatives, for gradient_flow). keep=False (the module's
    forward) keeps only h and the last state: (h, last state (1, B, 3H), None)."""
    hs, ss, gs = [], [], []
    h, s = h0, s0
    H = h0.shape[-1]
    ph, pc = (p.unbind(0) for p in probes) if probes is not None else (None, None)
    # Without autograd, the results are written into their final tensors step by step: one copy of each
    # step's gates and state instead of a stack per step and one more over all steps (B = 32: 1.7× → 1.5×).
    direct = keep and not (torch.is_grad_enabled() and (pre.requires_grad or R.requires_grad or probes is not None))
    if direct:
        T, B = pre.shape[:2]
        out_h, out_s, out_g = (pre.new_empty(T, B, H), pre.new_empty(T, B, 3 * H), pre.new_empty(T, B, 4, H))
    for t, pre_t in enumerate(pre.unbind(0)):             # unbind, not pre[t]: see linear_scan
        h_new, s_new, gt = slstm_step(pre_t, s, h, R, b_hh)
        if probes is not None:
            h_new = h_new + ph[t]
            s_new = torch.cat([s_new[:, :H] + pc[t], s_new[:, H:]], -1)
        if valid is not None:
            m = valid[t][:, None]
            h_new, s_new = torch.where(m, h_new, h), torch.where(m, s_new, s)
        h, s = h_new, s_new
        if direct:
            out_h[t], out_s[t] = h, s
            torch.stack([gt[k] for k in SLSTM_GATES], 1, out=out_g[t])
            continue
        hs.append(h)
        if keep:
            ss.append(s)
            gs.append(torch.stack([gt[k] for k in SLSTM_GATES], 1))
    if direct:
        return out_h, out_s, out_g
    if not keep:
        return torch.stack(hs), s[None], None
    return torch.stack(hs), torch.stack(ss), torch.stack(gs)
