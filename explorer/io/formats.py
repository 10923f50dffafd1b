"""What a file is when it is not something we read: one sentence naming the format and what to do.

Read by content, never by name: HDF5 (Keras 2 .h5), Keras 3 .keras zips, TensorFlow SavedModels,
torch.export .pt2 archives, ONNX protobufs, and zips or pickles of something else.
"""
from __future__ import annotations

import io
import zipfile
from typing import Optional

HDF5 = b"\x89HDF\r\n\x1a\n"


def other_format(data: bytes) -> Optional[str]:
    """A sentence for a file of a format we do not read, or None when it may be ours to read."""
    if data[:8] == HDF5:
        return ("this is an HDF5 file (a Keras 2 .h5 model, most likely), which Gate Explorer does not read yet; "
                "rebuild the model in PyTorch and save its state_dict, or export the recurrent layers' weights.")
    if data[:2] == b"PK":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                names = z.namelist()[:10_000]
        except Exception:        # a damaged zip: the checkpoint reader says so in its own words
            return None
        base = {n.rsplit("/", 1)[-1] for n in names}
        if "config.json" in base and any(n.endswith(".weights.h5") for n in names):
            return ("this is a Keras 3 .keras archive, which Gate Explorer does not read yet; rebuild the model in "
                    "PyTorch and save its state_dict.")
        if "saved_model.pb" in base:
            return ("this is a TensorFlow SavedModel, which Gate Explorer does not read; export the recurrent layers' "
                    "weights, or the model as a PyTorch state_dict.")
        if "archive_format" in base or any(n.endswith("/models/model.json") for n in names):
            return ("this is a torch.export archive (.pt2): a traced program, not a module's weights; upload "
                    "torch.save(model.state_dict(), path) of the model you exported instead.")
        if not any(n.endswith(("data.pkl", ".pkl")) for n in names) and "constants.pkl" not in base:
            return ("this zip file holds no PyTorch data.pkl (its files: "
                    f"{', '.join(sorted(base)[:4])[:80]}); it is not a torch.save checkpoint.")
    if _looks_like_onnx(data):
        return ("this looks like an ONNX model, which Gate Explorer does not read yet; upload the PyTorch "
                "state_dict it was exported from.")
    return None


def _looks_like_onnx(data: bytes) -> bool:
    """An ONNX ModelProto starts with field 1 (ir_version, a varint) and names its producer soon after."""
    return data[:1] == b"\x08" and data[1:2] < b"\x80" and (b"onnx" in data[:256] or b"pytorch" in data[:256])
