"""GRU4Rec's layouts (session-based recommendation: a GRU reads the items of a session and scores the next one).

- The official PyTorch port (hidasib/GRU4Rec_PyTorch_Official, gru4rec_pytorch.py): `GRU4Rec.savemodel()` is
  torch.save(self), the whole object. Its `model` (GRU4RecModel) holds the layers as GRUCells in `G`, items read
  through `Wy` when the embedding is constrained (the default: the input embedding is the output one) and scores
  h·Wyᵀ + By; `data_iterator.itemidmap` is a pandas Series item id -> row. The object also keeps bound methods
  (`loss_function = self.xe_loss_with_softmax`), which pickles.py rebuilds inertly.
- GRU4REC-pytorch (hungthanhpham94, lib/trainer.py): a checkpoint {"model": the GRU4REC module, "args": an
  argparse Namespace, "epoch", "optim": its optimizer wrapper, "loss", "recall", "mrr"}. The module reads items
  through `look_up` (or one-hot, embedding_dim -1) into `gru` and scores them with `h2o`, then its final activation.
"""
from __future__ import annotations

from . import frames
from .found import Foreign
from .pickles import StandIn


def _official(found: Foreign) -> bool:
    return any(c.endswith(".GRU4Rec") for c in found.classes) or any(c.endswith(".GRU4RecModel") for c in found.classes)


def adapt(found: Foreign) -> None:
    if _official(found):
        _adapt_official(found)
    elif any(c.endswith(".GRU4REC") for c in found.classes):
        _adapt_trainer(found)


def _item_map(root) -> list[str] | None:
    """The item ids in row order, from GRU4Rec's pandas item map (id -> row)."""
    it = root.__dict__.get("data_iterator") if isinstance(root, StandIn) else None
    m = it.__dict__.get("itemidmap") if isinstance(it, StandIn) else None
    got = frames.series(m) if isinstance(m, StandIn) else None
    if got is None:
        return None
    ids, rows = got
    if sorted(rows) != list(range(len(rows))):
        return None
    out = [""] * len(rows)
    for i, r in zip(ids, rows):
        out[int(r)] = str(i)
    return out


def _adapt_official(found: Foreign) -> None:
    found.library = "GRU4Rec"
    cells = sorted((p for p in found.modules if p.startswith("G.")), key=lambda p: int(p.split(".")[1]))
    wy, by = found.tensors.get("Wy.weight"), found.tensors.get("By.weight")
    if cells and wy is not None:
        first, last = found.modules[cells[0]].module, found.modules[cells[-1]].module
        if first.input_size == wy.shape[1] and "GE.Wx0.weight" not in found.tensors:
            found.hints.setdefault(cells[0], {})["embedding"] = "Wy.weight"      # constrained embedding
        if last.hidden_size == wy.shape[1]:
            found.hints.setdefault(cells[-1], {}).update(head="Wy.weight", head_bias="By.weight" if by is not None else None)
    items = _item_map(found.root)
    if items is not None and wy is not None and len(items) == wy.shape[0]:
        found.vocab, found.vocab_from = items, f"GRU4Rec's item map ({len(items):,} items)"
    what = f"{len(cells)} GRU layer(s) {', '.join(repr(c) for c in cells[:3])}" if cells else "no GRUCell layer"
    note = (f"GRU4Rec (the official PyTorch port, saved with savemodel()): {what}; it scores the next item as "
            "h·Wyᵀ + By with the same Wy it reads items through (a constrained embedding)")
    if items is not None:
        note += f"; its {len(items):,} item ids ({items[0]} … {items[-1]}) were read from its pandas item map"
    if "GE.Wx0.weight" in found.tensors:
        note += ("; its first layer is a GRUEmbedding, GRU4Rec's own GRU that applies the reset gate before the "
                 "matrix product, which no stock GRU computes: it is not shown")
    found.notes.append(note + ".")


def _adapt_trainer(found: Foreign) -> None:
    found.library = "GRU4REC-pytorch"
    v = found.values
    said = [f"{k} {frames.scalar_text(found.root.get(k))}" for k in ("recall", "mrr", "loss")
            if isinstance(found.root, dict) and frames.scalar_text(found.root.get(k))]
    epoch = v.get("epoch")
    note = "A GRU4REC-pytorch trainer checkpoint (the model, its argparse settings and its optimizer)"
    if epoch is not None:
        note += f", saved after epoch {epoch}" + (f" ({', '.join(said)})" if said else "")
    note += ("; its scores are h2o(h) before the final activation, which keeps their order" if "h2o.weight" in found.tensors
             else "")
    if "look_up.weight" not in found.tensors:
        note += "; it reads items one-hot (embedding_dim -1)"
    found.notes.append(note + ".")
