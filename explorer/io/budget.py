"""A memory budget, checked before anything a file declares is allocated.

A file can declare far more than it holds: `torch.save` keeps an expanded view (stride 0) as its
small storage, so a 2 KB file can claim a (100000, 100000) weight, and a config can ask for a
million layers. Every size a file or config declares is checked here against a limit before a
tensor is materialised or a module built, and refused in one sentence giving both numbers.

    GATE_EXPLORER_MAX_BYTES=4e9 gate-explorer       # the limit (default 2 GB)
"""
from __future__ import annotations

import os

from torch import Tensor

from explorer.errors import InputError

MAX_LAYERS = 64             # stacked recurrent layers a file may declare
MAX_WIDTH = 1 << 16         # input, hidden and projection sizes
MAX_ROWS = 1 << 24          # vocabulary / output rows
DEFAULT_BYTES = 2_000_000_000


def limit() -> int:
    """The budget in bytes (GATE_EXPLORER_MAX_BYTES, default 2 GB)."""
    try:
        return max(1, int(float(os.environ.get("GATE_EXPLORER_MAX_BYTES", DEFAULT_BYTES))))
    except ValueError:
        return DEFAULT_BYTES


def size(n: float) -> str:
    """Bytes in round figures: 40 GB, 1.4 GB, 350 MB."""
    for unit, div in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= div:
            v = n / div
            return f"{v:.1f} {unit}" if v < 10 else f"{v:,.0f} {unit}"
    return f"{int(n)} bytes"


def check(nbytes: float, what: str):
    """Refuse `what` if it would take more than the budget."""
    if nbytes > limit():
        raise InputError(f"{what} would take {size(nbytes)} of memory; the limit is {size(limit())} "
                         "(set GATE_EXPLORER_MAX_BYTES to change it).")


def declared(t: Tensor) -> int:
    """The bytes a tensor claims once materialised (numel × element size), whatever its storage holds."""
    return int(t.numel()) * int(t.element_size())


def check_tensor(t: Tensor, what: str, itemsize: int = 4):
    """A tensor about to be materialised (as float32 by default)."""
    check(int(t.numel()) * max(itemsize, int(t.element_size())), what)


def bounded(value, name: str, lo: int = 1, hi: int = MAX_WIDTH) -> int:
    """An integer a file or config declares, within [lo, hi], else one sentence."""
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            as_int = int(value)
            ok = as_int == value
        except (TypeError, ValueError, OverflowError):
            ok = False
        if not ok:
            raise InputError(f"{name} must be a whole number, not {str(value)[:30]!r}.")
        value = as_int
    if not lo <= value <= hi:
        raise InputError(f"{name} is {value:,}; it must be between {lo:,} and {hi:,}.")
    return value


def recurrent_bytes(blocks: int, input_size: int, hidden: int, layers: int, directions: int, proj: int = 0,
                    itemsize: int = 4) -> int:
    """Parameters of a stock recurrent module, in bytes: per layer and direction blocks·H·(I + H_out + 2)
    (+ proj·H for an LSTM projection)."""
    h_out = proj or hidden
    total = 0
    for layer in range(layers):
        i = input_size if layer == 0 else h_out * directions
        total += directions * (blocks * hidden * (i + h_out + 2) + proj * hidden)
    return total * itemsize
