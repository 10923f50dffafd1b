"""Series as people keep them: a CSV table with or without a header, any number of columns, dates or
names beside the numbers, and the scaling a forecaster was trained with.

    table = read_table(csv_bytes)              # Table: numeric columns, label columns, row labels
    x = table.features(["Passengers"])         # (N, F) float64, in the order asked for
    sc = Scaler.fit(x, "min-max")              # or "standardise", "none"; Scaler.from_pickled(...)
    x01 = sc.transform(x); sc.describe()       # the fitted numbers, in words

A column is numeric when every non-blank cell parses as a number; any other column (dates "1949-01",
times, names) is a label column: its cells label the time axis instead of being an error. Blank or
NaN cells in a numeric column are reported by row and column. Values are checked finite *after*
the conversion to the dtype the model reads (1e300 is finite as a float64 but inf as a float32).
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from typing import Optional, Sequence

import torch
from torch import Tensor

from explorer.errors import InputError

from ..files import short
from .data import read_text

MAX_ROWS = 1_000_000
MAX_COLUMNS = 1000
SCALINGS = ("none", "min-max", "min-max ±1", "standardise")     # min-max to [0, 1] or to [−1, 1]
csv.field_size_limit(2**24)          # a long text column is a label, not a reason to fail (default 131,072)


def _num(s: str) -> Optional[float]:
    try:
        return float(s)
    except ValueError:
        return None


@dataclass
class Table:
    """A CSV read into columns. numeric: {name: (N,) float64}; labels: {name: [str]} for the others."""
    names: list[str]                                # every column, in file order
    numeric: dict[str, Tensor]
    labels: dict[str, list[str]]
    header: bool
    first_row: int                                  # the file's row number of the first data row (1-based)

    @property
    def rows(self) -> int:
        return len(next(iter(self.numeric.values())))

    def row_labels(self) -> Optional[list[str]]:
        """The first label column (a date or time, usually): what each step is called, else None."""
        return next(iter(self.labels.values()), None)

    def features(self, columns: Optional[Sequence[str]] = None, n: Optional[int] = None) -> Tensor:
        """(N, F) float64 of the numeric columns asked for, in that order (default: the first n numeric
        columns, n default 1). Blank cells were refused on reading, so every value is a number."""
        if columns is None or len(columns) == 0:
            columns = list(self.numeric)[:n or 1]
        missing = [c for c in columns if c not in self.numeric]
        if missing:
            what = "a label column (not numbers)" if missing[0] in self.labels else "not a column of this file"
            raise InputError(f"{short(missing[0])!r} is {what}; pick from the numeric columns: "
                             f"{short(', '.join(self.numeric), 120)}.")
        if n is not None and len(columns) != n:
            raise InputError(f"the model reads {n} feature(s) per step; pick {n} column(s), not {len(columns)}.")
        return torch.stack([self.numeric[c] for c in columns], 1)


def read_table(data: bytes, *, max_rows: int = MAX_ROWS, name: str = "the CSV file") -> Table:
    """A CSV (comma, semicolon or tab; with or without a header row) as numeric and label columns."""
    name = short(name, 60)
    text = read_text(data, max_chars=100_000_000, name=name)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
        delim = dialect.delimiter
    except csv.Error:
        delim = ","
    try:
        rows = [r for r in csv.reader(io.StringIO(text), delimiter=delim) if any(c.strip() for c in r)]
    except csv.Error as e:
        raise InputError(f"{name} could not be read as CSV ({short(e, 80)}); check its quotes.") from None
    if not rows:
        raise InputError(f"{name} has no rows; upload a file with at least 2 rows of numbers.")
    width = max(len(r) for r in rows)
    if width > MAX_COLUMNS:
        raise InputError(f"{name} has {width:,} columns; the limit is {MAX_COLUMNS:,}.")
    header = all(_num(c) is None for c in rows[0] if c.strip()) and any(_num(c) is not None for r in rows[1:3] for c in r)
    names = [short(c, 60) or f"column {i}" for i, c in enumerate(rows[0])] if header else []
    names += [f"column {i}" for i in range(len(names), width)]
    names = [n if names.index(n) == i else f"{n} ({i})" for i, n in enumerate(names)]    # duplicates made unique
    body = rows[1:] if header else rows
    first = 2 if header else 1
    if len(body) < 2:
        raise InputError(f"{name} has {len(body)} data row(s); a series needs at least 2.")
    if len(body) > max_rows:
        raise InputError(f"{name} has {len(body):,} rows; the limit is {max_rows:,}.")
    numeric, labels = {}, {}
    for j, col in enumerate(names):
        cells = [r[j].strip() if j < len(r) else "" for r in body]
        parsed = [_num(c) for c in cells]
        filled = [c for c in cells if c and c.lower() not in ("nan", "na", "n/a", "null")]
        if filled and all(_num(c) is not None for c in filled):          # a numeric column, maybe with holes
            for i, (c, v) in enumerate(zip(cells, parsed)):
                if v is None or math.isnan(v):
                    raise InputError(f"the CSV cell at row {i + first}, column {short(col)!r} is "
                                     f"{'blank' if not c else repr(short(c))}; fill it in or remove that row.")
            numeric[col] = torch.tensor(parsed, dtype=torch.float64)
        else:
            labels[col] = [short(c, 32) for c in cells]
    if not numeric:
        raise InputError(f"{name} has no numeric column (every column holds text, e.g. {short(body[0][0])!r}); "
                         "upload a table with at least one column of numbers.")
    return Table(names, numeric, labels, header, first)


def finite(x: Tensor, dtype: Optional[torch.dtype] = None, what: str = "the series") -> Tensor:
    """x converted to dtype (default float32), refusing values that overflow it (checked after the conversion)."""
    dtype = dtype or torch.float32
    y = x.to(dtype)
    bad = ~torch.isfinite(y)
    if bad.any():
        i = int(bad.nonzero()[0, 0])
        raise InputError(f"{what} has a value too large for {str(dtype).replace('torch.', '')} at step {i} "
                         f"({float(x.flatten()[bad.flatten().nonzero()[0, 0]]):.3g}); rescale the data.")
    return y


@dataclass
class Scaler:
    """x_scaled = (x - offset) * factor, per feature. how: "none" | "min-max" | "standardise"; source
    says where the numbers came from ("fitted on this series", "the checkpoint's MinMaxScaler")."""
    how: str
    offset: Tensor                                   # (F,)
    factor: Tensor                                   # (F,)
    source: str = "fitted on this series"
    fitted: dict = field(default_factory=dict)       # the numbers as the user knows them (min/max, mean/std)

    @classmethod
    def fit(cls, x: Tensor, how: str = "none") -> "Scaler":
        """Fit on x (N, F)."""
        if how not in SCALINGS:
            raise InputError(f"scaling must be one of {', '.join(SCALINGS)}, not {short(how)!r}.")
        x = x.double()
        F = x.shape[1]
        if how == "none":
            return cls(how, torch.zeros(F, dtype=torch.float64), torch.ones(F, dtype=torch.float64), "none")
        if how in ("min-max", "min-max ±1"):
            lo, hi = x.min(0).values, x.max(0).values
            span = (hi - lo).clamp_min(1e-12)
            fitted = {"min": lo.tolist(), "max": hi.tolist(), "range": [0.0, 1.0] if how == "min-max" else [-1.0, 1.0]}
            if how == "min-max":
                return cls("min-max", lo, 1 / span, fitted=fitted)
            return cls("min-max", lo + span / 2, 2 / span, fitted=fitted)      # (x − mid) · 2/span ∈ [−1, 1]
        mean, std = x.mean(0), x.std(0, unbiased=False)
        return cls(how, mean, 1 / std.clamp_min(1e-12), fitted={"mean": mean.tolist(), "std": std.tolist()})

    @classmethod
    def from_sklearn(cls, name: str, attrs: dict, source: str = "the checkpoint") -> Optional["Scaler"]:
        """A pickled scikit-learn MinMaxScaler / StandardScaler from its fitted arrays (read inertly by
        explorer.io.readers.pickles, never by importing scikit-learn): sklearn computes x * scale_ + min_ and
        (x - mean_) / scale_."""
        cls_name = name.rpartition(".")[2]
        if cls_name == "MinMaxScaler" and "scale_" in attrs and "min_" in attrs:
            scale, mn = attrs["scale_"].double().flatten(), attrs["min_"].double().flatten()
            offset = -mn / scale                          # x * s + m = (x - (-m / s)) * s
            fitted = {"min": attrs["data_min_"].tolist()} if "data_min_" in attrs else {}
            if "data_max_" in attrs:
                fitted["max"] = attrs["data_max_"].tolist()
            rng = attrs.get("feature_range")
            if isinstance(rng, (tuple, list)) and len(rng) == 2 and all(isinstance(v, (int, float)) for v in rng):
                fitted["range"] = [float(rng[0]), float(rng[1])]
            return cls("min-max", offset, scale, f"{source}'s {cls_name}", fitted)
        if cls_name == "StandardScaler" and ("mean_" in attrs or "scale_" in attrs):
            F = len(attrs.get("mean_", attrs.get("scale_")).flatten())
            mean = attrs["mean_"].double().flatten() if "mean_" in attrs else torch.zeros(F, dtype=torch.float64)
            scale = attrs["scale_"].double().flatten() if "scale_" in attrs else torch.ones(F, dtype=torch.float64)
            return cls("standardise", mean, 1 / scale, f"{source}'s {cls_name}",
                       {"mean": mean.tolist(), "std": scale.tolist()})
        return None

    def check(self, features: int):
        if len(self.offset) not in (1, features):
            raise InputError(f"{self.source} was fitted on {len(self.offset)} feature(s) but the model reads "
                             f"{features}; pick scaling 'fitted on this series' instead.")

    def transform(self, x: Tensor) -> Tensor:
        return (x.double() - self.offset) * self.factor

    def inverse(self, y: Tensor, feature: int = 0) -> Tensor:
        """Back to the data's units for one feature (a forecast of that feature)."""
        j = feature if len(self.offset) > 1 else 0
        return y.double() / self.factor[j] + self.offset[j]

    def describe(self, names: Optional[Sequence[str]] = None) -> str:
        """One sentence with the fitted numbers."""
        if self.how == "none":
            return "No scaling: the model reads the values as they are."
        names = list(names or [f"feature {j}" for j in range(len(self.offset))])
        keys = ("min", "max") if self.how == "min-max" else ("mean", "std")
        parts = []
        for j, n in enumerate(names[:6]):
            if all(k in self.fitted and j < len(self.fitted[k]) for k in keys):
                a, b = (self.fitted[k][j] for k in keys)
                parts.append(f"{short(n, 24)}: {keys[0]} {a:.4g}, {keys[1]} {b:.4g}")
        lo, hi = self.fitted.get("range", [0.0, 1.0])
        what = f"min-max to [{lo:g}, {hi:g}]" if self.how == "min-max" else "standardised"
        more = " …" if len(names) > 6 else ""
        return f"Scaling {what}, {self.source}" + (f" ({'; '.join(parts)}{more})." if parts else ".")


MAX_ARRAY_BYTES = 200_000_000


def read_array(data: bytes, features: int, *, name: str = "the feature file") -> tuple[Tensor, str]:
    """A NumPy feature file (.npy, or .npz: the array named features/x/mfcc/fbank, else its only or first 2-D one)
    as (T, features) float64, and a sentence on how it was read. Pickled object arrays are refused (allow_pickle
    is off: nothing in the file runs). librosa's (n_mfcc, T) layout is transposed when only that fits."""
    import numpy as np
    name = short(name, 60)
    if len(data) > MAX_ARRAY_BYTES:
        raise InputError(f"{name} is {len(data):,} bytes; the limit is {MAX_ARRAY_BYTES:,}.")
    try:
        got = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as e:
        what = "holds Python objects (a pickle), which are not read" if "pickle" in str(e) else "is not a NumPy file"
        raise InputError(f"{name} {what}; save the features with numpy.save(path, array) of numbers.") from None
    except Exception:        # truncated, not a NumPy file at all
        raise InputError(f"{name} is not a readable .npy or .npz file; save the features with numpy.save.") from None
    how = ".npy"
    if isinstance(got, np.lib.npyio.NpzFile):
        with got:
            keys = list(got.keys())
            pick = next((k for k in ("features", "x", "X", "mfcc", "fbank", "feats") if k in keys), None)
            pick = pick or next((k for k in keys if got[k].ndim == 2), keys[0] if keys else None)
            if pick is None:
                raise InputError(f"{name} holds no arrays.")
            arr = got[pick]
        how = f".npz array {short(pick, 30)!r}" + (f" (of {len(keys)})" if len(keys) > 1 else "")
    else:
        arr = got
    if arr.dtype.kind not in "fiub":
        raise InputError(f"{name} holds {arr.dtype} values, not numbers.")
    arr = arr.squeeze(0) if arr.ndim == 3 and arr.shape[0] == 1 else arr
    arr = arr[:, None] if arr.ndim == 1 else arr
    if arr.ndim != 2:
        raise InputError(f"{name} has shape {arr.shape}; give one row of {features} features per step, (T, {features}).")
    if arr.shape[1] != features and arr.shape[0] == features:
        arr, how = arr.T, how + ", transposed from (features, T) as librosa writes it"
    if arr.shape[1] != features:
        raise InputError(f"{name} has {arr.shape[1]} features per step (shape {arr.shape}); this model reads {features}.")
    if arr.shape[0] < 2:
        raise InputError(f"{name} has {arr.shape[0]} step(s); a sequence needs at least 2.")
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float64)), f"{arr.shape[0]:,} steps × {features} features ({how})"
