"""What the model says over a window, by its task: the numbers the page's "What it says" view draws.

    s = says(m, output, a, ids=ids)                 # a language model: p(actual next token), loss per step
    s = says(m, output, a, series=raw, scaler=sc)   # a forecaster: prediction vs the actual next value
    s = says(m, output, a, x=x_full)                # a classifier: class probabilities as it reads

m: an explorer.open_model result; output: the core's output over the window (T, D*H_out), as
LongTrace.window_arrays gives it; a: the window's first step. Every number comes from the model's
own head; nothing is said for an encoder.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch
from torch import nn

from explorer.io.models.heads import probabilities


@dataclass
class Says:
    task: str
    steps: np.ndarray                            # (T,) absolute step of each row
    sentence: str                                # how to read it, in plain words
    probs: Optional[np.ndarray] = None           # (T, K) or (1, K) for a final verdict
    classes: list[str] = field(default_factory=list)
    final: bool = False                          # one verdict after the whole input
    prediction: Optional[np.ndarray] = None      # (T,) forecasts in the data's units
    actual: Optional[np.ndarray] = None          # (T,) the value that followed each step (NaN at the end)
    loss: Optional[np.ndarray] = None            # (T,) next-token loss (nats), language models
    error: Optional[float] = None                # mean absolute error of the forecasts that can be checked


def _head(m, output) -> torch.Tensor:
    head: nn.Linear = m.head
    with torch.no_grad():
        return head(torch.as_tensor(np.asarray(output)).to(head.weight.dtype))


def class_names(k: int, names=None) -> list[str]:
    """The classes' names: the user's (one per output), else "class j"."""
    if names is not None and len(names) == k:
        return [str(n) for n in names]
    return ["positive (p of the one logit)"] if k == 1 else [f"class {j}" for j in range(k)]


def says(m, output, a: int, *, ids=None, x=None, series=None, scaler=None, target: int = 0,
         labels=None) -> Says:
    """The window's readout (see the module docstring). ids: the input's token ids (N,) for a language
    model; x: the core's whole input for a final verdict; series: the raw series (N, F) in data units
    and scaler (its Scaler) for a forecaster, whose target is feature `target`."""
    T = len(output)
    steps = np.arange(a, a + T)
    task = m.task
    if m.head is None or task == "encoder":
        what = "This model is an encoder: it has no head of its own" if task == "encoder" else \
            "Its head could not be read exactly (the sidebar says why)"
        return Says(task, steps, what + ". Its states (the gates and h above) are what it hands on, to a decoder or "
                                        "a pooling layer; there is no prediction to show.")
    if task == "language model":
        p = torch.softmax(_head(m, output).double(), -1).numpy()
        out = Says(task, steps, "", probs=None)
        if ids is not None:
            nxt = np.asarray(ids[a + 1:a + 1 + T])
            got = np.full(T, np.nan)
            got[:len(nxt)] = p[np.arange(len(nxt)), nxt]
            out.probs = got[:, None]
            out.loss = -np.log(np.clip(got, 1e-300, None))
            mean = np.nanmean(out.loss) if len(nxt) else float("nan")
            out.sentence = (f"The probability the model gave to the token that actually came next, at every step "
                            f"(mean loss {mean:.3f} nats per token over this window; the last step has nothing after it).")
        return out
    if task == "classifier":
        if m.final_only:
            if x is None:
                return Says(task, steps, "A bidirectional classifier speaks once, after reading the whole input.")
            p = m.readout(torch.as_tensor(x))[0].double().numpy()          # (B=1, K)
            k = p.shape[-1]
            how = getattr(m, "reading", "forward then backward")
            return Says(task, steps, "This classifier speaks once, after the whole input has been read (its head reads "
                        f"{how}, features that exist only then): a per-step reading is not what the model computes. "
                        "Its verdict:", probs=p[:1], classes=class_names(k, getattr(m, "classes", None)), final=True)
        z = _head(m, output).double()
        p = probabilities(z, getattr(m, "activation", None)).numpy()
        return Says(task, steps, "The verdict forming as it reads: the head applied to the state after each step, "
                                 "i.e. what the model would say if the input ended there (the last step is its verdict).",
                    probs=p, classes=class_names(p.shape[1], getattr(m, "classes", None)))
    # a regressor / forecaster: head output k forecasts the data's feature `target` (a one-output head: k = 0)
    k = target if m.head.out_features > target else 0
    if m.final_only:
        if x is None:
            return Says(task, steps, "A bidirectional regressor speaks once, after the whole input.")
        y = m.readout(torch.as_tensor(x))[0, 0, k:k + 1].double()
        pred = (scaler.inverse(y, target) if scaler is not None else y).numpy()
        return Says(task, steps, "This model reads in both directions: it makes one prediction, after the whole input.",
                    prediction=pred, final=True)
    y = _head(m, output).double()[:, k]
    pred = (scaler.inverse(y, target) if scaler is not None else y).numpy()
    actual = np.full(T, np.nan)
    if series is not None:
        s = np.asarray(series)[:, target] if np.ndim(series) == 2 else np.asarray(series)
        nxt = s[a + 1:a + 1 + T]
        actual[:len(nxt)] = nxt
    ok = ~np.isnan(actual)
    err = float(np.mean(np.abs(pred[ok] - actual[ok]))) if ok.any() else None
    return Says(task, steps, "Its prediction after each step against the value that actually came next"
                + (f" (mean absolute error {err:.4g} over this window)" if err is not None else "") + ". Each "
                "prediction has read the series from its first step, from a zero state: a forecaster trained on "
                "short windows sees more history here than it did in training.",
                prediction=pred, actual=actual, error=err)

