"""One-hot letters: models that read text without an embedding, one input unit per letter of an alphabet.

PyTorch's tutorial "NLP From Scratch: Classifying Names with a Character-Level RNN" feeds each letter of a name as a
one-hot vector over `string.ascii_letters + " .,;'"` (57 letters; its 2024 version adds "_" for any other
character, 58) after folding accents away (unicodeToAscii: "Ślusàrski" -> "Slusarski").

    vocab = one_hot_vocab(alphabet)          # a char TokenVocab over the alphabet's letters
    emb = one_hot(len(alphabet), dtype)      # nn.Embedding whose rows are the one-hot vectors (identity weight)
    emb(vocab.encode("Satoshi"))             # (7, 57): exactly the tutorial's lineToTensor(...)[:, 0]
"""
from __future__ import annotations

import string

import torch
from torch import nn

from explorer.errors import InputError

from .tokens import TokenVocab

TUTORIAL = string.ascii_letters + " .,;'"
ALPHABETS = {
    "PyTorch's name-classifier tutorial: ascii_letters + \" .,;'\" (57)": TUTORIAL,
    "the same, 2024 version: + \"_\" for any other character (58)": TUTORIAL + "_",
    "lower-case letters and space (27)": string.ascii_lowercase + " ",
    "letters (52)": string.ascii_letters,
}


def alphabets_for(size: int) -> dict[str, str]:
    """The known alphabets with `size` letters (the model's input size)."""
    return {name: a for name, a in ALPHABETS.items() if len(a) == size}


def one_hot_vocab(alphabet: str) -> TokenVocab:
    """A char vocabulary over the alphabet; "_" reads any other character where the alphabet has it (the 2024
    tutorial), else other characters are left out; accents are folded away first."""
    if not alphabet or len(set(alphabet)) != len(alphabet):
        raise InputError("the alphabet must list each letter once; e.g. abcdefghijklmnopqrstuvwxyz.")
    v = TokenVocab(list(alphabet), level="char")
    v.unk = alphabet.index("_") if "_" in alphabet else None
    v.fold = True
    v.how = f"one-hot letters over a {len(alphabet)}-letter alphabet"
    return v


def one_hot(size: int, dtype=torch.float32) -> nn.Embedding:
    """The one-hot encoding as an embedding: row k is the k-th unit vector, so emb(ids) == one_hot(ids)."""
    emb = nn.Embedding(size, size, dtype=dtype)
    with torch.no_grad():
        emb.weight.copy_(torch.eye(size, dtype=dtype))
    emb.source_key = "one-hot letters"
    return emb.eval()
