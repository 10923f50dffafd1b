"""A foreign model's own vocabulary, so the user's text goes through the user's own embedding.

    vocab = read_vocabulary(uploaded_bytes, rows=embedding.num_embeddings)
    vocab.tokens("To be or not") -> ["To", "be", "or", "not", "<eos>"]     (word level)
    vocab.encode(text) -> LongTensor (T,)        vocab.unknown(text) -> tokens it does not know

What can be uploaded (the content decides):
- a JSON object {token: id} or a JSON list of tokens (id = position);
- a token list, one per line (id = line number);
- the training corpus itself: the vocabulary is rebuilt the way pytorch/examples'
  word_language_model (data.py) builds it: each line split on whitespace, "<eos>" appended,
  ids in order of first appearance.
The level is "char" when (almost) every token but specials like <unk> is one character, else "word". Word-level text is
tokenised the same way as the corpus (whitespace, "<eos>" after every line).
"""
from __future__ import annotations

import json
from typing import Optional

import torch
from torch import Tensor

from explorer.errors import InputError

from .data import read_text

EOS, UNKS = "<eos>", ("<unk>", "<UNK>", "[UNK]", "<oov>", "xxunk")     # xxunk: fastai's


class TokenVocab:
    """Tokens by id (itos) with their level; unknown tokens map to the vocabulary's own <unk> when
    it has one, else they are left out (unknown() names them first)."""

    def __init__(self, itos: list[str], level: Optional[str] = None, reverse: bool = False):
        self.itos = list(itos)
        self.reverse = reverse                # a backward language model reads the text from its end (Flair)
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        plain = [t for t in self.itos if not (t[:1] in "<[" and t[-1:] in ">]" and len(t) > 2)]   # not <unk>, [PAD]
        singles = sum(len(t) == 1 for t in plain)
        self.level = level or ("char" if plain and singles >= 0.9 * len(plain) else "word")
        self.unk = next((self.stoi[u] for u in UNKS if u in self.stoi), None)

    def __len__(self) -> int:
        return len(self.itos)

    def tokens(self, text: str) -> list[str]:
        """The text cut into this vocabulary's tokens (before mapping to ids)."""
        if self.level == "char":
            out = list(text)
        else:
            eos = [EOS] if EOS in self.stoi else []
            out = [w for line in text.split("\n") if line.strip() for w in line.split() + eos]
        return out[::-1] if self.reverse else out

    def known(self, text: str) -> list[str]:
        """The tokens that will be read: unknown ones become <unk> or are left out."""
        unk = self.itos[self.unk] if self.unk is not None else None
        return [t if t in self.stoi else unk for t in self.tokens(text) if t in self.stoi or unk is not None]

    def encode(self, text: str) -> Tensor:
        return torch.tensor([self.stoi[t] for t in self.known(text)], dtype=torch.long)

    def decode(self, ids) -> str:
        ids = ids.tolist() if isinstance(ids, Tensor) else ids
        sep = "" if self.level == "char" else " "
        return sep.join(self.itos[i] if 0 <= i < len(self.itos) else "?" for i in ids)

    def sample(self, n: int = 24) -> str:
        """A text made of the vocabulary's own first n ordinary tokens (no <unk>, [PAD] or fastai's xx… markers),
        for a model whose vocabulary knows none of a sample text's words (item ids, another language)."""
        special = lambda s: (s[:1] in "<[" and s[-1:] in ">]" and len(s) > 2) or (s.startswith("xx") and "xxunk" in self.stoi)
        plain = [s for s in self.itos if s.strip() and not special(s)][:n]
        out = "".join(plain) if self.level == "char" else " ".join(plain)
        return out[::-1] if self.reverse else out

    def unknown(self, text: str) -> list[str]:
        """Tokens of the text outside the vocabulary, in order of first appearance."""
        return [t for t in dict.fromkeys(self.tokens(text)) if t not in self.stoi]


def corpus_vocabulary(text: str) -> list[str]:
    """word_language_model's Dictionary over a corpus: words of every line, then "<eos>", first seen first."""
    seen: dict[str, None] = {}
    for line in text.split("\n"):
        for w in line.split() + [EOS]:
            seen.setdefault(w)
    return list(seen)


def read_vocabulary(data: bytes, rows: int) -> TokenVocab:
    """A vocabulary upload for an embedding of `rows` rows (see the module docstring)."""
    text = read_text(data, max_chars=50_000_000, name="the vocabulary file")
    stripped = text.strip()
    itos = None
    if stripped[:1] in "{[":
        try:
            obj = json.loads(stripped)
        except RecursionError:
            raise InputError("the JSON vocabulary nests lists or objects too deeply to be a vocabulary; upload a "
                             "{token: id} object, a token list or the corpus.") from None
        except ValueError:
            obj = None
        if isinstance(obj, dict) and all(isinstance(v, int) for v in obj.values()):
            if sorted(obj.values()) != list(range(len(obj))):
                raise InputError("the JSON vocabulary's ids must be 0, 1, 2, … without gaps; check the file.")
            itos = [t for t, _ in sorted(obj.items(), key=lambda kv: kv[1])]
        elif isinstance(obj, list) and all(isinstance(t, str) for t in obj):
            itos = obj
    if itos is None:
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines = lines[:-1]
        one_per_line = len(lines) == rows and all(len(x.split()) <= 1 for x in lines)
        itos = [x.strip() if x.strip() else x for x in lines] if one_per_line else corpus_vocabulary(text)
        how = "one token per line" if one_per_line else "a corpus (word_language_model's way: words, <eos> per line)"
    else:
        how = "JSON"
    if len(itos) != rows:
        if how.startswith("a corpus") and len(itos) < rows:
            hint = ("a model trained like word_language_model builds its dictionary from train.txt, valid.txt and "
                    "test.txt together: upload all three, in that order")
        elif 0 < rows - len(itos) <= 4:
            hint = (f"the model has {rows - len(itos)} more row(s): special tokens such as <unk>, <pad>, <sos>, <eos> "
                    "that your list leaves out, probably first")
        else:
            hint = "upload the token list or the corpus the model was trained with"
        raise InputError(f"the vocabulary has {len(itos):,} tokens (read as {how}) but the model's embedding has "
                         f"{rows:,} rows; {hint}.")
    if len(set(itos)) != len(itos):
        raise InputError("the vocabulary lists some token twice; each id needs its own token.")
    return TokenVocab(itos)
