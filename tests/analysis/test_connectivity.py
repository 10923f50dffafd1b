"""Connectivity against an independent per-target autograd reference (float64, 1e-10) in every layout,
attribution against Captum on the same models, integrated gradients' completeness, and the task-level
targets of open_model results (the actual next token's logit, the class logit, the forecast)."""
import pytest
import torch
import torch.nn as nn
from projects import Classifier, Forecaster, RNNModel, Sentiment, saved

import explorer
from explorer import InputError
from explorer.analysis.connectivity import horizon, reach

LAYOUTS = [(nn.LSTM, {}), (nn.GRU, dict(num_layers=2)), (nn.RNN, dict(nonlinearity="relu")),
           (nn.LSTM, dict(num_layers=2, bidirectional=True, proj_size=3)), (nn.GRU, dict(batch_first=True)),
           (nn.RNN, dict(bidirectional=True, batch_first=True))]


def reference(rnn, x, y_of):
    """One backward per output step, no batching trick: C[t, s] = ‖∂y_t/∂x_s‖."""
    T = x.shape[1] if (x.dim() == 3 and rnn.batch_first) else x.shape[0]
    rows = []
    for t in range(T):
        xg = x.clone().requires_grad_(True)
        out, _ = rnn(xg)
        o = out.transpose(0, 1) if (x.dim() == 3 and rnn.batch_first) else out
        (g,) = torch.autograd.grad(y_of(o[t]).sum(), xg)
        g = g.transpose(0, 1) if (x.dim() == 3 and rnn.batch_first) else g
        rows.append(g.norm(dim=-1).reshape(T, -1))
    return torch.stack(rows)


@pytest.mark.parametrize("cls,kw", LAYOUTS, ids=lambda v: getattr(v, "__name__", str(v)))
def test_connectivity_equals_a_per_target_reference(cls, kw):
    torch.manual_seed(0)
    rnn = cls(3, 4, **kw).double()
    x = torch.randn(2, 9, 3, dtype=torch.float64) if kw.get("batch_first") else torch.randn(9, 2, 3, dtype=torch.float64)
    unit = (2 if rnn.bidirectional else 1) * (rnn.proj_size or rnn.hidden_size) - 1   # the last unit: the reverse
    C = explorer.connectivity(rnn, x, target=unit)                                     # direction's, if any
    want = reference(rnn, x, lambda h: h[..., unit])
    torch.testing.assert_close(C, want, atol=1e-10, rtol=1e-10)
    later = torch.stack([C[t, t + 1:].abs().max() for t in range(8)])     # inputs after the output step
    if kw.get("bidirectional"):
        assert float(later.min()) > 0                                     # the reverse direction sees them
    else:
        assert float(later.max()) == 0.0


def test_times_input_and_callable_targets():
    torch.manual_seed(1)
    rnn = nn.GRU(3, 4).double()
    x = torch.randn(7, 3, dtype=torch.float64)
    C = explorer.connectivity(rnn, x, target=lambda h: (h ** 2).sum(-1), times_input=True)
    rows = []
    for t in range(7):
        xg = x.clone().requires_grad_(True)
        (g,) = torch.autograd.grad((rnn(xg)[0][t] ** 2).sum(), xg)
        rows.append((g * x).norm(dim=-1)[:, None])
    torch.testing.assert_close(C, torch.stack(rows), atol=1e-10, rtol=1e-10)


def test_a_language_model_targets_the_actual_next_token():
    torch.manual_seed(2)
    words = ["the", "film", "was", "great", "<eos>", "a"]
    net = RNNModel("LSTM", len(words), 4, 5, 1, dropout=0.0).double().eval()
    m = explorer.open_model(saved(net), vocab="\n".join(words).encode())
    text = "the film was great a film"
    C = explorer.connectivity(m, text)
    ids = m.vocab.encode(text)
    emb = net.encoder(ids).detach()
    T = len(ids)
    for t in (0, 2, T - 2):
        xg = emb.clone().requires_grad_(True)
        logit = net.decoder(net.rnn(xg[:, None])[0][t, 0])[ids[t + 1]]
        (g,) = torch.autograd.grad(logit, xg)
        torch.testing.assert_close(C[t, :, 0], g.norm(dim=-1), atol=1e-10, rtol=1e-10)


def test_classifiers_and_forecasters_target_what_they_say():
    torch.manual_seed(3)
    net = Sentiment(12, 6, 3).double().eval()
    m = explorer.open_model(saved(net), vocab="\n".join(f"w{i}" for i in range(12)).encode())
    ids = torch.tensor([2, 5, 7, 3, 9])
    C = explorer.connectivity(m, ids)
    assert C.shape == (1, 5, 1)                                  # a bidirectional verdict: one output step
    emb = net.embedding(ids).detach().requires_grad_(True)
    _, (h, _) = net.rnn(emb[:, None])
    (g,) = torch.autograd.grad(net.fc(torch.cat([h[-2], h[-1]], 1)).sum(), emb)
    torch.testing.assert_close(C[0, :, 0], g.norm(dim=-1), atol=1e-10, rtol=1e-10)
    f = Forecaster(hidden=4, layers=1).double().eval()
    fm = explorer.open_model(saved(f))
    x = torch.randn(8, 1, dtype=torch.float64)
    C = explorer.connectivity(fm, x)
    xg = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(f(xg[None])[0, 0], xg)
    torch.testing.assert_close(C[-1, :, 0], g.norm(dim=-1), atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("method", ["saliency", "input_x_gradient", "integrated_gradients"])
def test_attribution_equals_captum(method):
    captum = pytest.importorskip("captum.attr")
    torch.manual_seed(4)
    net = Classifier(12, 5, 4, classes=3).double().eval()
    m = explorer.open_model(saved(net), vocab="\n".join(f"w{i}" for i in range(12)).encode())
    ids = torch.tensor([[1, 4, 2, 8, 3, 6]])
    x = net.embedding(ids).detach()                              # (1, T, E): the classifier is batch_first
    a = explorer.attribute(m, x[0], method=method, steps=32)
    c = int(net(ids).argmax())
    fwd = lambda inp: net.fc(net.gru(inp)[1][-1])[:, c]
    algo = {"saliency": captum.Saliency, "input_x_gradient": captum.InputXGradient,
            "integrated_gradients": captum.IntegratedGradients}[method](fwd)
    kw = dict(n_steps=32) if method == "integrated_gradients" else {}
    want = algo.attribute(x.clone().requires_grad_(True), **kw).sum(-1)[0]
    torch.testing.assert_close(a.values[:, 0], want.detach(), atol=1e-10, rtol=1e-8)


def test_integrated_gradients_are_complete():
    torch.manual_seed(5)
    rnn = nn.LSTM(3, 6).double()
    x = torch.randn(20, 2, 3, dtype=torch.float64)
    for steps, tol in ((20, 1e-6), (100, 1e-9)):
        a = explorer.attribute(rnn, x, steps=steps, target=2)
        out = rnn(x)[0][-1, :, 2]
        torch.testing.assert_close(a.values.sum(0), out.detach() - rnn(torch.zeros_like(x))[0][-1, :, 2].detach(),
                                   atol=tol * 10, rtol=0)
        assert float(a.delta.abs().max()) < tol


def test_how_far_back_and_bad_calls():
    torch.manual_seed(6)
    rnn = nn.RNN(3, 8).double()
    C = explorer.connectivity(rnn, torch.randn(40, 3, dtype=torch.float64))
    r = reach(C)
    assert 0 < r[0] <= 1 and max(r) <= 1 and r[20] < r[2] < 1      # shares of each output's peak, falling back
    h = horizon(C)
    assert h is not None and 1 <= h <= 10 and r[h] < 0.1 <= r[h - 1]
    for bad, match in [(dict(method="shap"), "method must be"), (dict(steps=0), "steps must be"),
                       (dict(baseline=torch.zeros(3)), "baseline")]:
        with pytest.raises(InputError, match=match):
            explorer.attribute(rnn, torch.randn(5, 3, dtype=torch.float64), **bad)
    with pytest.raises(InputError, match="target must be"):
        explorer.connectivity(rnn, torch.randn(5, 3, dtype=torch.float64), target=99)
    with pytest.raises(InputError, match="open_model result, a stock nn.LSTM/GRU/RNN or an explorer MinGRU"):
        explorer.connectivity(nn.Linear(3, 3), torch.randn(5, 3))


def test_the_tolerance_meets_one_percent_where_fixed_points_miss_by_most_of_it():
    """The pretrained LSTM's integrand spikes near the baseline: 64 Gauss-Legendre points miss f(x) − f(0) by 75%;
    the adaptive panels, whose exact integrals are known from the forward pass, meet 1%."""
    from explorer.io.inputs.data import SAMPLES
    m = explorer.open_model("shakespeare-lstm")
    text = SAMPLES["prose"][:120]
    fixed = explorer.attribute(m, text, steps=64)
    assert fixed.steps == 64 and fixed.error > 0.2
    a = explorer.attribute(m, text, steps=32, tolerance=0.01)
    assert a.error <= 0.01 and a.steps <= 2000
    torch.testing.assert_close(a.values.sum(0), a.change, rtol=0.01, atol=0)
    torch.testing.assert_close(a.output, fixed.output)
    capped = explorer.attribute(m, text, steps=8, tolerance=1e-9)               # unreachable: it says how far it got
    assert capped.steps >= 2000 - 8 and capped.error > 1e-9
