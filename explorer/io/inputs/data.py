"""What users bring: text, CSV series, and the synthetic tasks, validated into tensors.

Every failure is an InputError whose message says what was wrong and what to do.
"""
from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from explorer.errors import InputError

from ..files import short

UNK = "\ufffd"          # the unknown symbol: shown as � when decoded


class Vocab:
    """A character vocabulary with an unknown symbol at id 0.

    encode(str) -> LongTensor (T,); decode(ids) -> str; unknown(str) -> the characters of a
    text this vocabulary does not know (they encode to the unknown id)."""

    def __init__(self, chars):
        chars = [c for c in dict.fromkeys(chars) if c != UNK]
        self.itos = [UNK] + sorted(chars)
        self.stoi = {c: i for i, c in enumerate(self.itos)}

    @classmethod
    def from_text(cls, text: str) -> "Vocab":
        return cls(set(text))

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> Tensor:
        # Through code points and a lookup table, not a Python loop per character: 1M characters took
        # 14 ms instead of 0.37 s, which a user waits for on every upload.
        cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
        if len(cps) == 0:
            return torch.zeros(0, dtype=torch.long)
        if int(cps.max()) < 1 << 16:                 # the usual case: one table over the Basic Multilingual Plane
            table = np.zeros(1 << 16, dtype=np.int64)            # unknown characters -> 0
            for c, i in self.stoi.items():
                if len(c) == 1 and ord(c) < 1 << 16:
                    table[ord(c)] = i
            return torch.from_numpy(table[cps])
        keys, inverse = np.unique(cps, return_inverse=True)      # astral characters: look up each distinct one
        return torch.from_numpy(np.array([self.stoi.get(chr(k), 0) for k in keys.tolist()], dtype=np.int64)[inverse])

    def decode(self, ids) -> str:
        ids = ids.tolist() if isinstance(ids, Tensor) else ids
        return "".join(self.itos[i] if 0 <= i < len(self.itos) else UNK for i in ids)

    def unknown(self, text: str) -> list[str]:
        """Characters of text outside the vocabulary, in order of first appearance."""
        return [c for c in dict.fromkeys(text) if c not in self.stoi]

    def to_json(self) -> str:
        return json.dumps({"itos": self.itos[1:]})

    @classmethod
    def from_json(cls, s: str) -> "Vocab":
        try:
            return cls(json.loads(s)["itos"])
        except (ValueError, KeyError, TypeError):
            raise InputError("the vocabulary stored in this checkpoint is unreadable; re-save the model.") from None

    def __eq__(self, other) -> bool:
        return isinstance(other, Vocab) and self.itos == other.itos


def describe_chars(chars: list[str], limit: int = 12) -> str:
    """Characters as a readable list: '\\t', 'é', ... (for warnings)."""
    shown = ", ".join(repr(c) for c in chars[:limit])
    return shown + (f" and {len(chars) - limit} more" if len(chars) > limit else "")


def random_letters(n: int, seed: int = 0, letters: str = "abcdefghijklmnopqrstuvwxyz      ,.\n") -> str:
    """n characters drawn uniformly from `letters` (a text no model has seen), reproducible by seed."""
    g = torch.Generator().manual_seed(int(seed))
    return "".join(letters[i] for i in torch.randint(0, len(letters), (n,), generator=g).tolist())


def read_text(data: bytes, *, max_chars: int = 2_000_000, name: str = "the file") -> str:
    """Decode an upload as text: UTF-8 with or without BOM, CRLF/CR normalised to \\n.

    Refuses binary files, invalid UTF-8, empty text and text over max_chars, each with a
    one-sentence InputError."""
    name = short(name, 60)                # a file name as people gave it: no newline or escape in a message
    if not isinstance(data, (bytes, bytearray)):
        raise InputError(f"{name} must be bytes, got {type(data).__name__}.")
    if len(data) > 4 * max_chars + 4:       # a UTF-8 char is at most 4 bytes
        raise InputError(f"{name} is too large ({len(data):,} bytes); the limit is {max_chars:,} characters.")
    head = bytes(data[:4096])
    if b"\x00" in head:
        raise InputError(f"{name} looks binary (it contains NUL bytes); upload a plain-text .txt file.")
    try:
        text = bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"{name} is not valid UTF-8 (bad byte at position {e.start}); "
                         "save it as UTF-8 and upload it again.") from None
    sample = text[:4096]
    odd = sum(1 for c in sample if (ord(c) < 32 and c not in "\n\r\t\f\v") or 0x7F <= ord(c) < 0xA0)
    if sample and odd / len(sample) > 0.1:
        raise InputError(f"{name} looks binary (mostly non-printable characters); upload a plain-text file.")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise InputError(f"{name} is empty (or only whitespace); give some text to read.")
    if len(text) > max_chars:
        raise InputError(f"{name} has {len(text):,} characters; the limit is {max_chars:,}. Upload a shorter text.")
    return text


def read_series(data: bytes, column=None, *, max_rows: int = 1_000_000) -> tuple[Tensor, list[str], str]:
    """Read a numeric CSV (with or without a header row). Returns (values (N,) float32,
    column names, chosen column). `column` is a name or 0-based index; default the first."""
    text = read_text(data, max_chars=50_000_000, name="the CSV file")
    rows = [r for r in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in r)]
    if not rows:
        raise InputError("the CSV file has no rows; upload a file with at least 2 rows of numbers.")

    def num(s):
        try:
            return float(s)
        except ValueError:
            return None
    header = all(num(c) is None for c in rows[0] if c.strip())
    names = [short(c.strip(), 60) for c in rows[0]] if header else [f"column {i}" for i in range(len(rows[0]))]
    body = rows[1:] if header else rows
    if len(body) < 2:
        raise InputError(f"the CSV file has {len(body)} data row(s); a series needs at least 2.")
    if len(body) > max_rows:
        raise InputError(f"the CSV file has {len(body):,} rows; the limit is {max_rows:,}.")
    if column is None:
        j = 0
    elif isinstance(column, int):
        j = column
    elif column in names:
        j = names.index(column)
    else:
        raise InputError(f"the CSV file has no column {short(column)!r}; its columns are {short(', '.join(names), 120)}.")
    if not 0 <= j < len(names):
        raise InputError(f"column index {j} is out of range; the CSV file has {len(names)} column(s).")
    values = []
    first = 2 if header else 1
    for n, r in enumerate(body):
        cell = r[j].strip() if j < len(r) else ""
        v = num(cell)
        where = f"row {n + first}, column {short(names[j])!r}"
        if v is None:
            raise InputError(f"the CSV cell at {where} is {short(cell)!r}, not a number; fix or remove that row.")
        if not math.isfinite(v):
            raise InputError(f"the CSV cell at {where} is {short(cell)}; NaN and infinite values are not allowed.")
        values.append(v)
    out = torch.tensor(values, dtype=torch.float32)
    if not torch.isfinite(out).all():             # finite as a float64, infinite as a float32 (1e300, 3.5e38)
        n = int((~torch.isfinite(out)).nonzero()[0, 0])
        raise InputError(f"the CSV cell at row {n + first}, column {short(names[j])!r} is {values[n]:.3g}, too large "
                         "for float32; rescale the data.")
    return out, names, names[j]


# ---- synthetic tasks ---------------------------------------------------------------------

@dataclass
class Task:
    """A synthetic batch: x (B, T, I), y, and the loss of the trivial baseline."""
    x: Tensor
    y: Tensor
    baseline: float
    loss: str                # "mse" (y (B,)) or "ce" (y (B, T) class ids, -1 = ignored) or "mse_seq" (y (B, T))


# The sequence tasks' shapes: (input_size, output_size, readout) of a model that solves them
# ("last": one prediction at the end; "all": one per step).
TASK_SHAPES = {"adding": (2, 1, "last"), "copy": (10, 10, "all"), "sine": (1, 1, "all"), "series": (1, 1, "all")}


def adding_problem(B: int, T: int, generator=None) -> Task:
    """Hochreiter & Schmidhuber's adding problem: channel 0 uniform in [0, 1), channel 1 marks
    exactly two steps, one in each half; the target is the sum of the two marked values.
    Always predicting 1 gives MSE = 2·Var(U) = 1/6 ≈ 0.167."""
    if T < 2:
        raise InputError("the adding problem needs T >= 2.")
    vals = torch.rand(B, T, generator=generator)
    first = torch.randint(0, T // 2, (B,), generator=generator)
    second = torch.randint(T // 2, T, (B,), generator=generator)
    mark = torch.zeros(B, T)
    mark[torch.arange(B), first] = 1.0
    mark[torch.arange(B), second] = 1.0
    x = torch.stack([vals, mark], -1)
    return Task(x, (vals * mark).sum(1), 1 / 6, "mse")


def copy_task(B: int, T: int, n_symbols: int = 8, length: int = 10, generator=None) -> Task:
    """Copy task (Arjovsky et al. 2016): `length` symbols from an alphabet of n_symbols, T blanks
    (the last one a delimiter), then recall. Inputs one-hot over n_symbols + 2 (blank, delimiter);
    targets are class ids, blank (n_symbols) except the last `length` steps. Total steps T + 2·length.
    Baseline (blanks, then uniform guesses): length·ln(n_symbols) / (T + 2·length)."""
    blank, delim = n_symbols, n_symbols + 1
    seq = torch.randint(0, n_symbols, (B, length), generator=generator)
    total = T + 2 * length
    inp = torch.full((B, total), blank, dtype=torch.long)
    inp[:, :length] = seq
    inp[:, length + T - 1] = delim
    tgt = torch.full((B, total), blank, dtype=torch.long)
    tgt[:, -length:] = seq
    x = torch.nn.functional.one_hot(inp, n_symbols + 2).float()
    return Task(x, tgt, length * math.log(n_symbols) / total, "ce")


def sine_task(B: int, T: int, n_waves: int = 1, noise: float = 0.1, generator=None) -> Task:
    """Noisy (sum of) sines; predict the next value at every step. Baseline: repeat the last value."""
    t = torch.arange(T + 1, dtype=torch.float32)
    freq = 0.05 + 0.25 * torch.rand(B, n_waves, 1, generator=generator)
    phase = 2 * math.pi * torch.rand(B, n_waves, 1, generator=generator)
    clean = torch.sin(freq * t + phase).sum(1) / n_waves
    series = clean + noise * torch.randn(B, T + 1, generator=generator)
    x, y = series[:, :-1, None], series[:, 1:]
    baseline = float(((y - x[..., 0]) ** 2).mean())
    return Task(x, y, baseline, "mse_seq")


def series_windows(values: Tensor, B: int, T: int, generator=None) -> Task:
    """Random windows of a user's series (normalised by the caller); next-value prediction."""
    N = values.numel()
    if N < 3:
        raise InputError(f"the series has {N} values; forecasting needs at least 3.")
    T = min(T, N - 1)
    starts = torch.randint(0, N - T, (B,), generator=generator)
    idx = starts[:, None] + torch.arange(T + 1)
    w = values[idx]
    x, y = w[:, :-1, None], w[:, 1:]
    return Task(x, y, float(((y - x[..., 0]) ** 2).mean()), "mse_seq")


SAMPLES = {
    "prose": ("KING:\nWhat say you, lords? Shall we to the field tonight,\nOr wait the morning and the "
              "better light?\n\nQUEEN:\nMy lord, 'the night is kind to those who wait,' they say;\n"
              "Yet I would see the matter done today.\n"),
    "python code": ("def fib(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n    a, b = 0, 1\n"
                    "    for _ in range(n):\n        a, b = b, a + b\n    return a\n\nprint([fib(i) for i in range(10)])\n"),
    "nested brackets": "((a + b) * (c - (d / e))) + [f(g(h[i]), {j: (k, l)})] - ((((m))))\n",
}


def series_sample(source: str, T: int, input_size: int, seed: int = 0, *, values: Optional[Tensor] = None,
                  dtype: torch.dtype = torch.float32) -> tuple[Tensor, Optional[float], str]:
    """One sequence for a sequence model to read: x (T', input_size), the task's baseline loss (or None)
    and a sentence about it. source: "adding problem", "copy task" (T steps from T ≥ 21: 10 symbols, blanks, their
    recall), "noisy sine",
    "CSV upload" (values (N,) from read_series, standardised) or "random Gaussian input"."""
    g = torch.Generator().manual_seed(int(seed))
    note = ""
    if source == "adding problem":
        t = adding_problem(1, T, g)
        note = f"Two marked values to add (steps {t.x[0, :, 1].nonzero().flatten().tolist()}); target {float(t.y[0]):.3f}."
    elif source == "copy task":
        t = copy_task(1, max(T - 20, 1), generator=g)
    elif source == "noisy sine":
        t = sine_task(1, T, n_waves=2, generator=g)
    elif source == "CSV upload":
        if values is None:
            raise InputError("upload a CSV file with a numeric column to read it.")
        return ((values - values.mean()) / values.std().clamp_min(1e-8))[:, None].to(dtype), None, note
    elif source == "random Gaussian input":
        return torch.randn(T, input_size, generator=g).to(dtype), None, note
    else:
        raise InputError(f"unknown input {source!r}.")
    return t.x[0].to(dtype), t.baseline, note
