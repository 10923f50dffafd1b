"""cells.py where no trace reaches: the textbook GRU (Cho et al. 2014), the pre-activations the step
inspector fills in, and interventions inside a long-input window. References written from the
papers' / PyTorch docs' equations with plain tensor ops."""
import torch

from explorer import Intervention, scan_long, trace
from explorer.core import cells


def test_cho_gru_against_its_equations():
    torch.manual_seed(0)
    H, I = 4, 3
    rnn = torch.nn.GRU(I, H).double()
    x, h = torch.randn(5, I, dtype=torch.double), torch.randn(5, H, dtype=torch.double)
    W_ir, W_iz, W_in = rnn.weight_ih_l0.chunk(3)
    W_hr, W_hz, W_hn = rnn.weight_hh_l0.chunk(3)
    b_ir, b_iz, b_in = rnn.bias_ih_l0.chunk(3)
    b_hr, b_hz, b_hn = rnn.bias_hh_l0.chunk(3)
    r = torch.sigmoid(x @ W_ir.T + b_ir + h @ W_hr.T + b_hr)
    z = torch.sigmoid(x @ W_iz.T + b_iz + h @ W_hz.T + b_hz)
    n = torch.tanh(x @ W_in.T + b_in + (r * h) @ W_hn.T + b_hn)          # reset BEFORE the product
    want = (1 - z) * h + z * n                                            # z weights the NEW state
    got, g = cells.gru_cell(x, h, rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0, convention="cho")
    torch.testing.assert_close(got, want, atol=1e-14, rtol=0)
    torch.testing.assert_close(g["n"], n, atol=1e-14, rtol=0)
    pytorch, _ = cells.gru_cell(x, h, rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0)
    assert (got - pytorch).abs().max() > 1e-3                             # a different function of the same weights


def test_preactivations_are_what_the_activations_are_applied_to():
    torch.manual_seed(1)
    for kind, cls in (("lstm", torch.nn.LSTM), ("gru", torch.nn.GRU), ("rnn", torch.nn.RNN)):
        m = cls(3, 4).double()
        x, h = torch.randn(2, 3, dtype=torch.double), torch.randn(2, 4, dtype=torch.double)
        pre = cells.preactivations(kind, x, h, m.weight_ih_l0, m.weight_hh_l0, m.bias_ih_l0, m.bias_hh_l0)
        full = x @ m.weight_ih_l0.T + m.bias_ih_l0 + h @ m.weight_hh_l0.T + m.bias_hh_l0
        if kind == "lstm":
            for k, part in zip("ifgo", full.chunk(4, -1)):
                torch.testing.assert_close(pre[k], part, atol=1e-14, rtol=0)
            c = torch.randn(2, 4, dtype=torch.double)
            _, c_new, g = cells.lstm_cell(x, h, c, m.weight_ih_l0, m.weight_hh_l0, m.bias_ih_l0, m.bias_hh_l0)
            torch.testing.assert_close(g["f"], torch.sigmoid(pre["f"]), atol=1e-14, rtol=0)
        elif kind == "gru":
            h_n = h @ m.weight_hh_l0[8:].T + m.bias_hh_l0[8:]
            torch.testing.assert_close(pre["n_h"], h_n, atol=1e-14, rtol=0)
            _, g = cells.gru_cell(x, h, m.weight_ih_l0, m.weight_hh_l0, m.bias_ih_l0, m.bias_hh_l0)
            torch.testing.assert_close(g["n"], torch.tanh(pre["n_x"] + g["r"] * pre["n_h"]), atol=1e-14, rtol=0)
        else:
            torch.testing.assert_close(torch.tanh(pre["a"]), m(x[None], h[None])[1][0], atol=1e-14, rtol=0)


def test_a_window_with_an_intervention_equals_the_full_trace_with_it():
    torch.manual_seed(2)
    rnn = torch.nn.LSTM(3, 5, num_layers=2).double()
    x = torch.randn(64, 3, dtype=torch.double)
    iv = Intervention("f", 1.0, layers=1, units=[2], steps=range(30, 40))
    full = trace(rnn, x, intervene=iv)
    w = scan_long(rnn, x, checkpoint_every=8, chunk=16).window(28, 44, intervene=iv)
    for n in ("f", "c", "h"):
        torch.testing.assert_close(w.values(n), full.values(n)[:, :, 28:44], atol=1e-12, rtol=0)
    assert (w.values("f")[1, 0, 2:12, 0, 2] == 1).all()
