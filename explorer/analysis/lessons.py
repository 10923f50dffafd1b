"""The numbers behind the classroom lessons, computed here so the page only shows them."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence

from explorer.core.trace import trace


@dataclass
class PackingDemo:
    diff: float              # largest |trace - module on the PackedSequence| over output, h_n (and c_n)
    h: np.ndarray            # (B·units, T): h of the first `units` units of each line, rows grouped by line
    row_labels: list[str]    # "line 1 u0", ... one per row of h
    steps: int               # T, the longest line


def packing_demo(model, texts: list[str], units: int = 8) -> PackingDemo:
    """Trace a char model's core over `texts` padded into one batch with lengths=, and compare with
    the stock module run on the PackedSequence (torch.nn.utils.rnn.pack_padded_sequence)."""
    ids = [model.vocab.encode(t) for t in texts]
    lengths = torch.tensor([len(i) for i in ids])
    pad = pad_sequence(ids, batch_first=True)
    core = model.core
    with torch.no_grad():
        x = model.embedding(pad)
        tr = trace(core, x, lengths=lengths)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, state = core(packed)
        out = pad_packed_sequence(out, batch_first=True, total_length=pad.shape[1])[0]
    finals = zip(state if isinstance(state, tuple) else (state,), (tr.h_n, tr.c_n))
    diff = max([float((tr.output - out).abs().max())] + [float((ours - theirs).abs().max()) for theirs, ours in finals])
    B, T = pad.shape
    h = tr.h[0, 0, :, :, :units].permute(1, 2, 0).reshape(-1, T).float().numpy()     # (B·units, T)
    return PackingDemo(diff, h, [f"line {b + 1} u{u}" for b in range(B) for u in range(units)], T)


@dataclass
class PastInGates:
    """Lesson 8's numbers for two char models on one text (keys: their labels)."""
    z: dict[str, np.ndarray]             # the update gate z of the `units` most variable units, (units, T)
    units: dict[str, list[int]]          # which units
    from_past: dict[str, float]          # share of z's variance the current character does not explain
    heldout: dict[str, float]            # the model card's held-out loss (nats per character), NaN if absent


def past_in_gates(models: dict, text: str, units: int = 12) -> PastInGates:
    """Trace each char model (a GRU and a minGRU, say) on `text` and measure how much of its update gate z
    comes from the past: the variance of z left within the occurrences of each character, as a share of
    its whole variance (0 when z is a function of the character alone, as a minGRU's is)."""
    z, picked, past, held = {}, {}, {}, {}
    for label, m in models.items():
        ids = m.vocab.encode(text)
        with torch.no_grad():
            tr = trace(m.core, m.embedding(ids))
        v = tr.gates["z"][0, 0, :, 0].double()                       # (T, H)
        order = torch.argsort(v.std(0), descending=True)[:units].tolist()
        z[label], picked[label] = v[:, order].T.float().numpy(), order
        within = torch.zeros(())
        for c in ids.unique():                                      # variance left once the character is known
            rows = v[ids == c]
            within = within + ((rows - rows.mean(0)) ** 2).sum()
        total = ((v - v.mean(0)) ** 2).sum()
        past[label] = float(within / total) if float(total) > 0 else 0.0
        card = getattr(m, "card", None) or {}
        held[label] = float(card.get("heldout_loss_nats", float("nan")))
    return PastInGates(z, picked, past, held)
