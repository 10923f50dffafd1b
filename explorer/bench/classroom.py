"""A class opening one link at once: N concurrent sessions (Streamlit's websocket protocol, see
protocol.py) against the app and against a bare Streamlit page served in the same run.

    python -m explorer.bench classroom              # N = 60: the default link and each tab link
    python -m explorer.bench classroom 30           # another N

For each link: the median and largest time until the page was drawn (the script run finished), the
server's CPU seconds for the N sessions, and that CPU per session against the bare page's. The app is
warmed by one visit per link first (the teacher opened it), so the class hits the shared caches.
Memory: the server's RSS after the warm-up, at the peak of the N sessions, and after they left.
"""
from __future__ import annotations

import statistics
import tempfile
import threading
import time

from explorer.cli import SERVER_FLAGS
from explorer.ui.protocol import open_sessions

from .browser import APP, streamlit_server
from .page import MINIMAL


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children so far (/proc; Linux)."""
    import os
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / tick


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


LINKS = ("", "tab=Cell", "tab=Gradient+flow", "tab=Units")


def _wave(url, queries: list[str], pid: int) -> dict:
    peak = [rss_mb(pid)]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_mb(pid))
            time.sleep(0.2)
    t = threading.Thread(target=sample, daemon=True)
    t.start()
    c0 = cpu_seconds(pid)
    res = open_sessions(url, queries)
    cpu = cpu_seconds(pid) - c0
    done.set()
    t.join()
    times = [s.seconds for s in res]
    return {"median": statistics.median(times), "max": max(times), "cpu": cpu, "peak": peak[0],
            "errors": sum(len(s.errors) for s in res), "examples": [e for s in res for e in s.errors][:2],
            "unfinished": sum(not s.finished for s in res)}


def bench_classroom(n: int = 60, links=LINKS, script=APP):
    """N concurrent sessions on each link vs a bare Streamlit page (server CPU per session)."""
    print(f"\nclassroom: {n} sessions at once, Streamlit's websocket protocol, vs a bare page in the same run")
    # The baseline is a bare page as `streamlit run bare.py` serves it: Streamlit's default settings (run from
    # an empty directory, so no .streamlit/config.toml applies). The same page with the app's settings (no file
    # watcher, no collection after every run) is shown too: those make any page cheaper.
    with tempfile.TemporaryDirectory() as empty:
        with streamlit_server(MINIMAL, cwd=empty) as bare:
            open_sessions(bare, [""])
            b = _wave(bare, [""] * n, bare.pid)
        with streamlit_server(MINIMAL, *SERVER_FLAGS, cwd=empty) as tuned:
            open_sessions(tuned, [""])
            bt = _wave(tuned, [""] * n, tuned.pid)
    per_bare = b["cpu"] / n
    print(f"{'link':22} {'median s':>9} {'max s':>7} {'server CPU s':>13} {'CPU/session':>12} {'÷ bare':>7} errors")
    print(f"{'bare page (defaults)':22} {b['median']:9.2f} {b['max']:7.2f} {b['cpu']:13.2f} {per_bare:12.3f} {1:7.2f} {b['errors']}")
    print(f"{'bare, app settings':22} {bt['median']:9.2f} {bt['max']:7.2f} {bt['cpu']:13.2f} {bt['cpu'] / n:12.3f} "
          f"{bt['cpu'] / n / per_bare:7.2f} {bt['errors']}")
    _cold(script)
    with streamlit_server(script, *SERVER_FLAGS) as app:               # as `gate-explorer` serves it
        open_sessions(app, list(links))                      # the teacher's visit: imports and caches warm
        time.sleep(1)
        warm = rss_mb(app.pid)
        peak = warm
        for link in links:
            w = _wave(app, [link] * n, app.pid)
            peak = max(peak, w["peak"])
            print(f"{'?' + link if link else 'default link':22} {w['median']:9.2f} {w['max']:7.2f} {w['cpu']:13.2f} "
                  f"{w['cpu'] / n:12.3f} {w['cpu'] / n / per_bare:7.2f} {w['errors']}"
                  + (f" e.g. {w['examples'][0][:80]}" if w["errors"] else "")
                  + (f" ({w['unfinished']} unfinished)" if w["unfinished"] else ""))
        time.sleep(3)
        print(f"memory (RSS): {warm:,.0f} MB after warm-up, {peak:,.0f} MB at the peak of {n} sessions, "
              f"{rss_mb(app.pid):,.0f} MB 3 s after they left")


COLD = ["tab=Cell"] * 10 + ["tab=Units"]


def _cold(script=APP, queries=COLD):
    """A server started a moment ago (ready: its start-up imports done) opened by a class at once, nothing warm:
    11 sessions, 10 on the Cell link and one on Units. Also how often the Cell figure was built (single flight: once)."""
    import json
    import urllib.request
    with streamlit_server(script, *SERVER_FLAGS) as app:
        c0 = cpu_seconds(app.pid)
        res = open_sessions(app, list(queries))
        cpu = cpu_seconds(app.pid) - c0
        stats = json.loads(urllib.request.urlopen(app + "/_gate_explorer/stats", timeout=30).read())
    times = [s.seconds for s in res]
    errors = sum(len(s.errors) for s in res)
    print(f"{'cold: 10 Cell + 1 Units':22} {statistics.median(times):9.2f} {max(times):7.2f} {cpu:13.2f} "
          f"{cpu / len(queries):12.3f} {'':>7} {errors}   (start-up imports {stats['preload_s']:.1f} s; "
          f"Cell figure built {stats['builds'].get('cell', 0)}×)")


def bench_workers(n: int = 60, counts=(1, 2), links=("", "tab=Cell")):
    """The same class through `gate-explorer serve` with 1 and with 2 workers (nginx in front), in one run."""
    from explorer.serve import Cluster, free_port
    print(f"\nclassroom through nginx: {n} sessions at once per link, 1 worker against 2")
    print(f"{'workers':>7} {'link':14} {'median s':>9} {'max s':>7} {'server CPU s':>13} {'RSS per worker MB':>18} errors")
    for w in counts:
        with Cluster(w, free_port(), "127.0.0.1") as c:
            open_sessions(c.url, list(links) * w * 2)          # warm every worker (sessions spread by hash)
            for link in links:
                c0 = sum(cpu_seconds(p) for p in c.pids)
                res = open_sessions(c.url, [link] * n)
                cpu = sum(cpu_seconds(p) for p in c.pids) - c0
                times = [s.seconds for s in res]
                rss = [rss_mb(p) for p in c.pids[:-1]]
                print(f"{w:7d} {link or 'default':14} {statistics.median(times):9.2f} {max(times):7.2f} {cpu:13.2f} "
                      f"{' / '.join(f'{r:,.0f}' for r in rss):>18} {sum(len(s.errors) for s in res)}")
