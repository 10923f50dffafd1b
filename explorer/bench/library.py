"""Benchmarks: ratios against the stock PyTorch module on the same input, in one run.

    python -m explorer.bench            # trace vs forward, long-input pass, gradient flow
    python -m explorer.bench trace      # one section only; --help lists them

CPU, 2 threads, medians after a warm-up, the two sides timed alternately (at least 7 pairs,
more for short calls). Ratios, not seconds, are what matter: both sides run on the same machine
in the same process, interleaved, so a slow spell of a shared machine hits both alike.
"""
from __future__ import annotations

import statistics
import time

import torch


def paired_times(ref, fn, repeat: int = 7, min_seconds: float = 0.5) -> tuple[float, float]:
    """Median seconds of ref() and of fn(), run alternately (ref, fn, ref, fn, ...) after a
    warm-up of each, so that a slow spell of the machine hits both sides alike. Short calls are
    repeated more, up to about min_seconds of timing per side."""
    ref(), fn()
    t = time.perf_counter()
    ref()
    once = time.perf_counter() - t
    repeat = max(repeat, min(201, int(min_seconds / max(once, 1e-6))))
    a, b = [], []
    for _ in range(repeat):
        t = time.perf_counter()
        ref()
        a.append(time.perf_counter() - t)
        t = time.perf_counter()
        fn()
        b.append(time.perf_counter() - t)
    return statistics.median(a), statistics.median(b)


def bench_trace(repeat: int = 7):
    """trace() vs the stock forward, LSTM and GRU at three shapes; then the 2024 cells (bench_trace_modern)."""
    from explorer import trace
    print("trace() vs stock forward (no_grad, float32)")
    print(f"{'module':6} {'T':>5} {'B':>3} {'I':>3} {'H':>4} {'forward ms':>11} {'trace ms':>9} {'ratio':>6}")
    for cls in (torch.nn.LSTM, torch.nn.GRU):
        for T, B, I, H in [(2000, 1, 64, 256), (500, 32, 64, 256), (200, 1, 64, 128)]:
            torch.manual_seed(0)
            rnn = cls(I, H).eval()
            x = torch.randn(T, B, I)
            with torch.no_grad():
                fwd, tr = paired_times(lambda: rnn(x), lambda: trace(rnn, x), repeat)
            print(f"{cls.__name__:6} {T:5} {B:3} {I:3} {H:4} {fwd * 1e3:11.1f} {tr * 1e3:9.1f} {tr / fwd:6.2f}")
    bench_trace_modern(repeat)


def bench_trace_modern(repeat: int = 7):
    """The 2024 cells: trace() of our MinGRU / MinLSTM vs their own parallel-scan forward, of our SLSTM vs its
    forward, and of the xlstm package's sLSTMLayer (backend="vanilla") vs that layer's own forward, where the
    package is installed (a test requirement)."""
    from explorer import SLSTM, MinGRU, MinLSTM, trace
    print("\ntrace() vs the module's own forward (no_grad, float32): the 2024 cells")
    print(f"{'module':12} {'T':>5} {'B':>3} {'I':>3} {'H':>4} {'forward ms':>11} {'trace ms':>9} {'ratio':>6}")
    rows = []
    for cls in (MinGRU, MinLSTM, SLSTM):
        for T, B, I, H in [(2000, 1, 64, 256), (500, 32, 64, 256), (200, 1, 64, 128)]:
            rows.append((cls.__name__, T, B, I, H, lambda I=I, H=H, cls=cls: cls(I, H)))
    try:
        from xlstm.blocks.slstm.layer import sLSTMLayer, sLSTMLayerConfig
        for T, B, H in [(2000, 1, 256), (500, 32, 256), (200, 1, 128)]:
            cfg = sLSTMLayerConfig(embedding_dim=H, num_heads=4, backend="vanilla", conv1d_kernel_size=0)
            rows.append(("xlstm sLSTM", T, B, H, H, lambda cfg=cfg: sLSTMLayer(cfg)))
    except ImportError:
        print("(the xlstm package is not installed: its sLSTMLayer rows are skipped; pip install -r requirements.txt)")
    for name, T, B, I, H, make in rows:
        torch.manual_seed(0)
        m = make().eval()
        xlstm = name.startswith("xlstm")
        x = torch.randn(B, T, I) if xlstm else torch.randn(T, B, I)        # sLSTMLayer reads (B, T, E)
        with torch.no_grad():
            fwd, tr = paired_times(lambda: m(x), lambda: trace(m, x), repeat)
        print(f"{name:12} {T:5} {B:3} {I:3} {H:4} {fwd * 1e3:11.1f} {tr * 1e3:9.1f} {tr / fwd:6.2f}")


def bench_long(T: int = 1_000_000, H: int = 256, I: int = 64):
    """scan_long() over 1M steps vs the stock forward over the same chunks; peak memory."""
    import resource

    from explorer.core.windows import scan_long
    print(f"\nlong-input pass vs stock forward (LSTM, T={T:,}, B=1, I={I}, H={H}, one layer)")
    torch.manual_seed(0)
    rnn = torch.nn.LSTM(I, H).eval()
    x = torch.randn(T, I)

    def stock(n: int = T, chunk: int = 4096):
        # PyTorch's CPU LSTM (oneDNN) refuses 1M steps in one call ("could not create a
        # primitive"), so the reference is the stock module over chunks, state carried.
        t = time.perf_counter()
        with torch.no_grad():
            hx = None
            for s in range(0, n, chunk):
                _, hx = rnn(x[s:min(s + chunk, n)], hx)
        return time.perf_counter() - t
    # stock, pass, stock: the pass is compared with the mean of the runs around it, so that a
    # slow spell of the machine during either side shows up in the two stock figures
    t_fwd1 = stock()
    t = time.perf_counter()
    lt = scan_long(rnn, x)
    t_scan = time.perf_counter() - t
    peak_scan = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t_fwd2 = stock()
    t_fwd = (t_fwd1 + t_fwd2) / 2
    t = time.perf_counter()
    lt.window(T // 2, T // 2 + 1000)
    t_win = time.perf_counter() - t
    print(f"stock forward (4096-step chunks) {t_fwd1:.2f} s before and {t_fwd2:.2f} s after the pass, "
          f"pass {t_scan:.2f} s, ratio {t_scan / t_fwd:.2f}; "
          f"peak RSS after the pass {peak_scan:.0f} MB (input alone {x.numel() * 4 / 2**20:.0f} MB); "
          f"a 1,000-step window {t_win * 1e3:.0f} ms")
    # A short input as the app reads it: checkpoints every 256 steps and an overview of 800 blocks,
    # here of 25 steps, so a chunk spans some 40 blocks (the block sums' cost shows here, not above).
    n = 20_000
    ref, short = paired_times(lambda: stock(n, 1024), lambda: scan_long(rnn, x[:n], checkpoint_every=256, overview_blocks=800), 9)
    print(f"{n:,} steps with the app's overview (800 blocks): stock forward (1024-step chunks) {ref:.2f} s, "
          f"pass {short:.2f} s, ratio {short / ref:.2f}")


SECTIONS = {"trace": bench_trace, "long": bench_long}
SLOW: set[str] = set()      # sections left out of a bare run (they start servers or take minutes)



def bench_grad(repeat: int = 5):
    """gradient_flow() vs the stock forward + backward, LSTM/GRU/RNN and a 2-layer bidirectional LSTM."""
    from explorer import gradient_flow
    print("\ngradient_flow() vs stock forward + backward (float32, J = sum of the last output)")
    print(f"{'module':6} {'layers':>10} {'T':>5} {'B':>3} {'H':>4} {'fwd+bwd ms':>11} {'flow ms':>8} {'ratio':>6}")
    # the last row: under a last-step objective the top layer's reverse direction gets its only
    # gradient at its own first step, which the kernel backward route must handle too
    for cls, kw in ((torch.nn.LSTM, {}), (torch.nn.GRU, {}), (torch.nn.RNN, {}),
                    (torch.nn.LSTM, dict(num_layers=2, bidirectional=True))):
        T, B, I, H = 1000, 1, 64, 256
        torch.manual_seed(0)
        rnn = cls(I, H, **kw)
        x = torch.randn(T, B, I, requires_grad=True)

        def stock():
            out, _ = rnn(x)
            out[-1].sum().backward()
        ref, flow = paired_times(stock, lambda: gradient_flow(rnn, x.detach()), repeat)
        layers = f"{rnn.num_layers}{' bidir' if rnn.bidirectional else ''}"
        print(f"{cls.__name__:6} {layers:>10} {T:5} {B:3} {H:4} {ref * 1e3:11.1f} {flow * 1e3:8.1f} {flow / ref:6.2f}")


SECTIONS["grad"] = bench_grad


def bench_train(steps: int = 60):
    """Trainer steps/s vs a bare PyTorch loop: same model init, same batches, same optimizer."""
    import torch.nn as nn

    from explorer import ModelConfig, Vocab
    from explorer.io.models.ours import CharModel
    from explorer.training.trainer import TrainConfig, Trainer, task_loss
    print("\nTrainer vs a bare loop (char LSTM, H=256, B=32, T=128, AdamW, clip 1.0)")
    text = "".join(chr(97 + (i * 7919) % 26) + (" " if i % 5 == 0 else "") for i in range(200_000))
    vocab = Vocab.from_text(text)
    cfg = TrainConfig("char", steps=steps, batch_size=32, seq_len=128, lr=2e-3, eval_every=0, device="cpu",
                      lr_decay=False)

    def model():
        torch.manual_seed(0)
        return CharModel(ModelConfig("lstm", vocab_size=len(vocab), hidden_size=256), vocab)
    trainer = Trainer(model(), cfg, text)
    batches = [trainer.batch(s) for s in range(steps)]
    m = model().train()
    opt = torch.optim.AdamW(m.parameters(), lr=2e-3, weight_decay=0.0)

    def bare():
        for x, y in batches:
            loss = task_loss(m, "ce", x, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(m.parameters(), 1.0)
            opt.step()
            loss.item()
    bare()                                   # warm-up
    t = time.perf_counter()
    bare()
    t_bare = time.perf_counter() - t
    trainer.run()                            # warm-up
    trainer.step, trainer.cfg.steps = 0, steps
    t = time.perf_counter()
    trainer.run()
    t_tr = time.perf_counter() - t
    print(f"bare loop {steps / t_bare:.2f} steps/s, Trainer {steps / t_tr:.2f} steps/s, ratio {t_bare / t_tr:.3f}")


SECTIONS["train"] = bench_train

def bench_cuda(repeat: int = 9):
    """trace() and gradient_flow() vs the stock module on a CUDA GPU (skipped without one)."""
    if not torch.cuda.is_available():
        print("\ncuda skipped: no CUDA device on this machine")
        return
    from explorer import gradient_flow, trace

    def synced(f):
        def g():
            f()
            torch.cuda.synchronize()
        return g
    print(f"\non {torch.cuda.get_device_name()}: trace() vs stock forward (no_grad, float32)")
    for cls in (torch.nn.LSTM, torch.nn.GRU):
        for T, B, I, H in [(2000, 1, 64, 256), (500, 32, 64, 256), (200, 1, 64, 128)]:
            torch.manual_seed(0)
            rnn = cls(I, H).cuda().eval()
            x = torch.randn(T, B, I, device="cuda")
            with torch.no_grad():
                fwd, tr = paired_times(synced(lambda: rnn(x)), synced(lambda: trace(rnn, x)), repeat)
            print(f"{cls.__name__:5} T={T:5} B={B:3} H={H:4}: forward {fwd * 1e3:7.2f} ms, trace {tr * 1e3:7.2f} ms, "
                  f"ratio {tr / fwd:5.2f}")
    print("gradient_flow() vs stock forward + backward (J = sum of the last output)")
    for cls in (torch.nn.LSTM, torch.nn.GRU, torch.nn.RNN):
        torch.manual_seed(0)
        rnn = cls(64, 256).cuda()
        x = torch.randn(1000, 1, 64, device="cuda", requires_grad=True)

        def stock():
            out, _ = rnn(x)
            out[-1].sum().backward()
        ref, flow = paired_times(synced(stock), synced(lambda: gradient_flow(rnn, x.detach())), repeat)
        print(f"{cls.__name__:5} T= 1000 B=  1 H= 256: fwd+bwd {ref * 1e3:7.2f} ms, gradient_flow {flow * 1e3:7.2f} ms, "
              f"ratio {flow / ref:5.2f}")


SECTIONS["cuda"] = bench_cuda


def bench_connectivity(repeat: int = 5, T: int = 150):
    """connectivity() of a 150-step window of shakespeare-lstm vs one batched stock forward+backward of the same size."""
    from explorer import connectivity, load_pretrained, open_model
    m = open_model("shakespeare-lstm")
    core = load_pretrained("shakespeare-lstm").core
    text = ("To be, or not to be, that is the question: whether 'tis nobler in the mind to suffer the slings and "
            "arrows of outrageous fortune, or to take arms against a sea of troubles")[:T]
    x = m.inputs(text)
    xb = x[:, None].expand(len(x), len(x), x.shape[-1]).contiguous()           # T copies: the same total size

    def stock():
        xr = xb.clone().requires_grad_(True)
        out, _ = core(xr.transpose(0, 1) if core.batch_first else xr)
        out.sum().backward()

    def naive():                                                              # one backward per output step
        for t in range(len(x)):
            xr = x.clone().requires_grad_(True)
            logits = m.head(core(xr[None] if core.batch_first else xr[:, None])[0][0 if core.batch_first else slice(None)])
            logits.reshape(len(x), -1)[t].max().backward()

    ours = lambda: connectivity(m, text)
    base, mine = paired_times(stock, ours, repeat)
    _, loop = paired_times(stock, naive, max(2, repeat // 2))
    print(f"\nconnectivity() vs stock forward+backward at the same total size (T x T = {len(x)} x {len(x)}, "
          f"shakespeare-lstm, H={core.hidden_size})")
    print(f"{'stock fwd+bwd ms':>17} {'connectivity ms':>16} {'ratio':>6} {'naive loop ms':>14} {'loop ratio':>10}")
    print(f"{base * 1e3:17.1f} {mine * 1e3:16.1f} {mine / base:6.2f} {loop * 1e3:14.1f} {loop / base:10.2f}")


SECTIONS["connectivity"] = bench_connectivity
