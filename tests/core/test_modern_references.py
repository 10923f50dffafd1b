"""The reference packages' modules traced as they are: minGRU-pytorch's minGRU / minLSTM and xlstm's
sLSTMLayer / sLSTMCell (backend="vanilla"). Both are test requirements only (requirements.txt says so);
without them these tests skip with the reason."""
import pytest
import torch

import explorer

mingru = pytest.importorskip("minGRU_pytorch.minGRU", reason="minGRU-pytorch is a test requirement: pip install mingru-pytorch")
minlstm = pytest.importorskip("minGRU_pytorch.minLSTM", reason="minGRU-pytorch is a test requirement")
slstm_layer = pytest.importorskip("xlstm.blocks.slstm.layer", reason="xlstm is a test requirement: pip install --no-deps xlstm")
slstm_cell = pytest.importorskip("xlstm.blocks.slstm.cell", reason="xlstm is a test requirement")
vanilla = pytest.importorskip("xlstm.blocks.slstm.src.vanilla", reason="xlstm is a test requirement")

TOL = {torch.float64: 1e-10, torch.float32: 1e-5}


def slstm_layer_module(conv=4, dtype=torch.float64, E=8, heads=2):
    cfg = slstm_layer.sLSTMLayerConfig(embedding_dim=E, num_heads=heads, backend="vanilla", conv1d_kernel_size=conv)
    lay = slstm_layer.sLSTMLayer(cfg).to(dtype)
    torch.nn.init.normal_(lay.slstm_cell._recurrent_kernel_, std=0.5)     # xlstm starts R at zero
    return lay


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("cls", ["minGRU", "minLSTM"])
@pytest.mark.parametrize("expansion", [1.0, 1.5])
def test_min_cells_equal_their_reference(cls, expansion, dtype):
    R = mingru.minGRU if cls == "minGRU" else minlstm.minLSTM
    m = R(8, expansion_factor=expansion).to(dtype)
    x = torch.randn(2, 40, 8, dtype=dtype)
    tr = explorer.trace(m, x)
    assert torch.allclose(tr.output, m(x), atol=TOL[dtype], rtol=0)
    assert tr.kind == cls.lower()
    prev = torch.rand(2, 1, int(8 * expansion), dtype=dtype)
    for T in (1, 40):                                  # the reference's one-step and parallel paths
        out, nxt = m(x[:, :T], prev, return_next_prev_hidden=True)
        tr = explorer.trace(m, x[:, :T], prev)
        assert torch.allclose(tr.output, out, atol=TOL[dtype], rtol=0)
        assert torch.allclose(tr.h_n[0], nxt[:, 0], atol=TOL[dtype], rtol=0)
    # every gate: the reference's own split of to_hidden_and_gate, activated as its forward does
    W = (m.to_hidden_and_gate if cls == "minGRU" else m.to_hidden_and_f_i_gate).weight
    parts = (x @ W.T).chunk(2 if cls == "minGRU" else 3, -1)
    if cls == "minGRU":
        want = {"z": parts[1].sigmoid(), "n": mingru.g(parts[0])}
    else:
        f, i = parts[1].sigmoid(), parts[2].sigmoid()
        want = {"f": f / (f + i), "i": i / (f + i), "n": mingru.g(parts[0])}
    tr = explorer.trace(m, x)
    for k, v in want.items():
        assert torch.allclose(tr.gates[k][0, 0].transpose(0, 1), v, atol=TOL[dtype], rtol=0), k


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("conv", [4, 0])
def test_slstm_layer_equals_xlstm(conv, dtype):
    lay = slstm_layer_module(conv, dtype)
    x = torch.randn(3, 30, 8, dtype=dtype)
    tr = explorer.trace(lay, x)
    y, state = lay(x, return_last_state=True)
    assert torch.allclose(tr.output, y, atol=TOL[dtype], rtol=0)
    s = state["slstm_state"]                                   # (4, B, H): y, c, n, m
    assert torch.allclose(tr.h_n[0], s[0], atol=TOL[dtype], rtol=0)
    assert torch.allclose(tr.c_n[0], s[1], atol=TOL[dtype], rtol=0)
    assert torch.allclose(tr.meta["finals"]["n"][0], s[2], atol=TOL[dtype], rtol=0)
    assert torch.allclose(tr.meta["finals"]["m"][0], s[3], atol=TOL[dtype], rtol=0)
    # every gate and state against xlstm's own vanilla loop, which returns them
    cell = lay.slstm_cell
    xc = lay.conv_act_fn(lay.conv1d(x)) if conv else x
    Wx = torch.cat([lay.fgate(xc), lay.igate(xc), lay.zgate(x), lay.ogate(x)], -1).transpose(0, 1)
    states, _, gates = vanilla.slstm_forward(Wx, torch.zeros(4, 3, 8, dtype=dtype), cell._recurrent_kernel,
                                             cell._bias, vanilla.slstm_pointwise_function_registry["slstm"])
    i, f, zraw, o = gates[:-1].unbind(1)                      # (T, B, H) each; xlstm keeps z before its tanh
    for name, want in {"i": i, "f": f, "z": torch.tanh(zraw), "o": o}.items():
        assert torch.allclose(tr.gates[name][0, 0], want, atol=TOL[dtype], rtol=0), name
    for k, name in enumerate(["h", "c", "n", "m"]):
        assert torch.allclose(tr.values(name)[0, 0], states[k, 1:], atol=TOL[dtype], rtol=0), name


def test_slstm_cell_and_states():
    cell = slstm_cell.sLSTMCell(slstm_cell.sLSTMCellConfig(hidden_size=8, num_heads=2, backend="vanilla")).double()
    torch.nn.init.normal_(cell._recurrent_kernel_, std=0.5)
    x = torch.randn(2, 20, 32, dtype=torch.float64)
    out, state = cell(x)
    tr = explorer.trace(cell, x)
    assert torch.allclose(tr.output, out, atol=1e-10, rtol=0)        # (B, heads, T, d), as the cell gives it
    out2, _ = cell(x, state)                                          # from a state: (y, c, n, m)
    assert torch.allclose(explorer.trace(cell, x, state).output, out2, atol=1e-10, rtol=0)


def test_gradient_flow_connectivity_and_long_scans_of_reference_modules():
    lay = slstm_layer_module(4)
    x = torch.randn(2, 25, 8, dtype=torch.float64)
    J = lambda y: y[:, -1, :3].sum()                                   # on the layer's own output
    gf = explorer.gradient_flow(lay, x, objective=J)
    # reference: autograd through the layer itself with a probe on every h_t of its cell
    cell = lay.slstm_cell
    xc = lay.conv_act_fn(lay.conv1d(x))
    Wx = torch.cat([lay.fgate(xc), lay.igate(xc), lay.zgate(x), lay.ogate(x)], -1).transpose(0, 1).detach()
    probes = torch.zeros(25, 2, 8, dtype=torch.float64, requires_grad=True)
    s = torch.zeros(4, 2, 8, dtype=torch.float64)
    hs = []
    for t in range(25):
        R = cell._recurrent_kernel                                     # R h as xlstm's slstm_forward computes it
        Ry = s[0].reshape(2, 2, 1, -1).matmul(R.transpose(1, 2).reshape(1, 2, 4, 16)).reshape(2, 2, 4, -1) \
            .transpose(1, 2).reshape(2, -1)
        s, _ = vanilla.slstm_pointwise_function_registry["slstm"](Wx[t], Ry, cell._bias[None], s, {})
        s = torch.cat([(s[0] + probes[t])[None], s[1:]])
        hs.append(s[0])
    y = torch.stack(hs, 1)                                             # (B, T, H)
    out = lay.group_norm(y.unflatten(-1, (2, 4)).transpose(1, 2)).transpose(1, 2).reshape(2, 25, 8)
    (want,) = torch.autograd.grad(J(out), probes)
    assert torch.allclose(gf.h_grad[0, 0], want, atol=1e-12 * float(want.abs().max()), rtol=0)

    m = mingru.minGRU(6)
    xm = torch.randn(1, 12, 6)
    C = explorer.connectivity(m, xm, target=2)
    for t in (3, 11):
        xx = xm.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(m(xx)[0, t, 2], xx)
        assert torch.allclose(C[t, :, 0], g[0].norm(dim=-1), atol=1e-6)

    xl = torch.randn(2, 600, 8, dtype=torch.float64)
    lt = explorer.scan_long(lay, xl, checkpoint_every=128, chunk=256)
    assert torch.allclose(lt.window(200, 450).output, lay(xl)[:, 200:450], atol=1e-10, rtol=0)
