"""How a model's head reads the recurrent module's outputs, and what it applies after: read as the model computes.

A bidirectional classifier's head reads features built from the whole sequence, and tutorials build them
differently; a file of weights cannot tell which, so the reading is a setting (recorded when a file says it,
assumed otherwise):

    READINGS[name](out, H) -> (1, B, F)       out: (T, B, D*H) the last layer's outputs, H its width per direction

- "forward then backward": the two final states (h_n[-2], h_n[-1]: the forward direction's at the last step, the
  backward direction's at the first), forward first (the common tutorials before 2023);
- "backward then forward": the same, backward first, cat(h_n[-1], h_n[-2]) (bentrevett's pytorch-sentiment-analysis,
  rewritten in 2023);
- "last output step": out[-1] (the forward direction's final state beside the backward direction's first step);
- "mean over steps", "max over steps": pooled over time;
- "last, max, mean (fastai)": cat(out[-1], max, mean), fastai's PoolingLinearClassifier's features (3 × D*H wide).

After the head: a softmax over K > 1 classes and a sigmoid for one logit, unless the file says otherwise. A
whole pickle's LogSoftmax gives log-probabilities whose exp is that same softmax; a Sigmoid over K > 1 outputs
is read per class (multi-label).
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

READINGS = {
    "forward then backward": lambda out, H: torch.cat([out[-1, :, :H], out[0, :, H:]], -1)[None],
    "backward then forward": lambda out, H: torch.cat([out[0, :, H:], out[-1, :, :H]], -1)[None],
    "last output step": lambda out, H: out[-1:],
    "mean over steps": lambda out, H: out.mean(0, keepdim=True),
    "max over steps": lambda out, H: out.amax(0, keepdim=True),
    "last, max, mean (fastai)": lambda out, H: torch.cat([out[-1], out.amax(0), out.mean(0)], -1)[None],
}
DEFAULT_READING = "forward then backward"
# A per-frame classifier (CTC over characters, a tagger) speaks at every step, reading that step's output of both
# directions; it is a classifier at every step, never a verdict at the end.
PER_STEP = "each step (per frame: CTC, a tagger)"
ACTIVATIONS = {"LogSoftmax": "softmax", "Softmax": "softmax", "Sigmoid": "sigmoid"}


def readings_for(head_in: int, width: int) -> list[str]:
    """The readings whose features fit a head reading head_in features from a module of output width D*H
    (the per-frame reading first when it fits)."""
    final = [r for r in READINGS if head_in == (3 * width if r.startswith("last, max") else width)]
    return ([PER_STEP] if head_in == width else []) + final


def activation_after(pickled: dict, head_key: Optional[str]) -> Optional[str]:
    """The class of an activation module beside the head in a whole pickle (the name-classifier tutorial's
    `softmax = nn.LogSoftmax(dim=1)` next to `h2o`), or None."""
    if not head_key:
        return None
    owner = head_key.rpartition(".")[0].rpartition(".")[0]            # "h2o.weight" -> ""; "fc.out.weight" -> "fc"
    for prefix, mod in pickled.items():
        if prefix.rpartition(".")[0] == owner and prefix != head_key.rpartition(".")[0]:
            name = mod.cls.rpartition(".")[2]
            if name in ACTIVATIONS:
                return name
    return None


def probabilities(z: Tensor, activation: Optional[str]) -> Tensor:
    """The head's output as probabilities, as the model computes them (see the module docstring)."""
    if ACTIVATIONS.get(activation or "") == "sigmoid" or (activation is None and z.shape[-1] == 1):
        return torch.sigmoid(z)
    return torch.softmax(z, -1)


# Classes whose forward fixes the reading: fastai's PoolingLinearClassifier (text/models/core.py) pools
# [last, max, mean] of the encoder's output before its layers.
RECORDED = {"PoolingLinearClassifier": "last, max, mean (fastai)"}


def recorded_reading(pickled: dict, head_key: Optional[str]) -> Optional[str]:
    """The reading a whole pickle's class around the head records, or None."""
    if not head_key:
        return None
    parts = head_key.split(".")
    for k in range(len(parts) - 1, 0, -1):
        mod = pickled.get(".".join(parts[:k]))
        if mod is not None and mod.cls.rpartition(".")[2] in RECORDED:
            return RECORDED[mod.cls.rpartition(".")[2]]
    return None
