"""`gate-explorer serve --workers 2`: two app processes behind nginx. A first response sets the affinity
cookie and every later request with it reaches the same worker; different students spread over both
workers; the websocket is upgraded through the proxy; static files are gzipped. Skipped without nginx
(`.ci/run` installs Debian's)."""
import shutil
import subprocess
import sys
import time
import urllib.request

import pytest

from explorer.serve import Cluster, free_port, nginx_config
from explorer.ui.protocol import open_sessions

NGINX = shutil.which("nginx") or (shutil.which("/usr/sbin/nginx"))
needs_nginx = pytest.mark.skipif(not NGINX, reason="nginx is not installed (apt-get install nginx)")


def worker_of(url, cookie=None):
    req = urllib.request.Request(url + "/", headers={"Cookie": cookie} if cookie else {})
    r = urllib.request.urlopen(req, timeout=30)
    return r.headers.get("X-Gate-Explorer-Worker"), r.headers.get("Set-Cookie")


def test_the_config_has_affinity_websockets_and_gzip():
    conf = nginx_config([9001, 9002], 8501, "0.0.0.0", "/tmp/x")
    assert "hash $ge_worker consistent" in conf and "server 127.0.0.1:9001" in conf and "server 127.0.0.1:9002" in conf
    assert "proxy_set_header Upgrade $http_upgrade" in conf and "gzip on" in conf and "ip_hash" not in conf


@needs_nginx
@pytest.mark.slow
def test_two_workers_behind_nginx_keep_each_student_on_one_worker():
    with Cluster(2, free_port(), "127.0.0.1") as c:
        seen = set()
        for _ in range(12):
            first, cookie = worker_of(c.url)
            assert cookie and cookie.startswith("ge_worker=")
            again = {worker_of(c.url, cookie.split(";")[0])[0] for _ in range(3)}
            assert again == {first}                      # the same student always reaches the same worker
            seen.add(first)
        assert len(seen) == 2                            # and the class is spread over both
        r = urllib.request.urlopen(urllib.request.Request(c.url + "/", headers={"Accept-Encoding": "gzip"}))
        assert r.headers.get("Content-Encoding") == "gzip"
        sessions = open_sessions(c.url, ["", "tab=Cell", "tab=Units", "tab=Gradient+flow"] * 3, timeout=240)
        assert all(s.finished and not s.errors for s in sessions), [(s.query, s.errors) for s in sessions]


@needs_nginx
@pytest.mark.slow
def test_the_serve_command_starts_and_stops_on_sigterm():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "explorer", "serve", "--workers", "1", "--port", str(port),
                             "--host", "127.0.0.1"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        assert "1 worker(s) behind nginx" in line, line
        assert urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=60).read() == b"ok"
    finally:
        proc.terminate()
        proc.wait(90)
    time.sleep(2)
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=3)
