"""The sidebar's checkpoint upload: our own models, or any foreign file (explorer.io.readers.foreign), with what
the file recorded, what had to be assumed (and a picker to change it), and a vocabulary upload that
lets the user's text through the model's own embedding."""
from __future__ import annotations

import dataclasses

import streamlit as st

from explorer import InputError
from explorer.core.kinds import KINDS
from explorer.io.files import short
from explorer.io.inputs import alphabets
from explorer.io.inputs.data import read_text
from explorer.io.models.checkpoints import load_model
from explorer.io.models.opened import opened_from, vocabulary
from explorer.io.readers.foreign import read_foreign

from . import state
from .state import SelectedModel, md_escape

# Every name a model file goes by; the content decides how it is read (or what it is, if it cannot be).
EXTENSIONS = ["pt", "pth", "bin", "ckpt", "tar", "safetensors", "pt2", "h5", "keras", "onnx", "pkl"]
UPLOAD_HELP = ("Ours (with config and vocab), or what your project saved: a state_dict, a whole model "
               "(torch.save(model)), a Lightning .ckpt, a training dict, a TorchScript archive, safetensors, "
               "a Keras .keras/.h5 or an ONNX model. "
               "The content decides how it is read, not the name. Nothing in the file is imported or run: "
               "only tensors and plain settings are read, and files that reach for code are refused.")
VOCAB_HELP = ("fairseq's dict.txt, Keras' word_index.json or Tokenizer JSON, fastai's itos.pkl, a SentencePiece "
              ".vocab, a JSON {token: id}, {id: token} or list, one token per line, or the training corpus itself (the vocabulary is "
              "rebuilt the way PyTorch's word_language_model example builds it: words split on whitespace, <eos> "
              "after every line, ids in order of first appearance).")


def _read(name: str, data: bytes) -> dict:
    """{"ours": SelectedModel} for our format, else {"foreign": Foreign}; cached per session and file."""
    key = "upload:" + state.digest(data)
    cache = st.session_state.setdefault("uploads", {})
    if key not in cache:
        try:
            model, card = load_model(data)
            cache[key] = {"ours": SelectedModel(key, short(name, 60), model.core, model, card)}
        except InputError:                                   # not ours: a foreign checkpoint
            try:
                cache[key] = {"foreign": read_foreign(data), "key": key}
            except InputError as e:
                raise InputError(f"{short(name, 60)} could not be loaded: {e}") from None
    return cache[key]


def upload() -> SelectedModel | None:
    sb = st.sidebar
    f = sb.file_uploader("checkpoint (.pt .pth .bin .ckpt .tar .safetensors …)", type=EXTENSIONS, key="ckpt_upload",
                         help=UPLOAD_HELP)
    if f is None:
        sb.caption("Upload a checkpoint to explore it.")
        return None
    got = _read(f.name, f.getvalue())
    if "ours" in got:
        return got["ours"]
    found, key = got["foreign"], got["key"]
    for note in found.notes:
        sb.info(md_escape(note))
    prefixes = list(found.modules)
    pre = sb.selectbox("recurrent module in this checkpoint", prefixes, key="ckpt_module",
                       format_func=lambda p: p or "(top level)") if len(prefixes) > 1 else prefixes[0]
    fm = found.modules[pre]
    settings = {}
    kind = KINDS[fm.kind]
    if kind.has_nonlinearity:
        now = fm.module.nonlinearity
        if "nonlinearity" in fm.assumed:
            sb.caption(f"nonlinearity: {now} (assumed; nothing in the file records it)")
        else:
            sb.caption(f"nonlinearity: {now} (recorded in the file)")
        state.keep_valid("ck_nonlin_rnn", ["tanh", "relu"], now)
        pick = sb.selectbox("nonlinearity", ["tanh", "relu"], key="ck_nonlin_rnn",
                            help="A vanilla RNN's tanh or relu is not in its weights: pick what your model used.")
        if pick != now:
            settings["nonlinearity"] = pick
    if "batch_first" in fm.assumed:
        sb.caption("batch_first: False (assumed; it only matters when you feed the module yourself: the app always "
                   "passes inputs in the module's own layout)")
    m = _opened(key, found, pre, settings, None)            # the task as the file says or as inferred
    alphabet = _alphabet_picker(m) if m.embedding is None else None
    if alphabet:
        m = _opened(key, found, pre, settings, None, alphabet)
    task = _task_picker(m, f"{key}:{pre}:{alphabet}")
    if task != m.task:
        m = _opened(key, found, pre, settings, task, alphabet)
    if m.readings:
        reading = _reading_picker(m)
        if reading != m.reading:
            m = _opened(key, found, pre, settings, task, alphabet, reading)
    for note in m.notes[len(found.notes):]:
        sb.info(md_escape(note))
    nonlin = m.core.nonlinearity if kind.has_nonlinearity else ""
    label = f"{short(f.name, 60)} · {pre or 'top level'}" + (f" · {nonlin}" if nonlin else "")
    pkey = f"{key}:{pre}:{nonlin}:{m.task}" + (f":{m.reading}" if m.readings else "")
    if m.task == "classifier" and m.head is not None and m.head.out_features > 1:
        m, pkey = _class_names(m, pkey)
    emb, head = m.embedding, m.head
    if emb is None:
        return SelectedModel(pkey, label, m.core, m)
    if alphabet:                                            # one-hot letters: the alphabet is the vocabulary
        sb.caption(f"It reads one-hot letters of a {len(alphabet)}-letter alphabet (accents folded away, as the "
                   "tutorial's unicodeToAscii does); type a word or a name.")
        return SelectedModel(f"{pkey}:alphabet:{state.digest(alphabet.encode())}", label, m.core, m,
                             {"note": "one-hot letters"})
    own = m.recorded.get("vocabulary")                      # the vocabulary the file carries (Flair, fastai …)
    sb.caption(f"This file has an embedding ({emb.num_embeddings:,} × {emb.embedding_dim}, "
               f"'{md_escape(emb.source_key)}')" + (f" and a head ('{md_escape(head.source_key)}', "
                                                     f"{head.out_features:,} outputs)" if head is not None else "")
               + (f"; its own vocabulary, {md_escape(own)}, is used." if own else
                  ": upload its vocabulary to read your own text through them."))
    vfs = sb.file_uploader("another vocabulary (tokens, or the training corpus: several files in order)" if own else
                           "vocabulary (tokens, or the training corpus: several files in order)",
                           type=["txt", "json", "vocab", "tokens", "pkl"], key="ckpt_vocab", help=VOCAB_HELP,
                           accept_multiple_files=True)
    if not vfs and own:
        return SelectedModel(f"{pkey}:own-vocab", label, m.core, m, {"note": f"its own vocabulary ({own})"})
    if not vfs:
        sb.caption("Without a vocabulary the recurrent core reads synthetic inputs.")
        return SelectedModel(pkey, label, m.core, m)
    vocab = vocabulary([v.getvalue() for v in vfs], emb.num_embeddings)
    unit = {"char": "characters", "piece": "pieces"}.get(vocab.level, "words")
    sb.caption(f"vocabulary: {len(vocab):,} {unit}" + (f" from {len(vfs)} files" if len(vfs) > 1 else "")
               + (f", read as {md_escape(vocab.how)}" if getattr(vocab, "how", "") else ""))
    for note in getattr(vocab, "notes", []):
        sb.info(md_escape(note))
    mv = dataclasses.replace(m, vocab=vocab)
    digest = state.digest(b"".join(v.getvalue() for v in vfs))
    return SelectedModel(f"{pkey}:vocab:{digest}", label, mv.core, mv,
                         {"note": "your vocabulary through the file's own embedding"})


TASK_HELP = ("What the model is for decides what its head says: a language model predicts the next token, a "
             "classifier a class after reading, a regressor (forecaster) a value, an encoder hands its states on.")


def _task_picker(m, key: str) -> str:
    sb = st.sidebar
    how = "recorded in the file" if "task" in m.recorded else ("set by you" if m.why == "set by you"
                                                                 else f"assumed: {m.why}")
    sb.caption(f"task: **{m.task}** ({md_escape(how)})")
    if st.session_state.get("ck_task_for") != key:           # another file, module or alphabet: its own task first
        st.session_state["ck_task_for"] = key
        st.session_state.pop("ck_task", None)
    state.keep_valid("ck_task", m.possible, m.task)
    return sb.selectbox("task", m.possible, key="ck_task", help=TASK_HELP)


def _opened(key: str, found, pre: str, settings: dict, task, alphabet=None, reading=None):
    cache = st.session_state.setdefault("uploads", {})
    k = f"opened:{key}:{pre}:{sorted(settings.items())}:{task}:{alphabet}:{reading}"
    if k not in cache:
        cache[k] = opened_from(found, pre, settings, task, alphabet=alphabet, reading=reading)
    return cache[k]


NUMBERS, OWN = "numbers (a series or features)", "letters of my own alphabet…"
ALPHABET_HELP = ("A model without an embedding reads numbers per step. If those are one-hot letters (PyTorch's "
                 "name-classifier tutorial reads 57: ascii_letters + \" .,;'\"), pick the alphabet, in the order the "
                 "model was trained with, and type text instead.")
READING_HELP = ("A bidirectional classifier's head reads features that exist once the whole text is read. Tutorials "
                "build them differently (the final states forward then backward, or backward then forward as "
                "pytorch-sentiment-analysis does since 2023; the last step; pooling) and a file of weights cannot "
                "tell which: pick what your model's forward does.")


def _alphabet_picker(m) -> str | None:
    """For a model without an embedding: read numbers, or one-hot letters of an alphabet (picked or typed)."""
    sb = st.sidebar
    options = [NUMBERS] + list(alphabets.alphabets_for(m.core.input_size)) + [OWN]
    state.keep_valid("ck_alphabet", options, NUMBERS)
    pick = sb.selectbox("what it reads per step", options, key="ck_alphabet", help=ALPHABET_HELP)
    if pick == NUMBERS:
        if len(options) > 2:
            sb.caption(f"It reads {m.core.input_size} numbers per step, as many as the letters of "
                       f"{md_escape(options[1].split(':')[0])}: if they are one-hot letters, pick that alphabet above.")
        return None
    if pick == OWN:
        typed = sb.text_input(f"the alphabet: {m.core.input_size} letters in the model's order", key="ck_alphabet_own",
                              max_chars=4096)
        f = sb.file_uploader("or a file of them (.txt: the letters in order, newlines ignored)", type=["txt"],
                             key="ck_alphabet_file")
        if f is not None:
            typed = read_text(f.getvalue(), max_chars=4096, name=short(f.name, 60)).replace("\n", "")
        return typed or None
    return alphabets.ALPHABETS[pick]


def _class_names(m, pkey: str):
    """The classes' names, typed (a file of weights does not keep them): the model with them, and its key."""
    k = m.head.out_features
    typed = st.sidebar.text_input(f"class names ({k}, comma-separated, in the head's order)", key="ck_classes",
                                  max_chars=8000, help="e.g. the name-classifier tutorial's languages: Arabic, Chinese, "
                                                       "Czech, … in the order of its data files.")
    names = [s.strip() for s in typed.split(",")] if typed.strip() else []
    if names and len(names) != k:
        st.sidebar.caption(f"{len(names)} names for {k} classes: the classes are numbered instead.")
        return m, pkey
    if not names:
        return m, pkey
    return dataclasses.replace(m, classes=names), f"{pkey}:classes:{state.digest(typed.encode())}"


def _reading_picker(m) -> str | None:
    sb = st.sidebar
    state.keep_valid("ck_reading", m.readings, m.reading)
    pick = sb.selectbox("how its head reads the whole input", m.readings, key="ck_reading", help=READING_HELP)
    if "reads" in m.assumed and pick == m.reading:
        sb.caption(f"reads: {md_escape(pick)} (assumed: the file cannot tell; pick what your model's forward does)")
    return pick

