"""The plain data of pickled pandas and numpy objects, read from their inert stand-ins (pickles.py): an item map
(a pandas Series), a fitted normaliser's table (a DataFrame), a label list. pandas, numpy's reconstructors and
pyarrow are never imported or called; only the numbers and strings the pickle recorded are decoded.

    index(o)  -> list | None            a pandas Index (numbers, strings, a RangeIndex)
    series(o) -> (index, values) | None a pandas Series
    frame(o)  -> (index, {column: values}) | None    a pandas DataFrame
    array(o)  -> list | None            a numpy array (numeric or of Python objects) or a pyarrow string array

Each returns None for anything it does not recognise: these are conveniences, never required to open a file.
Layouts read: pandas 2 (a manager's "0.14.1" state: axes and blocks) and pandas 3 (BlockManager(blocks, axes),
blocks by _unpickle_block(values, placement, ndim), strings in pyarrow arrays).
"""
from __future__ import annotations

import struct
from typing import Any, Optional

from .pickles import StandIn, plain_array

MAX_ITEMS = 5_000_000                 # an item map of a recommender can be large; nothing beyond this is decoded


def _is(o, suffix: str) -> bool:
    return isinstance(o, StandIn) and o.pickled_as.endswith(suffix)


def _args(o) -> tuple:
    a = o.__dict__.get("_args", ()) if isinstance(o, StandIn) else ()
    return a if isinstance(a, tuple) else ()


def array(o) -> Optional[list]:
    """A 1-D or 2-D numpy array's values (rows of a 2-D one as lists), or a pyarrow string array's strings."""
    t = plain_array(o)
    if t is not None:
        if t.numel() > MAX_ITEMS:
            return None
        dt = o.__dict__["_state"][2]
        integral = str(_args(dt)[0])[:1] in ("i", "u", "b") if _args(dt) else False
        return t.long().tolist() if integral else t.tolist()
    if _is(o, "multiarray._reconstruct"):                 # dtype object: the state holds the Python objects
        st = o.__dict__.get("_state")
        if isinstance(st, tuple) and len(st) == 5 and isinstance(st[4], list) and len(st[4]) <= MAX_ITEMS:
            if all(isinstance(v, (str, int, float, bool)) or v is None for v in st[4]):
                return list(st[4])
        return None
    if isinstance(o, StandIn) and "_pa_array" in o.__dict__:            # pandas' ArrowStringArray
        return array(o.__dict__["_pa_array"])
    if _is(o, "lib.chunked_array"):
        chunks = _args(o)[0] if _args(o) else None
        parts = [array(c) for c in chunks] if isinstance(chunks, (list, tuple)) else [None]
        return None if any(p is None for p in parts) else [v for p in parts for v in p]
    if _is(o, "lib._restore_array"):
        return _arrow_strings(_args(o)[0] if _args(o) else None)
    return None


def _arrow_strings(spec) -> Optional[list]:
    """pyarrow's array state (type, length, null_count, offset, buffers, children, dictionary) for a string array:
    offsets (int32, or int64 for large_string) into one UTF-8 buffer."""
    if not (isinstance(spec, tuple) and len(spec) >= 5 and isinstance(spec[4], list) and len(spec[4]) == 3):
        return None
    kind, n, nulls, offset, bufs = spec[0], spec[1], spec[2], spec[3], spec[4]
    alias = _args(kind)[0] if _is(kind, "type_for_alias") and _args(kind) else None
    if alias not in ("string", "large_string", "utf8", "large_utf8") or nulls or not isinstance(n, int):
        return None
    raw = [bytes(_args(b)[0]) if _is(b, "py_buffer") and _args(b) else None for b in bufs[1:]]
    if None in raw or not (0 <= n <= MAX_ITEMS):
        return None
    width = 8 if alias.startswith("large") else 4
    offs, data = raw
    need = (offset + n + 1) * width
    if len(offs) < need:
        return None
    pos = struct.unpack(f"<{offset + n + 1}{'q' if width == 8 else 'i'}", offs[:need])[offset:]
    try:
        return [data[a:b].decode("utf-8") for a, b in zip(pos, pos[1:])]
    except UnicodeDecodeError:
        return None


def index(o) -> Optional[list]:
    """A pandas Index (_new_Index(cls, {"data": …}) or a RangeIndex's start/stop/step) as a list."""
    if not _is(o, "_new_Index") or len(_args(o)) < 2 or not isinstance(_args(o)[1], dict):
        return None
    d = _args(o)[1]
    if all(isinstance(d.get(k), int) for k in ("start", "stop", "step")) and d["step"]:
        r = range(d["start"], d["stop"], d["step"])
        return list(r) if len(r) <= MAX_ITEMS else None
    return array(d.get("data"))


def _manager(o) -> Optional[tuple[list, list]]:
    """(axes, [(values, placement)]) of a pandas manager stand-in, pandas 2 or 3."""
    st = o.__dict__.get("_state")
    if isinstance(st, tuple) and st and isinstance(st[-1], dict) and isinstance(st[-1].get("0.14.1"), dict):
        s = st[-1]["0.14.1"]
        blocks = [(b.get("values"), b.get("mgr_locs")) for b in s.get("blocks", []) if isinstance(b, dict)]
        return list(s.get("axes", [])), blocks
    a = _args(o)
    if len(a) == 2 and isinstance(a[0], (list, tuple)) and isinstance(a[1], (list, tuple)):
        blocks = [(_args(b)[0], _args(b)[1]) for b in a[0] if _is(b, "_unpickle_block") and len(_args(b)) >= 2]
        return list(a[1]), blocks
    return None


def _positions(placement, n: int) -> Optional[list[int]]:
    if _is(placement, "builtins.slice") or _is(placement, "__builtin__.slice"):
        a = _args(placement)
        start, stop, step = (list(a) + [None, None, None])[:3]
        return list(range(n))[slice(start, stop, step)]
    got = array(placement)
    return [int(v) for v in got] if got is not None else None


def series(o) -> Optional[tuple[list, list]]:
    """A pandas Series as (index, values)."""
    mgr = o.__dict__.get("_mgr") if isinstance(o, StandIn) else None
    got = _manager(mgr) if isinstance(mgr, StandIn) else None
    if not got or len(got[0]) != 1 or len(got[1]) != 1:
        return None
    idx, values = index(got[0][0]), array(got[1][0][0])
    if idx is None or values is None or len(idx) != len(values):
        return None
    return idx, values


def frame(o) -> Optional[tuple[list, dict[Any, list]]]:
    """A pandas DataFrame as (index, {column: values}), its columns in order."""
    mgr = o.__dict__.get("_mgr") if isinstance(o, StandIn) else None
    got = _manager(mgr) if isinstance(mgr, StandIn) else None
    if not got or len(got[0]) != 2:
        return None
    columns, rows = index(got[0][0]), index(got[0][1])
    if columns is None or rows is None:
        return None
    out: dict[Any, list] = {}
    for values, placement in got[1]:
        vals, where = array(values), _positions(placement, len(columns))
        if vals is None or where is None:
            return None
        vals = vals if vals and isinstance(vals[0], list) else [vals]
        for pos, col in zip(where, vals):
            if 0 <= pos < len(columns) and len(col) == len(rows):
                out[columns[pos]] = col
    return (rows, {c: out[c] for c in columns if c in out}) if out else None


_SCALAR = {"f8": "d", "f4": "f", "i8": "q", "i4": "i", "u8": "Q", "u4": "I", "b1": "?"}


def scalar(o) -> Optional[float]:
    """A number: plain, or a numpy scalar (numpy's scalar(dtype, raw bytes), e.g. np.mean's result)."""
    if isinstance(o, (int, float)) and not isinstance(o, bool):
        return float(o)
    if not (_is(o, "multiarray.scalar") and len(_args(o)) == 2 and isinstance(_args(o)[1], bytes)):
        return None
    dt, raw = _args(o)
    code = str(_args(dt)[0]) if _args(dt) else ""
    fmt = _SCALAR.get(code)
    if fmt is None or len(raw) != struct.calcsize(fmt):
        return None
    return float(struct.unpack("<" + fmt, raw)[0])


def scalar_text(o) -> str:
    """A number as people read it (4 significant digits), or "" when it is not one."""
    v = scalar(o)
    return "" if v is None else f"{v:.4g}"
