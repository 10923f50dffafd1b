"""Benchmarks in a real browser: the served app against a baseline measured in the same run.

    python -m explorer.bench app_long     # upload 1M characters -> first chart, vs the stock forward
    python -m explorer.bench page         # the page's load and interactions, vs a bare Streamlit page

Needs Chromium and playwright (the [dev] extra); see explorer/browser.py.
"""
from __future__ import annotations

import os
import tempfile
import time

import torch

from .browser import IDLE, browser_page, chromium_missing, streamlit_server, wait_idle

WORDS = ("the and to of my lord what say you shall we field tonight or wait morning better light queen night "
         "is kind those who they yet would see matter done today king love thou art thee heart hath speak").split()


def long_text(n: int, seed: int = 0) -> str:
    """n characters of pseudo-verse (words, commas, line breaks, speaker names) from the pretrained
    models' alphabet; deterministic for a seed."""
    g = torch.Generator().manual_seed(seed)
    out, size = [], 0
    while size < n:
        k = torch.randint(0, len(WORDS), (12,), generator=g).tolist()
        line = " ".join(WORDS[i] for i in k).capitalize() + (",\n" if k[0] % 3 else ".\n\nKING:\n")
        out.append(line)
        size += len(line)
    return "".join(out)[:n]


def stock_forward_seconds(model, ids: torch.Tensor, chunk: int = 4096) -> float:
    """The stock module over ids, embedding included, in chunks with the state carried (oneDNN
    refuses a million steps in one call)."""
    t = time.perf_counter()
    with torch.no_grad():
        hx = None
        for s in range(0, len(ids), chunk):
            _, hx = model.core(model.embedding(ids[s:s + chunk][None]), hx)
    return time.perf_counter() - t


def bench_app_long(n: int = 1_000_000):
    """Upload n characters in the browser -> the first chart drawn, vs the stock forward over them."""
    why = chromium_missing()
    if why:
        print(f"app_long skipped: {why}")
        return
    import explorer
    print(f"\nupload-to-first-chart in the browser vs the stock forward (shakespeare-lstm, {n:,} characters)")
    text = long_text(n)
    model = explorer.load_pretrained("shakespeare-lstm")
    ids = model.vocab.encode(text)
    before = stock_forward_seconds(model, ids)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "book.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        with streamlit_server() as url, browser_page() as page:
            page.goto(url)
            wait_idle(page)
            upload = page.locator("[data-testid='stFileUploader'] input[type='file']").first
            t0 = time.perf_counter()
            upload.set_input_files(path)
            seen = []                                     # the progress bar's values while the pass runs
            deadline = t0 + 1200
            probe = ("() => { const b = document.querySelector(\"[data-testid='stProgress'] [role='progressbar']\");"
                     " const idle = document.querySelector(\"%s\");"
                     " return [b ? b.getAttribute('aria-valuenow') : null, !!idle, !b]; }" % IDLE.replace('"', '\\"'))
            while time.perf_counter() < deadline:
                v, idle, read = page.evaluate(probe)
                if v is not None and (not seen or seen[-1][1] != v):
                    seen.append((round(time.perf_counter() - t0, 1), v))
                if idle and read and seen:
                    break
                page.wait_for_timeout(1000)           # light polling: the page is what is measured
            wait_idle(page, timeout=1_200_000, settle_ms=300)
            page.wait_for_selector(".js-plotly-plot", timeout=60_000)
            t_app = time.perf_counter() - t0
            errors = page.locator("[data-testid='stException'], [data-testid='stAlert'] >> text=went wrong").count()
    after = stock_forward_seconds(model, ids)
    stock = (before + after) / 2
    print(f"stock forward {before:.1f} s before and {after:.1f} s after; upload to first chart {t_app:.1f} s; "
          f"ratio {t_app / stock:.2f} (target <= 1.3)")
    print(f"progress bar (s: %) {' '.join(f'{t}:{v}' for t, v in seen)}"
          + (f"; {errors} error(s) on the page" if errors else ""))
