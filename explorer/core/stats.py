"""Per-unit statistics and overview block means of one pass over a long input (scan_long).

The pass hands over each chunk's values, a (T, B, G, H) block per group of quantities (the gates
side by side, or one state), and this module reduces them as they come:

    acc = PassStats(L, D, N, block)
    acc.add("i", l, d, v, pos0, reverse, lo, hi)     # after every chunk of every layer/direction
    stats, overview = acc.finish({"i": ["i", "f", "g", "o"], "c": ["c"], "h": ["h"]})

Everything here runs between two kernel calls, on the cores the kernel wants, so it is written
for few passes over each chunk: the chunk's mean comes from the overview's block sums, every
temporary goes into one reused buffer, and the per-chunk results are merged 64 chunks at a
time in one vectorized step (merging each chunk on its own was a dozen small ops per group).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor

from . import cells

MERGE_EVERY = 64                     # chunks whose reductions wait before they are merged


def thresholds(name: str, kind: str = "") -> tuple[float, float]:
    """(low, high): a value below low / above high counts as saturated (Karpathy et al. 2015).
    Gates in (0, 1) (cells.value_range), tanh ones and states in (-1, 1)."""
    return (0.1, 0.9) if cells.value_range(name, kind) == (0, 1) else (-0.9, 0.9)


@dataclass
class RunningStats:
    """Per-unit statistics over all steps, each (L, D, B, H)."""
    count: int = 0
    min: Optional[Tensor] = None
    max: Optional[Tensor] = None
    mean: Optional[Tensor] = None
    m2: Optional[Tensor] = None          # sum of squared deviations, float64
    low: Optional[Tensor] = None         # gates: number of steps below thresholds(name)[0]
    high: Optional[Tensor] = None        # gates: number of steps above thresholds(name)[1]

    @property
    def std(self) -> Tensor:
        return (self.m2 / max(self.count, 1)).sqrt()

    @property
    def frac_low(self) -> Tensor:
        return self.low.double() / max(self.count, 1)

    @property
    def frac_high(self) -> Tensor:
        return self.high.double() / max(self.count, 1)


def chunk_reductions(v: Tensor, total: Tensor, buf: Tensor, lo: Optional[Tensor], hi: Optional[Tensor]) -> list[Tensor]:
    """Reductions over the steps of one chunk v (T, B, G, H), given its sum over steps `total`
    (B, G, H): min, max, mean, the sum of squared deviations (two-pass) and, where lo/hi (G, 1)
    thresholds are given, the number of steps below lo and above hi. Each (B, G, H).
    buf: a scratch tensor of v's shape, overwritten.

    One pass per reduction over the whole block (the gates of a step are contiguous in it).
    Plain amin/amax and a two-pass variance: torch.aminmax and torch.var_mean along dim 0 were
    10-20x slower here."""
    mean = total / v.shape[0]
    dev = torch.sub(v, mean, out=buf)
    out = [v.amin(0), v.amax(0), mean, dev.mul_(dev).sum(0)]
    if lo is not None:
        # lt into a float buffer is 1.0 exactly where v < lo, else 0.0; summing it is 2x faster than
        # sign/clamp and 5x faster than summing a bool mask, and exact in float32 below 2^24 steps.
        exact = torch.float64 if v.shape[0] >= 2 ** 24 else None
        out.append(torch.lt(v, lo, out=buf).sum(0, dtype=exact))
        out.append(torch.gt(v, hi, out=buf).sum(0, dtype=exact))
    return out


class PassStats:
    """Running statistics and overview block means for every (group, layer, direction)."""

    def __init__(self, L: int, D: int, N: int, block: int = 0):
        self.L, self.D, self.N, self.block = L, D, N, block
        self.nbk = -(-N // block) if block else 0
        self.stats: dict[str, RunningStats] = {}
        self.sums: dict[tuple, Tensor] = {}           # (group, l, d) -> block sums (n_blocks, B, G, H)
        self.pending: dict[tuple, list] = {}          # (group, l, d) -> [(n, reductions), ...] not merged yet
        self.seen: dict[tuple, int] = {}              # (group, l, d) -> steps merged so far
        self.bufs: dict[tuple, Tensor] = {}           # scratch, one per shape

    def add(self, group: str, l: int, d: int, v: Tensor, pos0: int, reverse: bool,
            lo: Optional[Tensor] = None, hi: Optional[Tensor] = None):
        """One chunk's values v (T, B, G, H) of `group` for layer l, direction d. Its rows are input
        positions pos0, pos0+1, ... (reverse: pos0, pos0-1, ...)."""
        key = (group, l, d)
        total = self._block_sums(key, v, pos0, reverse) if self.block else v.sum(0)
        buf = self.bufs.get(tuple(v.shape))
        if buf is None or buf.dtype != v.dtype:
            buf = self.bufs[tuple(v.shape)] = torch.empty(v.shape, dtype=v.dtype, device=v.device)
        self.pending.setdefault(key, []).append((v.shape[0], chunk_reductions(v, total, buf, lo, hi)))
        if len(self.pending[key]) >= MERGE_EVERY:
            self._merge(key)

    def _block_sums(self, key: tuple, v: Tensor, pos0: int, reverse: bool) -> Tensor:
        """Add the sums of v over overview blocks into this key's block sums; return v's sum over
        steps (the sum of those parts). At most three sums, whatever the block size: the blocks
        the chunk covers whole in one (a view of them, (n, block, ...)), the partial ones at its
        two ends on their own. (A sum per block was 40 small ops per chunk on short inputs;
        index_add_ over rows cost 5x more.)"""
        acc = self.sums.get(key)
        if acc is None:
            acc = self.sums[key] = v.new_zeros(self.nbk, *v.shape[1:])
        T, block = v.shape[0], self.block
        lo, hi = (pos0, pos0 + T) if not reverse else (pos0 - T + 1, pos0 + 1)       # input positions
        rows = lambda s, e: slice(s - lo, e - lo) if not reverse else slice(hi - e, hi - s)
        a, b = -(-lo // block), hi // block                  # blocks a..b-1 lie whole inside [lo, hi)
        total = v.new_zeros(v.shape[1:])
        if a < b:
            whole = v[rows(a * block, b * block)].unflatten(0, (b - a, block)).sum(1)
            acc[a:b] += whole if not reverse else whole.flip(0)
            total += whole.sum(0)
        ends = [(lo, min(hi, a * block))] + ([(b * block, hi)] if a < b or a * block < hi else [])
        for s, e in ends:                                    # the partial blocks at either end
            if s < e:
                part = v[rows(s, e)].sum(0)
                acc[s // block] += part
                total += part
        return total

    def _merge(self, key: tuple):
        """Fold the pending chunks' reductions into the running statistics, all at once: the mean
        and sum of squared deviations of a union of parts (Chan et al. 1979), in float64."""
        parts = self.pending.pop(key, [])
        if not parts:
            return
        group, l, d = key
        ns = torch.tensor([n for n, _ in parts], dtype=torch.float64)
        cols = [torch.stack([r[j] for _, r in parts]).cpu() for j in range(len(parts[0][1]))]
        st = self.stats.get(group)
        if st is None:
            shape = (self.L, self.D) + tuple(cols[0].shape[1:])
            z = lambda dt: torch.zeros(shape, dtype=dt)
            st = self.stats[group] = RunningStats(0, torch.full(shape, float("inf"), dtype=cols[0].dtype),
                                                  torch.full(shape, -float("inf"), dtype=cols[0].dtype),
                                                  z(torch.float64), z(torch.float64), z(torch.long), z(torch.long))
        na = self.seen.get(key, 0)
        torch.minimum(st.min[l, d], cols[0].amin(0), out=st.min[l, d])
        torch.maximum(st.max[l, d], cols[1].amax(0), out=st.max[l, d])
        w = ns.view(-1, *([1] * (cols[2].dim() - 1)))
        means = cols[2].double()
        tot = na + float(ns.sum())
        mean = (st.mean[l, d] * na + (means * w).sum(0)) / tot
        st.m2[l, d] += (cols[3].double().sum(0) + (means - mean).pow(2).mul(w).sum(0)
                        + (st.mean[l, d] - mean).pow(2) * na)
        st.mean[l, d] = mean
        if len(cols) > 4:
            st.low[l, d] += cols[4].long().sum(0)
            st.high[l, d] += cols[5].long().sum(0)
        self.seen[key] = int(tot)

    def finish(self, groups: dict[str, list[str]]) -> tuple[dict, dict]:
        """Merge what is pending; split each group into its names. groups: {group: [names]} in the
        order of the G axis. Returns ({name: RunningStats (L, D, B, H)}, {name: block means
        (L, D, n_blocks, B, H)}; the latter empty without blocks)."""
        for key in list(self.pending):
            self._merge(key)
        stats, overview = {}, {}
        if self.block:
            counts = torch.bincount(torch.arange(self.N) // self.block, minlength=self.nbk)
        for group, names in groups.items():
            gs = self.stats.get(group)
            if gs is None:
                continue
            for g, n in enumerate(names):
                stats[n] = RunningStats(self.N, *(t[..., g, :].contiguous()
                                                  for t in (gs.min, gs.max, gs.mean, gs.m2, gs.low, gs.high)))
        for (group, l, d), acc in self.sums.items():
            for g, n in enumerate(groups[group]):
                if n not in overview:
                    B, H = acc.shape[1], acc.shape[3]                  # acc: (n_blocks, B, G, H)
                    overview[n] = torch.zeros(self.L, self.D, self.nbk, B, H, dtype=acc.dtype)
                overview[n][l, d] = acc[:, :, g].cpu() / counts[:, None, None].to(acc.dtype)
        return stats, overview
