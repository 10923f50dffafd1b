"""The equations: one step function per cell kind, returning the new state and the gates.

This is the single place the math lives. The tracer (trace.py) applies the same gate
functions to all steps at once; the app's step inspector calls the step functions on one
step. Names and gate order follow torch.nn.LSTM / nn.GRU / nn.RNN:

LSTM (weights stacked i, f, g, o):
    i = σ(W_ii x + b_ii + W_hi h + b_hi)        input gate
    f = σ(W_if x + b_if + W_hf h + b_hf)        forget gate
    g = tanh(W_ig x + b_ig + W_hg h + b_hg)     cell candidate
    o = σ(W_io x + b_io + W_ho h + b_ho)        output gate
    c' = f ⊙ c + i ⊙ g
    h' = o ⊙ tanh(c')            (with proj_size: h' = W_hr (o ⊙ tanh(c')))

GRU, PyTorch's convention (weights stacked r, z, n):
    r = σ(W_ir x + b_ir + W_hr h + b_hr)        reset gate
    z = σ(W_iz x + b_iz + W_hz h + b_hz)        update gate
    n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))   reset applied AFTER the matmul
    h' = (1 − z) ⊙ n + z ⊙ h                    z weights the OLD state

GRU, Cho et al. (2014), the form most textbooks write ("cho"):
    n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)   reset applied BEFORE the matmul
    h' = (1 − z) ⊙ h + z ⊙ n                    z weights the NEW state

RNN:  h' = tanh(W_ih x + b_ih + W_hh h + b_hh)   (or relu)

Every step function takes an optional `edit(name, value) -> value`, called on each gate
right after it is computed and on the new state(s), which is how interventions work.
Shapes: x (B, I), h (B, H_out), c (B, H); weights as stored in the stock module.
"""
from __future__ import annotations

from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

Edit = Optional[Callable[[str, Tensor], Tensor]]

LSTM_GATES = ("i", "f", "g", "o")
GRU_GATES = ("r", "z", "n")
# The 2024 cells' gates (their equations live in modern.py): minGRU (z, h̃ as n), minLSTM (f, i, h̃ as n),
# sLSTM (i, f, z the cell input, o; states c, n the normaliser, m the stabiliser).
GATES = {"lstm": LSTM_GATES, "gru": GRU_GATES, "rnn": (), "mingru": ("z", "n"), "minlstm": ("f", "i", "n"),
         "slstm": ("i", "f", "z", "o")}
GATE_NAMES = {
    "i": "input gate", "f": "forget gate", "g": "cell candidate", "o": "output gate",
    "r": "reset gate", "z": "update gate", "n": "new-state candidate",
    "c": "cell state", "h": "hidden state",
}
# Where a letter means something else in a 2024 cell (sLSTM's z and n), or the same thing read from x_t alone.
KIND_NAMES = {
    "mingru": {"n": "candidate h̃"},
    "minlstm": {"f": "forget gate f′", "i": "input gate i′", "n": "candidate h̃"},
    "slstm": {"i": "input gate (exp)", "f": "forget gate (exp)", "z": "cell input", "n": "normaliser",
              "m": "stabiliser"},
}


def gate_name(name: str, kind: str = "") -> str:
    """What a gate or state is called in words, for this kind ("z" is the GRU's update gate but the
    sLSTM's cell input)."""
    return KIND_NAMES.get(kind, {}).get(name) or GATE_NAMES.get(name, name)


def gate_label(name: str, kind: str = "") -> str:
    """A picker's label for a gate or state: "f: forget gate"."""
    return f"{name}: {gate_name(name, kind)}"


# Sigmoid gates live in (0, 1); tanh ones in (-1, 1). Saturation statistics use this.
SIGMOID_GATES = ("i", "f", "o", "r", "z")
_RANGES = {"mingru": {"z": (0, 1)}, "minlstm": {"f": (0, 1), "i": (0, 1)},
           "slstm": {"i": (0, 1), "f": (0, 1), "o": (0, 1), "z": (-1, 1), "h": (-1, 1)}}


def value_range(name: str, kind: str = "") -> Optional[tuple[float, float]]:
    """The range a gate or state cannot leave: (0, 1) for a sigmoid gate (and the sLSTM's stabilised
    exponential gates), (-1, 1) for a tanh one and a classic h; None where it is unbounded (c; minGRU's and
    minLSTM's h̃ and h, which g keeps positive but not below any bound; the sLSTM's n and m)."""
    if kind in _RANGES:
        return _RANGES[kind].get(name)
    if name in SIGMOID_GATES:
        return (0, 1)
    return (-1, 1) if name in ("g", "n", "h") else None


def lstm_gates(pre: Tensor, inplace: bool = False) -> dict[str, Tensor]:
    """Activated LSTM gates from pre-activations `pre` (..., 4H) stacked i, f, g, o.
    inplace=True activates `pre` itself and returns views of it (saves memory passes)."""
    i, f, g, o = pre.chunk(4, dim=-1)
    if inplace:
        return {"i": i.sigmoid_(), "f": f.sigmoid_(), "g": g.tanh_(), "o": o.sigmoid_()}
    return {"i": torch.sigmoid(i), "f": torch.sigmoid(f), "g": torch.tanh(g), "o": torch.sigmoid(o)}


def gru_gates(gi: Tensor, gh: Tensor, edit: Edit = None) -> dict[str, Tensor]:
    """Activated GRU gates (PyTorch convention) from gi = W_ih x + b_ih and gh = W_hh h + b_hh,
    both (..., 3H) stacked r, z, n. `edit` may change r before n is computed from it."""
    i_r, i_z, i_n = gi.chunk(3, dim=-1)
    h_r, h_z, h_n = gh.chunk(3, dim=-1)
    r = torch.sigmoid(i_r + h_r)
    z = torch.sigmoid(i_z + h_z)
    if edit is not None:
        r, z = edit("r", r), edit("z", z)
    n = torch.tanh(i_n + r * h_n)
    if edit is not None:
        n = edit("n", n)
    return {"r": r, "z": z, "n": n}


def lstm_cell(x: Tensor, h: Tensor, c: Tensor, w_ih: Tensor, w_hh: Tensor,
              b_ih: Tensor | None = None, b_hh: Tensor | None = None,
              w_hr: Tensor | None = None, edit: Edit = None):
    """One LSTM step. Returns (h', c', gates) with gates {"i","f","g","o"} each (B, H)."""
    gates = lstm_gates(F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh))
    if edit is not None:
        gates = {k: edit(k, v) for k, v in gates.items()}
    c_new = gates["f"] * c + gates["i"] * gates["g"]
    if edit is not None:
        c_new = edit("c", c_new)
    h_new = gates["o"] * torch.tanh(c_new)
    if w_hr is not None:
        h_new = F.linear(h_new, w_hr)
    if edit is not None:
        h_new = edit("h", h_new)
    return h_new, c_new, gates


def gru_cell(x: Tensor, h: Tensor, w_ih: Tensor, w_hh: Tensor,
             b_ih: Tensor | None = None, b_hh: Tensor | None = None,
             convention: str = "pytorch", edit: Edit = None):
    """One GRU step. Returns (h', gates) with gates {"r","z","n"} each (B, H).

    convention="pytorch" is what nn.GRU computes; "cho" is Cho et al.'s (2014) textbook form with
    the same weights (reset before the matmul, z weighting the new state): a different
    function, offered so the two can be compared side by side.
    """
    gi = F.linear(x, w_ih, b_ih)
    if convention == "pytorch":
        gates = gru_gates(gi, F.linear(h, w_hh, b_hh), edit)
        h_new = (1 - gates["z"]) * gates["n"] + gates["z"] * h
    elif convention == "cho":
        H = h.shape[-1]
        b_r = b_z = b_n = None
        if b_hh is not None:
            b_r, b_z, b_n = b_hh.chunk(3)
        i_r, i_z, i_n = gi.chunk(3, dim=-1)
        r = torch.sigmoid(i_r + F.linear(h, w_hh[:H], b_r))
        z = torch.sigmoid(i_z + F.linear(h, w_hh[H:2 * H], b_z))
        if edit is not None:
            r, z = edit("r", r), edit("z", z)
        n = torch.tanh(i_n + F.linear(r * h, w_hh[2 * H:], b_n))
        if edit is not None:
            n = edit("n", n)
        gates = {"r": r, "z": z, "n": n}
        h_new = (1 - z) * h + z * n
    else:
        raise ValueError(f"convention must be 'pytorch' or 'cho', not {convention!r}")
    if edit is not None:
        h_new = edit("h", h_new)
    return h_new, gates


def rnn_cell(x: Tensor, h: Tensor, w_ih: Tensor, w_hh: Tensor,
             b_ih: Tensor | None = None, b_hh: Tensor | None = None,
             nonlinearity: str = "tanh", edit: Edit = None):
    """One vanilla RNN step. Returns (h', {}) — a vanilla RNN has no gates."""
    pre = F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh)
    h_new = torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)
    if edit is not None:
        h_new = edit("h", h_new)
    return h_new, {}


def preactivations(kind: str, x: Tensor, h: Tensor, w_ih: Tensor, w_hh: Tensor,
                   b_ih: Tensor | None = None, b_hh: Tensor | None = None) -> dict[str, Tensor]:
    """The numbers inside the activations, for showing the equations filled in.
    LSTM: {"i","f","g","o"} full pre-activations. GRU: {"r","z"} full, and the two halves of n's
    argument, "n_x" = W_in x + b_in and "n_h" = W_hn h + b_hn (PyTorch multiplies r into n_h).
    RNN: {"a"} = W_ih x + b_ih + W_hh h + b_hh."""
    gi, gh = F.linear(x, w_ih, b_ih), F.linear(h, w_hh, b_hh)
    if kind == "lstm":
        return dict(zip(LSTM_GATES, (gi + gh).chunk(4, dim=-1)))
    if kind == "gru":
        (i_r, i_z, i_n), (h_r, h_z, h_n) = gi.chunk(3, dim=-1), gh.chunk(3, dim=-1)
        return {"r": i_r + h_r, "z": i_z + h_z, "n_x": i_n, "n_h": h_n}
    return {"a": gi + gh}
