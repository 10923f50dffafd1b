"""explorer.core.kinds: each kind's description agrees with the stock module and with the reference, and
the library pieces the page used to compute itself (step inspector numbers, exports, lessons, sample
inputs) hold against independent computations."""
import csv
import io

import numpy as np
import pytest
import torch
from reference import reference, reference_modern

import explorer
from explorer import InputError
from explorer.analysis.export import window_csv, window_npz
from explorer.analysis.stepview import step_numbers
from explorer.analysis.units import init_core
from explorer.core import cells, kinds
from explorer.core.kinds import CLASSIC, KINDS, MODERN
from explorer.core.params import layer_params

# what a trace holds for each kind, in display order: gates as the weights stack them, carried states, h
NAMES = {"lstm": ["i", "f", "g", "o", "c", "h"], "gru": ["r", "z", "n", "h"], "rnn": ["h"], "mingru": ["z", "n", "h"],
         "minlstm": ["f", "i", "n", "h"], "slstm": ["i", "f", "z", "o", "c", "n", "m", "h"]}


@pytest.mark.parametrize("name", list(KINDS))
def test_a_kind_builds_its_own_module_and_knows_it_again(name, make_rnn):
    k = KINDS[name]
    rnn = make_rnn(name, 3, 8, num_layers=2)
    assert type(rnn) is k.module and kinds.of(rnn) is k and kinds.get(name) is k
    assert rnn.weight_ih_l0.shape[0] == k.blocks * 8                 # blocks: the gates stacked in W_ih
    if name in ("mingru", "minlstm"):                                 # gates that never read h: no W_hh at all
        assert not hasattr(rnn, "weight_hh_l0")
    elif name == "slstm":                                             # one (4d, d) block per head
        assert rnn.weight_hh_l0.shape == (rnn.num_heads, 4 * 8 // rnn.num_heads, 8 // rnn.num_heads)
    else:
        assert rnn.weight_hh_l0.shape[0] == k.blocks * 8
    assert k.names() == NAMES[name] and k.gates == cells.GATES[name]
    assert k.memory == ("c" if k.has_c else "h")
    rebuilt = k.make(3, 8, num_layers=2, **k.settings(rnn))
    assert {n: p.shape for n, p in rebuilt.named_parameters()} == {n: p.shape for n, p in rnn.named_parameters()}
    with pytest.raises(InputError, match="unknown cell kind 'lstmm'"):
        kinds.get("lstmm")
    with pytest.raises(InputError, match="nn.LSTM, nn.GRU, nn.RNN or an explorer MinGRU, MinLSTM or SLSTM"):
        kinds.of(torch.nn.Linear(2, 2))


@pytest.mark.parametrize("name", list(CLASSIC))
def test_stepping_the_kind_equals_the_reference(name, make_rnn):
    """kind.step, one step at a time, against the independent reference (float64)."""
    rnn = make_rnn(name, 3, 5, bias=True)
    k, p = kinds.of(rnn), layer_params(rnn, 0, 0)
    x = torch.randn(7, 2, 3, dtype=torch.float64)
    ref = reference(rnn, x)
    h = torch.zeros(2, 5, dtype=torch.float64)
    c = torch.zeros(2, 5, dtype=torch.float64) if k.has_c else None
    for t in range(7):
        h, c, g = k.step(x[t], h, c, p, nonlinearity=getattr(rnn, "nonlinearity", "tanh"))
        torch.testing.assert_close(h, ref["h"][0, 0, t], atol=1e-12, rtol=0)
        for n, v in g.items():
            torch.testing.assert_close(v, ref[n][0, 0, t], atol=1e-12, rtol=0)
        if k.has_c:
            torch.testing.assert_close(c, ref["c"][0, 0, t], atol=1e-12, rtol=0)


@pytest.mark.parametrize("name", list(MODERN))
def test_stepping_a_modern_kind_equals_the_papers_loop(name, make_rnn):
    """kind.step of minGRU / minLSTM / sLSTM, one step at a time, against the papers' float64 loop; the
    sLSTM carries its packed state (c, n, m) as one (B, 3H) tensor."""
    rnn = make_rnn(name, 3, 8)
    k, p = kinds.of(rnn), layer_params(rnn, 0, 0)
    x = torch.randn(7, 2, 3, dtype=torch.float64)
    ref = reference_modern(rnn, x)
    h = torch.zeros(2, 8, dtype=torch.float64)
    c = torch.zeros(2, 24, dtype=torch.float64) if name == "slstm" else None
    for t in range(7):
        h, c, g = k.step(x[t], h, c, p)
        torch.testing.assert_close(h, ref["h"][0, 0, t], atol=1e-12, rtol=0)
        assert set(g) == set(k.gates)
        for n, v in g.items():
            torch.testing.assert_close(v, ref[n][0, 0, t], atol=1e-12, rtol=0)
        for j, n in enumerate(k.carried):
            torch.testing.assert_close(c[:, j * 8:(j + 1) * 8], ref[n][0, 0, t], atol=1e-12, rtol=0)


@pytest.mark.parametrize("name,extra", [("lstm", {}), ("lstm", {"proj_size": 3}), ("gru", {}), ("rnn", {"nonlinearity": "relu"})])
def test_step_numbers_reproduce_the_trace_and_fill_in_the_equations(name, extra, make_rnn):
    rnn = make_rnn(name, 3, 5, num_layers=2, bidirectional=True, **extra)
    x = torch.randn(6, 3, dtype=torch.float64)
    tr = explorer.trace(rnn, x)
    for layer, d, t in [(0, 0, 0), (0, 1, 2), (1, 0, 4), (1, 1, 5)]:
        prev = t - 1 if d == 0 else t + 1
        inside = 0 <= prev < 6
        h_prev = tr.h[layer, d, prev, 0].numpy() if inside else None
        c_prev = tr.c[layer, d, prev, 0].numpy() if (inside and tr.c is not None) else None
        x_l = x[t] if layer == 0 else torch.cat([tr.h[0, dd, t, 0] for dd in range(2)])
        s = step_numbers(rnn, layer, d, x_l.numpy(), h_prev, c_prev)
        assert s.matches(tr.h[layer, d, t, 0].numpy(), atol=1e-12)
        assert not s.matches(tr.h[layer, d, t, 0].numpy() + 1e-3, atol=1e-6)
        for n in tr.gates:
            np.testing.assert_allclose(s.gates[n], tr.gates[n][layer, d, t, 0].numpy(), atol=1e-12, rtol=0)
        latex = s.latex(1)
        assert s.prev in latex
        assert (r"h_t &= W_{hr} m_t" in latex) if s.projected else (f"{float(s.h[1]):.3f}" in latex)
        for n in tr.gates:
            assert f"{float(s.gates[n][1]):.3f}" in latex, n
    if name == "lstm" and not extra:
        assert r"\tanh(c_t)" in latex and "c_t &= f_t" in latex


def test_the_textbook_gru_numbers_are_cho_et_al():
    rnn = torch.nn.GRU(3, 4).double()
    x, h = torch.randn(3, dtype=torch.float64), torch.randn(4, dtype=torch.float64)
    s = step_numbers(rnn, 0, 0, x, h, textbook=True)
    p = layer_params(rnn, 0, 0)
    hc, gc = cells.gru_cell(x[None], h[None], p.w_ih, p.w_hh, p.b_ih, p.b_hh, convention="cho")
    np.testing.assert_allclose(s.textbook[0], hc[0].detach().numpy(), atol=1e-12)
    assert "textbook" in s.textbook_latex(2) and f"{float(hc[0, 2].detach()):.3f}" in s.textbook_latex(2)
    assert step_numbers(torch.nn.LSTM(3, 4), 0, 0, np.zeros(3), None, None, textbook=True).textbook is None


def test_window_arrays_and_their_exports():
    rnn = torch.nn.LSTM(3, 4, batch_first=True)
    x = torch.randn(2, 40, 3)
    lt = explorer.scan_long(rnn, x, checkpoint_every=8, chunk=16)
    arr = lt.window_arrays(10, 15, batch=1)
    full = explorer.trace(rnn, x)
    np.testing.assert_allclose(arr["c"], full.c[:, :, 10:15, 1].numpy(), atol=1e-6)
    np.testing.assert_allclose(arr["output"], full.output[1, 10:15].detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(arr["before"]["h"][0, 0], full.h[0, 0, 9, 1].numpy(), atol=1e-6)    # after step a-1
    np.testing.assert_allclose(arr["before"]["c"][0, 0], full.c[0, 0, 9, 1].numpy(), atol=1e-6)
    bi = torch.nn.GRU(3, 4, bidirectional=True)
    x2 = torch.randn(40, 3, dtype=torch.float32)
    lt2, full2 = explorer.scan_long(bi, x2, checkpoint_every=8, chunk=16), explorer.trace(bi, x2)
    for a, b in [(10, 15), (8, 16), (0, 40), (33, 40)]:                # inside a segment, on its edges, the ends
        before = lt2.window_arrays(a, b)["before"]
        want_f = full2.h[0, 0, a - 1, 0] if a > 0 else torch.zeros(4)
        want_r = full2.h[0, 1, b, 0] if b < 40 else torch.zeros(4)
        np.testing.assert_allclose(before["h"][0, 0], want_f.numpy(), atol=1e-6, err_msg=str((a, b)))
        np.testing.assert_allclose(before["h"][0, 1], want_r.numpy(), atol=1e-6, err_msg=str((a, b)))
        assert before["c"] is None
    chars = list("ab,\"c")
    head, *rows = list(csv.reader(io.StringIO(window_csv(arr, 10, chars).decode())))
    assert head[:3] == ["step", "char", "i[l0 d0 u0]"] and len(rows) == 5 and len(head) == 6 * 4 + 2
    assert [r[1] for r in rows] == chars and rows[3][0] == "13"          # a comma and a quote survive
    c_col = head.index("c[l0 d0 u2]")
    assert all(float(rows[t][c_col]) == pytest.approx(float(arr["c"][0, 0, t, 2]), abs=1e-5) for t in range(5))
    z = np.load(io.BytesIO(window_npz(arr, 10, chars)))
    assert z["steps"].tolist() == list(range(10, 15)) and z["chars"].tolist() == chars
    np.testing.assert_array_equal(z["f"], arr["f"])


def test_packing_demo_equals_the_packed_module():
    vocab = explorer.Vocab("abcdefghijklmnopqrstuvwxyz ,.'?")
    model = explorer.CharModel(explorer.ModelConfig("lstm", vocab_size=len(vocab), embedding_size=8, hidden_size=6), vocab)
    demo = explorer.analysis.lessons.packing_demo(model, ["to be, or not", "ay", "what light through"], units=4)
    assert demo.diff < 1e-6 and demo.h.shape == (12, 18) and demo.row_labels[4] == "line 2 u0"
    assert np.isnan(demo.h[4, 2:]).all() and not np.isnan(demo.h[4, :2]).any()    # "ay": two steps, then padding


def test_sample_inputs_are_reproducible_and_refuse_what_they_cannot_make():
    a, b = explorer.io.inputs.data.random_letters(50, seed=3), explorer.io.inputs.data.random_letters(50, seed=3)
    assert a == b and len(a) == 50 and a != explorer.io.inputs.data.random_letters(50, seed=4)
    x, base, note = explorer.io.inputs.data.series_sample("adding problem", 30, 2, seed=1)
    assert x.shape == (30, 2) and base is not None and "Two marked values" in note and int(x[:, 1].sum()) == 2
    x2, _, _ = explorer.io.inputs.data.series_sample("adding problem", 30, 2, seed=1)
    assert torch.equal(x, x2)
    g, base, _ = explorer.io.inputs.data.series_sample("random Gaussian input", 20, 3, seed=0, dtype=torch.float64)
    assert g.shape == (20, 3) and g.dtype == torch.float64 and base is None
    v, _, _ = explorer.io.inputs.data.series_sample("CSV upload", 0, 1, values=torch.tensor([1.0, 2.0, 3.0, 4.0]))
    assert v.shape == (4, 1) and abs(float(v.mean())) < 1e-6 and float(v.std()) == pytest.approx(1.0)
    with pytest.raises(InputError, match="upload a CSV"):
        explorer.io.inputs.data.series_sample("CSV upload", 10, 1)
    with pytest.raises(InputError, match="unknown input"):
        explorer.io.inputs.data.series_sample("white noise", 10, 1)


def test_build_with_a_seed_leaves_the_global_random_state_alone():
    cfg = explorer.ModelConfig("gru", vocab_size=5, embedding_size=4, hidden_size=6)
    vocab = explorer.Vocab("abcde")
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    m1 = explorer.io.models.ours.build(cfg, vocab, seed=7)
    assert torch.equal(torch.rand(1), before)
    m2 = explorer.io.models.ours.build(cfg, vocab, seed=7)
    assert all(torch.equal(p, q) for p, q in zip(m1.parameters(), m2.parameters()))


def test_memory_inits_open_the_gate_that_keeps_the_state():
    """forget bias 1 / chrono open the LSTM's f and the GRU's z (PyTorch's z weights the old state)."""
    H = 6
    gru = init_core(torch.nn.GRU(3, H), "forget bias 1")
    assert (gru.bias_ih_l0[H:2 * H] == 1).all() and (gru.bias_hh_l0[H:2 * H] == 0).all()
    x = torch.randn(5, 1, 3)
    assert float(explorer.trace(gru, x).gates["z"].mean()) > 0.6          # z near 1: keeps the old state
    lstm = init_core(torch.nn.LSTM(3, H), "chrono", t_max=50)
    bf = lstm.bias_ih_l0[H:2 * H]
    assert ((bf >= 0) & (bf <= np.log(49))).all() and torch.equal(lstm.bias_ih_l0[:H], -bf)
    rnn = torch.nn.RNN(3, H)
    before = [p.clone() for p in rnn.parameters()]
    init_core(rnn, "chrono")                                                # nothing to open: unchanged
    assert all(torch.equal(a, b) for a, b in zip(before, rnn.parameters()))
