"""What a recurrent module is used for, read from the file: its own embedding and head, and its task.

    parts = parts_for(found, "encoder.gru")        # Parts: embedding, head, tied, what the head is
    task, why = infer_task(found, "encoder.gru", parts)     # "encoder", "it has no head …"

Ownership goes by name: a module's embedding and head are tensors under the module's own parent
(`encoder.embedding` belongs to `encoder.gru`, never to `decoder.gru`), not the first tensor of the
right shape anywhere in the file. The input embedding is never taken for the head unless the two are
the same tensor (tied weights). Tasks:
- "language model": a head over the embedding's vocabulary after every step (or tied to it);
- "classifier": token input and a head to a few classes, read after the last step;
- "regressor": real-valued input and a head to real values (a forecaster);
- "encoder": no head (its states feed something else, a decoder or a pooling layer).
A file can say its task (a `task` hyper-parameter); otherwise the task is inferred and marked assumed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from torch import Tensor, nn

from explorer.errors import InputError

from .. import budget
from ..readers.foreign import _CELL, _LAYER
from ..readers.found import Foreign
from .heads import activation_after

TASKS = ("language model", "classifier", "regressor", "encoder")
_EMB_NAME = re.compile(r"emb|encoder|lookup|tok|word", re.I)
_HEAD_NAME = re.compile(r"decoder|head|out|fc|proj|classifier|linear|dense|predict|readout", re.I)


@dataclass
class Parts:
    """The pieces around one recurrent module, found under its own parent."""
    embedding: Optional[nn.Embedding] = None
    head: Optional[nn.Linear] = None
    tied: bool = False                                  # head.weight is the embedding's own tensor
    more: list[str] = field(default_factory=list)       # layers after the head (fc1 -> fc2): not read
    token_rows: int = 0                                 # rows of an embedding beside it that the core does not
                                                        # read alone (an attention decoder's), else 0
    notes: list[str] = field(default_factory=list)


def parent(prefix: str) -> Optional[str]:
    """Who owns the module's embedding and head: 'encoder.gru' -> 'encoder'; 'rnn' -> '' (the top); a
    module in a stack ('rnns.0', AWD-LSTM's 'rnns.1.module') -> the stack's owner; '' (the file is the
    module itself) -> None."""
    if not prefix:
        return None
    parts = prefix.split(".")
    own = parts.pop()
    if own.isdigit() and parts:                             # an element of a list ('G.0'): the list's owner
        parts.pop()
    while len(parts) >= 2 and parts[-1].isdigit():          # a ModuleList / Sequential: its owner
        parts = parts[:-2]
    return ".".join(parts)


def _owned(found: Foreign, prefix: str) -> dict[str, Tensor]:
    """The non-recurrent 2-D weights under the module's parent, leaving out subtrees that hold another
    recurrent module's parent (those belong to it)."""
    home = parent(prefix)
    if home is None:
        return {}
    others = {parent(q) for q in found.modules if q != prefix} - {home, None}
    out = {}
    for k, t in found.tensors.items():
        if home and not k.startswith(home + "."):
            continue
        rest = k[len(home) + 1:] if home else k
        if any(o and k.startswith(o + ".") and len(o) > len(home) for o in others):
            continue
        if _LAYER.match(k) or _CELL.match(k) or not k.endswith("weight") or not isinstance(t, Tensor):
            continue
        if t.dim() == 2 and t.is_floating_point() and rest.count(".") <= 3:
            out[k] = t
    return out


def _cls(found: Foreign, key: str) -> str:
    pickled = found.pickled.get(key.rpartition(".")[0])
    return pickled.cls.rpartition(".")[2] if pickled is not None else ""


def _same(a: Tensor, b: Tensor) -> bool:
    try:
        return a.shape == b.shape and a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr() \
            and a.storage_offset() == b.storage_offset()
    except RuntimeError:
        return False


def _float(w: Tensor, what: str = "a layer") -> Tensor:
    """w as the float dtype it is read in (float16, bfloat16 and float8 as float32), within the budget."""
    budget.check_tensor(w, f"{what} ({' × '.join(f'{n:,}' for n in w.shape)})", 4 if w.dtype.itemsize < 4 else 8)
    return w.float() if w.dtype.itemsize < 4 else w


def _hinted(found: Foreign, prefix: str) -> dict[str, Tensor]:
    """The tensors a library's reader named for this module (hints), where names under its parent mislead."""
    hint = found.hints.get(prefix, {})
    return {hint[k]: found.tensors[hint[k]] for k in ("embedding", "head")
            if isinstance(hint.get(k), str) and isinstance(found.tensors.get(hint[k]), Tensor)}


def parts_for(found: Foreign, prefix: str) -> Parts:
    """The module's own embedding (width = its input size) and head (reading its output, directions ×
    H_out wide), by name under its parent, or as a library's reader points them out (Foreign.hints);
    see the module docstring."""
    mod = found.modules[prefix].module
    hint = found.hints.get(prefix, {})
    owned = {**_owned(found, prefix), **_hinted(found, prefix)}
    parts = Parts()
    has_bias = lambda k: k[:-len("weight")] + "bias" in found.tensors
    embs = [k for k, t in owned.items() if t.shape[1] == mod.input_size and not has_bias(k)
            and _cls(found, k) in ("", "Embedding") and k != hint.get("head")]
    embs.sort(key=lambda k: (_cls(found, k) != "Embedding", not _EMB_NAME.search(k.rpartition(".")[0]), k.count("."), k))
    if hint.get("embedding") in owned and owned[hint["embedding"]].shape[1] == mod.input_size:
        embs = [hint["embedding"]]                              # named by the library's reader
    if embs:
        w = _float(owned[embs[0]], f"the embedding {embs[0]!r}")
        emb = nn.Embedding(w.shape[0], w.shape[1], dtype=w.dtype)
        emb.weight.data.copy_(w)
        emb.source_key = embs[0]
        parts.embedding = emb.eval()
    others = [k for k, t in owned.items() if k not in embs and not has_bias(k) and _EMB_NAME.search(k.rpartition(".")[0])
              and _cls(found, k) in ("", "Embedding")]
    parts.token_rows = owned[others[0]].shape[0] if others and not embs else 0
    width = (2 if mod.bidirectional else 1) * (mod.proj_size or mod.hidden_size)
    emb_key = embs[0] if embs else None
    # The input embedding is never the head; a tied head has its own name and shares the tensor.
    # A head reads the output (width) or, like fastai's PoolingLinearClassifier, [last, max, mean] of it (3 × width).
    heads = [k for k, t in owned.items() if t.shape[1] in (width, 3 * width) and _cls(found, k) in ("", "Linear")
             and k != emb_key and not (_EMB_NAME.search(k.rpartition(".")[0]) and not has_bias(k) and not _HEAD_NAME.search(k))]
    if isinstance(hint.get("head"), str) and hint["head"] in owned and owned[hint["head"]].shape[1] == width:
        heads = [hint["head"]]                                  # named by the library's reader (a tied head too)
    heads.sort(key=lambda k: (owned[k].shape[1] != width, _cls(found, k) != "Linear", not _HEAD_NAME.search(k.rpartition(".")[0]),
                              not has_bias(k), k.count("."), k))
    if heads:
        key = heads[0]
        w = owned[key]
        parts.tied = emb_key is not None and (_same(w, owned[emb_key]) or key == emb_key)
        b = found.tensors.get(hint["head_bias"]) if key == hint.get("head") and hint.get("head_bias") else \
            found.tensors.get(key[:-len("weight")] + "bias")
        if b is not None and b.numel() == w.shape[0]:
            b = b.reshape(-1)                                    # GRU4Rec's By is an (items, 1) embedding
        w = _float(w, f"the head {key!r}")
        dt = w.dtype
        lin = nn.Linear(w.shape[1], w.shape[0], bias=b is not None, dtype=dt)
        lin.weight.data.copy_(w)
        if b is not None:
            lin.bias.data.copy_(b)
        lin.source_key = key
        parts.head = lin.eval()
        parts.more = sorted(k.rpartition(".")[0] for k, t in owned.items()
                            if k not in (key, emb_key) and t.shape[1] == w.shape[0] and _cls(found, k) in ("", "Linear"))
        if parts.more:
            parts.notes.append(f"After its head '{key.rpartition('.')[0]}' the model has more layers "
                               f"({', '.join(parts.more[:3])}), whose activations a file does not record; "
                               "what the model says is not shown, only its states.")
    return parts


def recorded_task(found: Foreign) -> Optional[str]:
    """A task the file states (a hyper-parameter or config entry named task/problem/objective)."""
    for k, v in found.values.items():
        if k.rpartition(".")[2].lower() in ("task", "problem", "objective", "task_type") and isinstance(v, str):
            s = v.lower()
            for word, task in (("class", "classifier"), ("sentiment", "classifier"), ("regress", "regressor"),
                               ("forecast", "regressor"), ("language", "language model"), ("lm", "language model")):
                if word in s:
                    return task
    return None


def infer_task(found: Foreign, prefix: str, parts: Parts) -> tuple[str, str]:
    """(task, why): why is a short clause for the sidebar ("its head predicts 37 tokens")."""
    if parts.head is None:
        return "encoder", "it has no head of its own (its states feed another part of the model)"
    k = parts.head.out_features
    if parts.tied:
        return "language model", "its head is tied to its input embedding"
    if parts.embedding is not None:
        if k == parts.embedding.num_embeddings:
            return "language model", f"its head predicts one of its {k:,} input tokens"
        return "classifier", f"it reads tokens and its head has {k} output{'s' if k > 1 else ''}"
    if parts.token_rows == k:
        return "language model", (f"its head predicts one of the {k:,} tokens of the embedding beside it (its core "
                                  "reads more than that embedding, e.g. an attention context)")
    after = activation_after(found.pickled, getattr(parts.head, "source_key", None))
    if after in ("LogSoftmax", "Softmax") or (k >= 2 and found.modules[prefix].module.bidirectional):
        why = f"a {after} follows its head" if after else "it reads frames in both directions"
        return "classifier", (f"{why}, and its head has {k} outputs per frame (a per-frame classifier, as CTC "
                              "speech models and taggers are)")
    return "regressor", f"it reads real values and its head has {k} output{'s' if k > 1 else ''}"


def check_task(task: str) -> str:
    if task not in TASKS:
        raise InputError(f"the task must be one of {', '.join(TASKS)}, not {str(task)[:40]!r}.")
    return task
