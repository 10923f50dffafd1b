"""Pattern search (after LSTMVis, Strobelt et al. 2018) and clusters of units.

    on = pattern(values, start, end, threshold)                 # the units "on" over [start, end)
    hits = find_pattern(source, "h", layer, direction, start, end, threshold)
    labels = kmeans_units(values (H, T), k)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
from torch import Tensor

from explorer.core.trace import Trace
from explorer.errors import InputError


def pattern(values: Tensor, start: int, end: int, threshold: float) -> Tensor:
    """Units whose value stays above threshold at every step of [start, end). values (T, H) -> bool (H,)."""
    if not 0 <= start < end <= values.shape[0]:
        raise InputError(f"the selected range must satisfy 0 <= start < end <= {values.shape[0]}.")
    return (values[start:end] > threshold).all(0)


def _windows(source, name: str, layer: int, direction: int, window: int, overlap: int) -> Iterator[tuple[int, Tensor]]:
    """(first step, values (t, H)) covering the whole input, consecutive windows overlapping by `overlap`."""
    if isinstance(source, Trace):
        yield 0, source.values(name)[layer, direction, :, 0]
        return
    N = source.steps
    a = 0
    while a < N:
        b = min(a + window + overlap, N)
        yield a, source.window(a, b).values(name)[layer, direction, :, 0]
        a += window


def find_pattern(source, name: str, layer: int, direction: int, start: int, end: int, threshold: float = 0.5,
                 top: int = 10, window: int = 4096) -> tuple[list[int], list[dict]]:
    """The units "on" (above threshold) throughout [start, end), and the places elsewhere where the
    most similar set of units is on throughout a range of the same length, ranked by Jaccard
    similarity of the two sets. Overlaps with the query are skipped. Returns (units, matches) with
    matches [{"start", "end", "score", "shared"}]. source: a Trace (batch 0) or a LongTrace."""
    n = end - start
    if n < 1:
        raise InputError("select at least one step for the pattern.")
    q = None
    for a, v in _windows(source, name, layer, direction, window, n):
        if a <= start and end <= a + v.shape[0]:
            q = pattern(v, start - a, end - a, threshold)
            break
    if q is None:
        raise InputError(f"the selected range [{start}, {end}) is outside the input.")
    units = q.nonzero().flatten().tolist()
    if not units:
        return [], []
    scores = []
    for a, v in _windows(source, name, layer, direction, window, n):
        off = (v <= threshold).to(torch.int32)                        # (t, H)
        if v.shape[0] < n:
            continue
        c = torch.cat([torch.zeros(1, off.shape[1], dtype=torch.int32), off.cumsum(0)])
        on_all = (c[n:] - c[:-n]) == 0                                 # (t - n + 1, H): on throughout [s, s + n)
        inter = (on_all & q).sum(1).double()
        union = (on_all | q).sum(1).double()
        sc = inter / union.clamp_min(1)
        for s in range(sc.numel()):
            scores.append((float(sc[s]), a + s, int(inter[s])))
    scores.sort(key=lambda r: -r[0])
    out, taken = [], []
    for sc, s, shared in scores:
        if sc <= 0 or len(out) >= top:
            break
        if s < end and start < s + n:                                  # overlaps the query
            continue
        if any(s < t + n and t < s + n for t in taken):                # overlaps a better match
            continue
        taken.append(s)
        out.append({"start": s, "end": s + n, "score": sc, "shared": shared})
    return units, out


@dataclass
class UnitClusters:
    labels: np.ndarray          # (H,) cluster of each unit, 0 = largest
    order: list[int]            # units sorted by cluster, then by index
    sizes: list[int]            # units per cluster


def cluster_units(values, k: int, seed: int = 0) -> UnitClusters:
    """kmeans_units on values (H, T) (a tensor or an array), with the units in cluster order."""
    v = torch.as_tensor(values)
    H = v.shape[0]
    labels = kmeans_units(v, min(k, H), seed=seed)
    order = torch.argsort(labels * H + torch.arange(H)).tolist()
    return UnitClusters(labels.numpy(), order, torch.bincount(labels, minlength=min(k, H)).tolist())


def kmeans_units(values: Tensor, k: int, iters: int = 50, seed: int = 0) -> Tensor:
    """k-means over units' activation profiles: values (H, T) -> labels (H,), clusters numbered
    by size (0 = largest). Profiles are standardised so shape, not scale, decides."""
    H = values.shape[0]
    if not 1 <= k <= H:
        raise InputError(f"the number of clusters must be between 1 and {H}.")
    x = torch.nan_to_num(values.double())
    x = (x - x.mean(1, keepdim=True)) / x.std(1, keepdim=True).clamp_min(1e-8)
    g = torch.Generator().manual_seed(seed)
    centers = x[torch.randperm(H, generator=g)[:k]].clone()
    labels = torch.zeros(H, dtype=torch.long)
    for _ in range(iters):
        new = torch.cdist(x, centers).argmin(1)
        if torch.equal(new, labels) and _ > 0:
            break
        labels = new
        for j in range(k):
            members = x[labels == j]
            centers[j] = members.mean(0) if len(members) else x[torch.randint(0, H, (1,), generator=g)][0]
    sizes = torch.bincount(labels, minlength=k)
    rank = torch.empty(k, dtype=torch.long)
    rank[torch.argsort(sizes, descending=True)] = torch.arange(k)
    return rank[labels]
