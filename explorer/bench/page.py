"""Benchmarks in a real browser: the served app against a baseline measured in the same run.

    python -m explorer.bench app_long     # upload 1M characters -> first chart, vs the stock forward
    python -m explorer.bench page         # the page's load and interactions, vs a bare Streamlit page

Needs Chromium and playwright (the [dev] extra); see explorer/bench/browser.py.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import torch

from .browser import APP, IDLE, browser_page, chromium_missing, streamlit_server, wait_idle

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


# Installed in every page before it loads: records each change of the app's run state (with the page's
# clock) and counts changes inside charts (the last one's time too), so a rerun is never missed and an
# end is read from the page, not from when a poll noticed it. (Polling for a "running" state misses a
# short run and then waits out its timeout; and a very short run may never show "running" in the DOM at
# all, the page batching its start and end into one update: then the chart it redrew says it happened.)
RECORDER = """window._gxRuns = []; window._gxRunAt = []; window._gxPlot = 0; window._gxPlotAt = 0;
new MutationObserver(ms => { for (const m of ms) {
    if (m.type === 'attributes' && m.attributeName === 'data-test-script-state') {
      window._gxRuns.push(m.target.getAttribute('data-test-script-state'));
      window._gxRunAt.push(performance.now()); continue; }
    const el = m.target.nodeType === 1 ? m.target : m.target.parentElement;
    if (el && el.closest('.js-plotly-plot')) { window._gxPlot++; window._gxPlotAt = performance.now(); } } })
  .observe(document, {attributes: true, childList: true, subtree: true});"""


def bench_app_long(n: int = 0):
    """Upload n characters in the browser -> the first charts drawn, vs the stock forward over them.
    n defaults to 1,000,000 (GATE_EXPLORER_BENCH_CHARS sets another size for a quicker look);
    GATE_EXPLORER_BENCH_APP serves another checkout's app, as for the page benchmark.

    The stock forward is timed in two chunkings, before and after the upload: 4096 steps (the
    baseline this benchmark has always printed) and 1024 steps (the pass's own chunk; oneDNN's
    inference kernel is faster there on this kind of machine, so it is the stricter baseline)."""
    n = n or int(os.environ.get("GATE_EXPLORER_BENCH_CHARS") or 1_000_000)
    why = chromium_missing()
    if why:
        print(f"app_long skipped: {why}")
        return
    import explorer
    print(f"\nupload-to-first-chart in the browser vs the stock forward (shakespeare-lstm, {n:,} characters)")
    text = long_text(n)
    model = explorer.load_pretrained("shakespeare-lstm")
    ids = model.vocab.encode(text)
    stock = {k: [stock_forward_seconds(model, ids, k)] for k in (4096, 1024)}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "book.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        with streamlit_server(os.environ.get("GATE_EXPLORER_BENCH_APP") or APP) as url, browser_page() as page:
            page.add_init_script(RECORDER)
            page.goto(url)
            wait_idle(page)
            upload = page.locator("[data-testid='stFileUploader'] input[type='file']").first
            t0 = page.evaluate("performance.now()")
            upload.set_input_files(path)
            seen = []                                     # the progress bar's values while the pass runs
            deadline = time.perf_counter() + 1200
            probe = ("() => { const b = document.querySelector(\"[data-testid='stProgress'] [role='progressbar']\");"
                     " const idle = document.querySelector(\"%s\");"
                     " return [b ? b.getAttribute('aria-valuenow') : null, !!idle, !b, performance.now()]; }"
                     % IDLE.replace('"', '\\"'))
            while time.perf_counter() < deadline:
                v, idle, read, now = page.evaluate(probe)
                if v is not None and (not seen or seen[-1][1] != v):
                    seen.append(((now - t0) / 1000, v))
                if idle and read and seen:
                    break
                page.wait_for_timeout(250)            # light polling (a query a quarter second): the page is what is measured
            wait_idle(page, timeout=1_200_000, settle_ms=1000)
            page.wait_for_selector(".js-plotly-plot", timeout=60_000)
            runs, run_at, plot_at = page.evaluate("[window._gxRuns, window._gxRunAt, window._gxPlotAt]")
            ran = [t for t, s in zip(run_at, runs) if s == "notRunning" and t > t0]
            t_app = (max(ran[-1] if ran else 0, plot_at) - t0) / 1000
            errors = page.locator("[data-testid='stException'], [data-testid='stAlert'] >> text=went wrong").count()
    for k in stock:
        stock[k].append(stock_forward_seconds(model, ids, k))
    print(f"upload to first charts drawn: {t_app:.1f} s (the page's clock: file chosen -> last run ended and "
          "last chart changed)")
    for k, (before, after) in stock.items():
        mean = (before + after) / 2
        print(f"stock forward in {k}-step chunks: {before:.1f} s before, {after:.1f} s after; "
              f"ratio {t_app / mean:.2f} (target <= 1.3)")
    if seen:
        s4 = sum(stock[4096]) / 2
        print(f"the pass (progress bar seen) from {seen[0][0]:.1f} s to {seen[-1][0]:.1f} s = "
              f"{(seen[-1][0] - seen[0][0]) / s4:.2f} x the stock forward (4096); charts done {t_app - seen[-1][0]:.1f} s "
              "after the bar's last value")
    print(f"progress bar (s: %) {' '.join(f'{t:.1f}:{v}' for t, v in seen)}"
          + (f"; {errors} error(s) on the page" if errors else ""))


MINIMAL = Path(__file__).resolve().parents[1] / "ui" / "bench_minimal.py"   # the baseline page (a Streamlit script)
PLOTS_DRAWN = ("() => Array.from(document.querySelectorAll('.js-plotly-plot'))"
               ".every(p => p.querySelector('.main-svg'))")


RAN = ("() => ((window._gxRuns || []).includes('running') || window._gxPlot > 0) && document.querySelector(\"%s\") !== null"
       % IDLE.replace('"', '\\"'))
PAINTED = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"


def _arm(page):
    """Before an action: forget the runs recorded so far."""
    page.evaluate("() => { window._gxRuns = []; window._gxRunAt = []; window._gxPlot = 0; }")


def _settled(page, timeout=300_000, first=False):
    """After an action (armed with _arm) or a page load (first=True): wait for a script run to have
    started and ended (after an action, at most 3 s for one to start: it may need none), every chart
    to be drawn, and two animation frames (the browser has painted)."""
    try:
        page.wait_for_function(RAN, timeout=timeout if first else 3000, polling="raf")
    except Exception:
        if first:
            raise
    page.wait_for_selector(IDLE, timeout=timeout)
    page.wait_for_function(PLOTS_DRAWN, timeout=timeout)
    page.evaluate(PAINTED)


def _open(browser, width=1500, height=1100):
    page = browser.new_page(viewport={"width": width, "height": height})
    page.add_init_script(RECORDER)
    return page


def _load(browser, url, width=1500, height=1100) -> tuple[float, object]:
    page = _open(browser, width, height)
    t = time.perf_counter()
    page.goto(url)
    page.wait_for_selector(".js-plotly-plot", timeout=300_000)
    _settled(page, first=True)
    return time.perf_counter() - t, page


def _slider(page, label: str):
    return page.locator("[data-testid='stSlider']").filter(has_text=label).locator("input[type='range']").first


def _nudge(page, label: str, key: str = "ArrowRight") -> float:
    thumb = _slider(page, label)
    thumb.focus()
    _arm(page)
    t = time.perf_counter()
    thumb.press(key)
    _settled(page)
    return time.perf_counter() - t


def _history(b, app) -> dict[str, list[float]]:
    """The Train tab's history on the page: a short run of all three models (60 steps) started as a teacher
    would, then the tab drawn again with every history figure (from the Explore tab back to Train; the gates
    through training are the largest figure the page draws), and the snapshot slider moved."""
    page, out = _load(b, f"{app}/?tab=Train")[1], {"open Train with a history (all three)": [],
                                                     "move the history's snapshot slider": []}
    box = page.locator("[data-testid='stNumberInput']").filter(has_text="steps").locator("input").first
    box.fill("60")
    box.press("Enter")
    page.get_by_role("button", name="start training").click()
    page.get_by_text("Training finished after").wait_for(timeout=600_000)
    _settled(page, 600_000)
    for _ in range(3):
        page.get_by_role("tab", name="Explore").click()
        _settled(page)
        _arm(page)
        t0 = time.perf_counter()
        page.get_by_role("tab", name="Train").click()
        page.get_by_text("The probe's gates through training").wait_for(timeout=300_000)
        _settled(page)
        out["open Train with a history (all three)"].append(time.perf_counter() - t0)
    for key in ("ArrowLeft", "ArrowLeft", "ArrowRight"):
        out["move the history's snapshot slider"].append(_nudge(page, "look closely at the snapshot", key))
    page.close()
    return out


def _median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def bench_page(repeat: int = 3, students: int = 8):
    """The page's load and interactions in headless Chromium, vs a bare Streamlit page."""
    why = chromium_missing()
    if why:
        print(f"page skipped: {why}")
        return
    import urllib.parse

    from explorer.io.inputs.data import SAMPLES

    from .browser import browser
    text = (SAMPLES["prose"] * 8)[:1000]             # long enough for a window slider (over 150 steps)
    # GATE_EXPLORER_BENCH_APP=path/to/app.py measures another checkout's page (e.g. before a change)
    script = os.environ.get("GATE_EXPLORER_BENCH_APP") or APP
    empty = tempfile.mkdtemp()       # the bare page as `streamlit run` serves it: no .streamlit/config.toml applies
    with streamlit_server(script) as app, streamlit_server(MINIMAL, cwd=empty) as bare, browser() as b:
        _load(b, app)[1].close()                   # warm both servers (imports, caches)
        _load(b, bare)[1].close()
        base_load, base_rerun, loads = [], [], []
        acts = {"move window start by one step": [], "change units shown (top k)": [],
                "move the step inspector": [], "open 'What it depends on'": [], "switch to Gradient flow": []}
        for _ in range(repeat):
            t, page = _load(b, bare)
            base_load.append(t)
            base_rerun.append(_nudge(page, "shift"))
            page.close()
            t, page = _load(b, app)
            loads.append(t)
            page.close()
            _, page = _load(b, f"{app}/?" + urllib.parse.urlencode({"text": text}))
            acts["move window start by one step"].append(_nudge(page, "window start"))
            acts["change units shown (top k)"].append(_nudge(page, "units shown", "ArrowLeft"))
            page.get_by_role("tab", name="Step inspector").click()     # a view below the gates: open it first
            _settled(page)
            acts["move the step inspector"].append(_nudge(page, "step t"))
            _arm(page)
            t0 = time.perf_counter()
            page.get_by_role("tab", name="What it depends on").click()  # connectivity of the window (cached after the first)
            _settled(page)
            acts["open 'What it depends on'"].append(time.perf_counter() - t0)
            _arm(page)
            t0 = time.perf_counter()
            page.get_by_role("tab", name="Gradient flow").click()
            _settled(page)
            acts["switch to Gradient flow"].append(time.perf_counter() - t0)
            page.close()
        acts.update(_history(b, app))
        crowd = {}
        for name, url in (("app", app), ("bare", bare)):
            t = time.perf_counter()
            pages = [_open(b) for _ in range(students)]
            for p in pages:
                p.goto(url, wait_until="commit")
            for p in pages:
                p.wait_for_selector(".js-plotly-plot", timeout=600_000)
                _settled(p, 600_000, first=True)
            crowd[name] = time.perf_counter() - t
            for p in pages:
                p.close()
    L, R = _median(base_load), _median(base_rerun)
    print(f"\npage speed in headless Chromium (medians of {repeat}; the bare page: one heatmap and one slider)")
    print(f"{'':38} {'app s':>7} {'bare s':>7} {'ratio':>6} {'goal':>6}")
    print(f"{'default view: open to idle, charts drawn':38} {_median(loads):7.2f} {L:7.2f} {_median(loads) / L:6.2f} {'<= 2':>6}")
    for name, xs in acts.items():
        print(f"{name:38} {_median(xs):7.2f} {R:7.2f} {_median(xs) / R:6.2f} {'<= 4':>6}")
    print(f"{f'{students} pages opened at once, all drawn':38} {crowd['app']:7.2f} {crowd['bare']:7.2f} "
          f"{crowd['app'] / crowd['bare']:6.2f}")
    print("(interactions on a shared link with a 1,000-character text, so the window slider exists)")
