"""The registry over pretrained/: every *.safetensors there, by file name.

    explorer.list_pretrained()            # {name: model card}
    model = explorer.load_pretrained("shakespeare-lstm")
"""
from __future__ import annotations

import json
from pathlib import Path

from .checkpoints import _read_bytes, _safetensors_metadata, load_model
from .errors import InputError

DIR = Path(__file__).resolve().parent.parent / "pretrained"


def list_pretrained() -> dict[str, dict]:
    """Names of the shipped models with their model cards (read from metadata, no weights loaded)."""
    out = {}
    for p in sorted(DIR.glob("*.safetensors")):
        meta = _safetensors_metadata(_read_bytes(p, "checkpoint"))
        out[p.stem] = dict(json.loads(meta.get("card", "{}")), config=json.loads(meta.get("config", "{}")))
    return out


def load_pretrained(name: str, device: str = "cpu"):
    """A shipped model in eval mode; its card is model.card."""
    path = DIR / f"{name}.safetensors"
    if not path.exists():
        names = ", ".join(list_pretrained()) or "none (pretrained/ is empty)"
        raise InputError(f"there is no pretrained model {name!r}; available: {names}.")
    model, card = load_model(path, device)
    model.card = card
    return model
