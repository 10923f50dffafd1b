"""Checkpoints: our models as safetensors (+ JSON metadata), and foreign recurrent weights.

Our format: safetensors weights; metadata holds "format" (FORMAT_VERSION), "config"
(ModelConfig as JSON), "vocab" (Vocab JSON, char models) and "card" (a model card: corpus,
steps, losses, recipe). A file saved today keeps loading: readers accept every version
up to FORMAT_VERSION.

Untrusted files are read only as safetensors or through torch.load(weights_only=True):
a pickle that carries code is refused before any of it runs.
"""
from __future__ import annotations

import io
import json
import os
import pickle
import re
import zipfile
from collections import defaultdict
from typing import Optional, Union

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load, save as st_save
from torch import Tensor, nn

from .data import Vocab
from .errors import InputError
from .models import ModelConfig, build

FORMAT_VERSION = 1
Source = Union[str, os.PathLike, bytes, dict]


def save_model(model: nn.Module, path=None, card: Optional[dict] = None) -> bytes:
    """Serialise model (CharModel or SeqModel) with its config, vocab and card; write to path
    if given. Returns the bytes (the app offers them for download)."""
    meta = {"format": str(FORMAT_VERSION), "config": json.dumps(model.cfg.to_dict()),
            "card": json.dumps(card or {})}
    if getattr(model, "vocab", None) is not None:
        meta["vocab"] = model.vocab.to_json()
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    data = st_save(state, metadata=meta)
    if path is not None:
        with open(path, "wb") as f:
            f.write(data)
    return data


def _read_bytes(source, what: str) -> bytes:
    if isinstance(source, (bytes, bytearray)):
        return bytes(source)
    try:
        with open(source, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise InputError(f"no {what} at {str(source)!r}; check the path.") from None
    except OSError as e:
        raise InputError(f"the {what} at {str(source)!r} cannot be read ({e.strerror}).") from None


def _safetensors_metadata(data: bytes) -> dict:
    """The metadata dict of a safetensors blob (without loading tensors)."""
    try:
        n = int.from_bytes(data[:8], "little")
        header = json.loads(data[8:8 + n])
        return header.get("__metadata__", {}) or {}
    except (ValueError, UnicodeDecodeError):
        raise InputError("this file is not a readable safetensors checkpoint (damaged or truncated?).") from None


def load_model(source, device="cpu") -> tuple[nn.Module, dict]:
    """Load a model saved by save_model. Returns (model in eval mode, card)."""
    data = _read_bytes(source, "checkpoint")
    meta = _safetensors_metadata(data)
    if "config" not in meta:
        raise InputError("this file is not a Gate Explorer model (no config in it); "
                         "to explore a foreign model's recurrent layers, load it as a state_dict.")
    version = int(meta.get("format", "1"))
    if version > FORMAT_VERSION:
        raise InputError(f"this checkpoint uses format {version}, newer than this Gate Explorer "
                         f"({FORMAT_VERSION}); update Gate Explorer.")
    try:
        cfg = ModelConfig.from_dict(json.loads(meta["config"]))
        card = json.loads(meta.get("card", "{}"))
    except (ValueError, TypeError):
        raise InputError("the config stored in this checkpoint is unreadable; re-save the model.") from None
    vocab = Vocab.from_json(meta["vocab"]) if "vocab" in meta else None
    model = build(cfg, vocab)
    state = _load_safetensors(data)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        first = str(e).split("\n\t")[1] if "\n\t" in str(e) else str(e)
        raise InputError(f"the weights in this checkpoint contradict its config ({first.strip()}).") from None
    return model.to(device).eval(), card


def _load_safetensors(data: bytes) -> dict[str, Tensor]:
    try:
        return st_load(data)
    except (SafetensorError, ValueError, RuntimeError) as e:
        raise InputError(f"this safetensors file is damaged or truncated ({e}); upload it again.") from None


def read_state_dict(source: Source) -> dict[str, Tensor]:
    """A flat {name: tensor} from a safetensors file, a .pt/.pth (weights_only=True) or a dict."""
    if isinstance(source, dict):
        state = source
    else:
        data = _read_bytes(source, "checkpoint")
        if len(data) < 8:
            raise InputError("this file is too short to be a checkpoint; upload a .safetensors or .pt file.")
        if data[:2] == b"PK" or data[:1] == b"\x80":        # a zip (torch.save) or a bare pickle
            try:
                state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
            except pickle.UnpicklingError as e:
                raise InputError("this .pt file holds more than weights (Python objects or code), so it is "
                                 "refused for safety; save model.state_dict() or use safetensors. "
                                 f"({str(e).splitlines()[0][:120]})") from None
            except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError) as e:
                raise InputError(f"this .pt file is damaged or truncated ({str(e).splitlines()[0][:120]}).") from None
        else:
            state = _load_safetensors(data)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]                          # a common training-checkpoint wrapper
    if not isinstance(state, dict):
        raise InputError(f"this checkpoint holds a {type(state).__name__}, not a state_dict; save model.state_dict().")
    flat = {}

    def walk(d, prefix):
        for k, v in d.items():
            if isinstance(v, Tensor):
                flat[prefix + str(k)] = v
            elif isinstance(v, dict):
                walk(v, prefix + str(k) + ".")
    walk(state, "")
    return flat


_KEY = re.compile(r"^(?P<prefix>.*?)(?:\.|^)?(?P<name>weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)"
                  r"_l(?P<layer>\d+)(?P<rev>_reverse)?$")


def load_recurrent(source: Source, nonlinearity: str = "tanh",
                   overrides: Optional[dict[str, dict]] = None) -> dict[str, nn.RNNBase]:
    """Every nn.LSTM / nn.GRU / nn.RNN inside a foreign state_dict, rebuilt as a stock module.

    Groups keys like "<prefix>.weight_ih_l0" by prefix; infers the kind from the shapes
    (weight_hh is (4H, H_out) for an LSTM, (3H, H) for a GRU, (H, H) for an RNN), and
    hidden size, input size, layers, direction, bias and proj_size. An RNN's nonlinearity
    cannot be seen in the weights: it is `nonlinearity` ("tanh", PyTorch's default) unless
    overrides[prefix]["nonlinearity"] says otherwise. batch_first is False (set it on the
    returned module if your data is batch-first). Returns {prefix: module} in eval mode.
    """
    state = read_state_dict(source)
    groups: dict[str, dict] = defaultdict(dict)
    for key, t in state.items():
        m = _KEY.match(key)
        if m:
            groups[m["prefix"]][(m["name"], int(m["layer"]), bool(m["rev"]))] = t
    if not groups:
        raise InputError("no LSTM, GRU or RNN weights found in this checkpoint (looked for keys like "
                         "'rnn.weight_ih_l0'); is it the right file?")
    modules = {}
    for prefix, g in groups.items():
        modules[prefix] = _rebuild(prefix or "(top level)", g, nonlinearity, (overrides or {}).get(prefix, {}))
    return modules


def _rebuild(name: str, g: dict, nonlinearity: str, override: dict) -> nn.RNNBase:
    layers = 1 + max(l for _, l, _ in g)
    bidirectional = any(r for _, _, r in g)
    bias = ("bias_ih", 0, False) in g
    w_hh = g.get(("weight_hh", 0, False))
    w_ih = g.get(("weight_ih", 0, False))
    if w_hh is None or w_ih is None or w_hh.dim() != 2 or w_ih.dim() != 2:
        raise InputError(f"the recurrent weights under {name!r} are incomplete (weight_ih_l0/weight_hh_l0 missing or not 2-D).")
    rows, h_out = w_hh.shape
    w_hr = g.get(("weight_hr", 0, False))
    proj = w_hr.shape[0] if w_hr is not None else 0
    H = w_hr.shape[1] if w_hr is not None else h_out
    if rows == 4 * H:
        kind = "lstm"
    elif rows == 3 * H:
        kind = "gru"
    elif rows == H:
        kind = "rnn"
    else:
        raise InputError(f"the weights under {name!r} have weight_hh of shape {tuple(w_hh.shape)}, which fits no "
                         "LSTM (4H, H), GRU (3H, H) or RNN (H, H).")
    kind = override.get("kind", kind)
    kw = dict(num_layers=layers, bidirectional=bidirectional, bias=bias)
    if kind == "lstm":
        mod = nn.LSTM(w_ih.shape[1], H, proj_size=proj, **kw)
    elif kind == "gru":
        mod = nn.GRU(w_ih.shape[1], H, **kw)
    else:
        mod = nn.RNN(w_ih.shape[1], H, nonlinearity=override.get("nonlinearity", nonlinearity), **kw)
    mod = mod.to(w_ih.dtype)
    sd = {}
    for (n, l, r), t in g.items():
        sd[f"{n}_l{l}{'_reverse' if r else ''}"] = t
    try:
        mod.load_state_dict(sd)
    except RuntimeError as e:
        first = str(e).split("\n\t")[1] if "\n\t" in str(e) else str(e)
        raise InputError(f"the recurrent weights under {name!r} are inconsistent ({first.strip()[:200]}).") from None
    return mod.eval()
