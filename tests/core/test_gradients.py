"""gradient_flow() against an unrolled autograd reference with zero probes on every h_t and c_t."""
import pytest
import torch

import explorer
from explorer import InputError, gradient_flow

CLS = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}


def close(got, want):
    """float64 parity with the probe reference. Measured: the largest difference is 3.1e-16 of the
    largest |dJ/dh_t| (LSTM/GRU/RNN × 1-3 layers × both directions × 5 seeds, plain and with set
    interventions); 1e-12 of it, the tolerance the traces hold, leaves a margin of over 3000."""
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12 * max(1.0, float(want.abs().max())))


def probe_reference(rnn, x, objective=None, clamp=None):
    """Unrolled cell-by-cell from the documented equations, a zero probe added to every h_t and c_t;
    dJ/dprobe is the total derivative. x time-major (T, B, I). Returns (h_grad, c_grad) (L, D, T, B, ·)."""
    kind = {torch.nn.LSTM: "lstm", torch.nn.GRU: "gru", torch.nn.RNN: "rnn"}[type(rnn)]
    T, B, _ = x.shape
    L, D, H = rnn.num_layers, 2 if rnn.bidirectional else 1, rnn.hidden_size
    P = rnn.proj_size or H
    ph = torch.zeros(L, D, T, B, P, dtype=x.dtype, requires_grad=True)
    pc = torch.zeros(L, D, T, B, H, dtype=x.dtype, requires_grad=True)
    w = lambda n, l, d: getattr(rnn, f"{n}_l{l}{'_reverse' if d else ''}", None)
    inp = x
    for l in range(L):
        outs = [[None] * T for _ in range(D)]
        for d in range(D):
            Wi, Wh, bi, bh, Wr = (w(n, l, d) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"))
            h = torch.zeros(B, P, dtype=x.dtype)
            c = torch.zeros(B, H, dtype=x.dtype)
            for t in (range(T) if d == 0 else reversed(range(T))):
                if kind == "lstm":
                    a = inp[t] @ Wi.T + bi + h @ Wh.T + bh
                    i, f, g, o = a[:, :H].sigmoid(), a[:, H:2*H].sigmoid(), a[:, 2*H:3*H].tanh(), a[:, 3*H:].sigmoid()
                    if clamp is not None:                       # (gate, value, units, steps), layer 0 only
                        gname, val, units, steps = clamp
                        if l == 0 and t in steps:
                            gs = {"i": i, "f": f, "g": g, "o": o}
                            v = gs[gname].clone()
                            v[:, units] = val                  # a constant: no gradient through it
                            gs[gname] = v
                            i, f, g, o = gs["i"], gs["f"], gs["g"], gs["o"]
                    c = f * c + i * g + pc[l, d, t]
                    h = o * c.tanh()
                    if Wr is not None:
                        h = h @ Wr.T
                elif kind == "gru":
                    gi, gh = inp[t] @ Wi.T + bi, h @ Wh.T + bh
                    r, z = (gi[:, :H] + gh[:, :H]).sigmoid(), (gi[:, H:2*H] + gh[:, H:2*H]).sigmoid()
                    if clamp is not None and l == 0 and t in clamp[3]:
                        gname, val, units, _ = clamp
                        if gname == "z":
                            z = z.clone()
                            z[:, units] = val
                        if gname == "r":
                            r = r.clone()
                            r[:, units] = val
                    n = (gi[:, 2*H:] + r * gh[:, 2*H:]).tanh()
                    h = (1 - z) * n + z * h
                else:
                    h = torch.tanh(inp[t] @ Wi.T + bi + h @ Wh.T + bh)
                h = h + ph[l, d, t]
                outs[d][t] = h
        inp = torch.stack([torch.cat([outs[d][t] for d in range(D)], -1) for t in range(T)])
    J = objective(inp) if objective else inp[-1].sum()
    gh, gc = torch.autograd.grad(J, [ph, pc], allow_unused=True)
    return gh, (gc if kind == "lstm" else None)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("layers,bidir", [(1, False), (2, True), (3, False)])
def test_equals_probe_reference(kind, layers, bidir):
    torch.manual_seed(0)
    rnn = CLS[kind](3, 5, num_layers=layers, bidirectional=bidir).double()
    x = torch.randn(9, 2, 3, dtype=torch.double)
    gf = gradient_flow(rnn, x)
    gh, gc = probe_reference(rnn, x)
    close(gf.h_grad, gh)
    close(gf.h_norm, gh.flatten(3).norm(dim=-1))
    if kind == "lstm":
        close(gf.c_grad, gc)
        close(gf.c_norm, gc.flatten(3).norm(dim=-1))
    else:
        assert gf.c_norm is None


def test_proj_size_batch_first_and_callable_objective():
    torch.manual_seed(0)
    rnn = torch.nn.LSTM(3, 5, num_layers=2, proj_size=2, batch_first=True, bidirectional=True).double()
    x = torch.randn(2, 7, 3, dtype=torch.double)
    obj = lambda out: (out ** 2).mean()
    gf = gradient_flow(rnn, x, objective=obj)
    gh, gc = probe_reference(rnn, x.transpose(0, 1), lambda out: (out ** 2).mean())
    close(gf.h_grad, gh)
    close(gf.c_grad, gc)


def test_char_objective_last_and_mean():
    torch.manual_seed(0)
    vocab = explorer.Vocab("abcde")
    model = explorer.CharModel(explorer.ModelConfig("gru", vocab_size=len(vocab), embedding_size=4, hidden_size=6), vocab).double()
    ids = vocab.encode("abcdeabcde")[None]
    x = model.embedding(ids).detach()
    for mode in ("last", "mean"):
        gf = gradient_flow(model.core, x, objective=explorer.char_objective(model, ids, mode))
        gh, _ = probe_reference(model.core, x.transpose(0, 1),
                                lambda out: explorer.char_objective(model, ids, mode)(out.transpose(0, 1)))
        close(gf.h_grad, gh)
    with pytest.raises(InputError, match="'last' or 'mean'"):
        explorer.char_objective(model, ids, "max")


def test_vanishing_in_rnn_not_in_lstm_with_forget_gate_one():
    """Measured: with f := 1, i := 0 the cell path carries dJ/dc back unchanged."""
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 8).double()
    x = torch.randn(60, 1, 3, dtype=torch.double)
    with torch.no_grad():
        lstm.bias_ih_l0[8:16] = 50.0                          # forget gate saturated at 1
    gf = gradient_flow(lstm, x)
    assert gf.c_norm[0, 0, 0] > 0.01 * gf.c_norm[0, 0, -1]          # 60 steps back, still there
    rnn = torch.nn.RNN(3, 8).double()
    with torch.no_grad():
        rnn.weight_hh_l0.mul_(0.3)
    gr = gradient_flow(rnn, x)
    assert gr.h_norm[0, 0, 0] < 1e-6 * gr.h_norm[0, 0, -1]
    assert (gr.step_ratio()[0, 0] < 1).float().mean() > 0.9


@pytest.mark.parametrize("kind,gate", [("lstm", "f"), ("lstm", "i"), ("gru", "z"), ("gru", "r")])
def test_set_interventions_equal_probe_reference(kind, gate):
    torch.manual_seed(0)
    rnn = CLS[kind](3, 5, num_layers=2, bidirectional=True).double()
    x = torch.randn(9, 2, 3, dtype=torch.double)
    steps, units = range(2, 7), [0, 3]
    iv = explorer.Intervention(gate, 0.9, layers=0, units=units, steps=steps)
    gf = gradient_flow(rnn, x, intervene=iv)
    gh, gc = probe_reference(rnn, x, clamp=(gate, 0.9, units, steps))
    close(gf.h_grad, gh)
    if kind == "lstm":
        close(gf.c_grad, gc)


def test_unsupported_gradient_interventions():
    rnn = torch.nn.LSTM(3, 4).double()
    with pytest.raises(InputError, match="only 'set' interventions"):
        gradient_flow(rnn, torch.randn(5, 3, dtype=torch.double), intervene=explorer.Intervention("f", 2.0, "scale"))
    with pytest.raises(InputError, match="only 'set' interventions"):
        gradient_flow(rnn, torch.randn(5, 3, dtype=torch.double), intervene=explorer.Intervention("c", 0.0))


# ---- float32 CPU LSTM: dJ/dh_t from the oneDNN kernel's own backward --------------------------

def _kernel_route_calls(monkeypatch):
    from explorer.core.kinds import lstm
    calls = []
    real = lstm._from_kernel
    monkeypatch.setattr(lstm, "_from_kernel", lambda *a: (lambda r: calls.append(r is not None) or r)(real(*a)))
    return calls


@pytest.mark.parametrize("kw,T,B", [(dict(), 40, 1), (dict(num_layers=2, bidirectional=True), 25, 3),
                                    (dict(batch_first=True), 30, 6), (dict(), 1, 2)])
def test_float32_lstm_takes_the_kernel_backward_and_matches_the_reference(monkeypatch, kw, T, B):
    calls = _kernel_route_calls(monkeypatch)
    torch.manual_seed(8)
    rnn = torch.nn.LSTM(4, 16, **kw)
    x = torch.randn(B, T, 4) if kw.get("batch_first") else torch.randn(T, B, 4)
    mean_sq = lambda out: (out ** 2).mean()                 # dJ/dh nonzero at every step and layer
    gf = gradient_flow(rnn, x, objective=mean_sq)
    assert calls and all(calls)                             # every layer and direction took it
    rnn64, x64 = rnn.double(), x.double()
    gh, gc = probe_reference(rnn64, x64.transpose(0, 1) if kw.get("batch_first") else x64, mean_sq)
    scale = lambda g: g.abs().max()
    assert (gf.h_grad.double() - gh).abs().max() <= 1e-5 * scale(gh)
    assert (gf.c_grad.double() - gc).abs().max() <= 1e-5 * scale(gc)


@pytest.mark.parametrize("name,objective", [
    ("last step (reverse top layer: no gradient at its own last step)", None),
    ("one middle step of sequence 1 only", lambda out: out[11, 1].sum()),
    ("the first step only (nothing reaches a step from a later one)", lambda out: (out[0] ** 2).sum()),
    ("nothing at all", lambda out: out.sum() * 0)])
def test_the_kernel_backward_finds_its_rows_whatever_steps_the_objective_reaches(monkeypatch, name, objective):
    """The row searched for comes from the last step the objective reaches, so objectives that
    leave the last step (or sequence 0) without a gradient still take the fast route. (conftest
    forgets remembered pages before each test: one remembered earlier must not make it pass.)"""
    calls = _kernel_route_calls(monkeypatch)
    torch.manual_seed(12)
    rnn = torch.nn.LSTM(4, 16, num_layers=2, bidirectional=True)
    x = torch.randn(20, 3, 4)
    gf = gradient_flow(rnn, x, objective=objective)
    assert calls == [True] * 4, name
    gh, gc = probe_reference(rnn.double(), x.double(), objective)
    assert (gf.h_grad.double() - gh).abs().max() <= 1e-5 * (gh.abs().max() + 1e-30), name
    assert (gf.c_grad.double() - gc).abs().max() <= 1e-5 * (gc.abs().max() + 1e-30), name


def test_a_kernel_backward_read_that_fails_the_check_falls_back_to_the_loop(monkeypatch):
    from explorer.core import onednn
    real = onednn.lstm_backward
    monkeypatch.setattr(onednn, "lstm_backward", lambda *a: (lambda gh: None if gh is None else gh.roll(1, 0))(real(*a)))
    calls = _kernel_route_calls(monkeypatch)
    torch.manual_seed(9)
    rnn = torch.nn.LSTM(4, 16)
    x = torch.randn(30, 2, 4)
    gf = gradient_flow(rnn, x)
    assert calls == [False]                                 # the check refused it; the loop ran
    gh, gc = probe_reference(rnn.double(), x.double())
    assert (gf.h_grad.double() - gh).abs().max() <= 1e-5 * gh.abs().max()


def test_the_backward_reuses_the_forward_calls_the_trace_made(monkeypatch):
    """gradient_flow keeps trace()'s kernel calls (in a context variable, so no other thread or
    session sees them) and runs the backward on them instead of running the forward again."""
    from explorer.core import onednn
    kernel_calls = []
    real = onednn._kernel
    monkeypatch.setattr(onednn, "_kernel", lambda *a: kernel_calls.append(1) or real(*a))
    calls = _kernel_route_calls(monkeypatch)
    torch.manual_seed(10)
    rnn = torch.nn.LSTM(4, 16, num_layers=2, bidirectional=True)
    gradient_flow(rnn, torch.randn(20, 2, 4))
    assert all(calls) and len(calls) == 4 and len(kernel_calls) == 4     # one forward per layer/direction
    assert onednn._KEEP.get() is None
    with pytest.raises(InputError):
        gradient_flow(rnn, torch.randn(20, 2, 4), objective=lambda out: out)   # not a scalar
    assert onednn._KEEP.get() is None
