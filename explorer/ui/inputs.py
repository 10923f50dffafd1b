"""The input a model reads: text for char models, a series/task for sequence models,
Gaussian noise for a bare foreign module. Returns the payload and a description."""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from explorer import InputError
from explorer.io import data as D

from . import state
from .state import MAX_CHARS, SelectedModel, digest, md_escape

DEFAULT_SAMPLE = "prose"


@dataclass
class UserInput:
    key: str                 # digest of what was read: part of every cache key
    payload: object          # ids (N,) LongTensor, or series (N, I) float tensor
    text: str | None         # the characters, one per step (char models), else None
    label: str
    baseline: float | None = None
    labels: list[str] | None = None   # what each step reads, for the time axis (characters or words)


def text_input(p: SelectedModel, where=st) -> UserInput:
    """Text area with a default passage, sample texts, or an upload (.txt) up to MAX_CHARS."""
    c1, c2 = where.columns([1, 2])
    sample = c1.selectbox("sample text", list(D.SAMPLES), key="sample", bind="query-params",
                          help="Prose, Python code and nested brackets show different units at work.")
    up = c1.file_uploader(f"or upload a .txt (up to {MAX_CHARS:,} characters)", type=["txt"], key="text_upload")
    shared = st.query_params.get("text")
    if "_sample_shown" not in st.session_state and shared:      # a shared link carries its own text
        st.session_state["text_area"] = shared
        st.session_state["_sample_shown"] = sample
    if st.session_state.get("_sample_shown") != sample:          # a new sample replaces the text area
        st.session_state["text_area"] = D.SAMPLES[sample]
        st.session_state["_sample_shown"] = sample
    text = None
    if up is not None:
        try:
            text = D.read_text(up.getvalue(), max_chars=MAX_CHARS, name=up.name)
            c2.caption(f"Reading the uploaded file {md_escape(up.name)}: {len(text):,} characters. The text box below is ignored "
                       "while a file is uploaded.")
        except InputError as e:
            c2.error(md_escape(str(e)))
    typed = c2.text_area("text", key="text_area", height=160, max_chars=200_000,
                         help="Type or paste anything; the model reads it character by character.")
    if text is None:
        if not typed.strip():
            raise InputError("the text is empty; type something or pick a sample text.")
        text = typed.replace("\r\n", "\n")
        # A typed text travels in the link when it is short and not simply the sample.
        if text != D.SAMPLES[sample] and len(text) <= 2000:
            st.query_params["text"] = text
        elif "text" in st.query_params:
            del st.query_params["text"]
    vocab = p.model.vocab
    unknown = vocab.unknown(text)
    words = getattr(vocab, "level", "char") == "word"
    if unknown:
        what = "word(s)" if words else "character(s)"
        fate = ("read as the unknown symbol" if getattr(vocab, "unk", 0) is not None else "left out (the vocabulary has no <unk>)")
        where.warning(f"{len(unknown)} {what} are not in this model's vocabulary and are {fate}: "
                      f"{md_escape(D.describe_chars(unknown))}.")
    ids = vocab.encode(text)
    if len(ids) == 0:
        raise InputError("none of the text's tokens is in this model's vocabulary; check the vocabulary file.")
    labels = vocab.known(text) if hasattr(vocab, "known") else list(text)
    per_char = not words and len(labels) == len(text)
    return UserInput("text:" + digest(text) + ":" + str(len(ids)), ids, text if per_char else None,
                     up.name if up is not None else sample, labels=labels)


def series_input(p: SelectedModel, where=st) -> UserInput:
    """Synthetic task samples or a CSV for sequence models; Gaussian noise for foreign modules."""
    I = p.core.input_size if p.model is None else p.model.cfg.input_size
    choices = []
    if I == 2:
        choices.append("adding problem")
    if I == 10:
        choices.append("copy task")
    if I == 1:
        choices += ["noisy sine", "CSV upload"]
    choices.append("random Gaussian input")
    c1, c2 = where.columns([1, 2])
    src = c1.selectbox("input", choices, key="series_src")
    state.start_at("series_T", 100 if src != "random Gaussian input" else 200, 10, 2000)
    T = c1.slider("sequence length T", 10, 2000, key="series_T")
    state.start_at("series_seed", 0, 0, 10_000)
    seed = c1.number_input("sample seed", 0, 10_000, key="series_seed")
    values = None
    if src == "CSV upload":
        up = c2.file_uploader("CSV with a numeric column", type=["csv"], key="csv_upload")
        if up is None:
            raise InputError("upload a CSV file with a numeric column to read it.")
        names_key = "csv_col"
        values, names, col = D.read_series(up.getvalue(), st.session_state.get(names_key))
        c2.selectbox("column", names, key=names_key)
    x, base, note = D.series_sample(src, T, I, seed, values=values, dtype=p.core.weight_ih_l0.dtype)
    if note:
        c2.caption(note)
    return UserInput(f"series:{src}:{T}:{seed}:" + digest(x.numpy().tobytes()), x, None, src, base)


def user_input(p: SelectedModel, where=st) -> UserInput:
    return text_input(p, where) if p.is_char else series_input(p, where)
