"""A scaler saved beside a model, read without importing scikit-learn or joblib: `joblib.dump(scaler, "scaler.save")`
(the Kaggle-style stock LSTM's MinMaxScaler(feature_range=(-1, 1))), `pickle.dump(scaler, f)`, or joblib's zlib
compression. The result is an explorer Scaler with the fitted numbers.

    scaler = read_scaler(uploaded_bytes)      # Scaler (io/inputs/series.py): transform, inverse, describe

joblib's layout (joblib/numpy_pickle.py, NumpyArrayWrapper.write_array): a pickle in which each numpy array is a
NumpyArrayWrapper (shape, order, dtype, and, since joblib 1.2, an alignment) followed in the file, outside the
pickle's opcodes, by one padding-length byte, that many 0xFF bytes, and the array's raw bytes. The pickle is read
by Python's own unpickler with every class it names replaced by an inert stand-in (pickles.py); a name that runs
code or touches the system refuses the file; nothing is imported or run.
"""
from __future__ import annotations

import io
import math
import pickle
import zlib

import numpy as np
import torch

from explorer.errors import InputError

from ..files import short
from ..inputs.series import Scaler
from .pickles import StandIn, dangerous, plain_array, plain_dtype, stand_in

MAX_BYTES = 100_000_000
WRAPPER = "joblib.numpy_pickle.NumpyArrayWrapper"       # joblib is refused everywhere else (joblib.load runs pickles)


class _Unpickler(pickle._Unpickler):
    """Python's unpickler, with stand-ins for every class and joblib's arrays read from after their wrapper."""

    def find_class(self, module, name):
        full = f"{module}.{name}"
        if full == WRAPPER:                                   # joblib's array record: data, read by _array below
            return stand_in(full)
        if dangerous(full) or full.rpartition(".")[2] == "getattr":
            raise InputError(f"this scaler file is refused: its pickle calls {short(full, 60)}, code that runs on "
                             "loading (a scaler never needs that); nothing of it was run.")
        return stand_in(full)

    def load_build(self):
        super().load_build()
        obj = self.stack[-1]
        if isinstance(obj, StandIn) and obj.pickled_as == WRAPPER:
            self.stack[-1] = self._array(obj.__dict__)

    dispatch = dict(pickle._Unpickler.dispatch)
    dispatch[pickle.BUILD[0]] = load_build

    def _array(self, w: dict) -> torch.Tensor:
        shape, dtype = w.get("shape"), plain_dtype(w.get("dtype"))
        if dtype is None or not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 0 for n in shape):
            raise InputError("this scaler file holds an array that is not plain numbers; save the fitted scaler itself.")
        if w.get("numpy_array_alignment_bytes") is not None:
            pad = self.read(1)
            self.read(pad[0] if pad else 0)
        n = math.prod(shape) * dtype.itemsize
        if n > MAX_BYTES:
            raise InputError("this scaler file declares an array larger than a scaler's; is it the right file?")
        raw = self.read(n)
        if len(raw) != n:
            raise InputError("this scaler file ends inside an array (truncated?); upload it again.")
        a = np.frombuffer(raw, dtype=dtype).reshape(shape, order="F" if w.get("order") == "F" else "C")
        return torch.from_numpy(a.astype(np.float64))


def read_scaler(data: bytes) -> Scaler:
    """A fitted scikit-learn MinMaxScaler or StandardScaler from a joblib or pickle file (see the module docstring)."""
    if len(data) > MAX_BYTES:
        raise InputError(f"this scaler file is {len(data):,} bytes; a scaler is a few hundred.")
    if data[:1] == b"\x78":                                   # joblib.dump(…, compress=…): a zlib stream
        try:
            d = zlib.decompressobj()
            data = d.decompress(data, MAX_BYTES)
        except zlib.error:
            raise InputError("this scaler file is not a readable joblib or pickle file.") from None
    if data[:1] != b"\x80":
        raise InputError("this is not a joblib or pickle file of a scaler; upload what joblib.dump or pickle.dump wrote.")
    try:
        obj = _Unpickler(io.BytesIO(data)).load()
    except InputError:
        raise
    except Exception as e:              # damaged, truncated, or objects our stand-ins cannot take
        raise InputError(f"this scaler file cannot be read ({type(e).__name__}); upload what joblib.dump wrote.") from None
    if not isinstance(obj, StandIn):
        raise InputError("this file holds no fitted scaler; upload the MinMaxScaler or StandardScaler itself.")
    attrs = {}
    for k, v in obj.__dict__.items():
        t = v if isinstance(v, torch.Tensor) else plain_array(v)
        attrs[k] = t if t is not None else v
    sc = Scaler.from_sklearn(obj.pickled_as, attrs, source="the uploaded file")
    if sc is None:
        raise InputError(f"this file holds a {short(obj.pickled_as.rpartition('.')[2], 40)}; Gate Explorer reads a fitted "
                         "scikit-learn MinMaxScaler or StandardScaler.")
    return sc
