"""A model as it is used: its recurrent core, what it reads, and what its head says after every step.

    m = explorer.open_model("sentiment.pt", vocab="vocab.json")
    m.task, m.assumed                 # "classifier", {"task": "classifier", "reads": "the last step", …}
    x = m.inputs("a gripping, moving film")     # what m.core reads, (T, E), through the model's embedding
    p = m.readout(x)                  # (T, 1, K) class probabilities as it reads (unidirectional)
    tr = explorer.trace(m.core, x)

What each task's readout is, and why it equals the model's own forward:
- language model: softmax(head(output_t)) at every step (the next-token distribution);
- classifier: the head applied to the last layer's h_t at each step: what the model would say if the
  text ended there (at the last step this is exactly its verdict). Probabilities: softmax over K > 1
  classes, sigmoid for one logit (a LogSoftmax or Sigmoid after the head in a whole pickle is read with it).
  A bidirectional classifier reads features that exist only once the whole input is read (both
  directions' final states in either order, the last step, pooling: `reading`, heads.py): one verdict, (1, B, K);
- regressor: head(output_t) at every step: the forecast after reading up to t (bidirectional: the
  last step's output only, (1, B, K));
- encoder: None; there is no head to read.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import torch
from torch import Tensor, nn

from explorer.errors import InputError

from ..files import read_bytes
from ..inputs import alphabets
from ..inputs.data import Vocab
from ..inputs.series import Scaler, Table, finite, read_table
from ..inputs.tokens import TokenVocab
from ..inputs.vocabularies import read_vocabulary
from ..readers.foreign import FoundModule, read_foreign, with_settings
from . import heads, tasks
from .checkpoints import load_model
from .ours import CharModel, SeqModel


@dataclass
class OpenedModel:
    """One recurrent module of a file, with its own pieces and its task (see the module docstring)."""
    core: nn.RNNBase
    cores: dict[str, nn.RNNBase]
    prefix: str
    task: str
    embedding: Optional[nn.Module] = None           # nn.Embedding (tokens) or nn.Linear (our SeqModel's projection)
    head: Optional[nn.Linear] = None
    vocab: Any = None                               # Vocab / TokenVocab, or None
    scaler: Optional[Scaler] = None                 # the checkpoint's own, if it carries one
    assumed: dict = field(default_factory=dict)
    recorded: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    why: str = ""                                   # how the task was read, a clause for people
    cfg: Any = None                                 # our ModelConfig, when the file is ours
    card: dict = field(default_factory=dict)
    possible: list = field(default_factory=lambda: list(tasks.TASKS))   # tasks this file's pieces allow
    reading: str = heads.DEFAULT_READING            # how a bidirectional classifier's head reads (heads.READINGS)
    activation: Optional[str] = None                # the module after the head in a whole pickle (LogSoftmax, Sigmoid)
    classes: Optional[list] = None                  # the classes' names, when given (a file of weights has none)

    # ---- what the model reads ------------------------------------------------------------------
    @property
    def reads_tokens(self) -> bool:
        return isinstance(self.embedding, nn.Embedding)

    @property
    def input_size(self) -> int:
        """Features per step of the data the model reads (before its projection, for ours)."""
        if isinstance(self.embedding, nn.Linear):
            return self.embedding.in_features
        return self.core.input_size

    @property
    def final_only(self) -> bool:
        """Whether the head speaks once, after the whole input (a bidirectional classifier or regressor, or a head
        reading pooled features, fastai's [last, max, mean])."""
        pooled = self.head is not None and self.head.in_features == 3 * self.width
        if self.task == "classifier":
            return self.reading != heads.PER_STEP and (self.core.bidirectional or pooled)
        return self.core.bidirectional and self.task == "regressor"

    @property
    def width(self) -> int:
        """Features of the last layer's output per step: directions × (proj_size or hidden_size)."""
        return (2 if self.core.bidirectional else 1) * (self.core.proj_size or self.core.hidden_size)

    @property
    def readings(self) -> list[str]:
        """How this head could read the outputs (heads.READINGS), when it speaks once; [] otherwise."""
        pooled = self.head is not None and self.head.in_features == 3 * self.width
        if self.head is None or self.task != "classifier" or not (self.core.bidirectional or pooled):
            return []
        return heads.readings_for(self.head.in_features, self.width)

    def _dtype(self) -> torch.dtype:
        return self.core.weight_ih_l0.dtype

    def inputs(self, data, *, scale=None, columns: Optional[Sequence[str]] = None) -> Tensor:
        """What m.core reads for `data`, unbatched in its own layout, (T, input_size):
        text (str) through the vocabulary and embedding; a series (T, F) tensor/array, a Table or CSV
        bytes (with `columns`) scaled by `scale` ("none" | "min-max" | "standardise" | a Scaler;
        default: the checkpoint's scaler, else none)."""
        if isinstance(data, str):
            if not self.reads_tokens:
                raise InputError("this model reads real values, not text; give it a (T, features) series or a CSV.")
            if self.vocab is None:
                raise InputError("this model reads tokens through its own embedding: give its vocabulary "
                                 "(vocab= a JSON {token: id}, a token list or the training corpus).")
            ids = self.vocab.encode(data)
            if len(ids) == 0:
                raise InputError("none of the text's tokens is in this model's vocabulary; check the vocabulary.")
            with torch.no_grad():
                return self.embedding(ids.to(self.embedding.weight.device))
        x = self.series(data, scale=scale, columns=columns)
        return self.embed(x)

    def series(self, data, *, scale=None, columns: Optional[Sequence[str]] = None) -> Tensor:
        """A series as the model's data, scaled, in the core's dtype: (T, input_size)."""
        if self.reads_tokens:
            raise InputError("this model reads tokens through its embedding; give it text, not a series.")
        if isinstance(data, (bytes, bytearray)):
            data = read_table(bytes(data))
        if isinstance(data, Table):
            data = data.features(columns, n=self.input_size)
        x = torch.as_tensor(data, dtype=torch.float64)
        if x.dim() == 1:
            x = x[:, None]
        if x.dim() != 2 or x.shape[1] != self.input_size:
            raise InputError(f"the model reads {self.input_size} feature(s) per step; the series is shaped "
                             f"{tuple(x.shape)}, give (T, {self.input_size}).")
        scaler = self.scaler_for(x, scale)
        return finite(scaler.transform(x), self._dtype())

    def scaler_for(self, x: Tensor, scale=None) -> Scaler:
        if isinstance(scale, Scaler):
            sc = scale
        elif scale is None and self.scaler is not None:
            sc = self.scaler
        else:
            sc = Scaler.fit(x, scale or "none")
        sc.check(x.shape[1])
        return sc

    def embed(self, x) -> Tensor:
        """The core's input for data already in the model's terms: token ids' or a scaled series'. For a
        model that reads tokens, real values (T, input_size) are taken as the core's own input (synthetic
        input when there is no vocabulary)."""
        with torch.no_grad():
            if isinstance(x, str):
                return self.inputs(x)
            x = torch.as_tensor(x)
            if self.reads_tokens and not x.is_floating_point():
                return self.embedding(x.to(self.embedding.weight.device))
            if self.reads_tokens:
                return x.to(self._dtype())
            x = x.to(self._dtype())
            return self.embedding(x) if self.embedding is not None else x

    # ---- what the model says -------------------------------------------------------------------
    @torch.no_grad()
    def logits(self, x: Tensor, hx=None) -> Optional[Tensor]:
        """The head's raw output after every step, (T, B, K), or (1, B, K) when final_only; None
        for an encoder or a head that cannot be read."""
        if self.head is None or self.task == "encoder":
            return None
        out, state = self.core(x, hx)                                    # the module's own layout
        h_n = state[0] if isinstance(state, tuple) else state             # (L*D, B, H_out)
        if x.dim() == 2:                                                  # unbatched: B = 1
            out, h_n = out[:, None], h_n[:, None]
        elif self.core.batch_first:
            out = out.transpose(0, 1)                                     # (T, B, D*H_out)
        if self.final_only and self.task == "classifier":               # as the head reads (a setting, see heads.py)
            feats = heads.READINGS[self.reading](out, self.core.proj_size or self.core.hidden_size)
        elif self.final_only:
            feats = out[-1:]
        else:
            feats = out
        return self.head(feats.to(self.head.weight.dtype))

    def readout(self, x: Tensor, hx=None) -> Optional[Tensor]:
        """What the head says after every step (see the module docstring): probabilities for a
        language model or classifier, values for a regressor, None for an encoder."""
        z = self.logits(x, hx)
        if z is None:
            return None
        if self.task == "regressor":
            return z
        return heads.probabilities(z, self.activation)

    def eval(self):
        for m in (self.core, self.embedding, self.head):
            if m is not None:
                m.eval()
        return self


def open_model(source, *, prefix: Optional[str] = None, vocab=None, overrides: Optional[dict] = None,
               alphabet: Optional[str] = None, reading: Optional[str] = None) -> OpenedModel:
    """A model as it is used (see the module docstring). source: a path, bytes or a state_dict, or a
    pretrained name; prefix picks one recurrent module (default the first, as m.cores lists them);
    vocab: a vocabulary file's bytes or path (several: a list, read in order) or a vocabulary;
    overrides: {prefix: {"nonlinearity": …, "batch_first": …, "task": …}} or those keys directly;
    alphabet: the letters a model without an embedding reads one-hot (the name-classifier tutorial's
    alphabets.TUTORIAL); reading: how a bidirectional classifier's head reads (heads.READINGS)."""
    overrides = dict(overrides or {})
    if isinstance(source, str) and not os.path.exists(source):
        from .pretrained import list_pretrained, load_pretrained
        if source in list_pretrained():
            model = load_pretrained(source)
            return _ours(model, model.card, overrides)
    data = source if isinstance(source, dict) else read_bytes(source, "checkpoint") if isinstance(source, str) else source
    if isinstance(data, (bytes, bytearray)):
        try:
            model, card = load_model(bytes(data))
            return _ours(model, card, overrides)
        except InputError:
            pass
    flat = {k: v for k, v in overrides.items() if not isinstance(v, dict)}
    per = {k: v for k, v in overrides.items() if isinstance(v, dict)}
    found = read_foreign(data, {p: {k: v for k, v in o.items() if k != "task"} for p, o in per.items()})
    prefixes = list(found.modules)
    pre = prefixes[0] if prefix is None else prefix
    if pre not in found.modules:
        raise InputError(f"this file has no recurrent module {str(pre)[:60]!r}; it has "
                         f"{', '.join(repr(p) for p in prefixes[:8])}.")
    settings = {k: v for k, v in {**flat, **per.get(pre, {})}.items() if k in ("nonlinearity", "batch_first")}
    return opened_from(found, pre, settings, per.get(pre, {}).get("task", flat.get("task")), vocab, alphabet=alphabet,
                       reading=reading)


def opened_from(found, pre: str, settings: Optional[dict] = None, task: Optional[str] = None, vocab=None, *,
                alphabet: Optional[str] = None, reading: Optional[str] = None) -> OpenedModel:
    """One module of what read_foreign found, as an OpenedModel: settings (nonlinearity, batch_first) and
    task as the user set them (None: as recorded, else inferred and marked assumed); alphabet: the letters a model
    without an embedding reads one-hot (alphabets.py); reading: how a bidirectional classifier's head reads."""
    fm: FoundModule = found.modules[pre]
    if settings:
        fm = with_settings(fm, **settings)
    parts = tasks.parts_for(found, pre)
    if alphabet is not None and parts.embedding is None:
        if len(alphabet) != fm.module.input_size:
            raise InputError(f"the alphabet has {len(alphabet)} letters but this model reads {fm.module.input_size} "
                             "inputs per step; give one letter per input, in the order it was trained with.")
        parts.embedding = alphabets.one_hot(len(alphabet), fm.module.weight_ih_l0.dtype)
        vocab = alphabets.one_hot_vocab(alphabet)
    inferred, why = tasks.infer_task(found, pre, parts)
    assumed, recorded = dict(fm.assumed), dict(fm.recorded)
    said = tasks.recorded_task(found)
    if task is not None:
        task, why = tasks.check_task(task), "set by you"
    elif said is not None:
        task, why = said, "recorded in the file"
        recorded["task"] = task
    else:
        task = inferred
        assumed["task"] = task
    if task in ("language model", "classifier", "regressor") and parts.head is None:
        raise InputError(f"a {task} needs a head, and no linear layer reading this module's output was found "
                         "beside it; pick the task 'encoder'.")
    head = None if parts.more else parts.head
    m = OpenedModel(fm.module, {p: f.module for p, f in found.modules.items()}, pre, task, parts.embedding, head,
                    assumed=assumed, recorded=recorded, notes=list(found.notes) + parts.notes, why=why)
    m.possible = [t for t in tasks.TASKS if t == "encoder" or parts.head is not None]
    m.activation = heads.activation_after(found.pickled, getattr(head, "source_key", None))
    if m.activation:
        recorded["after the head"] = m.activation
    if task == "classifier" and m.readings:
        # tokens: a verdict after the whole text (sentiment); real-valued frames: a class per frame (CTC speech)
        first = heads.PER_STEP if parts.embedding is None and heads.PER_STEP in m.readings else \
            next(r for r in m.readings if r != heads.PER_STEP)
        m.reading = reading if reading in m.readings else first
        said = heads.recorded_reading(found.pickled, getattr(head, "source_key", None))
        if reading is None and said in m.readings:           # a whole pickle's class says how its head reads
            m.reading = recorded["reads"] = said
        elif reading is None:                                # a file of weights cannot tell (heads.py)
            assumed["reads"] = m.reading
    elif task == "classifier":
        assumed.setdefault("reads", "the last step")
    m.scaler = _scaler(found)
    if m.scaler is not None:
        m.notes.append(f"This file carries a fitted {m.scaler.source.split()[-1]}; its numbers were read without "
                       "importing scikit-learn, and series are scaled with it.")
    reverse = bool(found.hints.get(pre, {}).get("reversed"))
    if vocab is not None and parts.embedding is not None:
        m.vocab = vocabulary(vocab, parts.embedding.num_embeddings)
        if reverse and isinstance(m.vocab, TokenVocab):
            m.vocab = TokenVocab(m.vocab.itos, m.vocab.level, reverse=True)
    elif (found.hints.get(pre, {}).get("vocab") or found.vocab) and parts.embedding is not None:
        own = found.hints.get(pre, {}).get("vocab") or found.vocab          # this module's (OpenNMT's src), else the file's
        where = found.hints.get(pre, {}).get("vocab_from") or found.vocab_from
        if len(own) == parts.embedding.num_embeddings and len(set(own)) == len(own):
            m.vocab = TokenVocab(own, reverse=reverse)
            m.recorded["vocabulary"] = where
            m.notes.append(f"The vocabulary saved in the file, {where}, is used: type text (or ids) "
                           "and it goes through the model's own embedding; upload another vocabulary to replace it.")
        else:
            m.notes.append(f"The file carries {where}, but its {len(own):,} tokens do not match "
                           f"the embedding's {parts.embedding.num_embeddings:,} rows; upload the vocabulary it was "
                           "trained with.")
    return m.eval()


def as_opened(model, core=None) -> OpenedModel:
    """Any model the app holds as an OpenedModel: ours (CharModel, SeqModel), an OpenedModel itself, or a
    bare stock core (read as an encoder: there is no head)."""
    if isinstance(model, OpenedModel):
        return model
    if isinstance(model, (CharModel, SeqModel)):
        return _ours(model, getattr(model, "card", {}), {})
    if model is None and core is not None:
        return OpenedModel(core, {"": core}, "", "encoder", why="a bare recurrent module has no head")
    raise InputError(f"a {type(model).__name__} cannot be read as a model with a task.")


def vocabulary(vocab, rows: int):
    """A vocabulary for an embedding of `rows` rows: a Vocab/TokenVocab, a {token: id} dict, or the bytes
    or path of one or several files (read in order, as word_language_model reads train, valid, test)."""
    if isinstance(vocab, (Vocab, TokenVocab)):
        return vocab
    if isinstance(vocab, dict):
        import json
        vocab = json.dumps(vocab).encode()
    files = vocab if isinstance(vocab, (list, tuple)) else [vocab]
    data = [read_bytes(f, "vocabulary") if isinstance(f, str) else bytes(f) for f in files]
    return read_vocabulary(data[0] if len(data) == 1 else b"\n".join(d.rstrip(b"\n") for d in data), rows)


def _scaler(found) -> Optional[Scaler]:
    for obj in found.objects.values():
        sc = Scaler.from_sklearn(obj.cls, obj.attrs)
        if sc is not None:
            return sc
    return None


def _ours(model, card: dict, overrides: dict) -> OpenedModel:
    """Our CharModel (a language model) or SeqModel (a regressor; the adding problem reads its last step)."""
    if isinstance(model, CharModel):
        task, emb = "language model", model.embedding
    elif isinstance(model, SeqModel):
        task, emb = "regressor", model.proj
    else:
        raise InputError("this checkpoint holds a model type Gate Explorer does not know.")
    want = overrides.get("task")
    m = OpenedModel(model.core, {"core": model.core}, "core", tasks.check_task(want) if want else task, emb,
                    model.head, vocab=model.vocab, recorded={"task": task}, cfg=model.cfg, card=card,
                    why="recorded in the file")
    return m.eval()
