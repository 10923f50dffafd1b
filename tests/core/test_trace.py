"""trace(): parity with an independent reference and with the stock module, invariants,
interventions and every error message."""

import pytest
import torch
from reference import reference, unpack

from explorer import InputError, Intervention, trace
from explorer.core.kinds.gru import LOOP_BATCH


def test_parity_with_reference_float64(rnn_config, make_rnn):
    rnn = make_rnn(**rnn_config)
    kind = rnn_config["kind"]
    T, B = 5, 2
    x = torch.randn(T, B, 3, dtype=torch.float64)
    xin = x.transpose(0, 1) if rnn.batch_first else x
    tr = trace(rnn, xin)
    ref = reference(rnn, x)
    for name in tr.names():
        torch.testing.assert_close(tr.values(name), ref[name], atol=1e-12, rtol=0)
    out, h_n, c_n = unpack(rnn(xin))
    torch.testing.assert_close(tr.output, out, atol=1e-12, rtol=0)
    torch.testing.assert_close(tr.h_n, h_n, atol=1e-12, rtol=0)
    if kind == "lstm":
        torch.testing.assert_close(tr.c_n, c_n, atol=1e-12, rtol=0)
        assert tr.c.shape == (rnn.num_layers, 2 if rnn.bidirectional else 1, T, B, 4)
    assert tr.kind == kind
    assert set(tr.gates) == {"lstm": {"i", "f", "g", "o"}, "gru": {"r", "z", "n"}, "rnn": set()}[kind]
    assert tr.h.shape[-1] == (rnn.proj_size or 4)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_float32_matches_module(kind, make_rnn):
    torch.manual_seed(2)
    rnn = make_rnn(kind, 16, 32, num_layers=2, bidirectional=True, dtype=torch.float32)
    x = torch.randn(300, 3, 16)
    tr = trace(rnn, x)
    out, h_n, c_n = unpack(rnn(x))
    assert (tr.output - out).abs().max() <= 1e-6
    assert (tr.h_n - h_n).abs().max() <= 1e-6
    if c_n is not None:
        assert (tr.c_n - c_n).abs().max() <= 1e-6


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_t1_b1_unbatched_and_hx(kind, make_rnn):
    rnn = make_rnn(kind, num_layers=2, bidirectional=True)
    x = torch.randn(1, 3, dtype=torch.float64)                 # unbatched, T=1
    hx = torch.randn(4, 4, dtype=torch.float64)
    hx = (hx, torch.randn(4, 4, dtype=torch.float64)) if kind == "lstm" else hx
    tr = trace(rnn, x, hx)
    out, h_n, c_n = unpack(rnn(x, hx))
    assert tr.output.shape == out.shape == (1, 8) and tr.h.shape == (2, 2, 1, 1, 4)
    torch.testing.assert_close(tr.output, out, atol=1e-12, rtol=0)
    torch.testing.assert_close(tr.h_n, h_n, atol=1e-12, rtol=0)
    hb = tuple(t[:, None] for t in hx) if kind == "lstm" else hx[:, None]
    ref = reference(rnn, x[:, None], hb)
    for name in tr.names():
        torch.testing.assert_close(tr.values(name), ref[name], atol=1e-12, rtol=0)


def test_long_sequence_uses_block_scan_exactly(make_rnn):
    rnn = make_rnn("lstm", hidden_size=8)                  # B*H small -> blocked parallel scan
    x = torch.randn(333, 1, 3, dtype=torch.float64)
    ref = reference(rnn, x)
    torch.testing.assert_close(trace(rnn, x).c, ref["c"], atol=1e-12, rtol=0)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_lengths_equal_packed_sequence(kind, bidirectional, make_rnn):
    rnn = make_rnn(kind, num_layers=2, bidirectional=bidirectional, batch_first=True)
    lengths = [5, 2, 7, 1]
    x = torch.randn(4, 7, 3, dtype=torch.float64)
    tr = trace(rnn, x, lengths=lengths)
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
    pout, *st = unpack(rnn(packed))
    out = torch.nn.utils.rnn.pad_packed_sequence(pout, batch_first=True, total_length=7)[0]
    torch.testing.assert_close(tr.output, out, atol=1e-12, rtol=0)
    torch.testing.assert_close(tr.h_n, st[0], atol=1e-12, rtol=0)
    if kind == "lstm":
        torch.testing.assert_close(tr.c_n, st[1], atol=1e-12, rtol=0)
    ref = reference(rnn, x.transpose(0, 1), lengths=lengths)
    for name in tr.names():
        torch.testing.assert_close(tr.values(name), ref[name], atol=1e-12, rtol=0, equal_nan=True)
    assert torch.isnan(tr.h[0, 0, 1:, 3]).all() and not torch.isnan(tr.h[0, 0, :1, 3]).any()


def test_lstm_invariants(make_rnn):
    rnn = make_rnn("lstm", num_layers=2)
    x = torch.randn(20, 2, 3, dtype=torch.float64)
    tr = trace(rnn, x)
    torch.testing.assert_close(tr.h, tr.gates["o"] * torch.tanh(tr.c), atol=1e-12, rtol=0)
    c_prev = torch.cat([torch.zeros_like(tr.c[:, :, :1]), tr.c[:, :, :-1]], 2)
    torch.testing.assert_close(tr.c, tr.gates["f"] * c_prev + tr.gates["i"] * tr.gates["g"], atol=1e-12, rtol=0)
    for g in "ifo":
        assert ((tr.gates[g] > 0) & (tr.gates[g] < 1)).all()
    assert (tr.gates["g"].abs() < 1).all()


def test_gru_invariant(make_rnn):
    rnn = make_rnn("gru")
    x = torch.randn(20, 2, 3, dtype=torch.float64)
    tr = trace(rnn, x)
    h_prev = torch.cat([torch.zeros_like(tr.h[:, :, :1]), tr.h[:, :, :-1]], 2)
    z, n = tr.gates["z"], tr.gates["n"]
    torch.testing.assert_close(tr.h, (1 - z) * n + z * h_prev, atol=1e-12, rtol=0)


# ---- interventions -------------------------------------------------------------------------

def test_forget_one_input_zero_keeps_cell_constant(make_rnn):
    rnn = make_rnn("lstm", num_layers=2)
    x = torch.randn(30, 2, 3, dtype=torch.float64)
    base = trace(rnn, x)
    iv = [Intervention("f", 1.0, layers=0, units=[1, 3], steps=range(10, 30)),
          Intervention("i", 0.0, layers=0, units=[1, 3], steps=range(10, 30))]
    tr = trace(rnn, x, intervene=iv)
    c = tr.c[0, 0, :, :, [1, 3]]
    assert torch.equal(c[10:], c[9:10].expand_as(c[10:]))                     # constant from step 10 on
    torch.testing.assert_close(tr.c[:, :, :10], base.c[:, :, :10], atol=0, rtol=0)   # untouched before
    assert (tr.gates["f"][0, 0, 10:, :, [1, 3]] == 1).all()
    assert not torch.allclose(tr.h[1, 0, 10:], base.h[1, 0, 10:])            # the next layer sees it
    assert not torch.allclose(tr.output, base.output)
    torch.testing.assert_close(tr.c_n[0, :, [1, 3]], c[-1], atol=0, rtol=0)


def test_intervention_equals_reference_with_edit(make_rnn):
    """The intervened trace equals a hand-written loop with the same edit."""
    rnn = make_rnn("gru")
    x = torch.randn(12, 1, 3, dtype=torch.float64)
    tr = trace(rnn, x, intervene=Intervention("z", 0.25, units=[0], steps=[4, 5, 6]))
    W_ih, W_hh, b_ih, b_hh = rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0
    h = torch.zeros(4, dtype=torch.float64)
    for t in range(12):
        gi, gh = W_ih @ x[t, 0] + b_ih, W_hh @ h + b_hh
        r, z = torch.sigmoid(gi[:4] + gh[:4]), torch.sigmoid(gi[4:8] + gh[4:8])
        if t in (4, 5, 6):
            z = z.clone()
            z[0] = 0.25
        n = torch.tanh(gi[8:] + r * gh[8:])
        h = (1 - z) * n + z * h
        torch.testing.assert_close(tr.h[0, 0, t, 0], h, atol=1e-12, rtol=0)


def test_intervention_reverse_direction_by_input_position_and_dict_shorthand(make_rnn):
    rnn = make_rnn("lstm", bidirectional=True)
    x = torch.randn(8, 1, 3, dtype=torch.float64)
    tr = trace(rnn, x, intervene=Intervention("o", 0.0, directions=1, steps=[2]))
    assert (tr.h[0, 1, 2] == 0).all() and (tr.h[0, 0, 2] != 0).all()
    tr = trace(rnn, x, intervene={"f": 1.0, "i": 0.0})
    assert (tr.c == 0).all() and (tr.h == 0).all()                # nothing ever enters the cell
    rnn = make_rnn("rnn")
    plain, tr = trace(rnn, x), trace(rnn, x, intervene=Intervention("h", 2.0, mode="scale", steps=[0]))
    torch.testing.assert_close(tr.h[0, 0, 0], 2 * plain.h[0, 0, 0], atol=1e-12, rtol=0)   # scaled where asked
    h1 = torch.tanh(x[1, 0] @ rnn.weight_ih_l0.T + rnn.bias_ih_l0 + tr.h[0, 0, 0, 0] @ rnn.weight_hh_l0.T + rnn.bias_hh_l0)
    torch.testing.assert_close(tr.h[0, 0, 1, 0], h1, atol=1e-12, rtol=0)          # and the next step reads it


def test_intervention_with_lengths_respects_padding(make_rnn):
    rnn = make_rnn("lstm", bidirectional=True)
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    tr = trace(rnn, x, lengths=[6, 3], intervene=Intervention("f", 0.0, steps=[1]))
    assert torch.isnan(tr.c[0, :, 3:, 1]).all()
    ref = trace(rnn, x[:3, 1:2], intervene=Intervention("f", 0.0, steps=[1]))
    torch.testing.assert_close(tr.h[:, :, :3, 1:2], ref.h, atol=1e-12, rtol=0)
    torch.testing.assert_close(tr.h_n[:, 1], ref.h_n[:, 0], atol=1e-12, rtol=0)


# ---- errors --------------------------------------------------------------------------------

@pytest.mark.parametrize("call,match", [
    (lambda r: trace(torch.nn.Linear(3, 4), torch.randn(5, 3)), "nn.LSTM, nn.GRU, nn.RNN or an explorer MinGRU"),
    (lambda r: trace(r, torch.randn(5, 2, 7)), "input_size=3"),
    (lambda r: trace(r, torch.randn(5)), "2 .* or 3 dimensions"),
    (lambda r: trace(r, torch.tensor([[1.0, float("nan"), 0.0]])), "NaN or inf"),
    (lambda r: trace(r, torch.tensor([[1.0, float("inf"), 0.0]])), "NaN or inf"),
    (lambda r: trace(r, torch.randn(5, 3).double()), "float64 but the module"),
    (lambda r: trace(r, torch.zeros(5, 3, dtype=torch.long)), "floating-point"),
    (lambda r: trace(r, torch.randn(0, 3)), "empty"),
    (lambda r: trace(r, [[1.0, 2.0, 3.0]]), "torch.Tensor"),
    (lambda r: trace(r, torch.randn(5, 2, 3), lengths=[5]), "2 integers"),
    (lambda r: trace(r, torch.randn(5, 2, 3), lengths=[6, 1]), "between 1 and T=5"),
    (lambda r: trace(r, torch.randn(5, 2, 3), lengths=[0, 1]), "between 1 and T=5"),
    (lambda r: trace(r, torch.randn(5, 3), lengths=[5]), "batched"),
    (lambda r: trace(r, torch.randn(5, 2, 3), torch.zeros(1, 2, 4)), "tuple"),
    (lambda r: trace(r, torch.randn(5, 2, 3), (torch.zeros(1, 3, 4), torch.zeros(1, 2, 4))), r"h_0 must have shape \(1, 2, 4\)"),
    (lambda r: trace(r, torch.randn(5, 3), intervene={"z": 1.0}), "cannot edit 'z'"),
    (lambda r: trace(r, torch.randn(5, 3), intervene=Intervention("f", 1.0, units=[9])), "out of range"),
    (lambda r: trace(r, torch.randn(5, 3), intervene=Intervention("f", 1.0, mode="mul")), "mode"),
])
def test_errors_are_clear(call, match):
    rnn = torch.nn.LSTM(3, 4)
    with pytest.raises(InputError, match=match):
        call(rnn)


def test_values_error():
    tr = trace(torch.nn.GRU(3, 4), torch.randn(5, 3))
    with pytest.raises(InputError, match="no cell state"):
        tr.values("c")
    with pytest.raises(InputError, match="no gate 'f'"):
        tr.values("f")


# ---- the oneDNN workspace route (float32 CPU LSTM, small T*B) ---------------------------------

def test_fused_route_is_taken_and_matches_the_reference(monkeypatch):
    from explorer.core import engine, onednn
    calls, fallbacks = [], []
    real, real_stock = onednn.lstm_forward, engine.stock
    monkeypatch.setattr(onednn, "lstm_forward", lambda *a: calls.append(1) or real(*a))
    monkeypatch.setattr(engine, "stock", lambda *a, **k: fallbacks.append(1) or real_stock(*a, **k))
    torch.manual_seed(3)
    rnn = torch.nn.LSTM(5, 7, num_layers=2, bidirectional=True)
    x = torch.randn(40, 2, 5)
    tr = trace(rnn, x)
    assert torch.backends.mkldnn.is_available()
    assert len(calls) == 4 and not fallbacks           # taken for every layer/direction, and it passed its check
    for T, B, H in [(300, 1, 256), (100, 3, 33)]:      # padded rows (4H = 1024 -> 1040; 132 -> 144)
        trace(torch.nn.LSTM(4, H), torch.randn(T, B, 4))
    assert not fallbacks
    ref = reference(rnn.double(), x.double())
    for name in tr.names():
        torch.testing.assert_close(tr.values(name).double(), ref[name], atol=2e-6, rtol=0)
    out, h_n, c_n = unpack(rnn.float()(x))
    assert (tr.output - out).abs().max() <= 1e-6 and (tr.c_n - c_n).abs().max() <= 1e-6


def test_a_workspace_that_fails_the_check_falls_back(monkeypatch):
    from explorer.core import engine, onednn
    real = onednn._forward                         # what the workspace reader read, before its check
    broken = {
        "gates in another order": lambda out, h_n, c_n, g, c: (out, h_n, c_n, g.flip(0), c),
        "cell states shifted by a step": lambda out, h_n, c_n, g, c: (out, h_n, c_n, g, c.roll(1, 0)),
        "one late step wrong": lambda out, h_n, c_n, g, c: (out, h_n, c_n, g.index_fill(0, torch.tensor([29]), 0.5), c),
    }
    for why, corrupt in broken.items():
        stock_calls = []
        real_stock = engine.stock
        monkeypatch.setattr(onednn, "_forward", lambda *a: corrupt(*real(*a)))
        monkeypatch.setattr(engine, "stock", lambda *a, **k: stock_calls.append(1) or real_stock(*a, **k))
        torch.manual_seed(4)
        rnn = torch.nn.LSTM(5, 7)
        x = torch.randn(30, 1, 5)
        tr = trace(rnn, x)
        assert stock_calls, why                      # the check failed and the GEMM route ran
        ref = reference(rnn.double(), x.double())
        for name in ("f", "c", "h"):
            torch.testing.assert_close(tr.values(name).double(), ref[name], atol=2e-6, rtol=0, msg=why)
        monkeypatch.undo()


def test_cell_states_come_from_the_workspace_without_a_scan(monkeypatch):
    """The kernel keeps c_0..c_{T-2} in its workspace; reading them saves the scan. Where they
    cannot be found unambiguously (T=1, or c_0 all zeros), the scan rebuilds c."""
    from explorer.core import onednn
    scans = []
    from explorer.core.kinds import lstm as lstm_kind
    real_scan = lstm_kind.cell_scan
    for where in (lstm_kind, onednn):                  # the plain route's scan and the reader's fallback
        monkeypatch.setattr(where, "cell_scan", lambda *a, **k: scans.append(1) or real_scan(*a, **k))
    torch.manual_seed(5)
    # the last three go through the kernel in time chunks (of 1024 // B steps), one of 1 step
    for T, B, I, H in [(50, 1, 5, 7), (40, 3, 70, 33), (20, 9, 4, 16), (300, 2, 64, 256),
                       (1025, 1, 5, 7), (600, 2, 4, 16), (25, 100, 3, 8)]:
        rnn = torch.nn.LSTM(I, H)
        x = torch.randn(T, B, I)
        tr = trace(rnn, x)
        assert not scans, (T, B, I, H)
        out, (h_n, c_n) = rnn(x)
        assert (tr.output - out).abs().max() <= 1e-6
        assert (tr.h_n - h_n).abs().max() <= 1e-6 and (tr.c_n - c_n).abs().max() <= 1e-6
        ref = reference(rnn.double(), x.double())
        torch.testing.assert_close(tr.values("c").double(), ref["c"], atol=2e-6, rtol=0)
    rnn = torch.nn.LSTM(3, 4)
    trace(rnn, torch.randn(6, 1, 3))          # this shape's page is now remembered: it must not be trusted
    assert not scans
    with torch.no_grad():
        rnn.weight_ih_l0.zero_(), rnn.bias_ih_l0.zero_(), rnn.bias_hh_l0.zero_()    # g = tanh(0) = 0: c_0 = 0
    tr = trace(rnn, torch.randn(6, 1, 3))
    assert scans and (tr.values("c") == 0).all()


def test_float32_fast_route_equals_the_module_for_strided_inputs():
    """batch_first input reaches the layer as a transposed view, and long inputs go through the
    kernel in time chunks: the oneDNN kernel reads its input as if contiguous, so both are copied."""
    torch.manual_seed(6)
    for B, T in ((2, 12), (9, 12), (300, 7)):
        rnn = torch.nn.LSTM(5, 7, num_layers=2, bidirectional=True, batch_first=True)
        x = torch.randn(B, T, 5)
        tr = trace(rnn, x)
        out, (h_n, c_n) = rnn(x)
        assert (tr.output - out).abs().max() <= 1e-6
        assert (tr.h_n - h_n).abs().max() <= 1e-6 and (tr.c_n - c_n).abs().max() <= 1e-6
        ref = reference(rnn.double(), x.double().transpose(0, 1))      # the reference is time-major
        for name in tr.names():
            torch.testing.assert_close(tr.values(name).double(), ref[name], atol=2e-6, rtol=0)


def test_gru_batches_take_the_op_for_op_loop_and_stay_exact(monkeypatch):
    """From 8 sequences on a CPU GRU is traced by redoing ATen's own loop (no stock call, no
    gate GEMM); it must equal the module and the reference like the other routes."""
    from explorer.core import engine
    stock_calls = []
    real_stock = engine.stock
    monkeypatch.setattr(engine, "stock", lambda *a, **k: stock_calls.append(1) or real_stock(*a, **k))
    torch.manual_seed(7)
    for kw in [dict(), dict(bias=False), dict(num_layers=2, bidirectional=True), dict(batch_first=True)]:
        rnn = torch.nn.GRU(6, 16, **kw)
        x = torch.randn(LOOP_BATCH + 1, 11, 6) if kw.get("batch_first") else torch.randn(11, LOOP_BATCH + 1, 6)
        hx = torch.randn(rnn.num_layers * (2 if rnn.bidirectional else 1), LOOP_BATCH + 1, 16)
        tr = trace(rnn, x, hx)
        out, h_n = rnn(x, hx)
        assert (tr.output - out).abs().max() <= 1e-6 and (tr.h_n - h_n).abs().max() <= 1e-6, kw
        rnn64, x64 = rnn.double(), x.double()
        tr64 = trace(rnn64, x64, hx.double())
        ref = reference(rnn64, x64.transpose(0, 1) if kw.get("batch_first") else x64, hx.double())
        for name in tr64.names():
            torch.testing.assert_close(tr64.values(name), ref[name], atol=1e-12, rtol=0, msg=str(kw))
    assert not stock_calls
    trace(torch.nn.GRU(6, 16), torch.randn(11, LOOP_BATCH - 1, 6))
    assert stock_calls                                  # smaller batches: stock + one gate GEMM


def test_huge_but_finite_input_is_not_mistaken_for_nan():
    """The NaN/inf check sums x first; a sum that overflows must not refuse finite input."""
    rnn = torch.nn.GRU(3, 4)
    x = torch.full((5, 3), 3e38)                        # the sum is inf, every value is finite
    assert not torch.isfinite(x.sum())
    tr = trace(rnn, x)
    assert torch.isfinite(tr.output).all()
    with pytest.raises(InputError, match=r"NaN or inf \(first at index \(3, 1\)\)"):
        trace(rnn, x.index_put((torch.tensor([3]), torch.tensor([1])), torch.tensor(float("-inf"))))


def test_a_stale_remembered_page_is_searched_again(monkeypatch):
    """The workspace page of the cell states is remembered per shape; if it no longer matches,
    the search runs again rather than giving up on the fast route."""
    from explorer.core import onednn
    scans = []
    from explorer.core.kinds import lstm as lstm_kind
    real_scan = lstm_kind.cell_scan
    for where in (lstm_kind, onednn):
        monkeypatch.setattr(where, "cell_scan", lambda *a, **k: scans.append(1) or real_scan(*a, **k))
    torch.manual_seed(11)
    rnn = torch.nn.LSTM(5, 7)
    x = torch.randn(30, 1, 5)
    trace(rnn, x)
    key = next(k for k in onednn._PAGES if k[0] == "c" and k[1:] == (30, 1, 7, 5))
    monkeypatch.setitem(onednn._PAGES, key, 0)                  # the first page after the gates: wrong
    tr = trace(rnn, x)
    assert not scans and onednn._PAGES[key] != 0
    torch.testing.assert_close(tr.values("c").double(), reference(rnn.double(), x.double())["c"], atol=2e-6, rtol=0)
