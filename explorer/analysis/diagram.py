"""The numbers of the textbook cell diagram, step by step, for one unit: what flows on every wire.

    story = cell_story(tr, layer=0, direction=0, unit=5, x=layer_input)      # tr: a Trace (a window)
    story.values["f"][t], story.values["f*c_prev"][t], story.values["c"][t]   # (T,) each

Every number comes from the trace (the same gates and states the step inspector checks), except
those no trace holds: a vanilla RNN's pre-activation and the GRU's W_hn h + b_hn, computed from the
module's weights and the trace's own h_{t-1}, and the textbook (Cho et al. 2014) GRU, which is a
different function of the same weights (cells.gru_cell(convention="cho")) evaluated on the trace's
h_{t-1} at every step, so each step compares like with like.

Wires, per kind (names are the keys of `values`):
    LSTM: h_prev, c_prev, f, f*c_prev, i, g, i*g, c, tanh_c, o, h (h = o·tanh c; with proj_size, m = o·tanh c
          and no h or h_prev for the unit: h = W_hr m mixes every unit)
    GRU:  h_prev, r, z, n, 1-z, (1-z)*n, z*h_prev, h        textbook: z*n, (1-z)*h_prev instead
    RNN:  h_prev, a (pre-activation), h
    minGRU:  h_prev, z, n, 1-z, (1-z)*h_prev, z*n, h        (no wire from h_prev into a gate)
    minLSTM: h_prev, f, i, n, f*h_prev, i*n, h              (f + i = 1)
    sLSTM:   h_prev, c_prev, nrm_prev (normaliser), i, f, z, o, m (stabiliser), f*c_prev, i*z, c, f*nrm_prev,
             nrm, c/n, h
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from explorer.core import cells
from explorer.core.engine import layer_params
from explorer.core.trace import Trace


@dataclass
class CellStory:
    kind: str
    unit: int
    values: dict[str, np.ndarray]                   # wire -> (T,) float64
    convention: str = "pytorch"                     # GRU: "pytorch" | "cho"
    notes: list[str] = field(default_factory=list)

    @property
    def steps(self) -> int:
        return len(next(iter(self.values.values())))


def _prev(seq: torch.Tensor, first: torch.Tensor, direction: int) -> torch.Tensor:
    """The state before each step (T, ·): forward: [first, seq[:-1]]; reverse: [seq[1:], first]."""
    if direction == 0:
        return torch.cat([first[None], seq[:-1]])
    return torch.cat([seq[1:], first[None]])


def cell_story(tr: Trace, core, layer: int, direction: int, unit: int, x: torch.Tensor | None = None,
               h_before: torch.Tensor | None = None, c_before: torch.Tensor | None = None,
               convention: str = "pytorch", batch: int = 0) -> CellStory:
    """Every wire of the cell diagram for `unit` over the trace's steps.

    tr: a Trace of `core` (a window is fine); x (T, I): the layer's input over those steps (needed
    for RNNs and the textbook GRU); h_before (H_out,) / c_before (H,): the state just before the
    trace's first step in this direction's order (zeros if None)."""
    kind = tr.kind
    h = tr.h[layer, direction, :, batch].double()                  # (T, H_out)
    T, Hout = h.shape
    H = tr.gates[next(iter(tr.gates))].shape[-1] if tr.gates else Hout
    h0 = torch.zeros(Hout, dtype=torch.float64) if h_before is None else torch.as_tensor(h_before).double()
    h_prev = _prev(h, h0, direction)
    u = unit
    v: dict[str, np.ndarray] = {}
    notes = []
    g = {k: t[layer, direction, :, batch, u].double() for k, t in tr.gates.items()}
    if kind == "lstm":
        c = tr.c[layer, direction, :, batch].double()
        c0 = torch.zeros(H, dtype=torch.float64) if c_before is None else torch.as_tensor(c_before).double()
        c_prev = _prev(c, c0, direction)[:, u]
        v.update(c_prev=c_prev, f=g["f"], i=g["i"], g=g["g"], o=g["o"], c=c[:, u])
        v["f*c_prev"] = g["f"] * c_prev
        v["i*g"] = g["i"] * g["g"]
        v["tanh_c"] = torch.tanh(c[:, u])
        v["m"] = g["o"] * v["tanh_c"]
        if Hout == H:
            v["h"], v["h_prev"] = h[:, u], h_prev[:, u]
        else:
            notes.append(f"With proj_size={Hout}, h_t = W_hr m_t mixes all {H} units' m into {Hout} outputs; "
                         "the diagram shows this unit's m = o·tanh(c).")
    elif kind == "mingru":
        v.update(h_prev=h_prev[:, u], z=g["z"], n=g["n"], h=h[:, u])
        v["1-z"] = 1 - g["z"]
        v["(1-z)*h_prev"] = (1 - g["z"]) * h_prev[:, u]
        v["z*n"] = g["z"] * g["n"]
    elif kind == "minlstm":
        v.update(h_prev=h_prev[:, u], f=g["f"], i=g["i"], n=g["n"], h=h[:, u])
        v["f*h_prev"] = g["f"] * h_prev[:, u]
        v["i*n"] = g["i"] * g["n"]
    elif kind == "slstm":
        # c_before is what the sLSTM carries, packed (c, n, m side by side, 3H), as a window's meta gives it
        cb = torch.zeros(3 * H, dtype=torch.float64) if c_before is None else torch.as_tensor(c_before).double()
        if cb.numel() == H:
            cb = torch.cat([cb, torch.zeros(2 * H, dtype=torch.float64)])
        c = tr.c[layer, direction, :, batch].double()
        nrm, m = (tr.states[k][layer, direction, :, batch].double() for k in ("n", "m"))
        c_prev, nrm_prev = _prev(c, cb[:H], direction)[:, u], _prev(nrm, cb[H:2 * H], direction)[:, u]
        v.update(h_prev=h_prev[:, u], c_prev=c_prev, nrm_prev=nrm_prev, i=g["i"], f=g["f"], z=g["z"], o=g["o"],
                 m=m[:, u], c=c[:, u], nrm=nrm[:, u], h=h[:, u])
        v["f*c_prev"] = g["f"] * c_prev
        v["i*z"] = g["i"] * g["z"]
        v["f*nrm_prev"] = g["f"] * nrm_prev
        v["c/n"] = c[:, u] / nrm[:, u]
    elif kind == "gru" and convention == "pytorch":
        v.update(h_prev=h_prev[:, u], r=g["r"], z=g["z"], n=g["n"], h=h[:, u])
        v["1-z"] = 1 - g["z"]
        v["(1-z)*n"] = (1 - g["z"]) * g["n"]
        v["z*h_prev"] = g["z"] * h_prev[:, u]
    elif kind == "gru":
        if x is None:
            raise ValueError("the textbook GRU needs the layer's input x")
        p = layer_params(core, layer, direction)
        w = [t.double() if t is not None else None for t in (p.w_ih, p.w_hh, p.b_ih, p.b_hh)]
        with torch.no_grad():
            h_new, gt = cells.gru_cell(torch.as_tensor(x).double(), h_prev, *w, convention="cho")
        v.update(h_prev=h_prev[:, u], r=gt["r"][:, u], z=gt["z"][:, u], n=gt["n"][:, u], h=h_new[:, u])
        v["1-z"] = 1 - gt["z"][:, u]
        v["z*n"] = gt["z"][:, u] * gt["n"][:, u]
        v["(1-z)*h_prev"] = (1 - gt["z"][:, u]) * h_prev[:, u]
        notes.append("Textbook form (Cho et al. 2014) with the same weights, on the trace's own h_{t-1}: "
                     "reset before the matrix product, z weighting the new state. PyTorch's GRU computes "
                     "something else, so h here differs from the trace's.")
    else:
        v.update(h_prev=h_prev[:, u], h=h[:, u])
        if x is not None:
            p = layer_params(core, layer, direction)
            pre = torch.as_tensor(x).double() @ p.w_ih[u].double() + h_prev @ p.w_hh[u].double()
            if p.b_ih is not None:
                pre = pre + p.b_ih[u].double() + p.b_hh[u].double()
            v["a"] = pre
    return CellStory(kind, u, {k: t.detach().cpu().numpy().astype(np.float64) for k, t in v.items()},
                     convention if kind == "gru" else "pytorch", notes)


def state_path(states: np.ndarray, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """The path of a state over time in its first k principal components.

    states (T, H) -> (coords (T, k), explained (k,) share of the variance each component explains).
    Centred over the window; components by SVD. Fewer than k when T or H is smaller."""
    X = np.nan_to_num(np.asarray(states, dtype=np.float64))
    X = X - X.mean(0, keepdims=True)
    k = max(1, min(k, X.shape[0], X.shape[1]))
    U, S, _ = np.linalg.svd(X, full_matrices=False)
    total = float((S ** 2).sum()) or 1.0
    return U[:, :k] * S[:k], (S[:k] ** 2) / total


def story_for_window(lt, a: int, b: int, layer: int, direction: int, unit: int, x0: torch.Tensor | None = None,
                     convention: str = "pytorch") -> tuple[CellStory, Trace]:
    """cell_story over the window [a, b) of a long pass (windows.LongTrace), with the state just before
    the window in this direction's order (step a-1 forward, step b reverse) and the layer's input
    (x0 (b-a, I): the core's input over the window, used for layer 0; upper layers read the layer below)."""
    tr = lt.window(a, b)
    before = a - 1 if direction == 0 else b
    h_b = c_b = None
    if 0 <= before < lt.steps:
        one = lt.window(before, before + 1)
        h_b = one.h[layer, direction, 0, 0]
        c_b = one.c[layer, direction, 0, 0] if one.c is not None else None
        if one.states:                                   # an sLSTM: c, n and m, packed as its step reads them
            c_b = torch.cat([c_b, *(s[layer, direction, 0, 0] for s in one.states.values())])
    if layer == 0:
        x = x0
    else:
        x = torch.cat([tr.h[layer - 1, d, :, 0] for d in range(tr.num_directions)], -1)
    return cell_story(tr, lt.rnn, layer, direction, unit, x=x, h_before=h_b, c_before=c_b, convention=convention), tr


def path_extremes(coords: np.ndarray, labels, k: int = 4) -> tuple[list, list]:
    """The k steps where the path's first component is highest and lowest: [(label, step index)]."""
    order = np.argsort(coords[:, 0])
    pick = lambda idx: [(labels[i] if labels is not None else str(i), int(i)) for i in idx]
    return pick(order[::-1][:k]), pick(order[:k])


def busiest_unit(tr: Trace, layer: int = 0, direction: int = 0, batch: int = 0) -> int:
    """The unit whose cell state (LSTM) or hidden state varies most over the trace: a good first look."""
    v = tr.values("c" if tr.c is not None else "h")[layer, direction, :, batch]
    return int(torch.nan_to_num(v.double()).std(0).argmax())
