"""What a file is when it is not something we read: one sentence naming the format and what to do.

Read by content, never by name: TensorFlow SavedModels, torch.export .pt2 archives, and zips of something
else. (Keras and ONNX files are read: explorer/io/readers/frameworks.py.)
"""
from __future__ import annotations

import io
import zipfile
from typing import Optional


def other_format(data: bytes) -> Optional[str]:
    """A sentence for a file of a format we do not read, or None when it may be ours to read."""
    if data[:2] == b"PK":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                names = z.namelist()[:10_000]
        except Exception:        # a damaged zip: the checkpoint reader says so in its own words
            return None
        base = {n.rsplit("/", 1)[-1] for n in names}
        if "saved_model.pb" in base:
            return ("this is a TensorFlow SavedModel, which Gate Explorer does not read; export the recurrent layers' "
                    "weights, or the model as a PyTorch state_dict.")
        if "archive_format" in base or any(n.endswith("/models/model.json") for n in names):
            return ("this is a torch.export archive (.pt2): a traced program, not a module's weights; upload "
                    "torch.save(model.state_dict(), path) of the model you exported instead.")
        if not any(n.endswith(("data.pkl", ".pkl")) for n in names) and "constants.pkl" not in base:
            return ("this zip file holds no PyTorch data.pkl (its files: "
                    f"{', '.join(sorted(base)[:4])[:80]}); it is not a torch.save checkpoint.")
    return None



# What a file holds when it has no LSTM, GRU or RNN weights: a key fragment (or a pickled class) -> its name.
ARCHITECTURES = [
    (("slstm_cell", "mlstm_layer", "xlstm_block_stack", "slstm_layer", "mlstm_cell"), "an xLSTM (sLSTM/mLSTM blocks)"),
    (("mixer.A_log", "mixer.dt_proj", "mixer.conv1d"), "a Mamba state-space model"),
    (("attention.self.query", "bert.", "BertModel", "BertFor"), "a Transformer (BERT)"),
    (("attn.c_attn", "GPT2"), "a Transformer (GPT-2)"),
    (("self_attn", "attention.", ".attn.", "Transformer"), "a Transformer"),
    ((".conv.weight", "conv1.weight", "Conv2d", "Conv1d"), "a convolutional network"),
]


def not_recurrent(keys: list[str], classes: list[str]) -> Optional[str]:
    """A sentence for a file whose weights are some other architecture's (named by its keys or classes), or None."""
    text = " ".join(keys[:20_000]) + " " + " ".join(classes)
    for fragments, what in ARCHITECTURES:
        if any(f in text for f in fragments):
            return (f"this file holds {what}: it has no LSTM, GRU or RNN layer for Gate Explorer to show; upload a "
                    "model with nn.LSTM, nn.GRU or nn.RNN weights.")
    return None
