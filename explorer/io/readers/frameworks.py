"""Other frameworks' recurrent layers as stock PyTorch modules, exactly, or one sentence saying why not.

    found = read_keras(data)        # a .keras zip or a Keras 2/3 .h5: LSTM, GRU, SimpleRNN, Bidirectional,
                                    # Embedding, Dense
    found = read_onnx(data)         # an ONNX model's LSTM, GRU and RNN nodes

Both return what explorer.io.readers.foreign.read_foreign returns (a Foreign), so tasks, open_model and the app
treat them like any checkpoint. Files are read with h5py and onnx's protobuf reader: data only, nothing
from the file is run. Gate orders are mapped on reading (Keras: i, f, c, o and z, r, h; ONNX: i, o, f, c
and z, r, h; PyTorch: i, f, g, o and r, z, n). What has no exact PyTorch equal (a Keras GRU with
reset_after=False, other activations, an ONNX LSTM with peepholes, clip or input_forget, a reverse-only
layer) is refused in one sentence: an approximation is never shown as the model.
"""
from __future__ import annotations

import io
import json
import re
import zipfile

import numpy as np
import torch

from explorer.core.kinds import KINDS
from explorer.errors import InputError

from .. import budget
from ..files import short
from .found import Foreign, FoundModule
from .pickles import PickledModule

HDF5 = b"\x89HDF\r\n\x1a\n"


def is_keras(data: bytes) -> bool:
    if data[:8] == HDF5:
        return True
    if data[:2] != b"PK":
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = set(z.namelist())
    except Exception:
        return False
    return "config.json" in names and "model.weights.h5" in names


def is_onnx(data: bytes) -> bool:
    return data[:1] == b"\x08" and data[1:2] < b"\x80" and (b"onnx" in data[:256] or b"pytorch" in data[:256]
                                                             or b"keras" in data[:256] or b"tf2onnx" in data[:256])


# ---- Keras ---------------------------------------------------------------------------------------

KERAS_RNN = {"LSTM": "lstm", "GRU": "gru", "SimpleRNN": "rnn"}


def _h5(data: bytes, what: str = "this HDF5 file (a Keras .h5?)"):
    import h5py
    try:
        return h5py.File(io.BytesIO(data), "r")
    except Exception as e:
        raise InputError(f"{what} could not be opened ({short(e, 80)}); is it complete?") from None


def read_keras(data: bytes) -> Foreign:
    """A Keras model's recurrent layers (and its Embedding and Dense layers, as PyTorch names them)."""
    try:
        if data[:8] == HDF5:
            f = _h5(data)
            raw = f.attrs.get("model_config")
            if raw is None:
                raise InputError("this HDF5 file holds no Keras model_config (weights only?); save the whole model "
                                 "with model.save('model.keras').")
            config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
            weights = _h5_weights(f)
        else:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                config = json.loads(z.read("config.json"))
                f = _h5(z.read("model.weights.h5"), "this Keras 3 archive's weights (model.weights.h5)")
            weights = _keras3_weights(f)
    except InputError:
        raise
    except (ValueError, KeyError, TypeError, OSError, zipfile.BadZipFile, RecursionError) as e:
        raise InputError(f"this Keras file could not be read ({short(e, 80)}); save it again with model.save().") from None
    layers = _layers(config)
    if data[:8] != HDF5:                 # a .keras weights file names layers by class and count, not by name
        counts, named = {}, {}
        for cls, cfg in layers:
            snake = re.sub(r"([a-z])([A-Z])", r"\1_\2", re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", cls)).lower()
            k = counts.get(snake, 0)
            counts[snake] = k + 1
            key = snake if k == 0 else f"{snake}_{k}"
            named[cfg.get("name")] = weights.get(key, weights.get(cfg.get("name"), []))
        weights = named
    found = Foreign({}, {}, [], [], "Keras")
    found.notes.append("This is a Keras model; its layers were read from the file's config and weights (nothing "
                       "in it was run) and mapped to PyTorch's gate order.")
    for cls, cfg in layers:
        name = short(cfg.get("name", cls.lower()), 60)
        ws = weights.get(cfg.get("name"), [])
        if cls == "Bidirectional":
            inner = cfg.get("layer", {})
            icls, icfg = inner.get("class_name"), inner.get("config", {})
            if icls not in KERAS_RNN:
                continue
            half = len(ws) // 2
            found.modules[name] = _keras_rnn(name, icls, icfg, [ws[:half], ws[half:]], cfg.get("merge_mode", "concat"))
        elif cls in KERAS_RNN:
            found.modules[name] = _keras_rnn(name, cls, cfg, [ws], None)
        elif cls == "Embedding" and ws:
            found.tensors[f"{name}.weight"] = _tensor(ws[0], name)
            found.pickled[name] = PickledModule("keras.Embedding")
        elif cls == "Dense" and ws:
            act = cfg.get("activation", "linear")
            found.tensors[f"{name}.weight"] = _tensor(ws[0], name).T.contiguous()
            if len(ws) > 1:
                found.tensors[f"{name}.bias"] = _tensor(ws[1], name)
            # softmax and sigmoid are what the readout applies to a head's logits; anything else is not a head
            found.pickled[name] = PickledModule("keras.Linear" if act in ("linear", "softmax", "sigmoid") else f"Dense({act})")
    if not found.modules:
        raise InputError("this Keras model has no LSTM, GRU or SimpleRNN layer (it has "
                         f"{short(', '.join(c for c, _ in layers), 80) or 'no layers'}); Gate Explorer explores "
                         "recurrent layers.")
    return found


def _layers(config) -> list[tuple[str, dict]]:
    """(class_name, config) of every layer, nested models flattened."""
    out = []
    cfg = config.get("config", config) if isinstance(config, dict) else {}
    for L in cfg.get("layers", []) if isinstance(cfg, dict) else []:
        if not isinstance(L, dict):
            continue
        cls, c = L.get("class_name", ""), L.get("config", {}) or {}
        if cls in ("Sequential", "Functional", "Model"):
            out += _layers(L)
        else:
            out.append((cls, c))
    return out


def _keras3_weights(f) -> dict[str, list]:
    """{layer name: [arrays in variable order]}; a Bidirectional's forward layer's first."""
    out = {}
    if "layers" not in f:
        return out
    for lname in f["layers"]:
        g = f["layers"][lname]
        parts = [p for p in ("forward_layer", "backward_layer") if p in g] or [""]
        arrays = []
        for p in parts:
            base = g[p] if p else g
            for sub in ("cell", ""):
                node = base[sub] if sub and sub in base else (base if not sub else None)
                if node is not None and "vars" in node and len(node["vars"]):
                    v = node["vars"]
                    arrays += [_read(v[k]) for k in sorted(v, key=int)]
                    break
        out[lname] = arrays
    return out


def _h5_weights(f) -> dict[str, list]:
    """Keras 2 / legacy .h5: model_weights/<layer> lists its weight_names in order."""
    out = {}
    mw = f["model_weights"] if "model_weights" in f else f
    for lname in mw:
        g = mw[lname]
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in g.attrs.get("weight_names", [])]
        out[lname] = [_read(g[n]) for n in names if n in g]
    return out


def _read(ds) -> np.ndarray:
    budget.check(int(np.prod(ds.shape, dtype=np.int64)) * 8, f"the weight {short(ds.name, 60)!r}")
    return np.asarray(ds[()])


def _tensor(a: np.ndarray, name: str) -> torch.Tensor:
    if a.dtype.kind != "f":
        raise InputError(f"the weights of {name!r} are {a.dtype}, not floating point.")
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64 if a.dtype == np.float64 else np.float32))


def _keras_rnn(name: str, cls: str, cfg: dict, dirs: list[list], merge) -> FoundModule:
    kind = KINDS[KERAS_RNN[cls]]
    if merge not in (None, "concat"):
        raise InputError(f"the Bidirectional layer {name!r} merges its directions by {short(merge)!r}; PyTorch "
                         "concatenates them, so only merge_mode='concat' maps exactly.")
    if cfg.get("go_backwards"):
        raise InputError(f"the layer {name!r} reads backwards only (go_backwards=True), which no PyTorch module does.")
    act, rec = cfg.get("activation", "tanh"), cfg.get("recurrent_activation", "sigmoid")
    nonlin = "tanh"
    if kind.name == "rnn":
        if act not in ("tanh", "relu"):
            raise InputError(f"the SimpleRNN {name!r} uses activation {short(act)!r}; PyTorch's RNN has tanh or relu.")
        nonlin = act
    elif act != "tanh" or rec != "sigmoid":
        raise InputError(f"the {cls} {name!r} uses activation {short(act)!r} and recurrent_activation {short(rec)!r}; "
                         "PyTorch's is tanh and sigmoid, so it cannot be mapped exactly.")
    if kind.name == "gru" and not cfg.get("reset_after", True):
        raise InputError(f"the GRU {name!r} has reset_after=False (the reset gate applied before the matrix product), "
                         "which PyTorch's GRU does not compute; it cannot be mapped exactly.")
    use_bias = cfg.get("use_bias", True)
    if any(len(ws) < (3 if use_bias else 2) for ws in dirs):
        raise InputError(f"the weights of the {cls} {name!r} are incomplete in this file.")
    W = dirs[0][0]
    I, GH = W.shape
    H = GH // kind.blocks
    budget.check(2 * budget.recurrent_bytes(kind.blocks, I, H, 1, len(dirs)), f"the {cls} {name!r}")
    mod = kind.make(I, H, nonlinearity=nonlin, num_layers=1, bidirectional=len(dirs) == 2, bias=use_bias,
                    batch_first=True)
    order = {"lstm": [0, 1, 2, 3], "gru": [1, 0, 2], "rnn": [0]}[kind.name]     # Keras blocks -> PyTorch's
    sd = {}
    for d, ws in enumerate(dirs):
        sfx = "_reverse" if d else ""
        blocks = lambda a: torch.cat([_tensor(a, name).reshape(*a.shape[:-1], kind.blocks, H)[..., k, :]
                                      for k in order], -1)
        sd[f"weight_ih_l0{sfx}"] = blocks(ws[0]).T.contiguous()
        sd[f"weight_hh_l0{sfx}"] = blocks(ws[1]).T.contiguous()
        if use_bias:
            b = ws[2]
            if kind.name == "gru":                   # reset_after: (2, 3H), the input's bias then the recurrent's
                sd[f"bias_ih_l0{sfx}"], sd[f"bias_hh_l0{sfx}"] = blocks(b[0]), blocks(b[1])
            else:
                sd[f"bias_ih_l0{sfx}"] = blocks(b)
                sd[f"bias_hh_l0{sfx}"] = torch.zeros_like(sd[f"bias_ih_l0{sfx}"])
    dtype = sd["weight_ih_l0"].dtype
    mod = mod.to(dtype)
    try:
        mod.load_state_dict(sd)
    except RuntimeError:
        raise InputError(f"the weights of the {cls} {name!r} do not fit its shapes; is the file damaged?") from None
    recorded = {"batch_first": True} | ({"nonlinearity": nonlin} if kind.name == "rnn" else {})
    return FoundModule(mod.eval(), kind.name, False, {}, recorded)


# ---- ONNX ----------------------------------------------------------------------------------------

ONNX_KIND = {"LSTM": "lstm", "GRU": "gru", "RNN": "rnn"}
ONNX_DEFAULT_ACTS = {"lstm": ["Sigmoid", "Tanh", "Tanh"], "gru": ["Sigmoid", "Tanh"], "rnn": ["Tanh"]}


def read_onnx(data: bytes) -> Foreign:
    """An ONNX model's LSTM, GRU and RNN nodes as stock modules (time-major, like ONNX's layout 0)."""
    import onnx
    from onnx import numpy_helper
    try:
        model = onnx.load_model_from_string(data)
    except Exception as e:
        raise InputError(f"this ONNX file could not be read ({short(e, 80)}); is it complete?") from None
    g = model.graph
    inits = {}
    for t in g.initializer:
        budget.check(int(np.prod(list(t.dims), dtype=np.int64)) * 8, f"the ONNX tensor {short(t.name)!r}")
        inits[t.name] = t
    for n in g.node:                                 # weights folded into Constant nodes
        if n.op_type == "Constant" and n.attribute and n.attribute[0].type == onnx.AttributeProto.TENSOR:
            inits[n.output[0]] = n.attribute[0].t
    array = lambda name: numpy_helper.to_array(inits[name]) if name in inits else None
    found = Foreign({}, {}, [], [], "ONNX")
    found.notes.append("This is an ONNX model; its recurrent nodes' weights were read (nothing in it was run) and "
                       "mapped to PyTorch's gate order.")
    for k, n in enumerate(g.node):
        if n.op_type not in ONNX_KIND:
            continue
        name = short(n.name or f"{n.op_type.lower()}{k}", 60).replace("/", ".").strip(".") or f"rnn{k}"
        found.modules[name] = _onnx_rnn(name, n, array)
    for t in g.initializer:                          # 2-D tensors under their own names, for embeddings and heads
        if len(t.dims) == 2 and t.name not in {i for n in g.node if n.op_type in ONNX_KIND for i in n.input}:
            found.tensors[t.name] = torch.from_numpy(np.array(numpy_helper.to_array(t), dtype=np.float32))
    if not found.modules:
        raise InputError("this ONNX model has no LSTM, GRU or RNN node (its operators: "
                         f"{short(', '.join(sorted({n.op_type for n in g.node})), 80)}); Gate Explorer explores "
                         "recurrent layers.")
    return found


def _onnx_rnn(name: str, n, array) -> FoundModule:
    import onnx
    kind = KINDS[ONNX_KIND[n.op_type]]
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
    direction = attrs.get("direction", b"forward")
    direction = direction.decode() if isinstance(direction, bytes) else str(direction)
    if direction == "reverse":
        raise InputError(f"the ONNX {n.op_type} {name!r} runs in reverse only, which no PyTorch module does.")
    acts = [a.decode() if isinstance(a, bytes) else str(a) for a in attrs.get("activations", [])]
    nonlin = "tanh"
    default = ONNX_DEFAULT_ACTS[kind.name]
    per = len(default)
    if kind.name == "rnn" and acts and set(acts) == {"Relu"}:
        nonlin = "relu"
    elif acts and any(acts[i:i + per] != default for i in range(0, len(acts), per)):
        raise InputError(f"the ONNX {n.op_type} {name!r} uses activations {short(acts)}; PyTorch's are "
                         f"{', '.join(default)}, so it cannot be mapped exactly.")
    for a, why in (("clip", "clips its cell inputs"), ("input_forget", "couples its input and forget gates")):
        if attrs.get(a):
            raise InputError(f"the ONNX LSTM {name!r} {why} ({a}), which PyTorch's LSTM does not; it cannot be mapped "
                             "exactly.")
    if kind.name == "gru" and not attrs.get("linear_before_reset", 0):
        raise InputError(f"the ONNX GRU {name!r} has linear_before_reset=0 (the reset gate applied before the matrix "
                         "product), which PyTorch's GRU does not compute; it cannot be mapped exactly.")
    if attrs.get("layout", 0):
        raise InputError(f"the ONNX {n.op_type} {name!r} uses the batch-major layout 1; re-export it with layout 0.")
    inputs = list(n.input) + [""] * 8
    W, R = array(inputs[1]), array(inputs[2])
    if W is None or R is None:
        raise InputError(f"the weights of the ONNX {n.op_type} {name!r} are computed in the graph, not stored; "
                         "they cannot be read without running it.")
    B = array(inputs[3]) if inputs[3] else None
    P = array(inputs[7]) if kind.name == "lstm" and inputs[7] else None
    if P is not None and np.any(P != 0):
        raise InputError(f"the ONNX LSTM {name!r} has peephole connections, which PyTorch's LSTM does not have; it "
                         "cannot be mapped exactly.")
    D, GH, I = W.shape
    H = int(attrs.get("hidden_size", GH // kind.blocks))
    budget.check(2 * budget.recurrent_bytes(kind.blocks, I, H, 1, D), f"the ONNX {n.op_type} {name!r}")
    order = {"lstm": [0, 2, 3, 1], "gru": [1, 0, 2], "rnn": [0]}[kind.name]    # ONNX blocks -> PyTorch's
    blocks = lambda a: torch.cat([torch.from_numpy(np.array(a, dtype=np.float32)).reshape(kind.blocks, H, *a.shape[1:])[k]
                                  for k in order], 0)
    mod = kind.make(I, H, nonlinearity=nonlin, num_layers=1, bidirectional=D == 2, bias=True)
    sd = {}
    for d in range(D):
        sfx = "_reverse" if d else ""
        sd[f"weight_ih_l0{sfx}"], sd[f"weight_hh_l0{sfx}"] = blocks(W[d]), blocks(R[d])
        b = B[d] if B is not None else np.zeros(2 * kind.blocks * H, dtype=np.float32)
        sd[f"bias_ih_l0{sfx}"], sd[f"bias_hh_l0{sfx}"] = blocks(b[:kind.blocks * H]), blocks(b[kind.blocks * H:])
    try:
        mod.load_state_dict(sd)
    except RuntimeError:
        raise InputError(f"the weights of the ONNX {n.op_type} {name!r} do not fit its shapes.") from None
    return FoundModule(mod.eval(), kind.name, False, {}, {"batch_first": False} |
                       ({"nonlinearity": nonlin} if kind.name == "rnn" else {}))
