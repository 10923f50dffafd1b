"""A foreign model's own vocabulary (TokenVocab), so the user's text goes through the model's own embedding.

    vocab = vocabularies.read_vocabulary(uploaded_bytes, rows=embedding.num_embeddings)   # every format
    vocab.tokens("To be or not") -> ["To", "be", "or", "not", "<eos>"]     (word level)
    vocab.encode(text) -> LongTensor (T,)        vocab.unknown(text) -> tokens it does not know

The level is "piece" for SentencePiece vocabularies, "char" when (almost) every token but specials like <unk> is
one character, else "word". Word-level text is tokenised as word_language_model's corpus is (whitespace, "<eos>"
after every line); corpus_vocabulary() rebuilds that model's Dictionary from a corpus.
"""
from __future__ import annotations

import unicodedata
from typing import Optional

import torch
from torch import Tensor

EOS, UNKS = "<eos>", ("<unk>", "<UNK>", "[UNK]", "<oov>", "<OOV>", "xxunk")     # <OOV>: Keras users; xxunk: fastai


def fold_accents(text: str) -> str:
    """PyTorch's name-classifier tutorial's unicodeToAscii without its filter: "Ślusàrski" -> "Slusarski"."""
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


class TokenVocab:
    """Tokens by id (itos) with their level; unknown tokens map to the vocabulary's own <unk> when
    it has one, else they are left out (unknown() names them first)."""

    def __init__(self, itos: list[str], level: Optional[str] = None, reverse: bool = False):
        self.itos = list(itos)
        self.how = ""                         # how the file was read ("fairseq's dict.txt …"), for people
        self.notes: list[str] = []            # what reading it dropped or approximated
        self.lower, self.filters = False, ""  # Keras' Tokenizer: text lower-cased, these characters removed first
        self.fold = False                     # accents folded away first (one-hot alphabets, as the tutorial does)
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
        if self.fold:
            text = fold_accents(text)
        if self.level == "char":
            out = list(text)
        elif self.level == "piece":
            out = self._pieces(text)
        else:
            if self.lower:
                text = text.lower()
            if self.filters:
                text = text.translate({ord(c): " " for c in self.filters if c != "\n"})
            eos = [EOS] if EOS in self.stoi else []
            out = [w for line in text.split("\n") if line.strip() for w in line.split() + eos]
        return out[::-1] if self.reverse else out

    def _pieces(self, text: str) -> list[str]:
        """SentencePiece-style pieces ("▁" marks a word's start) by longest match; a character no piece covers is
        one unknown token."""
        s = "▁" + "▁".join(text.split())
        longest = self.__dict__.setdefault("_longest", max((len(p) for p in self.itos), default=1))   # once
        out, k = [], 0
        while k < len(s):
            for n in range(min(longest, len(s) - k), 0, -1):
                if s[k:k + n] in self.stoi:
                    out.append(s[k:k + n])
                    k += n
                    break
            else:
                out.append(s[k])
                k += 1
        return out

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
