"""The registry over pretrained/: every *.safetensors there, by file name.

    explorer.list_pretrained()            # {name: model card}
    model = explorer.load_pretrained("shakespeare-lstm")
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from explorer.errors import InputError

from ..files import header_bytes, safetensors_metadata
from .checkpoints import load_model


@lru_cache(maxsize=1)
def directory() -> Path:
    """Where the shipped weights and cards are: inside the installed package (pyproject.toml maps the
    repository's pretrained/ to explorer/_pretrained), else the checkout's own pretrained/."""
    package = Path(__file__).resolve().parents[2]          # explorer/ (this file is explorer/io/models/pretrained.py)
    installed = package / "_pretrained"
    if any(installed.glob("*.safetensors")):
        return installed
    return package.parent / "pretrained"


def list_pretrained() -> dict[str, dict]:
    """Names of the shipped models with their model cards (read from metadata, no weights loaded)."""
    out = {}
    for p in sorted(directory().glob("*.safetensors")):
        meta = safetensors_metadata(header_bytes(p))          # the header only: no weights read
        out[p.stem] = dict(json.loads(meta.get("card", "{}")), config=json.loads(meta.get("config", "{}")))
    return out


def load_pretrained(name: str, device: str = "cpu"):
    """A shipped model in eval mode; its card is model.card."""
    path = directory() / f"{name}.safetensors"
    if not path.exists():
        names = ", ".join(list_pretrained()) or f"none ({directory()} has no models)"
        raise InputError(f"there is no pretrained model {name!r}; available: {names}.")
    model, card = load_model(path, device)
    model.card = card
    return model
