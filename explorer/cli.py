"""`gate-explorer` (and `python -m explorer`): start the app. Every argument goes on to
`streamlit run`, e.g. `gate-explorer --server.port 8600`; `--version` prints the version;
`gate-explorer serve --workers N` starts N app processes behind nginx (explorer/serve.py).

Streamlit runs as `python -m streamlit run …`, which replaces this process (so signals such as
Ctrl-C or a service manager's SIGTERM reach streamlit itself): the core never imports it."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

from explorer._version import __version__

from .serve import APP, SERVER_FLAGS


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] in (["--version"], ["-V"]):
        print(f"gate-explorer {__version__}")
        return 0
    if args[:1] == ["serve"]:                                 # N workers behind nginx: explorer/serve.py
        from .serve import main as serve
        return serve(args[1:])
    if importlib.util.find_spec("streamlit") is None:         # looks for it without importing it
        print("gate-explorer needs streamlit, which this environment lacks (installed with --no-deps?): "
              "pip install gate-explorer", file=sys.stderr)
        return 1
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP), *SERVER_FLAGS, *args]
    if os.name == "posix":
        os.execv(sys.executable, cmd)                         # does not return
    return subprocess.call(cmd)                               # elsewhere: a child process


if __name__ == "__main__":
    sys.exit(main())
