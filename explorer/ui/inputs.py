"""The input a model reads: text for char models, a series/task for sequence models,
Gaussian noise for a bare foreign module. Returns the payload and a description."""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from explorer import InputError
from explorer.io.files import short
from explorer.io.inputs import data as D
from explorer.io.inputs.series import Scaler, read_array, read_table
from explorer.io.readers.scalers import read_scaler

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
    series: object = None             # a CSV's raw values (N, I) in the data's units, before scaling
    scaler: object = None             # how they were scaled (explorer.io.inputs.series.Scaler)
    columns: list[str] | None = None  # the CSV columns read, in order


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
    # A file's own vocabulary that knows none of the sample (item ids, another language): its own tokens instead.
    vocab = p.model.vocab
    own = vocab.sample() if hasattr(vocab, "sample") and len(vocab.encode(D.SAMPLES[sample])) == 0 else ""
    if own and st.session_state.get("text_area") == D.SAMPLES[sample]:
        st.session_state["text_area"] = own
    text = None
    if up is not None:
        try:
            text = D.read_text(up.getvalue(), max_chars=MAX_CHARS, name=short(up.name, 60))
            c2.caption(f"Reading the uploaded file {md_escape(short(up.name, 60))}: {len(text):,} characters. "
                       "The text box below is ignored while a file is uploaded.")
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
    words = getattr(vocab, "level", "char") == "word"
    if own and text == own:
        where.caption(md_escape(f"This model's vocabulary knows none of the sample's {'words' if words else 'characters'}, "
                                f"so the box holds {len(vocab.tokens(text))} of its own tokens; type your own."))
    unknown = vocab.unknown(text)
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
                     short(up.name, 60) if up is not None else sample, labels=labels)


def series_input(p: SelectedModel, where=st) -> UserInput | None:
    """Synthetic task samples, a CSV of any number of columns, or Gaussian noise, for models that read
    real values (our sequence models, foreign forecasters, a bare module)."""
    I = p.input_size
    choices = []
    if p.model is not None and p.model.__class__.__name__ == "SeqModel":
        choices += {2: ["adding problem"], 10: ["copy task"], 1: ["noisy sine"]}.get(I, [])
    choices += ["CSV upload", FEATURES, "random Gaussian input"]
    c1, c2 = where.columns([1, 2])
    # A forecaster reads its own data first; a bare module (no head) the synthetic choices or noise.
    first = "CSV upload" if p.task == "regressor" and p.opened.cfg is None else \
        FEATURES if p.task == "classifier" and p.opened.cfg is None else \
        next(c for c in choices if c not in ("CSV upload", FEATURES))
    state.keep_valid("series_src", choices, first)
    src = c1.selectbox("input", choices, key="series_src")
    if src == "CSV upload":
        return _csv_input(p, I, c1, c2)
    if src == FEATURES:
        return _array_input(p, I, c1, c2)
    state.start_at("series_T", 100 if src != "random Gaussian input" else 200, 10, 2000)
    T = c1.slider("sequence length T", 10, 2000, key="series_T")
    state.start_at("series_seed", 0, 0, 10_000)
    seed = c1.number_input("sample seed", 0, 10_000, key="series_seed")
    x, base, note = D.series_sample(src, T, I, seed, dtype=p.core.weight_ih_l0.dtype)
    if note:
        c2.caption(note)
    return UserInput(f"series:{src}:{T}:{seed}:" + digest(x.numpy().tobytes()), x, None, src, base)


FEATURES = "feature file (.npy, .npz)"
SCALINGS = {"none": "none", "min-max to [0, 1]": "min-max", "min-max to [−1, 1]": "min-max ±1", "standardise": "standardise"}
UPLOADED = "the uploaded scaler"
OWN_SCALER = "the checkpoint's own scaler"


def _csv_input(p: SelectedModel, I: int, c1, c2) -> UserInput | None:
    up = c2.file_uploader(f"CSV: the model reads {I} column{'s' if I > 1 else ''} per step (dates and text "
                          "columns label the time axis)", type=["csv", "txt", "tsv"], key="csv_upload")
    if up is None:
        c2.info(f"Upload a CSV with at least {I} numeric column{'s' if I > 1 else ''} (the series this model "
                "forecasts), or pick another input on the left.")
        return None
    table = _table(up.getvalue(), up.name)
    numeric = list(table.numeric)
    if len(numeric) < I:
        raise InputError(f"{short(up.name, 60)} has {len(numeric)} numeric column(s) ({', '.join(numeric)[:120]}); this model "
                         f"reads {I} per step.")
    state.keep_valid("csv_cols", numeric, numeric[:I])
    cols = c2.multiselect(f"columns the model reads, in order ({I})", numeric, key="csv_cols", max_selections=I,
                          help="The model's input features, in the order it was trained with.")
    if len(cols) != I:
        raise InputError(f"pick {I} column{'s' if I > 1 else ''} for the model's {I} input feature"
                         f"{'s' if I > 1 else ''} ({len(cols)} picked).")
    raw = table.features(cols, n=I)
    default = "standardise" if p.opened.cfg is not None else "min-max to [0, 1]"
    scaler, how, said = _scaling(p, raw, cols, c1, default)
    x = p.opened.series(raw, scale=scaler)
    labels = table.row_labels()
    c2.caption(md_escape(f"{short(up.name, 60)}: {table.rows:,} rows" + (f", steps labelled by {next(iter(table.labels))}"
                                                             if labels else "") + ". " + said))
    return UserInput(f"csv:{digest(up.getvalue())}:{cols}:{how}", x, None, short(up.name, 60), labels=labels, series=raw,
                     scaler=scaler, columns=list(cols))


def _scaling(p: SelectedModel, raw, cols, c1, default: str):
    """The scaler a series is read with: the checkpoint's own, or one fitted on it. (scaler, choice, sentence)."""
    own = p.opened.scaler
    up = c1.file_uploader("the scaler saved beside the model (joblib / pickle), if any", key="scaler_upload",
                          help="A scikit-learn MinMaxScaler or StandardScaler saved with joblib.dump or pickle.dump: "
                               "read without running anything, and the model reads the series as it was trained.")
    given = _uploaded_scaler(up.getvalue()) if up is not None else None
    options = ([UPLOADED] if given is not None else []) + ([OWN_SCALER] if own is not None else []) + list(SCALINGS)
    default = UPLOADED if given is not None else OWN_SCALER if own is not None else default
    state.keep_valid("csv_scale", options, default)
    if given is not None and st.session_state.get("_scaler_seen") != digest(up.getvalue()):
        st.session_state["_scaler_seen"], st.session_state["csv_scale"] = digest(up.getvalue()), UPLOADED
    how = c1.selectbox("scaling", options, key="csv_scale",
                       help="Fitted on this series (or the checkpoint's own fitted scaler, when it carries one).")
    scaler = given if how == UPLOADED else own if how == OWN_SCALER else Scaler.fit(raw, SCALINGS[how])
    scaler.check(raw.shape[1])
    said = scaler.describe(cols) + ("" if how != default or own is not None or given is not None
                                    else " (assumed: the file carries no scaler)")
    return scaler, how + (f":{digest(up.getvalue())}" if how == UPLOADED else ""), said


def _uploaded_scaler(data: bytes):
    cache = st.session_state.setdefault("scalers", {})
    key = digest(data)
    if key not in cache:
        cache.clear()
        cache[key] = read_scaler(data)
    return cache[key]


def _array_input(p: SelectedModel, I: int, c1, c2) -> UserInput | None:
    """A NumPy feature file (.npy / .npz), e.g. a speech model's MFCC frames: (T, I), read as saved."""
    up = c2.file_uploader(f"features: a .npy or .npz of (T, {I}) numbers, one row per step", type=["npy", "npz"],
                          key="array_upload")
    if up is None:
        c2.info(f"Upload the features this model reads ({I} per step, e.g. MFCC frames saved with numpy.save), or "
                "pick another input on the left.")
        return None
    raw, how_read = read_array(up.getvalue(), I, name=up.name)
    cols = [f"feature {k}" for k in range(I)]
    scaler, how, said = _scaling(p, raw, cols, c1, "none")
    c2.caption(md_escape(f"{short(up.name, 60)}: {how_read}. {said}"))
    return UserInput(f"npy:{digest(up.getvalue())}:{how}", p.opened.series(raw, scale=scaler), None, short(up.name, 60),
                     series=raw, scaler=scaler, columns=cols)


def _table(data: bytes, name: str):
    cache = st.session_state.setdefault("csv_tables", {})
    key = digest(data)
    if key not in cache:
        if len(cache) > 4:
            cache.clear()
        cache[key] = read_table(data, name=short(name, 60))
    return cache[key]


def user_input(p: SelectedModel, where=st) -> UserInput:
    return text_input(p, where) if p.is_char else series_input(p, where)
