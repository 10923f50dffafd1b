"""The CUDA paths: trace(), gradient_flow(), scan_long() and the Trainer on a GPU, checked against
the float64 CPU reference (tests/reference.py) and the CPU results. Skipped where no CUDA device is
present (CI has none); on a machine with one, `python -m pytest tests/core/test_cuda.py` runs them."""
import copy
import math

import pytest
import torch
from reference import reference, unpack
from tiny import TEXT, tiny_char

from explorer import gradient_flow, scan_long, trace
from explorer.training.trainer import TrainConfig, Trainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")

LAYOUTS = [("lstm", {}), ("lstm", dict(num_layers=2, bidirectional=True, proj_size=3)),
           ("gru", dict(num_layers=2, batch_first=True)), ("rnn", dict(bidirectional=True, nonlinearity="relu"))]


def _on_gpu(rnn, dtype):
    return copy.deepcopy(rnn).to("cuda", dtype)


@pytest.mark.parametrize("kind,kw", LAYOUTS)
def test_float64_trace_on_cuda_equals_the_reference(kind, kw, make_rnn):
    rnn = make_rnn(kind, hidden_size=5, **kw)
    x = torch.randn(40, 3, 3, dtype=torch.float64)                   # time-major (T, B, I)
    ref = reference(rnn, x)
    tr = trace(_on_gpu(rnn, torch.float64), (x.transpose(0, 1) if rnn.batch_first else x).cuda())
    assert tr.output.device.type == "cuda"
    for name in tr.names():
        torch.testing.assert_close(tr.values(name).cpu(), ref[name], atol=1e-12, rtol=0)


@pytest.mark.parametrize("kind,kw", LAYOUTS)
def test_float32_trace_on_cuda_equals_the_module(kind, kw, make_rnn):
    # cuDNN may run a float32 RNN with TF32 tensor cores (torch.backends.cudnn.allow_tf32, on by
    # default), so the module itself is then about 1e-3 off exact float32 arithmetic: the trace
    # must equal what the module computes, whatever that flag says
    rnn = _on_gpu(make_rnn(kind, hidden_size=5, **kw), torch.float32)
    x = torch.randn(3, 40, 3, device="cuda") if rnn.batch_first else torch.randn(40, 3, 3, device="cuda")
    for tf32 in (True, False):
        with torch.backends.cudnn.flags(enabled=True, allow_tf32=tf32):
            tr = trace(rnn, x)
            with torch.no_grad():
                out, h_n, c_n = unpack(rnn(x))
        assert (tr.output - out).abs().max() <= 1e-6
        assert (tr.h_n - h_n).abs().max() <= 1e-6
        if c_n is not None:
            assert (tr.c_n - c_n).abs().max() <= 1e-6


@pytest.mark.parametrize("kind,kw", LAYOUTS)
def test_float32_trace_on_cuda_without_tf32_equals_the_reference(kind, kw, make_rnn):
    rnn = make_rnn(kind, hidden_size=5, **kw)
    x = torch.randn(40, 3, 3, dtype=torch.float64)
    ref = reference(rnn, x)
    with torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
        tr = trace(_on_gpu(rnn, torch.float32), (x.transpose(0, 1) if rnn.batch_first else x).to("cuda", torch.float32))
    for name in tr.names():
        torch.testing.assert_close(tr.values(name).cpu().double(), ref[name], atol=1e-4, rtol=0)


@pytest.mark.parametrize("kind,kw", LAYOUTS)
def test_gradient_flow_on_cuda_equals_the_cpu_one(kind, kw, make_rnn):
    rnn = make_rnn(kind, hidden_size=5, **kw)
    x = torch.randn(30, 2, 3, dtype=torch.float64)
    x = x.transpose(0, 1) if rnn.batch_first else x
    cpu = gradient_flow(rnn, x)
    gpu = gradient_flow(_on_gpu(rnn, torch.float64), x.cuda())
    assert gpu.h_grad.device.type == "cuda"
    torch.testing.assert_close(gpu.h_grad.cpu(), cpu.h_grad, atol=1e-12, rtol=0)
    torch.testing.assert_close(gpu.h_norm.cpu(), cpu.h_norm, atol=1e-12, rtol=0)
    if cpu.c_grad is not None:
        torch.testing.assert_close(gpu.c_grad.cpu(), cpu.c_grad, atol=1e-12, rtol=0)
    assert math.isclose(gpu.J, cpu.J, rel_tol=1e-12)


def test_scan_long_on_cuda_gives_exact_windows_and_full_statistics(make_rnn):
    rnn = _on_gpu(make_rnn("lstm", hidden_size=6, num_layers=2, bidirectional=True), torch.float64)
    x = torch.randn(300, 3, dtype=torch.float64, device="cuda")     # unbatched
    full = trace(rnn, x)
    lt = scan_long(rnn, x, checkpoint_every=16, chunk=64, overview_blocks=10)
    for a, b in [(0, 300), (37, 101), (250, 300)]:
        w = lt.window(a, b)
        for n in full.names():
            torch.testing.assert_close(w.values(n), full.values(n)[:, :, a:b], atol=1e-12, rtol=0)
    for n in full.names():
        v = full.values(n).cpu()
        torch.testing.assert_close(lt.stats[n].mean, v.mean(2), atol=1e-12, rtol=0)
        torch.testing.assert_close(lt.stats[n].std, v.std(2, correction=0), atol=1e-12, rtol=0)
        torch.testing.assert_close(lt.overview[n], v.unflatten(2, (10, 30)).mean(3), atol=1e-12, rtol=0)


def test_trainer_learns_on_cuda():
    t = Trainer(tiny_char(), TrainConfig("char", steps=60, batch_size=8, seq_len=32, lr=1e-2, eval_every=20,
                                         device="cuda"), TEXT)
    t.run()
    assert t.error is None and t.step == 60 and t.device.startswith("cuda")
    assert next(t.model.parameters()).device.type == "cuda"
    assert t.val_loss < t.baseline * 0.8


def test_the_app_trains_on_cuda_and_every_tab_explores_the_trained_models():
    # the whole app path of a model trained on the GPU: the Train tab on device "cuda", then each
    # trained model explored in every tab and view (their arrays come back to the CPU for the page)
    pytest.importorskip("streamlit")
    from apptools import gates, ok, open_tab, open_view, run_app
    from test_app_train_grad import start, train_until_done

    from explorer.ui.explore import VIEWS
    from explorer.ui.gradflow import GVIEWS
    at = run_app()
    at.text_area(key="text_area").set_value("to be or not to be, that is the question. " * 20).run()
    at.sidebar.selectbox(key="device").set_value("cuda").run()
    open_tab(at, "Train")
    start(at, train_task="char: the text from the Explore tab", train_arch="all three", train_steps=20)
    train_until_done(at)
    job = at.session_state["job"]
    assert all(t.step == 20 and next(t.model.parameters()).device.type == "cuda" for t in job.trainers.values())
    for kind in ("lstm", "gru", "rnn"):
        open_tab(at, "Train")
        at.button(key=next(b.key for b in at.button if b.key and b.key.startswith(f"explore_{kind}"))).click().run()
        ok(at)
        assert at.session_state["picked"].core.weight_hh_l0.device.type == "cuda"
        assert "h" in gates(at)                                       # the Explore tab drew it
        for view, _, _ in VIEWS:
            open_view(at, view)
        for tab in ("Cell", "Gradient flow", "Units"):
            open_tab(at, tab)
        for view in GVIEWS:
            open_tab(at, "Gradient flow")
            open_tab(at, view, "gtab")
