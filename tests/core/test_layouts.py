"""Every public entry takes x exactly as trace() does: the module's own layout (batch_first
respected), batched or unbatched. The grid: batch_first × batched/unbatched × LSTM/GRU/RNN ×
1–2 layers × one/two directions, each checked against the independent reference."""
import copy

import pytest
import torch
from reference import reference

from explorer import gradient_flow, scan_long, trace

T, B, I, H = 37, 2, 3, 4
CLS = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}
GRID = [(k, bf, batched, L, bi) for k in CLS for bf in (False, True) for batched in (False, True)
        for L in (1, 2) for bi in (False, True)]


def _case(kind, batch_first, batched, layers, bidirectional):
    torch.manual_seed(len(kind) * 7 + layers * 3 + bidirectional)
    rnn = CLS[kind](I, H, num_layers=layers, bidirectional=bidirectional, batch_first=batch_first).double().eval()
    x_tm = torch.randn(T, B, I, dtype=torch.double)                       # time-major, for the reference
    if not batched:
        x_tm = x_tm[:, :1]
        x = x_tm[:, 0]                                                  # (T, I)
    else:
        x = x_tm.transpose(0, 1).contiguous() if batch_first else x_tm  # the module's own layout
    return rnn, x, x_tm


@pytest.mark.parametrize("kind,bf,batched,L,bi", GRID)
def test_scan_long_windows_equal_the_reference_in_every_layout(kind, bf, batched, L, bi):
    rnn, x, x_tm = _case(kind, bf, batched, L, bi)
    ref = reference(rnn, x_tm)
    lt = scan_long(rnn, x, checkpoint_every=4, chunk=8)
    assert lt.steps == T
    for a, b in [(0, T), (5, 9), (16, 24), (30, T), (12, 13)]:
        w = lt.window(a, b)
        assert w.steps == b - a
        torch.testing.assert_close(w.h, ref["h"][:, :, a:b], atol=1e-12, rtol=0)
        for g, v in w.gates.items():
            torch.testing.assert_close(v, ref[g][:, :, a:b], atol=1e-12, rtol=0)
        if kind == "lstm":
            torch.testing.assert_close(w.c, ref["c"][:, :, a:b], atol=1e-12, rtol=0)
        # output in the module's own layout, equal to the same slice of the module's output
        full = rnn(x)[0]
        want = full[:, a:b] if (bf and batched) else full[a:b]
        torch.testing.assert_close(w.output, want, atol=1e-12, rtol=0)
    # statistics over the whole input equal those of the reference
    torch.testing.assert_close(lt.stats["h"].mean, ref["h"].mean(2), atol=1e-12, rtol=0)


@pytest.mark.parametrize("kind,bf,batched,L,bi", GRID)
def test_trace_and_gradient_flow_agree_across_layouts(kind, bf, batched, L, bi):
    rnn, x, x_tm = _case(kind, bf, batched, L, bi)
    ref = reference(rnn, x_tm)
    tr = trace(rnn, x)
    torch.testing.assert_close(tr.h, ref["h"], atol=1e-12, rtol=0)
    torch.testing.assert_close(tr.output, rnn(x)[0], atol=1e-12, rtol=0)
    # the same weights read time-major: the gradients must not depend on the layout
    tm = copy.deepcopy(rnn)
    tm.batch_first = False
    gf = gradient_flow(rnn, x)
    gf_tm = gradient_flow(tm, x_tm if batched else x)
    torch.testing.assert_close(gf.h_grad, gf_tm.h_grad, atol=1e-12, rtol=0)
    assert gf.h_norm.shape == (L, 2 if bi else 1, T) and gf.h_norm[:, 0, -1].gt(0).all()
    if kind == "lstm":
        torch.testing.assert_close(gf.c_grad, gf_tm.c_grad, atol=1e-12, rtol=0)


def test_the_pretrained_layout_reads_a_long_text_in_one_pass():
    """The pretrained char models are batch_first: (1, T, E) is one sequence of T steps."""
    import explorer
    model = explorer.load_pretrained("shakespeare-lstm")
    ids = model.vocab.encode("To be, or not to be, that is the question. " * 7)[:300]
    with torch.no_grad():
        x = model.embedding(ids.view(1, -1))
        lt = scan_long(model.core, x, checkpoint_every=64, chunk=128)
        assert lt.steps == 300
        w = lt.window(100, 120)
        full = trace(model.core, x)
    torch.testing.assert_close(w.h, full.h[:, :, 100:120], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(w.output, full.output[:, 100:120], atol=1e-5, rtol=1e-5)
