"""A vocabulary upload in whatever format the library that trained the model wrote it, recognised by its content.

    vocab = read_vocabulary(uploaded_bytes, rows=embedding.num_embeddings)   # TokenVocab; vocab.how, vocab.notes

Formats (the content decides, never the name):
- a token list: a JSON list, or one token per line (id = position);
- {token: id} with any base and any number of tokens (Keras' word_index.json starts at 1 and holds every word seen,
  more than the num_words rows of the embedding): the rows the embedding has are used, an id without a token is
  named "<id k>" (Keras' 0 is padding), and the note says what was dropped;
- {id: token} (Keras' index_word, a JSON of numbered tokens);
- Keras' `Tokenizer.to_json()`: its word_index, cut at num_words, its oov_token as the unknown token;
- fairseq's `dict.txt` ("<token> <count>" lines): fairseq's four specials <s> <pad> </s> <unk> come first, and
  the "madeupword" rows a dictionary is padded with to a multiple of 8;
- fastai's `itos` pickle (a list of str), read with no class allowed, so nothing in it can run;
- a SentencePiece `.vocab` ("<piece>\\t<score>" lines): text is cut into the pieces by longest match, an
  approximation of SentencePiece's own segmentation, said in the note;
- a corpus (as word_language_model builds its Dictionary: words of every line, then <eos>).
"""
from __future__ import annotations

import io
import json
import pickle
import re
from typing import Optional

from explorer.errors import InputError

from .data import read_text
from .tokens import TokenVocab, corpus_vocabulary

FAIRSEQ_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]      # fairseq/data/dictionary.py: bos, pad, eos, unk first
_COUNT_LINE = re.compile(r"^(\S+) (\d+)(?: #fairseq:overwrite)?$")
_PIECE_LINE = re.compile(r"^([^\t]+)\t-?\d+(\.\d+)?(e-?\d+)?$")
MAX_BYTES = 50_000_000
KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'      # keras_preprocessing.text.Tokenizer's default filters


class _NoClasses(pickle.Unpickler):
    """A pickle of plain data only: any class or function it names is refused, so nothing can run."""

    def find_class(self, module, name):
        raise InputError(f"this vocabulary pickle names {module}.{name}; only a plain list or dict of tokens is read.")


def read_vocabulary(data: bytes, rows: int) -> TokenVocab:
    """A vocabulary upload for an embedding of `rows` rows (see the module docstring)."""
    if len(data) > MAX_BYTES:
        raise InputError(f"the vocabulary file is {len(data):,} bytes; the limit is {MAX_BYTES:,}.")
    if data[:1] == b"\x80":
        return _finish(_pickled(data), rows, "a pickled token list (fastai's itos)")
    text = read_text(data, max_chars=MAX_BYTES, name="the vocabulary file")
    stripped = text.strip()
    if stripped[:1] in "{[":
        got = _json(stripped, rows)
        if got is not None:
            return got
    lines = [x for x in text.split("\n")]
    if lines and lines[-1] == "":
        lines = lines[:-1]
    body = [x for x in lines if x.strip()]
    if body and all(_COUNT_LINE.match(x.strip()) for x in body):
        return _fairseq([_COUNT_LINE.match(x.strip())[1] for x in body], rows)
    if body and all(_PIECE_LINE.match(x) for x in body):
        pieces = [_PIECE_LINE.match(x)[1] for x in body]
        v = _finish(pieces, rows, "SentencePiece pieces", level="piece")
        v.notes.append("Text is cut into these pieces by longest match, an approximation of SentencePiece's own "
                       "segmentation; upload the text as the model's tokens if it must be exact.")
        return v
    if len(lines) == rows and all(len(x.split()) <= 1 for x in lines):
        return _finish([x.strip() if x.strip() else x for x in lines], rows, "one token per line")
    return _finish(corpus_vocabulary(text), rows, "a corpus (word_language_model's way: words, <eos> per line)")


def _pickled(data: bytes) -> list[str]:
    try:
        obj = _NoClasses(io.BytesIO(data)).load()
    except InputError:
        raise
    except Exception as e:          # a damaged pickle: one sentence
        raise InputError(f"this vocabulary pickle cannot be read ({type(e).__name__}); upload fastai's itos.pkl as "
                         "saved, or the tokens one per line.") from None
    if isinstance(obj, dict):
        obj = obj.get("itos", obj.get("vocab", obj))
    if isinstance(obj, list) and obj and all(isinstance(t, str) for t in obj):
        return obj
    raise InputError("this vocabulary pickle holds no list of tokens; upload fastai's itos.pkl or the tokens one per line.")


def _json(stripped: str, rows: int) -> Optional[TokenVocab]:
    try:
        obj = json.loads(stripped)
    except RecursionError:
        raise InputError("the JSON vocabulary nests lists or objects too deeply to be a vocabulary; upload a "
                         "{token: id} object, a token list or the corpus.") from None
    except ValueError:
        return None
    if isinstance(obj, list) and obj and all(isinstance(t, str) for t in obj):
        return _finish(obj, rows, "a JSON token list")
    if not isinstance(obj, dict) or not obj:
        return None
    if obj.get("class_name") == "Tokenizer" and isinstance(obj.get("config"), dict):
        return _keras_tokenizer(obj["config"], rows)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in obj.values()):
        v = _by_id({v: k for k, v in obj.items()}, rows, "a JSON {token: id}")
        plain = [k for k in obj if not (k[:1] in "<[" and k[-1:] in ">]")]           # not <OOV>, [UNK]
        if 0 not in obj.values() and not any(k != k.lower() for k in plain):     # Keras' word_index.json
            v.lower, v.filters = True, KERAS_FILTERS
            v.how = "Keras' word_index (ids from 1)"
            v.notes.append("Text is read as Keras' Tokenizer reads it: lower-cased, punctuation removed.")
        return v
    if all(isinstance(v, str) for v in obj.values()) and all(re.fullmatch(r"-?\d+", k) for k in obj):
        return _by_id({int(k): v for k, v in obj.items()}, rows, "a JSON {id: token}")
    return None


def _keras_tokenizer(config: dict, rows: int) -> TokenVocab:
    """Keras' Tokenizer.to_json(): config holds word_index as a JSON string; num_words cuts it (ids below it)."""
    wi = config.get("word_index")
    try:
        wi = json.loads(wi) if isinstance(wi, str) else wi
    except (ValueError, RecursionError):
        wi = None
    if not isinstance(wi, dict):
        raise InputError("this Keras Tokenizer JSON has no word_index; save it with tokenizer.to_json().")
    v = _by_id({i: w for w, i in wi.items() if isinstance(i, int)}, rows, "Keras' Tokenizer.to_json()")
    v.lower = bool(config.get("lower", True))
    v.filters = config.get("filters") if isinstance(config.get("filters"), str) else KERAS_FILTERS
    oov = config.get("oov_token")
    if isinstance(oov, str) and oov in v.stoi:
        v.unk = v.stoi[oov]
    return v


def _by_id(by_id: dict[int, str], rows: int, how: str) -> TokenVocab:
    """Tokens by id, any base: ids 0 … rows-1 are the embedding's rows; others are dropped and said."""
    if any(i < 0 for i in by_id):
        raise InputError("the JSON vocabulary has negative ids; ids number the embedding's rows from 0.")
    kept = {i: t for i, t in by_id.items() if i < rows}
    dropped = len(by_id) - len(kept)
    itos = [kept.get(i, f"<id {i}>") for i in range(rows)]
    empty = [i for i in range(rows) if i not in kept]
    v = _finish(itos, rows, how)
    if dropped:
        v.notes.append(f"{dropped:,} token(s) have ids beyond the embedding's {rows:,} rows and were dropped (Keras "
                       "keeps only the num_words most frequent); they read as unknown.")
    if empty:
        what = "row 0 (Keras' padding)" if empty == [0] else f"{len(empty):,} row(s), e.g. {empty[0]}"
        v.notes.append(f"No token has {what}; it is named <id k> and never read from text.")
    return v


def _fairseq(tokens: list[str], rows: int) -> TokenVocab:
    itos = FAIRSEQ_SPECIALS + tokens
    pad = rows - len(itos)
    if 0 < pad < 8 and rows % 8 == 0:                         # dictionary.pad_to_multiple_(8)
        itos += [f"madeupword{k:04d}" for k in range(pad)]
    v = _finish(itos, rows, "fairseq's dict.txt (with its specials <s> <pad> </s> <unk> first)")
    if pad > 0:
        v.notes.append(f"fairseq padded the dictionary with {pad} madeupword rows to a multiple of 8.")
    return v


def _finish(itos: list[str], rows: int, how: str, level: Optional[str] = None) -> TokenVocab:
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
    v = TokenVocab(itos, level)
    v.how = how
    return v
