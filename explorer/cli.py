"""`gate-explorer` (and `python -m explorer`): start the app. Every argument goes on to
`streamlit run`, e.g. `gate-explorer --server.port 8600`; `--version` prints the version."""
from __future__ import annotations

import sys
from pathlib import Path

from ._version import __version__

APP = Path(__file__).resolve().parent / "ui" / "streamlit_app.py"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] in (["--version"], ["-V"]):
        print(f"gate-explorer {__version__}")
        return 0
    try:
        from streamlit.web import cli as streamlit_cli
    except ImportError:
        print("gate-explorer needs the app's dependencies: pip install \"gate-explorer[app]\"", file=sys.stderr)
        return 1
    sys.argv = ["streamlit", "run", str(APP), *args]
    return streamlit_cli.main()


if __name__ == "__main__":
    sys.exit(main())
