"""scan_long(): windows equal slices of a full trace; running statistics equal full ones."""
import copy

import pytest
import torch

from explorer import InputError, scan_long, trace
from explorer.core import onednn, stats
from explorer.core.stats import thresholds
from explorer.core.windows import time_left

CASES = [(torch.nn.LSTM, {}), (torch.nn.LSTM, dict(num_layers=2, bidirectional=True, proj_size=2)),
         (torch.nn.GRU, dict(num_layers=3)), (torch.nn.RNN, dict(bidirectional=True, batch_first=True))]


def assert_stats_equal(lt, full, atol=1e-12, frac_atol=1e-15):
    """lt.stats equal the same statistics taken over the full trace's values (frac_atol: for the
    saturated fractions, where a float32 value within rounding of a threshold may count either way)."""
    for n in full.names():
        st, ref = lt.stats[n], full.values(n)
        torch.testing.assert_close(st.mean, ref.mean(2), atol=atol, rtol=0)
        torch.testing.assert_close(st.std, ref.std(2, correction=0), atol=atol, rtol=0)
        torch.testing.assert_close(st.min.double(), ref.amin(2), atol=atol, rtol=0)
        torch.testing.assert_close(st.max.double(), ref.amax(2), atol=atol, rtol=0)
        lo, hi = thresholds(n)
        if n in ("i", "f", "o", "r", "z", "g", "n"):
            torch.testing.assert_close(st.frac_low, (ref < lo).double().mean(2), atol=frac_atol, rtol=0)
            torch.testing.assert_close(st.frac_high, (ref > hi).double().mean(2), atol=frac_atol, rtol=0)


@pytest.mark.parametrize("cls,kw", CASES)
@pytest.mark.parametrize("batched", [False, True])
def test_windows_equal_slices_and_stats_equal_full(cls, kw, batched):
    torch.manual_seed(0)
    rnn = cls(3, 5, **kw).double()
    x = torch.randn(*((103, 2, 3) if batched else (103, 3)), dtype=torch.double)
    x = x.transpose(0, 1) if (rnn.batch_first and batched) else x       # the module's own layout
    full = trace(rnn, x)
    lt = scan_long(rnn, x, checkpoint_every=8, chunk=16)
    for a, b in [(0, 103), (5, 9), (16, 32), (97, 103), (40, 41)]:
        w = lt.window(a, b)
        for n in full.names():
            torch.testing.assert_close(w.values(n), full.values(n)[:, :, a:b], atol=1e-12, rtol=0)
    assert_stats_equal(lt, full)


def test_window_state_and_output_and_errors():
    torch.manual_seed(0)
    rnn = torch.nn.LSTM(3, 5).double()
    x = torch.randn(50, 3, dtype=torch.double)
    full = trace(rnn, x)
    w = scan_long(rnn, x, checkpoint_every=4, chunk=8).window(10, 21)
    torch.testing.assert_close(w.output, full.output[10:21], atol=1e-12, rtol=0)
    torch.testing.assert_close(w.c_n, full.c[:, 0, 20, 0], atol=1e-12, rtol=0)
    lt = scan_long(rnn, x)
    with pytest.raises(InputError, match="0 <= a < b <= 50"):
        lt.window(10, 60)
    with pytest.raises(InputError, match="input_size=3"):
        scan_long(rnn, torch.randn(50, 4, dtype=torch.double))


def test_overview_block_means_and_progress():
    torch.manual_seed(0)
    rnn = torch.nn.GRU(3, 4, bidirectional=True).double()
    x = torch.randn(103, 3, dtype=torch.double)
    full = trace(rnn, x)
    seen = []
    lt = scan_long(rnn, x, checkpoint_every=8, chunk=16, overview_blocks=10, progress=seen.append)
    assert lt.block == 11 and lt.overview["z"].shape == (1, 2, 10, 1, 4)
    v = full.values("z")
    for k in range(10):
        torch.testing.assert_close(lt.overview["z"][:, :, k], v[:, :, k * 11:(k + 1) * 11].mean(2), atol=1e-12, rtol=0)
    assert seen[-1] == 1.0 and seen == sorted(seen)


@pytest.mark.parametrize("kw", [dict(), dict(bidirectional=True, num_layers=2), dict(batch_first=True)])
def test_a_kept_whole_trace_gives_the_same_windows_without_tracing_again(kw, monkeypatch):
    rnn = torch.nn.LSTM(3, 4, **kw).double()
    x = torch.randn(2, 50, 3, dtype=torch.double) if kw.get("batch_first") else torch.randn(50, 2, 3, dtype=torch.double)
    kept = scan_long(rnn, x, checkpoint_every=8, chunk=16, keep_whole=10**6)
    plain = scan_long(rnn, x, checkpoint_every=8, chunk=16)
    assert kept.whole is not None and plain.whole is None
    assert scan_long(rnn, x, checkpoint_every=8, chunk=16, keep_whole=100).whole is None     # too big to keep
    spans = [(0, 50), (9, 17), (8, 16), (40, 50), (3, 4)]
    refs = [plain.window(a, b) for a, b in spans]
    from explorer.core import windows
    calls = []
    monkeypatch.setattr(windows, "trace", lambda *a, **k: calls.append(1))      # a kept window must not trace
    for (a, b), ref in zip(spans, refs):
        w = kept.window(a, b)
        for name in ref.names():
            torch.testing.assert_close(w.values(name), ref.values(name), atol=1e-12, rtol=0)
        torch.testing.assert_close(w.output, ref.output, atol=1e-12, rtol=0)
        torch.testing.assert_close(w.h_n, ref.h_n, atol=1e-12, rtol=0)
        torch.testing.assert_close(w.c_n, ref.c_n, atol=1e-12, rtol=0)
        torch.testing.assert_close(w.meta["h_before"], ref.meta["h_before"], atol=1e-12, rtol=0)
        torch.testing.assert_close(w.meta["c_before"], ref.meta["c_before"], atol=1e-12, rtol=0)
    assert not calls                                                  # every kept window was a slice


@pytest.mark.parametrize("name", ["c", "h", "f"])
def test_value_bound_is_the_largest_magnitude_over_the_whole_input(name):
    from explorer.analysis.units import value_bound
    torch.manual_seed(1)
    rnn = torch.nn.LSTM(3, 6, num_layers=2, bidirectional=True).double()
    x = torch.randn(200, 3, dtype=torch.double) * 3
    full = trace(rnn, x).values(name)                     # (L, D, T, B, H)
    lt = scan_long(rnn, x, checkpoint_every=32, chunk=32)
    for l, d, units in [(0, 0, [1, 4]), (1, 1, [0, 2, 5]), (1, 0, [3])]:
        want = full[l, d, :, 0][:, units].abs().max().item()
        assert value_bound(lt, name, l, d, units) == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize("every,chunk,blocks", [(1, 8, 7), (3, 8, 7), (64, 8, 7), (2, 32, 20), (64, 96, 103)])
def test_statistics_merged_in_batches_equal_full(every, chunk, blocks, monkeypatch):
    # the per-chunk reductions wait and are merged MERGE_EVERY chunks at a time: any batching gives
    # the statistics and block means of the whole input, in both directions
    monkeypatch.setattr(stats, "MERGE_EVERY", every)
    torch.manual_seed(1)
    rnn = torch.nn.LSTM(3, 5, bidirectional=True).double()
    x = torch.randn(103, 2, 3, dtype=torch.double) * 3
    full = trace(rnn, x)
    lt = scan_long(rnn, x, checkpoint_every=4, chunk=chunk, overview_blocks=blocks)
    assert_stats_equal(lt, full)
    size = -(-103 // blocks)                  # a chunk may hold whole blocks, or lie inside one
    for n in full.names():
        v = full.values(n)
        for k in range(lt.overview[n].shape[2]):
            torch.testing.assert_close(lt.overview[n][:, :, k], v[:, :, k * size:(k + 1) * size].mean(2), atol=1e-12, rtol=0)


def test_float32_statistics_over_the_kernel_route_equal_a_float64_trace(monkeypatch):
    # a float32 CPU LSTM goes through the oneDNN kernel's workspace in chunks of 1024 steps, with
    # reductions in float32: checked against the float64 trace of the same weights
    torch.manual_seed(2)
    rnn = torch.nn.LSTM(8, 16, batch_first=True)
    x = torch.randn(1, 3000, 8) * 2
    full = trace(copy.deepcopy(rnn).double(), x.double())
    read = []
    forward = onednn.lstm_forward
    monkeypatch.setattr(onednn, "lstm_forward", lambda *a: read.append(forward(*a)) or read[-1])
    lt = scan_long(rnn, x, chunk=1024, overview_blocks=30)
    assert len(read) == 3 and all(r is not None for r in read)          # the workspace route, chunk by chunk
    assert lt.stats["c"].min.dtype == torch.float32
    assert_stats_equal(lt, full, atol=2e-5, frac_atol=2.5 / 3000)
    for n in full.names():
        means = full.values(n).unflatten(2, (30, 100)).mean(3)             # (L, D, 30 blocks, B, H)
        torch.testing.assert_close(lt.overview[n].double(), means, atol=2e-5, rtol=0)


def test_time_left_says_the_rest_in_round_figures():
    assert time_left(0.5, 0.5) == ""                     # too early to tell
    assert time_left(10.0, 0.01) == ""                   # too little done
    assert time_left(10.0, 1.0) == ""                    # finished
    assert time_left(10.0, 0.5) == "about 10 s left"
    assert time_left(2.0, 0.25) == "about 5 s left"
    assert time_left(3.0, 0.9) == "about 5 s left"        # never "0 s"
    assert time_left(20.0, 0.2) == "about 80 s left"
    assert time_left(60.0, 0.25) == "about 3 min left"
    assert time_left(9.0, 0.5, since=0.05) == "about 10 s left"   # timed from a first report at 5%
    assert time_left(9.0, 0.07, since=0.05) == ""                # 2% timed: too little to tell
