"""The 2024 cells' files: minGRU, minLSTM and sLSTM weights, rebuilt as our MinGRU / MinLSTM / SLSTM.

Layouts read (by key names and shapes; a pickle's class names only decide between look-alikes):
- ours (explorer.MinGRU / MinLSTM / SLSTM, their state_dicts or whole pickles): "<prefix>.weight_ih_l0"
  with no 2-D weight_hh beside it (minGRU, minLSTM) or a 3-D (heads, 4·d, d) one (sLSTM);
- minGRU-pytorch (lucidrains): "<prefix>.to_hidden_and_gate.weight" (2·H, dim), stacked (hidden, gate);
  "<prefix>.to_hidden_and_f_i_gate.weight" (3·H, dim), stacked (hidden, f, i); no biases. Its `to_out`
  (when expansion_factor ≠ 1) follows the cell and is left to the model around it;
- xlstm (NX-AI): an sLSTMLayer's "<prefix>.slstm_cell._recurrent_kernel_" (heads, 4·d, d) and "_bias_"
  (4·H, gate-major: the vanilla backend's layout) with its head-wise projections "<prefix>.fgate.weight" …
  (heads, d, d). The layer computes i from `fgate` and f from `igate` (xlstm's layer.py), and we do too.
  Without a convolution (conv1d_kernel_size=0) the projections become the SLSTM's weight_ih (block-
  diagonal, exact); with one, i and f read a causal convolution of x that no recurrent module's weight_ih
  can hold, so the SLSTM reads the gates' input Wx itself (input size 4·H, identity weight_ih) and the
  note says so. mLSTM blocks (a matrix memory C_t, a different recurrence) are refused by name.
"""
from __future__ import annotations

import re
from typing import Optional

import torch
from torch import Tensor

from explorer.core.modules import SLSTM, MinGRU, MinLSTM
from explorer.errors import InputError

from .. import budget
from ..files import short
from .found import FoundModule

_MIN = re.compile(r"^(?P<prefix>.*?)\.?(?P<name>to_hidden_and_gate|to_hidden_and_f_i_gate)\.weight$")
_XL = re.compile(r"^(?P<prefix>.*?)\.?slstm_cell\._recurrent_kernel_$")
_OURS = re.compile(r"^(?P<prefix>.*?)\.?weight_ih_l(?P<layer>\d+)$")
MLSTM = ("mlstm_cell", "mlstm_layer", ".mlstm.", "mLSTMLayer", "mLSTMCell")


def refusal(keys: list[str], classes: list[str]) -> Optional[str]:
    """One sentence for an xLSTM file that holds mLSTM blocks and no sLSTM block."""
    text = " ".join(keys) + " " + " ".join(classes)
    if any(m in text for m in MLSTM) and "_recurrent_kernel_" not in text:
        return ("this xLSTM holds only mLSTM blocks: an mLSTM keeps a matrix memory C_t updated by outer products "
                "(v_t k_tᵀ) and reads it with a query, a recurrence with no h_{t-1} in its gates that the tracer does "
                "not show; its sLSTM blocks, where a model has them, open.")
    return None


def read(tensors: dict[str, Tensor], pickled: dict, overrides: dict) -> tuple[dict[str, FoundModule], list[str], set[str]]:
    """({prefix: FoundModule}, notes, the keys used) for every 2024 cell in `tensors`; pickled: {prefix:
    PickledModule} where a whole pickle recorded the module (its class, batch_first); overrides: {prefix:
    {"kind": "minlstm", "batch_first": True}} for what a state_dict cannot say."""
    found, notes, used = {}, [], set()
    for key, t in tensors.items():
        if (m := _MIN.match(key)) and isinstance(t, Tensor):
            p = m["prefix"]
            found[p] = _lucidrains(p, m["name"], t, tensors)
            used.add(key)
            if isinstance(tensors.get(_join(p, "to_out.weight")), Tensor):
                which = "minGRU" if m["name"] == "to_hidden_and_gate" else "minLSTM"
                notes.append(f"{short(p or '(top level)')} is minGRU-pytorch's {which}: its "
                             "to_out projection follows the cell and is part of the model around it.")
        elif (m := _XL.match(key)) and isinstance(t, Tensor):
            p = m["prefix"]
            fm, note = _xlstm(p, t, tensors)
            found[p] = fm
            used |= {k for k in tensors if k.startswith(_join(p, ""))}
            if note:
                notes.append(note)
    if found and any(m in key for key in tensors for m in MLSTM):
        notes.append("This xLSTM also holds mLSTM blocks (a matrix memory read with a query, no h_{t-1} in its gates); "
                     "they are not shown, its sLSTM blocks are.")
    layered: dict[str, dict[int, Tensor]] = {}
    for key, t in tensors.items():
        if (m := _OURS.match(key)) and isinstance(t, Tensor) and m["prefix"] not in found:
            at = lambda name: tensors.get(_join(m["prefix"], f"{name}_l{m['layer']}"))          # noqa: E731
            hh = at("weight_hh")
            # no recurrent weights at all (minGRU, minLSTM: no bias_hh either), or the sLSTM's 3-D heads; an
            # AWD-LSTM's weight-dropped layer keeps weight_hh_l0_raw and bias_hh_l0 instead: a classic cell
            minimal = hh is None and at("bias_hh") is None and \
                tensors.get(_join(m["prefix"], f"weight_hh_l{m['layer']}_raw")) is None
            if minimal or (isinstance(hh, Tensor) and hh.dim() == 3):
                layered.setdefault(m["prefix"], {})[int(m["layer"])] = t
    for p, layers in layered.items():
        own = pickled.get(p)
        found[p] = _ours(p, layers, tensors, own.cls if own is not None else "", own.attrs if own is not None else {},
                         overrides.get(p, {}))
        used |= {k for k in tensors if k.startswith(_join(p, "")) and re.search(r"_(ih|hh)_l\d+$", k)}
    return found, notes, used


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _dtype(t: Tensor) -> torch.dtype:
    if not t.dtype.is_floating_point:
        raise InputError(f"these weights are {t.dtype}, not floating point; save the float model.")
    return torch.float32 if t.dtype.itemsize < 4 else t.dtype


def _lucidrains(prefix: str, name: str, W: Tensor, tensors: dict) -> FoundModule:
    G = 2 if name == "to_hidden_and_gate" else 3
    if W.dim() != 2 or W.shape[0] % G:
        raise InputError(f"{short(name)} under {short(prefix or '(top level)')!r} has shape {tuple(W.shape)}; minGRU-pytorch's "
                         f"is ({G}·hidden, dim). Is the file damaged?")
    H, dim = W.shape[0] // G, W.shape[1]
    budget.bounded(H, "the hidden size")
    budget.bounded(dim, "the input size")
    cls = MinGRU if G == 2 else MinLSTM
    mod = cls(dim, H, bias=False, batch_first=True).to(_dtype(W))
    blocks = W.to(_dtype(W)).chunk(G, 0)                         # (hidden, gate) / (hidden, f, i) -> (z, n) / (f, i, n)
    with torch.no_grad():
        mod.weight_ih_l0.copy_(torch.cat([*blocks[1:], blocks[0]]))
    return FoundModule(mod.eval(), cls.kind, recorded={"batch_first": True, "layout": "minGRU-pytorch"})


def _xlstm(prefix: str, R: Tensor, tensors: dict) -> tuple[FoundModule, str]:
    name = short(prefix or "(top level)")
    b = tensors.get(_join(prefix, "slstm_cell._bias_"))
    if R.dim() != 3 or R.shape[1] != 4 * R.shape[2] or not isinstance(b, Tensor) or b.numel() != 4 * R.shape[0] * R.shape[2]:
        raise InputError(f"the sLSTM under {name!r} keeps its recurrent kernel as {tuple(R.shape)}, not the vanilla "
                         "backend's (heads, 4·d, d) with a 4·H bias; save it from a model built with backend=\"vanilla\".")
    K, d = R.shape[0], R.shape[2]
    H = K * d
    budget.bounded(H, "the hidden size")
    dt = _dtype(R)
    proj = [tensors.get(_join(prefix, f"{g}gate.weight")) for g in "fizo"]   # i from fgate, f from igate (xlstm)
    conv = isinstance(tensors.get(_join(prefix, "conv1d.conv.weight")), Tensor)
    whole = all(isinstance(w, Tensor) and w.shape == (K, d, d) for w in proj) and not conv
    mod = SLSTM(H if whole else 4 * H, H, num_heads=K, batch_first=True).to(dt)
    mod.register_parameter("bias_ih_l0", None)
    with torch.no_grad():
        mod.weight_ih_l0.copy_(torch.cat([torch.block_diag(*w.to(dt)) for w in proj]) if whole else torch.eye(4 * H, dtype=dt))
        mod.weight_hh_l0.copy_(R.to(dt))
        mod.bias_hh_l0.copy_(b.to(dt))
    note = ""
    if not whole:
        note = (f"The sLSTM under {name!r} feeds its i and f gates a causal convolution of its input, which no recurrent "
                "module's input weights can hold: it is shown reading the four gates' input projections Wx (4·H per step). "
                "explorer.trace(sLSTMLayer) traces the whole layer where the xlstm package is installed.")
    return FoundModule(mod.eval(), "slstm", recorded={"batch_first": True, "num_heads": K, "layout": "xlstm"}), note


def _ours(prefix: str, layers: dict[int, Tensor], tensors: dict, cls_name: str, attrs: dict, override: dict) -> FoundModule:
    name = short(prefix or "(top level)")
    L = 1 + max(layers)
    if sorted(layers) != list(range(L)) or L > budget.MAX_LAYERS:
        raise InputError(f"the weights under {name!r} skip a layer; check that the file holds the whole model.")
    R = tensors.get(_join(prefix, "weight_hh_l0"))
    W0 = layers[0]
    assumed = {}
    if isinstance(R, Tensor):
        cls, H = SLSTM, R.shape[0] * R.shape[2]
    else:
        named = override.get("kind") or next((k for k in ("mingru", "minlstm") if cls_name.lower().endswith(k)), None)
        if named is None and L > 1:                              # layer 1 reads H inputs: rows / H = 2 or 3
            H = layers[1].shape[1]
            named = {2 * H: "mingru", 3 * H: "minlstm"}.get(W0.shape[0])
        if named is None:                  # one layer, no name: 2·H or 3·H rows; the rounder hidden size wins
            score = lambda H: (H > 0 and H & (H - 1) == 0, H % 8 == 0)            # noqa: E731
            fits = [k for k, G in (("mingru", 2), ("minlstm", 3)) if W0.shape[0] % G == 0]
            named = max(fits, key=lambda k: score(W0.shape[0] // (2 if k == "mingru" else 3))) if fits else "mingru"
            assumed["kind"] = named
        cls = MinGRU if named == "mingru" else MinLSTM
        H = W0.shape[0] // cls.blocks
    if W0.dim() != 2 or W0.shape[0] != cls.blocks * H:
        raise InputError(f"weight_ih_l0 under {name!r} has shape {tuple(W0.shape)}, which fits no {cls.__name__} "
                         f"({cls.blocks}·hidden, input).")
    budget.bounded(H, "the hidden size")
    budget.bounded(W0.shape[1], "the input size")
    bias = isinstance(tensors.get(_join(prefix, "bias_ih_l0")), Tensor)
    kw = {"num_heads": R.shape[0]} if cls is SLSTM else {}
    recorded = {"batch_first": bool(attrs["batch_first"])} if isinstance(attrs.get("batch_first"), bool) else {}
    batch_first = bool(override.get("batch_first", recorded.get("batch_first", False)))
    mod = cls(W0.shape[1], H, num_layers=L, bias=bias, batch_first=batch_first, **kw).to(_dtype(W0))
    sd = {k[len(_join(prefix, "")):]: v for k, v in tensors.items()
          if k.startswith(_join(prefix, "")) and re.search(r"^(weight|bias)_(ih|hh)_l\d+$", k[len(_join(prefix, "")):])}
    try:
        mod.load_state_dict({k: v.to(_dtype(W0)) for k, v in sd.items()})
    except RuntimeError as e:
        first = str(e).split("\n\t")[1] if "\n\t" in str(e) else str(e)
        raise InputError(f"the {cls.__name__} weights under {name!r} are inconsistent ({first.strip()[:160]}).") from None
    if "batch_first" not in override and not recorded:
        assumed["batch_first"] = False
    return FoundModule(mod.eval(), cls.kind, assumed=assumed, recorded=recorded)
