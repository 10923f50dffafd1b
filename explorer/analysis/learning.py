"""Reading a training history: the sentences and numbers the Train tab and the seventh lesson show.

Everything here takes History frames (explorer.training.history.History.frame: plain dicts of numpy)
keyed by the model's name, so it needs no model and no torch:

    horizon_sentence({"lstm": frames, "rnn": frames}, probe_steps=150)
    storage_story(frames, marks=[12, 61])   # the adding problem: when the LSTM learned to store
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from explorer.core import kinds

STORED_MSE = 0.05           # the adding problem counts as solved below this (always predicting 1: 1/6)


def _label(kind: str) -> str:
    return kinds.KINDS[kind].label if kind in kinds.KINDS else kind


def horizons(frames: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """(training steps, horizon at each): how many probe steps back the gradient reaches."""
    return np.array([f["step"] for f in frames]), np.array([f["horizon"] for f in frames])


def horizon_sentence(by_model: dict[str, list[dict]], probe_steps: int, fraction: float = 1e-4) -> str:
    """One sentence that reads the horizon chart, computed from it (e.g. "the RNN's horizon stayed
    between 13 and 21 steps; the LSTM's grew from 15 to 26 by step 600")."""
    parts = []
    for kind, frames in by_model.items():
        if not frames:
            continue
        steps, hz = horizons(frames)
        first, last, lo, hi = int(hz[0]), int(hz[-1]), int(hz.min()), int(hz.max())
        full = " (the whole probe)" if last >= probe_steps else ""
        if last >= first + max(3, first // 4):
            peak = int(steps[int(np.argmax(hz))])
            parts.append(f"the {_label(kind)}'s grew from {first} to {last} steps{full}" +
                         (f" (largest, {hi}, at step {peak})" if hi > last else f" by step {int(steps[-1])}"))
        elif last <= first - max(3, first // 4):
            parts.append(f"the {_label(kind)}'s shrank from {first} to {last} steps")
        else:
            parts.append(f"the {_label(kind)}'s stayed between {lo} and {hi} steps")
    if not parts:
        return ""
    return ("How far back the gradient reaches over training: " + "; ".join(parts) +
            f" (steps back from the last step until ‖dJ/dh_t‖ falls below {fraction:g} of its value there; "
            f"the probe has {probe_steps} steps).")


def storage_story(frames: list[dict], marks: Sequence[int], units: int = 8) -> dict:
    """The adding problem's story in an LSTM history: at every snapshot, the input gate at the two marked
    steps and elsewhere, and the forget gate between the marks, averaged over the `units` units whose input
    gate singles out the marks most at the last snapshot (the same units throughout). Returns
    {"steps", "i_marks", "i_elsewhere", "f_between", "units"} (arrays over snapshots)."""
    a, b = sorted(int(m) for m in marks)[:2]
    T = len(frames[-1]["gates"]["i"])
    others = np.setdiff1d(np.arange(T), [a, b])
    last = np.asarray(frames[-1]["gates"]["i"], np.float32)
    pick = np.argsort(-(last[[a, b]].mean(0) - last[others].mean(0)))[:units]
    out = {"steps": [], "i_marks": [], "i_elsewhere": [], "f_between": [], "units": pick.tolist()}
    for fr in frames:
        i = np.asarray(fr["gates"]["i"], np.float32)[:, pick]
        f = np.asarray(fr["gates"]["f"], np.float32)[:, pick]
        out["steps"].append(fr["step"])
        out["i_marks"].append(float(i[[a, b]].mean()))
        out["i_elsewhere"].append(float(i[others].mean()))
        out["f_between"].append(float(f[a + 1:b + 1].mean()) if b > a else float("nan"))
    return {k: (np.asarray(v) if k != "units" else v) for k, v in out.items()}


def solved_at(frames: list[dict], target: float, threshold: float = STORED_MSE) -> Optional[int]:
    """The first training step from which the prediction on the probe stays within √threshold of the
    target, or None. frames carry "prediction" (a sequence model's)."""
    err = np.array([(float(fr["prediction"][-1]) - target) ** 2 for fr in frames])
    ok = err < threshold
    for k in range(len(ok)):
        if ok[k:].all():
            return int(frames[k]["step"])
    return None


def storage_sentence(by_model: dict[str, list[dict]], target: float, marks: Sequence[int]) -> str:
    """The adding problem read aloud: when the LSTM learned to store the two marked numbers (its gates at
    that step), and where the other models got to."""
    parts = []
    if "lstm" in by_model and by_model["lstm"]:
        fr = by_model["lstm"]
        story = storage_story(fr, marks)
        at = solved_at(fr, target)
        k = len(fr) - 1 if at is None else [f["step"] for f in fr].index(at)
        gates = (f"its input gate opens to {story['i_marks'][k]:.2f} at the two marked steps ({story['i_elsewhere'][k]:.2f} "
                 f"elsewhere) and its forget gate stays at {story['f_between'][k]:.2f} between them")
        if at is None:
            parts.append(f"the LSTM has not yet learned to store the marked numbers by step {fr[-1]['step']} "
                         f"(at the end {gates})")
        else:
            parts.append(f"the LSTM learned to store the marked numbers by step {at}: from there its prediction stays "
                         f"within {STORED_MSE ** 0.5:.2f} of the sum, and {gates}")
    for kind, fr in by_model.items():
        if kind == "lstm" or not fr:
            continue
        at = solved_at(fr, target)
        pred = float(fr[-1]["prediction"][-1])
        parts.append(f"the {_label(kind)} " + (f"got there by step {at}" if at is not None else
                                                f"has not (it predicts {pred:.2f} for {target:.2f} at step {fr[-1]['step']})"))
    return ("On this sample: " + "; ".join(parts) + ".") if parts else ""


def lesson_lines(by_model: dict[str, list[dict]], baseline: float) -> list[str]:
    """The seventh lesson's narration of a char history (an LSTM, maybe beside others), computed from it:
    the forget gate at step 0 and now, the samples then and now, the loss against a uniform guess, the
    gradient's reach."""
    fr = by_model.get("lstm") or next(iter(by_model.values()))
    a, b = fr[0], fr[-1]
    lines = []
    if "f" in a["gates"]:
        f0, f1 = (np.asarray(x["gates"]["f"], np.float32) for x in (a, b))
        keep = float((f1.mean(0) > 0.9).mean())
        lines.append(f"Forget gate: at step 0 it is {f0.mean():.2f} on average with a spread of only {f0.std():.2f} "
                     f"(noise around a half: the untrained cell keeps half and forgets half); at step {b['step']:,} its "
                     f"spread is {f1.std():.2f}, and {keep:.0%} of the units keep more than 90% of their cell state "
                     "at every step on average.")
    said = [x for x in fr if "sample" in x]
    if len(said) >= 2:
        lines.append(f"What it says: at step {said[0]['step']:,} '{said[0]['sample'][:50].strip()}…'; at step "
                     f"{said[-1]['step']:,} '{said[-1]['sample'][:50].strip()}…'.")
    if np.isfinite(b["loss"]):
        lines.append(f"Training loss: {a['loss'] if np.isfinite(a['loss']) else baseline:.2f} → {b['loss']:.2f} nats per "
                     f"character (a uniform guess scores {baseline:.2f}).")
    hz = horizon_sentence(by_model, len(b["h_norm"]))
    if hz:
        lines.append(hz)
    return lines
