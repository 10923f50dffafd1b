"""Other people's checkpoints: every recurrent module inside, rebuilt as a stock nn.LSTM/GRU/RNN.

    found = explorer.io.readers.foreign.read_foreign("model.pt")       # path, bytes or a state_dict
    found.modules["rnn"].module      # stock module with the file's weights, eval mode, float32 or 64
    found.modules["rnn"].assumed     # what the file could not say, e.g. {"nonlinearity": "tanh"}
    explorer.io.models.tasks.parts_for(found, "rnn")   # its own embedding and head, by name; opened.py: the task

What is read (the content decides, never the file name):
- safetensors; torch.save zips and legacy pickles through torch.load(weights_only=True);
- whole pickled models (`torch.save(model)`, AWD-LSTM's [model, criterion, optimizer]) and
  TorchScript archives through pickles.load_unsafe_free: nothing of the file is imported or run;
- wrappers: {"state_dict": …} (Lightning), {"model": …, "optimizer": …, "epoch": …}, DataParallel's
  "module." prefixes; keys "<prefix>.weight_ih_l0" (nn.LSTM/GRU/RNN), "<prefix>.weight_ih"
  (nn.LSTMCell/GRUCell/RNNCell, rebuilt as a one-layer module: stepping the cell equals tracing it)
  and AWD-LSTM's weight-dropped "<prefix>.weight_hh_l0_raw";
- float16/bfloat16 weights are returned as float32 (said in `notes`).
"""
from __future__ import annotations

import io
import pickle
import re
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Optional, Union

import torch
from torch import Tensor, nn

from explorer.core import kinds
from explorer.core.kinds import CLASSIC, KINDS
from explorer.errors import InputError

from .. import budget
from ..files import load_safetensors, read_bytes, short
from . import fastai, flair, forecasting, formats, frameworks, gated, gru4rec, opcodes, opennmt, pickles, protocols, quantized
from .found import Foreign, FoundModule

Source = Union[str, bytes, dict]
# One module per library's own layout (its key names, wrappers, saved settings): each adapts what was found.
LAYOUTS = (fastai, flair, gru4rec, forecasting, opennmt)
WRAPPERS = ("state_dict", "model_state_dict", "model", "net", "network", "state")

_LAYER = re.compile(r"^(?P<prefix>.*?)\.?(?P<name>weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)"
                    r"_l(?P<layer>\d+)(?P<rev>_reverse)?(?P<raw>_raw)?$")
_CELL = re.compile(r"^(?P<prefix>.*?)\.?(?P<name>weight_ih|weight_hh|bias_ih|bias_hh)(?P<raw>_raw)?$")


def read_foreign(source: Source, overrides: Optional[dict[str, dict]] = None, *,
                 nonlinearity: str = "tanh") -> Foreign:
    """Every recurrent module in a foreign checkpoint, with what the file recorded and what was assumed.
    overrides={prefix: {"nonlinearity": "relu", "batch_first": True}} for what a file cannot say;
    nonlinearity: what an RNN is assumed to use when neither the file nor overrides say."""
    if isinstance(source, (str, bytes, bytearray)):
        data = bytes(source) if not isinstance(source, str) else read_bytes(source, "checkpoint")
        if frameworks.is_keras(data):
            return frameworks.read_keras(data)
        if frameworks.is_onnx(data):
            return frameworks.read_onnx(data)
        source = data
    found = _read(source)
    modern, modern_notes, used = gated.read(found.tensors, found.pickled, overrides or {})   # minGRU, minLSTM, sLSTM
    found.modules.update(modern)
    found.notes.extend(modern_notes)
    groups, cells = _groups({k: v for k, v in found.tensors.items() if k not in used})
    groups, merged = fastai.merge_weight_dropout(groups)
    found.notes.extend(merged)
    qgroups = quantized.quantized_groups(found.tensors, found.values) if not groups and not cells and not modern else {}
    if qgroups:
        for prefix, entries in sorted(qgroups.items()):
            own = found.pickled.get(prefix)
            fm = quantized.dequantized(prefix, entries, own.attrs if own is not None else None)
            found.modules[prefix] = fm
            found.notes.append(fm.note)
        return Foreign(found.modules, found.tensors, found.classes, found.notes, found.source, found.pickled,
                       found.values, found.objects)
    if not groups and not cells and not modern:
        keys = " ".join(found.tensors) + " " + " ".join(found.classes) + " " + " ".join(m.cls for m in found.pickled.values())
        if "_all_weight_values" in keys or "_packed_params" in keys or ".quantized." in keys:
            raise InputError("this model is quantized (torch.ao.quantization, e.g. quantize_dynamic: int8 weights packed "
                             "for the quantized kernels), which is not read; upload the float model's state_dict from "
                             "before quantization.")
        pickled = found.classes or sorted({m.cls for m in found.pickled.values()})
        other = (forecasting.refusal(pickled, found.values) or gated.refusal(list(found.tensors), pickled)
                 or formats.not_recurrent(list(found.tensors), pickled))
        if other:
            raise InputError(other)
        what = f" (it pickles {', '.join(pickled[:3])})" if pickled else ""
        raise InputError("no LSTM, GRU or RNN weights found in this checkpoint" + what + " (looked for keys like "
                         "'rnn.weight_ih_l0' or an LSTMCell's 'cell.weight_ih'); is it the right file?")
    recorded = dict(found.pickled)
    saved = saved_settings(found.values)          # hyper_parameters / args / config saved beside the weights
    if saved:
        for prefix in list(groups) + list(cells):
            own = recorded.get(prefix)
            attrs = {**saved, **(own.attrs if own is not None else {})}
            recorded[prefix] = pickles.PickledModule(own.cls if own is not None else "", attrs)
    for prefix, g in sorted(groups.items()):
        found.modules[prefix] = _rebuild(prefix, g, recorded.get(prefix), (overrides or {}).get(prefix, {}), nonlinearity)
    for prefix, g in sorted(cells.items()):
        if prefix not in found.modules:
            layered = {(n, 0, False): t for n, t in g.items()}
            fm = _rebuild(prefix, layered, recorded.get(prefix), (overrides or {}).get(prefix, {}), nonlinearity)
            fm.cell = True
            found.modules[prefix] = fm
    low = sorted({str(t.dtype).replace("torch.", "") for t in found.tensors.values()
                  if isinstance(t, Tensor) and t.dtype.is_floating_point and t.dtype.itemsize < 4})
    if low:
        found.notes.append(f"The weights are {' and '.join(low)}; they are traced in float32 (exactly the same "
                           "values, computed at higher precision).")
    out = Foreign(found.modules, found.tensors, found.classes, found.notes, found.source, found.pickled,
                  found.values, found.objects, root=found.root)
    for layout in LAYOUTS:
        layout.adapt(out)
    return out


def saved_settings(values: dict) -> dict:
    """An RNN's nonlinearity and batch_first as a training checkpoint records them beside the weights:
    Lightning's hyper_parameters, an args/config/hparams dict ({"nonlinearity": "relu"}, "batch_first": True),
    or word_language_model's args.model ("RNN_RELU")."""
    out = {}
    for k, v in values.items():
        leaf = k.rpartition(".")[2].lower()
        if leaf == "nonlinearity" and v in ("tanh", "relu"):
            out["nonlinearity"] = v
        elif leaf in ("model", "rnn_type", "cell_type") and v in ("RNN_TANH", "RNN_RELU"):
            out.setdefault("nonlinearity", v[4:].lower())
        elif leaf == "batch_first" and isinstance(v, bool):
            out["batch_first"] = v
    return out


def load_recurrent(source: Source, *, overrides: Optional[dict[str, dict]] = None,
                   nonlinearity: str = "tanh") -> dict[str, nn.RNNBase]:
    """Every recurrent module in a foreign checkpoint as {prefix: stock nn.LSTM/GRU/RNN} (eval mode).

    The kind comes from the shapes (weight_hh is (4H, H_out) for an LSTM, (3H, H) for a GRU, (H, H)
    for an RNN). A state_dict cannot say an RNN's nonlinearity or batch_first: a pickled model's
    own values are used when it has them, else `nonlinearity` (PyTorch's default "tanh") and
    batch_first=False, unless overrides[prefix] says otherwise."""
    found = read_foreign(source, overrides, nonlinearity=nonlinearity)
    return {p: fm.module for p, fm in found.modules.items()}


# ---- reading ---------------------------------------------------------------------------------

@dataclass
class _Read:
    tensors: dict[str, Tensor]
    pickled: dict[str, pickles.PickledModule] = field(default_factory=dict)
    classes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    source: str = "state_dict"
    modules: dict[str, FoundModule] = field(default_factory=dict)
    values: dict = field(default_factory=dict)
    objects: dict = field(default_factory=dict)
    root: object = None


def _read(source: Source) -> _Read:
    if isinstance(source, dict):
        return _unwrap(pickles.flatten(source), "state_dict")
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    else:
        data = read_bytes(source, "checkpoint")
    if len(data) < 8:
        raise InputError("this file is too short to be a checkpoint; upload a .safetensors, .pt, .pth, .bin or .ckpt file.")
    other = formats.other_format(data)
    if other:
        raise InputError(other)
    data = protocols.downgrade(data)              # pickle protocols 4 and 5 as the weights-only reader's opcodes
    try:
        if data[:2] == b"PK":
            return _read_zip(data)
        if data[:1] == b"\x80":
            return _read_legacy(data)
        if _looks_like_safetensors(data):
            return _unwrap(pickles.flatten(load_safetensors(data)), "safetensors")
    except InputError:
        raise
    except RecursionError:
        raise InputError("this checkpoint nests its contents too deeply to read; re-save it as a plain state_dict.") from None
    except Exception as e:      # zip members with odd compression or encryption, non-UTF-8 names, swapped globals …
        raise InputError(f"this checkpoint could not be read ({type(e).__name__}: {_first_line(e)}); upload the file "
                         "your training script saved, or re-save it with torch.save(model.state_dict(), path).") from None
    raise InputError("this file is neither a PyTorch checkpoint (torch.save) nor safetensors; upload the file your "
                     "training script saved (.pt, .pth, .bin, .ckpt, .tar or .safetensors).")


def _looks_like_safetensors(data: bytes) -> bool:
    n = int.from_bytes(data[:8], "little")
    return 2 <= n <= len(data) - 8 and data[8:9] == b"{"


def _read_zip(data: bytes) -> _Read:
    names, script = opcodes.globals_in(data)
    from torch._weights_only_unpickler import _get_allowed_globals
    if script or any(n not in _get_allowed_globals() for n in names):
        un = pickles.load_unsafe_free(data)
        kind = "TorchScript" if un.torchscript else "pickled model"
        out = _unwrap(un, kind)
        if un.classes:
            out.notes.append(f"This file pickles {', '.join(un.classes[:4])}{' …' if len(un.classes) > 4 else ''}; "
                             "its code was not imported or run, only its tensors and settings were read.")
        if un.torchscript:
            out.notes.append("This is a TorchScript archive; its code was not run, only its weights and "
                             "constants were read.")
        return out
    try:
        obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError) as e:
        if "operand 149" in str(e):          # FRAME: pickle protocol 4 or 5, which the weights-only reader lacks
            raise InputError("this checkpoint was saved with pickle protocol 4 or 5, which the weights-only reader "
                             "cannot read; re-save it with torch.save's default protocol.") from None
        raise InputError(f"this .pt file is damaged or truncated ({_first_line(e)}); upload it again.") from None
    return _unwrap(pickles.flatten(obj), "state_dict")


def _read_legacy(data: bytes) -> _Read:
    """torch.save(..., _use_new_zipfile_serialization=False) or a bare pickle: weights_only only."""
    try:
        obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        opcodes.refuse_calls(data)                 # a call outside the allowlist is named first
        names = opcodes.pickle_globals(data)
        bad = [n for n in names if pickles.dangerous(n)]
        if bad:
            raise InputError(f"this file is refused: its pickle calls {', '.join(bad[:4])}, code that runs on "
                             "loading (a model file never needs that); nothing of it was run.") from None
        what = ", ".join(names[:3]) or "Python objects"
        raise InputError(f"this file is an old-format pickle that holds {what}, which cannot be read without running "
                         "code; re-save it with torch.save(model.state_dict(), path) (or as safetensors).") from None
    except (RuntimeError, EOFError, ValueError) as e:
        raise InputError(f"this .pt file is damaged or truncated ({_first_line(e)}); upload it again.") from None
    return _unwrap(pickles.flatten(obj), "state_dict")


def _first_line(e: Exception) -> str:
    """The first line of a library's message, without terminal escapes or control characters, at most 120."""
    s = re.sub(r"\x1b\[[0-9;]*m", "", str(e)).strip()
    return short(s.splitlines()[0] if s else type(e).__name__, 120)


def _unwrap(un: pickles.Unpickled, source: str) -> _Read:
    """Descend into the usual wrappers and drop DataParallel's "module." prefix."""
    tensors, mods = un.tensors, un.modules
    for _ in range(3):
        heads = {k.split(".", 1)[0] for k in tensors}
        inner = [w for w in WRAPPERS if w in heads and _has_recurrent(tensors, w + ".")]
        if len(inner) == 1 and not any(_LAYER.match(k) or _CELL.match(k) for k in tensors if not k.startswith(inner[0] + ".")):
            cut = len(inner[0]) + 1
            tensors = {k[cut:]: v for k, v in tensors.items() if k.startswith(inner[0] + ".")}
            mods = {k[cut:] if k.startswith(inner[0] + ".") else ("" if k == inner[0] else k): v for k, v in mods.items()}
    if tensors and all(k.startswith("module.") for k in tensors):
        tensors = {k[7:]: v for k, v in tensors.items()}
        mods = {(k[7:] if k.startswith("module.") else ("" if k == "module" else k)): v for k, v in mods.items()}
    return _Read(tensors, mods, list(un.classes), [], source, values=un.values, objects=un.objects, root=un.root)


def _has_recurrent(tensors, prefix) -> bool:
    return any(k.startswith(prefix) and (_LAYER.match(k) or _CELL.match(k)) for k in tensors)


def _groups(tensors: dict[str, Tensor]):
    """{prefix: {(name, layer, reverse): tensor}} for layered modules, {prefix: {name: tensor}} for cells.
    A weight-dropped "_raw" weight stands in for its plain name when that is absent."""
    groups: dict[str, dict] = defaultdict(dict)
    cells: dict[str, dict] = defaultdict(dict)
    for key, t in tensors.items():
        if not isinstance(t, Tensor):
            continue
        if m := _LAYER.match(key):
            slot = (m["name"], int(m["layer"]), bool(m["rev"]))
            if not m["raw"] or slot not in groups[m["prefix"]]:
                groups[m["prefix"]][slot] = t
        elif (m := _CELL.match(key)) and m["prefix"] not in groups:
            if not m["raw"] or m["name"] not in cells[m["prefix"]]:
                cells[m["prefix"]][m["name"]] = t
    groups = {p: g for p, g in groups.items() if g}
    cells = {p: g for p, g in cells.items() if "weight_ih" in g and "weight_hh" in g and p not in groups}
    return groups, cells


def _rebuild(prefix: str, g: dict, pickled: Optional[pickles.PickledModule], override: dict,
             default_nonlinearity: str = "tanh") -> FoundModule:
    name = prefix or "(top level)"
    layers = 1 + max(l for _, l, _ in g)
    if layers > budget.MAX_LAYERS:
        raise InputError(f"the weights under {short(name)!r} name layer {layers - 1:,}; at most {budget.MAX_LAYERS} "
                         "stacked layers are read (is a key name damaged?).")
    missing = sorted({l for l in range(layers) if ("weight_ih", l, False) not in g})
    if missing:
        raise InputError(f"the weights under {short(name)!r} have no weight_ih for layer {missing[0]} of {layers}, so "
                         "that layer cannot be rebuilt; check that the file holds the whole model.")
    bidirectional = any(r for _, _, r in g)
    bias = ("bias_ih", 0, False) in g
    w_hh, w_ih = g.get(("weight_hh", 0, False)), g.get(("weight_ih", 0, False))
    if w_hh is None or w_ih is None or w_hh.dim() != 2 or w_ih.dim() != 2:
        raise InputError(f"the recurrent weights under {short(name)!r} are incomplete (weight_ih_l0 or weight_hh_l0 is "
                         "missing or not 2-D); check that the file holds the whole model's weights.")
    rows, h_out = w_hh.shape
    w_hr = g.get(("weight_hr", 0, False))
    if w_hr is not None and (w_hr.dim() != 2 or w_hr.shape[0] >= w_hr.shape[1] or w_hr.shape[0] != h_out):
        raise InputError(f"the projection weight_hr_l0 under {short(name)!r} has shape {tuple(w_hr.shape)}, which is no "
                         "LSTM projection: PyTorch's is (proj_size, hidden_size), proj_size smaller than hidden_size and "
                         f"equal to weight_hh_l0's width ({h_out} here); is the file damaged?")
    proj = w_hr.shape[0] if w_hr is not None else 0
    H = w_hr.shape[1] if w_hr is not None else h_out
    for what, n in (("the input size", w_ih.shape[1]), ("the hidden size", H), ("the projection", proj or 1)):
        budget.bounded(int(n), f"{what} under {short(name)!r}")
    kind = next((KINDS[k] for k in CLASSIC if KINDS[k].blocks * H == rows), None)
    if kind is None:
        raise InputError(f"the weights under {name!r} have weight_hh of shape {tuple(w_hh.shape)}, which fits no "
                         "LSTM (4H, H), GRU (3H, H) or RNN (H, H).")
    recorded, assumed = {}, {}
    attrs = pickled.attrs if pickled is not None else {}
    nonlin = "tanh"
    if kind.has_nonlinearity:
        if "nonlinearity" in attrs or attrs.get("mode") in ("RNN_TANH", "RNN_RELU"):
            recorded["nonlinearity"] = attrs.get("nonlinearity") or attrs["mode"][4:].lower()
        nonlin = override.get("nonlinearity", recorded.get("nonlinearity", default_nonlinearity))
        if nonlin not in ("tanh", "relu"):
            raise InputError(f"an RNN's nonlinearity is 'tanh' or 'relu', not {nonlin!r}.")
        if "nonlinearity" not in recorded and "nonlinearity" not in override:
            assumed["nonlinearity"] = nonlin
    if "batch_first" in attrs:
        recorded["batch_first"] = bool(attrs["batch_first"])
    batch_first = bool(override.get("batch_first", recorded.get("batch_first", False)))
    if "batch_first" not in recorded and "batch_first" not in override:
        assumed["batch_first"] = batch_first
    kw = dict(num_layers=layers, bidirectional=bidirectional, bias=bias, batch_first=batch_first)
    dtype = torch.float32 if w_ih.dtype in (torch.float16, torch.bfloat16) or w_ih.dtype.itemsize < 2 else w_ih.dtype
    if not w_ih.dtype.is_floating_point:
        raise InputError(f"the weights under {short(name)!r} are {w_ih.dtype}, not floating point; is it a quantized "
                         "model? Save the float model before quantization.")
    # Before anything is built or materialised: the module, plus the copy each weight makes on its way in.
    need = budget.recurrent_bytes(kind.blocks, w_ih.shape[1], H, layers, 2 if bidirectional else 1, proj,
                                  torch.tensor([], dtype=dtype).element_size())
    budget.check(2 * need, f"the {kind.label} under {short(name)!r} ({layers} layer(s), hidden size {H:,}, "
                           f"input size {w_ih.shape[1]:,})")
    budget.check(sum(int(t.numel()) for t in g.values()) * 8, f"the weights under {short(name)!r}")
    mod = kind.make(w_ih.shape[1], H, nonlinearity=nonlin, proj_size=proj, **kw)
    mod = mod.to(dtype)
    sd = {f"{n}_l{l}{'_reverse' if r else ''}": t.to(dtype) for (n, l, r), t in g.items()}
    try:
        mod.load_state_dict(sd)
    except RuntimeError as e:
        first = str(e).split("\n\t")[1] if "\n\t" in str(e) else str(e)
        raise InputError(f"the recurrent weights under {name!r} are inconsistent ({first.strip()[:160]}); "
                         "is a layer missing from the file?") from None
    return FoundModule(mod.eval(), kind.name, False, assumed, recorded)


def with_settings(fm: FoundModule, **settings) -> FoundModule:
    """The same weights with what the file could not say set by the user (nonlinearity, batch_first);
    a setting given here is no longer 'assumed'."""
    m = fm.module
    kw = dict(num_layers=m.num_layers, bidirectional=m.bidirectional, bias=m.bias,
              batch_first=settings.get("batch_first", m.batch_first))
    kind = kinds.of(m)
    own = {**kind.settings(m), **{k: v for k, v in settings.items() if k != "batch_first"}}
    new = kind.make(m.input_size, m.hidden_size, **own, **kw)
    new = new.to(m.weight_ih_l0.dtype)
    new.load_state_dict(m.state_dict())
    assumed = {k: v for k, v in fm.assumed.items() if k not in settings}
    return FoundModule(new.eval(), fm.kind, fm.cell, assumed, fm.recorded)
