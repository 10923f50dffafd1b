"""Dynamically quantized LSTMs and GRUs (torch.ao.quantization.quantize_dynamic) as their dequantized float
models, with how far that float model's output is from the quantized module's.

A quantized module saves its weights packed for the quantized kernels: `rnn._all_weight_values.<k>.param`,
one entry per layer and direction, whose state (read inertly by explorer.io.readers.pickles, never run) holds
the biases and, per linear, an int8 weight with its scale and zero point. The dequantized weights are
exactly the values the quantized kernels multiply by; what differs is that those kernels also
quantize the activations at every step, so the float model is close to the quantized one, not equal.
"""
from __future__ import annotations

import re
from typing import Optional

import torch
from torch import Tensor

from explorer.core.kinds import KINDS
from explorer.errors import InputError

from .. import budget
from ..files import short
from .found import FoundModule

_ENTRY = re.compile(r"^(?P<prefix>.*?)\.?_all_weight_values\.(?P<k>\d+)\.param\._state\.0\.(?P<rest>.+)$")


def quantized_groups(tensors: dict[str, Tensor], values: Optional[dict] = None) -> dict[str, dict[int, dict]]:
    """{prefix: {entry: {"b_ih", "b_hh", "w_ih", "w_hh", "reduce_range"}}} from the flattened state of the
    packed parameters (CellParamsBase's state: its type, [b_ih, b_hh], [], [reduce_range], [ih, hh])."""
    out: dict[str, dict[int, dict]] = {}
    for key, t in list(tensors.items()) + list((values or {}).items()):
        m = _ENTRY.match(key)
        if not m:
            continue
        slot = {"1.0": "b_ih", "1.1": "b_hh", "4.0._state.0.0": "w_ih", "4.1._state.0.0": "w_hh",
                "3.0": "reduce_range"}.get(m["rest"])
        if slot and (slot == "reduce_range") == (not isinstance(t, Tensor)):
            out.setdefault(m["prefix"], {}).setdefault(int(m["k"]), {})[slot] = t
    return out


def dequantized(prefix: str, entries: dict[int, dict], attrs: Optional[dict] = None) -> FoundModule:
    """The float module of one quantized LSTM/GRU; attrs: what a pickled model recorded (num_layers,
    bidirectional), else read from the shapes (and said where they cannot tell)."""
    name = short(prefix or "(top level)")
    E = len(entries)
    if sorted(entries) != list(range(E)) or not all({"w_ih", "w_hh"} <= set(e) for e in entries.values()):
        raise InputError(f"the quantized weights under {short(name)!r} are incomplete; check that the file holds the whole "
                         "quantized model's state_dict.")
    w = {k: {s: (t.dequantize() if t.is_quantized else t).float() for s, t in e.items() if isinstance(t, Tensor)}
         for k, e in entries.items()}
    rows, H = w[0]["w_hh"].shape
    kind = next((k for k in KINDS.values() if k.blocks * H == rows and k.name in ("lstm", "gru")), None)
    if kind is None:
        raise InputError(f"the quantized weights under {name!r} fit neither an LSTM nor a GRU.")
    I = w[0]["w_ih"].shape[1]
    attrs = attrs or {}
    assumed = {}
    if "bidirectional" in attrs:
        D = 2 if attrs["bidirectional"] else 1
    elif E % 2:
        D = 1
    elif E >= 4:
        D = 2 if w[2]["w_ih"].shape[1] == 2 * H else 1
    else:                                   # two entries: two layers, or one layer both ways
        D = 2 if w[1]["w_ih"].shape[1] == I and I != H else 1
        if I == H:
            assumed["bidirectional"] = False
    L = E // D
    budget.check(2 * budget.recurrent_bytes(kind.blocks, I, H, L, D), f"the dequantized {kind.label} under {name!r}")
    mod = kind.make(I, H, num_layers=L, bidirectional=D == 2, bias=True)
    sd = {}
    for k, e in w.items():
        layer, d = divmod(k, D)
        sfx = f"_l{layer}" + ("_reverse" if d else "")
        sd["weight_ih" + sfx], sd["weight_hh" + sfx] = e["w_ih"], e["w_hh"]
        sd["bias_ih" + sfx] = e.get("b_ih", torch.zeros(rows))
        sd["bias_hh" + sfx] = e.get("b_hh", torch.zeros(rows))
    try:
        mod.load_state_dict(sd)
    except RuntimeError:
        raise InputError(f"the quantized weights under {name!r} do not fit one {kind.label}; is the file damaged?") from None
    mod.eval()
    gap = quantized_gap(mod, entries)
    fm = FoundModule(mod, kind.name, False, assumed, {"quantized": "int8 (dynamic)"})
    fm.note = (f"The {kind.label} under {name!r} is dynamically quantized (int8 weights); shown here is its "
               "dequantized float model, whose weights are exactly the quantized ones"
               + (f", and whose output differs from the quantized module's by at most {gap:.2g} on a random "
                  "input of 50 steps (the quantized kernels also round the activations)." if gap is not None else "."))
    return fm


def quantized_twin(mod, entries: dict[int, dict]):
    """The file's own quantized module, rebuilt with torch's quantized ops from its int8 weights (the
    same packing quantize_dynamic does), to measure the float model against."""
    q = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(mod), {type(mod)}, dtype=torch.qint8)[0]
    for k, e in entries.items():
        ih = torch.ops.quantized.linear_prepack(e["w_ih"], e.get("b_ih"))
        hh = torch.ops.quantized.linear_prepack(e["w_hh"], e.get("b_hh"))
        q._all_weight_values[k].param = torch.ops.quantized.make_quantized_cell_params_dynamic(
            ih, hh, e.get("b_ih"), e.get("b_hh"), bool(e.get("reduce_range", 1)))
    return q


def quantized_gap(mod, entries: dict[int, dict]) -> Optional[float]:
    """The largest |output difference| between the float module and the file's quantized module, on a
    seeded random input of 50 steps."""
    try:
        if not all(e["w_ih"].is_quantized and e["w_hh"].is_quantized for e in entries.values()):
            return None
        q = quantized_twin(mod, entries)
        g = torch.Generator().manual_seed(0)
        x = torch.randn(50, 1, mod.input_size, generator=g)
        with torch.no_grad():
            return float((q(x)[0] - mod(x)[0]).abs().max())
    except Exception:        # a build of torch without the quantized engines: the note gives no number
        return None
