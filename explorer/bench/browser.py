"""A real browser on a served page: `streamlit run` on a free port, Debian's Chromium through
Playwright (never `playwright install`). Used by the browser tests and `python -m explorer.bench
page|app_long`. Needs the [dev] extra (playwright) and a Chromium; nothing here imports streamlit.

    with streamlit_server() as url, browser_page() as page:
        page.goto(url); wait_idle(page)
"""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from explorer.serve import free_port, wait_healthy  # noqa: F401  (the tests' and benchmarks' too)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-quic", "--no-first-run"]
APP = Path(__file__).resolve().parents[1] / "ui" / "asgi_app.py"      # served as app.py serves it (imports at start)
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


def chromium_missing() -> str:
    """Why a browser cannot run here ("" when it can)."""
    if not os.path.exists(CHROMIUM):
        return "Chromium is not installed (apt-get install -y chromium); .ci/run installs it"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is missing (pip install -r requirements.txt)"
    return ""


class ServerURL(str):
    """The served page's address; .pid is the server's process (its CPU time and memory, for benchmarks)."""
    pid: int = 0


@contextlib.contextmanager
def streamlit_server(script: str | os.PathLike | None = APP, *args: str, timeout: float = 60, cwd=None):
    """`streamlit run script` on a free port until the block ends; yields its URL once /_stcore/health
    answers. Extra args go to streamlit (e.g. "--server.maxUploadSize", "50"). cwd: where it runs (its
    ./.streamlit/config.toml applies: the repository's own, when run from a checkout)."""
    script = APP if script is None else script
    port = free_port()
    env = dict(os.environ, STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(script), "--server.headless", "true",
                             "--server.port", str(port), "--server.address", "127.0.0.1", *args],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd)
    url = ServerURL(f"http://127.0.0.1:{port}")
    url.pid = proc.pid
    try:
        wait_healthy(url, timeout, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextlib.contextmanager
def browser(headless: bool = True):
    """A Chromium instance (Playwright's Browser)."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=headless, args=ARGS)
        try:
            yield b
        finally:
            b.close()


@contextlib.contextmanager
def browser_page(width=1500, height=1100):
    """One page in a fresh Chromium."""
    with browser() as b:
        yield b.new_page(viewport={"width": width, "height": height})


def wait_idle(page, timeout=180_000, settle_ms=500):
    """Streamlit's e2e convention: the app has finished its script run (checked twice, settle_ms
    apart, because a rerun can start right after a run ends)."""
    page.wait_for_selector(IDLE, timeout=timeout)
    page.wait_for_timeout(settle_ms)
    page.wait_for_selector(IDLE, timeout=timeout)
