"""Reading checkpoint files: bytes from a path, a safetensors file's metadata and tensors, with one
clear sentence for each way a file can be missing or damaged. Below checkpoints, foreign and
pretrained, which all read files."""
from __future__ import annotations

import json

from safetensors import SafetensorError
from safetensors.torch import load as st_load
from torch import Tensor

from explorer.errors import InputError


def read_bytes(source, what: str) -> bytes:
    """The bytes of `source` (bytes, or a path to a file); `what` names it in the error."""
    if isinstance(source, (bytes, bytearray)):
        return bytes(source)
    try:
        with open(source, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise InputError(f"no {what} at {str(source)!r}; check the path.") from None
    except OSError as e:
        raise InputError(f"the {what} at {str(source)!r} cannot be read ({e.strerror}).") from None


def safetensors_metadata(data: bytes) -> dict:
    """The metadata dict of a safetensors blob (without loading tensors)."""
    try:
        n = int.from_bytes(data[:8], "little")
        header = json.loads(data[8:8 + n])
        return header.get("__metadata__", {}) or {}
    except (ValueError, UnicodeDecodeError):
        raise InputError("this file is not a readable safetensors checkpoint (damaged or truncated?).") from None


def load_safetensors(data: bytes) -> dict[str, Tensor]:
    """The tensors of a safetensors blob (nothing in it is code)."""
    try:
        return st_load(data)
    except (SafetensorError, ValueError, RuntimeError) as e:
        raise InputError(f"this safetensors file is damaged or truncated ({e}); upload it again.") from None
