"""Checkpoints: our models as safetensors (+ JSON metadata), and foreign recurrent weights.

Our format: safetensors weights; metadata holds "format" (FORMAT_VERSION), "config"
(ModelConfig as JSON), "vocab" (Vocab JSON, char models) and "card" (a model card: corpus,
steps, losses, recipe). A file saved today keeps loading: readers accept every version
up to FORMAT_VERSION.

Untrusted files are read only as safetensors or through torch.load(weights_only=True) (with
inert stand-ins for the classes a whole pickled model names, see pickles.py): nothing from a
file is imported or run.
"""
from __future__ import annotations

import json
from typing import Optional

from safetensors.torch import save as st_save
from torch import nn

from explorer.errors import InputError

from .. import budget
from ..files import load_safetensors, read_bytes, safetensors_metadata, short
from ..inputs.data import Vocab
from .ours import ModelConfig, build

FORMAT_VERSION = 1


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


def load_model(source, device="cpu") -> tuple[nn.Module, dict]:
    """Load a model saved by save_model. Returns (model in eval mode, card)."""
    data = read_bytes(source, "checkpoint")
    meta = safetensors_metadata(data)
    if "config" not in meta:
        raise InputError("this file is not a Gate Explorer model (no config in it); "
                         "to explore a foreign model's recurrent layers, load it as a state_dict.")
    try:
        version = int(meta.get("format", "1"))
    except (TypeError, ValueError):
        raise InputError(f"this checkpoint's format field reads {short(str(meta.get('format')), 20)!r}, not a version "
                         "number; re-save the model with save_model.") from None
    if version > FORMAT_VERSION:
        raise InputError(f"this checkpoint uses format {version}, newer than this Gate Explorer "
                         f"({FORMAT_VERSION}); update Gate Explorer.")
    try:
        cfg = ModelConfig.from_dict(json.loads(meta["config"]))
        card = json.loads(meta.get("card", "{}"))
        if not isinstance(card, dict):
            card = {}
    except InputError as e:
        raise InputError(f"the config stored in this checkpoint is invalid: {e}") from None
    except (ValueError, TypeError, RecursionError):
        raise InputError("the config stored in this checkpoint is unreadable; re-save the model.") from None
    try:
        vocab = Vocab.from_json(meta["vocab"]) if "vocab" in meta else None
    except InputError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        raise InputError("the vocabulary stored in this checkpoint is unreadable; re-save the model.") from None
    if vocab is not None and len(vocab) != cfg.vocab_size:
        raise InputError(f"the checkpoint's vocabulary has {len(vocab):,} symbols but its config says vocab_size "
                         f"{cfg.vocab_size:,}; re-save the model.")
    budget.check(2 * cfg.nbytes(), f"the model its config describes ({cfg.kind}, hidden size {cfg.hidden_size:,}, "
                                   f"{cfg.num_layers} layer(s))")
    model = build(cfg, vocab)
    state = load_safetensors(data)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        first = str(e).split("\n\t")[1] if "\n\t" in str(e) else str(e)
        raise InputError(f"the weights in this checkpoint contradict its config ({first.strip()}).") from None
    return model.to(device).eval(), card


# Foreign checkpoints (whole pickled models, Lightning, cells, TorchScript …) live in foreign.py.
from ..readers.foreign import load_recurrent, read_foreign  # noqa: E402,F401
