"""A window's trace as files to download: a wide CSV and a compressed NPZ.

arrays: {name: (L, D, T, H)} (+ "output", left out of the CSV), as LongTrace.window_arrays gives them;
start: the input position of the first step; chars: what each step reads, or None.
"""
from __future__ import annotations

import csv
import io
from typing import Optional, Sequence

import numpy as np


def window_csv(arrays: dict[str, np.ndarray], start: int, chars: Optional[Sequence[str]] = None) -> bytes:
    """Wide CSV: one row per step; a column per (name, layer, direction, unit)."""
    cols, heads = [], ["step"] + (["char"] if chars is not None else [])
    for n, v in _traces(arrays).items():
        L, D, T, H = v.shape
        for l in range(L):
            for d in range(D):
                cols.append(v[l, d])
                heads += [f"{n}[l{l} d{d} u{u}]" for u in range(H)]
    body = np.concatenate(cols, 1)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")          # quotes a character that is a comma, a quote or a newline
    w.writerow(heads)
    for t in range(body.shape[0]):
        w.writerow([start + t] + ([chars[t]] if chars is not None else []) + [f"{x:.6g}" for x in body[t]])
    return out.getvalue().encode()


def _traces(arrays: dict) -> dict[str, np.ndarray]:
    """The gates and states: the (L, D, T, H) arrays."""
    return {n: v for n, v in arrays.items() if isinstance(v, np.ndarray) and v.ndim == 4}


def window_npz(arrays: dict[str, np.ndarray], start: int, chars: Optional[Sequence[str]] = None) -> bytes:
    """Every array, the steps' input positions ("steps") and the characters ("chars")."""
    T = arrays["h"].shape[2]
    buf = io.BytesIO()
    np.savez_compressed(buf, steps=np.arange(start, start + T), **_traces(arrays), output=arrays["output"],
                        chars=np.array(list(chars or [])))
    return buf.getvalue()
