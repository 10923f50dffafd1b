"""minGRU, minLSTM and sLSTM: our modules and the reference packages' modules, traced exactly.

Every gate and state is held to tests/reference.py's loops (written from the papers' equations, float64,
1e-12); outputs to the module's own forward; the reference packages (minGRU-pytorch, xlstm with its vanilla
backend; test requirements only) to their own outputs and gates; gradients and connectivity to autograd."""
import itertools

import pytest
import torch

import explorer
from explorer import SLSTM, InputError, MinGRU, MinLSTM
from tests.reference import reference_modern

MODERN = {"mingru": MinGRU, "minlstm": MinLSTM, "slstm": SLSTM}
GRID = [dict(kind=k, num_layers=L, batch_first=bf, bias=bias)
        for k, L, bf, bias in itertools.product(MODERN, [1, 2], [False, True], [True, False])]


def make(kind, I=3, H=4, *, dtype=torch.float64, seed=1, **kw):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        m = MODERN[kind](I, H, **({"num_heads": 2} if kind == "slstm" else {}), **kw).to(dtype).eval()
        if kind == "slstm":                          # recurrent weights large enough to matter
            for n, p in m.named_parameters():
                if n.startswith("weight_hh"):
                    torch.nn.init.normal_(p, std=0.7)
    return m


def check_against_reference(tr, ref, atol=1e-12):
    for name in tr.names():
        got, want = tr.values(name), ref[name]
        assert torch.equal(torch.isnan(got), torch.isnan(want)), name
        assert torch.allclose(torch.nan_to_num(got), torch.nan_to_num(want), atol=atol, rtol=0), name


@pytest.mark.parametrize("cfg", GRID, ids=["-".join(f"{k}={v}" for k, v in c.items()) for c in GRID])
def test_trace_equals_the_papers_equations_and_the_module(cfg):
    cfg = dict(cfg)
    m = make(cfg.pop("kind"), **cfg)
    x = torch.randn(9, 2, 3, dtype=torch.float64)            # time-major
    xin = x.transpose(0, 1) if m.batch_first else x
    tr = explorer.trace(m, xin)
    check_against_reference(tr, reference_modern(m, x))
    out, state = m(xin)
    h_n = state[0] if isinstance(state, tuple) else state
    assert torch.allclose(tr.output, out, atol=1e-12, rtol=0) and torch.allclose(tr.h_n, h_n, atol=1e-12, rtol=0)
    if isinstance(state, tuple):                             # sLSTM: (h_n, c_n, n_n, m_n)
        assert torch.allclose(tr.c_n, state[1], atol=1e-12, rtol=0)
        assert torch.allclose(tr.meta["finals"]["n"], state[2]) and torch.allclose(tr.meta["finals"]["m"], state[3])
    # unbatched (T, I): a batch of one
    tr1 = explorer.trace(m, x[:, 0])
    assert torch.allclose(tr1.output, m(x[:, 0])[0], atol=1e-12, rtol=0)
    assert torch.allclose(tr1.h[..., 0, :], tr.h[..., 0, :], atol=1e-12, rtol=0)


def test_the_sLSTM_stabiliser_and_normaliser_can_be_edited():
    """m := 0.5 at step 4 rescales that step's exponential gates, i = min(exp(ĩ − 0.5), 1) and f = min(exp(log σ(f̃) +
    m_3 − 0.5), 1), from the pre-activations written out here; n := 2 gives h_4 = o·c_4 / 2."""
    m = make("slstm")
    x = torch.randn(10, 1, 3, dtype=torch.float64)
    base = explorer.trace(m, x)
    tr = explorer.trace(m, x, intervene=explorer.Intervention("m", 0.5, steps=[4]))
    assert (tr.values("m")[0, 0, 4] == 0.5).all()
    torch.testing.assert_close(tr.h[0, 0, :4], base.h[0, 0, :4], atol=0, rtol=0)
    H, K = 4, 2
    d = H // K
    h3, m3 = base.h[0, 0, 3, 0], base.values("m")[0, 0, 3, 0]
    a = (m.weight_ih_l0 @ x[4, 0] + m.bias_ih_l0 + m.bias_hh_l0).detach().view(4, H)
    for k in range(K):                                 # head k's units read head k's h only
        for g in range(4):
            a[g, k * d:(k + 1) * d] += m.weight_hh_l0[k, g * d:(g + 1) * d].detach() @ h3[k * d:(k + 1) * d]
    i = torch.clamp(torch.exp(a[0] - 0.5), max=1.0)
    f = torch.clamp(torch.exp(torch.nn.functional.logsigmoid(a[1]) + m3 - 0.5), max=1.0)
    torch.testing.assert_close(tr.gates["i"][0, 0, 4, 0], i, atol=1e-12, rtol=0)
    torch.testing.assert_close(tr.gates["f"][0, 0, 4, 0], f, atol=1e-12, rtol=0)
    tr = explorer.trace(m, x, intervene=explorer.Intervention("n", 2.0, steps=[4]))
    torch.testing.assert_close(tr.h[0, 0, 4, 0], tr.gates["o"][0, 0, 4, 0] * tr.c[0, 0, 4, 0] / 2, atol=1e-12, rtol=0)
    assert not torch.allclose(tr.h[0, 0, 5:], base.h[0, 0, 5:])                # and the edit carries on


@pytest.mark.parametrize("kind", MODERN)
def test_initial_state_lengths_and_float32(kind):
    m = make(kind, num_layers=2)
    x = torch.randn(11, 3, 3, dtype=torch.float64)
    h0 = torch.rand(2, 3, 4, dtype=torch.float64)
    hx = (h0, torch.randn(2, 3, 4, dtype=torch.float64), torch.rand(2, 3, 4, dtype=torch.float64) + 0.5,
          torch.randn(2, 3, 4, dtype=torch.float64)) if kind == "slstm" else h0
    check_against_reference(explorer.trace(m, x, hx), reference_modern(m, x, hx))
    lengths = [11, 4, 7]
    check_against_reference(explorer.trace(m, x, lengths=lengths), reference_modern(m, x, lengths=lengths))
    m32, x32 = m.float(), x.float()
    assert torch.allclose(explorer.trace(m32, x32).output, m32(x32)[0], atol=1e-5, rtol=0)


def test_what_no_gate_sees():
    """minGRU's gates are a function of x_t alone: changing the past changes h, never a gate at t."""
    m = make("mingru")
    x = torch.randn(6, 1, 3, dtype=torch.float64)
    y = x.clone()
    y[:3] += 5.0
    a, b = explorer.trace(m, x), explorer.trace(m, y)
    for g in ("z", "n"):
        assert torch.equal(a.gates[g][..., 3:, :, :], b.gates[g][..., 3:, :, :])
    assert not torch.allclose(a.h[..., 3:, :, :], b.h[..., 3:, :, :])
    s = make("slstm")                                      # an sLSTM's gates do see h_{t-1}
    assert not torch.allclose(explorer.trace(s, x).gates["i"][..., 3:, :, :], explorer.trace(s, y).gates["i"][..., 3:, :, :])


def test_interventions_follow_the_equations():
    x = torch.randn(10, 2, 3, dtype=torch.float64)
    tr = explorer.trace(make("mingru"), x, intervene={"z": 0.0})           # z := 0 keeps h at h_0 = 0
    assert tr.h.abs().max() == 0
    keep = [explorer.Intervention("f", 1.0, steps=range(4, 10)), explorer.Intervention("i", 0.0, steps=range(4, 10))]
    tr = explorer.trace(make("minlstm"), x, intervene=keep)                 # f := 1, i := 0 from step 4: h frozen
    assert torch.equal(tr.h[..., 4:, :, :], tr.h[..., 3:4, :, :].expand_as(tr.h[..., 4:, :, :]))
    tr, base = explorer.trace(make("slstm"), x, intervene=keep), explorer.trace(make("slstm"), x)
    for name in ("c", "n"):                                                  # an sLSTM's c and n frozen alike
        v = tr.values(name)
        assert torch.equal(v[..., 4:, :, :], v[..., 3:4, :, :].expand_as(v[..., 4:, :, :]))
    assert torch.equal(tr.h[..., :4, :, :], base.h[..., :4, :, :]) and not torch.allclose(tr.h, base.h)


@pytest.mark.parametrize("kind", MODERN)
def test_gradient_flow_equals_autograd_through_the_reference(kind):
    m = make(kind, num_layers=2)
    x = torch.randn(12, 2, 3, dtype=torch.float64)
    gf = explorer.gradient_flow(m, x)
    # reference: autograd through the papers' equations stepped one sequence at a time, a zero probe added to each h_t
    xr = x.clone()
    hs = _reference_states_with_grad(m, xr)
    J = sum(hs[-1][-1][b].sum() for b in range(2))
    J.backward()
    for l in range(2):
        want = torch.stack([torch.stack([hs[l][t][b].probe.grad if hs[l][t][b].probe.grad is not None else torch.zeros(4, dtype=x.dtype)
                                         for b in range(2)]) for t in range(12)])
        assert torch.allclose(gf.h_grad[l, 0], want, atol=1e-12 * float(want.abs().max()), rtol=0)
    assert (gf.c_norm is not None) == (kind == "slstm")


def _reference_states_with_grad(m, x):
    """hs[l][t][b]: h of layer l at step t, sequence b, from the papers' equations (as in reference_modern), with
    the zero probe added to it as hs[l][t][b].probe."""
    sig = lambda a: 1 / (1 + torch.exp(-a))
    from tests.reference import _g
    T, B, _ = x.shape
    H = m.hidden_size
    inp = [[x[t, b] for b in range(B)] for t in range(T)]
    hs = []
    for l in range(m.num_layers):
        W, bias = getattr(m, f"weight_ih_l{l}").detach(), getattr(m, f"bias_ih_l{l}").detach()
        layer = [[None] * B for _ in range(T)]
        for b in range(B):
            h = torch.zeros(H, dtype=x.dtype)
            c, n, mm = (torch.zeros(H, dtype=x.dtype) for _ in range(3))
            for t in range(T):
                a = W @ inp[t][b] + bias
                if type(m).__name__ == "MinGRU":
                    z = sig(a[:H])
                    h = (1 - z) * h + z * _g(a[H:])
                elif type(m).__name__ == "MinLSTM":
                    f, i = sig(a[:H]), sig(a[H:2 * H])
                    h = f / (f + i) * h + i / (f + i) * _g(a[2 * H:])
                else:
                    R, bh = getattr(m, f"weight_hh_l{l}").detach(), getattr(m, f"bias_hh_l{l}").detach()
                    K, d = R.shape[0], H // R.shape[0]
                    rec = torch.cat([torch.cat([R[k, g * d:(g + 1) * d] @ h[k * d:(k + 1) * d] for k in range(K)]) for g in range(4)])
                    a = (a + rec + bh).view(4, H)
                    log_f = torch.log(sig(a[1])) + mm
                    m_new = a[0] if t == 0 else torch.maximum(log_f, a[0])
                    i, f = torch.clamp(torch.exp(a[0] - m_new), max=1.0), torch.clamp(torch.exp(log_f - m_new), max=1.0)
                    c, n, mm = f * c + i * torch.tanh(a[2]), f * n + i, m_new
                    h = sig(a[3]) * c / n
                probe = torch.zeros(H, dtype=x.dtype, requires_grad=True)   # dJ/d(probe) = total dJ/dh_t
                h = h + probe
                h.probe = probe
                layer[t][b] = h
        hs.append(layer)
        inp = layer
    return hs


@pytest.mark.parametrize("kind", MODERN)
def test_connectivity_equals_autograd(kind):
    m = make(kind)
    x = torch.randn(8, 1, 3, dtype=torch.float64)
    C = explorer.connectivity(m, x, target=1)
    for t in range(8):
        xx = x.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(m(xx)[0][t, 0, 1], xx)
        assert torch.allclose(C[t, :, 0], g[:, 0].norm(dim=-1), atol=1e-12, rtol=0)
    assert C[2, 3:].abs().max() == 0                    # nothing reaches back from the future


@pytest.mark.parametrize("kind", MODERN)
def test_scan_long_windows_equal_the_whole_trace(kind):
    m = make(kind, num_layers=2, batch_first=True)
    x = torch.randn(2, 700, 3, dtype=torch.float64)
    tr = explorer.trace(m, x)
    lt = explorer.scan_long(m, x, checkpoint_every=128, chunk=256, overview_blocks=20)
    w = lt.window(150, 530)
    for name in tr.names():
        assert torch.allclose(w.values(name), tr.values(name)[:, :, 150:530], atol=1e-12, rtol=0), name
    assert torch.allclose(w.output, tr.output[:, 150:530], atol=1e-12, rtol=0)
    assert set(lt.stats) == set(tr.names())
    assert torch.allclose(lt.stats["h"].mean.double(), tr.h.mean(2).double(), atol=1e-9)


def test_bad_settings_get_one_sentence():
    with pytest.raises(InputError, match="no bidirectional form"):
        MinGRU(3, 4, bidirectional=True)
    with pytest.raises(InputError, match="multiple of num_heads"):
        SLSTM(3, 6, num_heads=4)
    with pytest.raises(InputError, match="expects input_size=3"):
        explorer.trace(make("minlstm"), torch.randn(5, 4, dtype=torch.float64))
    with pytest.raises(InputError, match=r"h_0 or a tuple \(h_0, c_0, n_0, m_0\)"):
        explorer.trace(make("slstm"), torch.randn(5, 3, dtype=torch.float64), (torch.zeros(1, 4),) * 2)
