"""`gate-explorer serve --workers N`: N app processes behind nginx, for a class bigger than one process.

    gate-explorer serve --workers 2 --port 8501        # then open http://<server>:8501

Streamlit keeps each session's state in the process that serves its websocket, so scaling out is several
app processes behind a reverse proxy with sticky sessions. nginx (Debian's package) in front:
- session affinity by a cookie, not by client address (a school's students share one address behind
  its NAT): the first response sets `ge_worker` to a random id, and every later request (the websocket,
  uploads, media) carries it and is hashed to the same worker;
- websocket upgrade for /_stcore/stream;
- gzip for the page's static files (about 7.8 MB uncompressed on a first visit).
Each worker runs `streamlit run` on a loopback port with the app's settings (explorer/cli.py); Ctrl-C
or SIGTERM stops them all. docs/deploy.md: compose.yaml, Kubernetes, and what a class costs.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

APP = Path(__file__).resolve().parent / "ui" / "asgi_app.py"          # st.App: imports at start (ui/startup.py)
# The settings the repository's .streamlit/config.toml gives `streamlit run app.py` (see it for why); the
# gate-explorer command and every worker here pass them.
SERVER_FLAGS = ["--server.fileWatcherType", "none", "--runner.postScriptGC", "false", "--browser.gatherUsageStats", "false"]

NGINX = """
worker_processes {procs};
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
daemon off;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    client_max_body_size {upload}m;
    gzip on;
    gzip_min_length 1024;
    gzip_comp_level 5;
    gzip_types text/plain text/css application/javascript text/javascript application/json image/svg+xml
               font/woff2 application/wasm;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    # Affinity: the cookie a first response sets, or a fresh random id for a first request.
    map $cookie_ge_worker $ge_worker {{ "" $request_id; default $cookie_ge_worker; }}
    map $cookie_ge_worker $ge_set_cookie {{ "" "ge_worker=$request_id; Path=/; HttpOnly; SameSite=Lax"; default ""; }}
    upstream gate_explorer {{
        hash $ge_worker consistent;
{servers}
    }}
    server {{
        listen {host}:{port};
        location / {{
            proxy_pass http://gate_explorer;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_read_timeout 86400s;
            proxy_buffering off;
            add_header Set-Cookie $ge_set_cookie;
            add_header X-Gate-Explorer-Worker $upstream_addr;
        }}
    }}
}}
"""


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nginx_config(ports: list[int], port: int, host: str, workdir: str, upload_mb: int = 200) -> str:
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=0;" for p in ports)
    return NGINX.format(procs=max(1, min(len(ports), os.cpu_count() or 1)), dir=workdir, servers=servers,
                        host=host, port=port, upload=upload_mb)


def wait_healthy(url: str, timeout: float = 60, proc=None):
    """Poll /_stcore/health until it answers "ok"; RuntimeError after timeout or if a process exits
    (proc: one subprocess or a list of them)."""
    procs = proc if isinstance(proc, (list, tuple)) else ([proc] if proc is not None else [])
    deadline = time.time() + timeout
    while time.time() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"a server process exited with code {p.returncode} before {url} was ready")
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not become healthy in {timeout:.0f} s")


class Cluster:
    """N workers and nginx, started and stopped together (a context manager; .url, .pids)."""

    def __init__(self, workers: int = 2, port: int = 8501, host: str = "0.0.0.0", args=(), quiet: bool = True):
        nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
        if nginx is None:
            raise SystemExit("gate-explorer serve needs nginx: apt-get install nginx (Debian/Ubuntu), then run it again.")
        self.nginx, self.workers, self.port, self.host, self.args, self.quiet = nginx, workers, port, host, list(args), quiet
        self.procs: list[subprocess.Popen] = []
        self.dir = tempfile.mkdtemp(prefix="gate-explorer-serve-")

    @property
    def url(self) -> str:
        return f"http://{'127.0.0.1' if self.host in ('0.0.0.0', '') else self.host}:{self.port}"

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def __enter__(self):
        # Workers' own banners name loopback addresses nobody should open: stdout is dropped, errors shown.
        out, err = subprocess.DEVNULL, subprocess.DEVNULL if self.quiet else None
        env = dict(os.environ, STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
        ports = [free_port() for _ in range(self.workers)]
        try:
            for p in ports:
                self.procs.append(subprocess.Popen(
                    [sys.executable, "-m", "streamlit", "run", str(APP), *SERVER_FLAGS, "--server.headless", "true",
                     "--server.address", "127.0.0.1", "--server.port", str(p), *self.args],
                    env=env, stdout=out, stderr=err))
            for p in ports:
                wait_healthy(f"http://127.0.0.1:{p}", 120, self.procs)
            conf = Path(self.dir) / "nginx.conf"
            conf.write_text(nginx_config(ports, self.port, self.host, self.dir))
            self.procs.append(subprocess.Popen([self.nginx, "-c", str(conf), "-p", self.dir], stdout=out, stderr=err))
            wait_healthy(self.url, 30, self.procs)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="gate-explorer serve", description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="app processes (default: one per core)")
    ap.add_argument("--port", type=int, default=8501)
    ap.add_argument("--host", default="0.0.0.0", help="the address nginx listens on (workers listen on loopback)")
    a, rest = ap.parse_known_args(argv)
    if a.workers < 1:
        ap.error("--workers must be at least 1")
    try:
        c = Cluster(a.workers, a.port, a.host, rest, quiet=False).__enter__()
    except RuntimeError as e:                       # a worker that did not start: one sentence, no traceback
        print(f"gate-explorer serve: {e}", file=sys.stderr)
        return 1
    try:
        print(f"Gate Explorer: {a.workers} worker(s) behind nginx at {c.url}", flush=True)
        stop = []
        signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
        while not stop and all(p.poll() is None for p in c.procs):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        c.__exit__()
    return 0
