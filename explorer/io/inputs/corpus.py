"""The corpus that ships with the package: Tiny Shakespeare (Karpathy's char-rnn collection, 1,115,394
characters of public-domain Shakespeare), gzipped once inside the package (434 KB).

    text = tiny_shakespeare()          # str; read once per process, then shared (a str is immutable)

The Train tab's default task, `python -m explorer.training --task char` without --text, and the
pretrained recipes (pretrained/train_all.sh) all read it from here: nothing refers to a folder outside
the package.
"""
from __future__ import annotations

import functools
import gzip
import os

NAME = "Tiny Shakespeare"
ABOUT = "Tiny Shakespeare (1,115,394 characters, public domain)"
PATH = os.path.join(os.path.dirname(__file__), "tinyshakespeare.txt.gz")
CHARS = 1_115_394


@functools.lru_cache(maxsize=1)
def tiny_shakespeare() -> str:
    """The whole corpus as one string (1,115,394 characters, 65 distinct)."""
    with gzip.open(PATH, "rb") as f:
        return f.read().decode("utf-8")
