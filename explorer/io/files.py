"""Reading checkpoint files: bytes from a path, a safetensors file's metadata and tensors, with one
clear sentence for each way a file can be missing or damaged. Below checkpoints, foreign and
pretrained, which all read files."""
from __future__ import annotations

import json

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


MAX_HEADER = 100_000_000          # bytes of a safetensors JSON header
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1,
               "F8_E4M3": 1, "F8_E5M2": 1, "U16": 2, "U32": 4, "U64": 8}


def _header(data: bytes) -> dict:
    """The JSON header of a safetensors blob, checked to be an object of tensor entries."""
    n = int.from_bytes(data[:8], "little")
    if not 2 <= n <= min(len(data) - 8, MAX_HEADER):     # (a header_bytes() prefix ends with the header)
        raise InputError("this file is not a readable safetensors checkpoint (its header length is wrong: damaged "
                         "or truncated?).")
    try:
        header = json.loads(data[8:8 + n])
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InputError("this file is not a readable safetensors checkpoint (its header is not valid JSON).") from None
    if not isinstance(header, dict):
        raise InputError("this safetensors file's header is not a JSON object of tensors; is it the right file?")
    return header


def header_bytes(path) -> bytes:
    """The first bytes of a safetensors file up to the end of its JSON header: enough for its metadata,
    without reading the weights."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            n = int.from_bytes(head, "little")
            return head + f.read(min(n, MAX_HEADER)) if len(head) == 8 else head
    except OSError as e:
        raise InputError(f"the checkpoint at {short(path, 80)!r} cannot be read ({e.strerror}).") from None


def safetensors_metadata(data: bytes) -> dict:
    """The metadata dict of a safetensors blob (without loading tensors): {str: str}."""
    meta = _header(data).get("__metadata__", {}) or {}
    if not isinstance(meta, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise InputError("this safetensors file's metadata is not a map of text to text; re-save the file.")
    return meta


def load_safetensors(data: bytes) -> dict[str, Tensor]:
    """The tensors of a safetensors blob (nothing in it is code), each dtype known and the declared total
    within the memory budget before anything is read."""
    from . import budget
    header = _header(data)
    total = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dt = entry.get("dtype") if isinstance(entry, dict) else None
        shape = entry.get("shape") if isinstance(entry, dict) else None
        if dt not in DTYPE_BYTES:
            raise InputError(f"the safetensors tensor {short(name)!r} has dtype {short(dt)!r}, which this reader does "
                             f"not know ({', '.join(DTYPE_BYTES)}); re-save it as float32.")
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise InputError(f"the safetensors tensor {short(name)!r} has no valid shape; is the file damaged?")
        n = DTYPE_BYTES[dt]
        for d in shape:
            n *= d
        total += n
    budget.check(total, "the tensors this safetensors file declares")
    try:
        return st_load(data)
    except Exception as e:      # the library's own sentence, first line only
        raise InputError(f"this safetensors file is damaged or truncated ({_first_line(e)}); upload it again.") from None


def short(value, n: int = 40) -> str:
    """Something a user gave, for a message: at most n characters, control characters removed."""
    s = "".join(ch if ch.isprintable() else " " for ch in str(value)).strip()
    return s if len(s) <= n else s[:n - 1] + "…"


def _first_line(e: Exception) -> str:
    s = str(e).strip()
    return short(s.splitlines()[0] if s else type(e).__name__, 120)
