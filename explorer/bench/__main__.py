"""python -m explorer.bench [SECTION ...]: every benchmark, each printing ratios against a baseline
measured in the same run. The library's sections live in library.py, the browser's in page.py."""
from __future__ import annotations

import sys

import torch

from .library import SECTIONS, SLOW


def bench_app_long():
    """Upload 1M characters in the browser -> first chart, vs the stock forward (needs Chromium)."""
    from .page import bench_app_long as run
    run()


SECTIONS["app_long"] = bench_app_long
SLOW.add("app_long")


def bench_page():
    """The page's load and four interactions in Chromium, vs a bare Streamlit page (needs Chromium)."""
    from .page import bench_page as run
    run()


SECTIONS["page"] = bench_page
SLOW.add("page")

def bench_classroom():
    """N = 60 concurrent sessions (websocket protocol) per link vs a bare Streamlit page: server CPU per session."""
    from .classroom import bench_classroom as run
    n = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2].isdigit() else 60
    run(n)


SECTIONS["classroom"] = bench_classroom
SLOW.add("classroom")


def bench_workers():
    """The class through `gate-explorer serve` (nginx) with 1 worker and with 2: time, CPU and memory."""
    from .classroom import bench_workers as run
    n = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2].isdigit() else 60
    run(n)


SECTIONS["workers"] = bench_workers
SLOW.add("workers")

def bench_train():
    """A training History's cost: the same run with and without it (and read live), app defaults and largest."""
    from .train import bench_train as run
    run()


SECTIONS["train"] = bench_train
SLOW.add("train")

USAGE = """usage: python -m explorer.bench [SECTION ...]

Prints each section's cost as a ratio against a baseline measured in the same run.
With no SECTION, runs {default}. Sections:
{table}"""


def main(argv: list[str]) -> int:
    wanted = argv or [n for n in SECTIONS if n not in SLOW]
    wanted = [n for n in wanted if not n.isdigit()]          # "classroom 30": its N
    unknown = [n for n in wanted if n not in SECTIONS]
    if unknown or any(a in ("-h", "--help", "help") for a in argv):
        table = "\n".join(f"  {n:9} {(f.__doc__ or '').strip().splitlines()[0]}" for n, f in SECTIONS.items())
        print(USAGE.format(default=", ".join(n for n in SECTIONS if n not in SLOW), table=table))
        if unknown and not any(a in ("-h", "--help", "help") for a in argv):
            print(f"\nunknown section: {', '.join(unknown)}", file=sys.stderr)
            return 2
        return 0
    torch.set_num_threads(2)
    for name in wanted:
        SECTIONS[name]()
    return 0


sys.exit(main(sys.argv[1:]))
