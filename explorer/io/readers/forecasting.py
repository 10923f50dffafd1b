"""The forecasting libraries' layouts.

- pytorch-forecasting (sktime/pytorch-forecasting): a Lightning checkpoint whose `state_dict` holds e.g. DeepAR's
  `rnn` (models/deepar/_deepar.py: get_rnn(cell_type)(…, batch_first=True)) and whose `hyper_parameters` keep
  `cell_type`, `hidden_size`, `rnn_layers` and fitted objects: a GroupNormalizer (data/encoders.py) whose
  `norm_` is a pandas DataFrame of each group's centre and scale. Those numbers are read (frames.py) and said.
- Darts (unit8co/darts): `model.save("model.pt")` writes the forecasting model object without its weights
  (TorchForecastingModel.__getstate__ drops the LightningModule) and the weights to "model.pt.ckpt" beside it
  (torch_forecasting_model.py, save()). The .ckpt is a Lightning checkpoint of e.g. _RNNModule, whose `rnn` is
  getattr(nn, name)(…, batch_first=True) (models/forecasting/rnn_model.py).
"""
from __future__ import annotations

from typing import Optional

from . import frames
from .found import Foreign
from .pickles import StandIn


def refusal(classes: list[str], values: dict) -> Optional[str]:
    """A sentence for a Darts model.pt, which holds no weights; None for anything else."""
    darts = [c for c in classes if c.startswith("darts.models.")]
    if not darts:
        return None
    model = next((v for k, v in values.items() if k.endswith("model_params.model") and isinstance(v, str)), None)
    what = f"a Darts {darts[0].rpartition('.')[2]}" + (f" ({model})" if model else "")
    return (f"this is {what} saved with model.save(\"model.pt\"): Darts keeps this model's weights in model.pt.ckpt "
            "beside it: upload that file.")


def adapt(found: Foreign) -> None:
    hp = found.root.get("hyper_parameters") if isinstance(found.root, dict) else None
    if not isinstance(hp, dict):
        return
    if any(c.startswith("pytorch_forecasting.") for c in found.classes) or "rnn_layers" in hp:
        _pytorch_forecasting(found, hp)
    elif "input_chunk_length" in hp and "output_chunk_length" in hp:
        _darts(found, hp)


def _batch_first(found: Foreign, prefix: str, library: str) -> None:
    fm = found.modules.get(prefix)
    if fm is not None and "batch_first" not in fm.recorded:
        fm.recorded["batch_first"] = True                      # how the library builds it, always
        fm.assumed.pop("batch_first", None)
        fm.module.batch_first = True
        found.notes.append(f"{library} builds '{prefix}' with batch_first=True; that is used.")


def _pytorch_forecasting(found: Foreign, hp: dict) -> None:
    found.library = "pytorch-forecasting"
    _batch_first(found, "rnn", "pytorch-forecasting")
    fm = found.modules.get("rnn")
    cell = hp.get("cell_type")
    if fm is not None and isinstance(cell, str) and cell.lower() != fm.kind:
        found.notes.append(f"hyper_parameters say cell_type {cell!r}, but the weights are a {fm.kind.upper()}'s; "
                           "the weights decide.")
    norm = next((o for o in (hp.get("output_transformer"), (hp.get("dataset_parameters") or {}).get("target_normalizer"))
                 if isinstance(o, StandIn)), None)
    said = _normaliser(norm) if norm is not None else ""
    target = hp.get("target")
    found.notes.append("A pytorch-forecasting checkpoint" + (f" forecasting {target!r}" if isinstance(target, str) else "")
                       + (f"; {said}" if said else "") + ".")


def _normaliser(norm: StandIn) -> str:
    """A fitted normaliser in words, its numbers read from the pickle (GroupNormalizer's norm_ per group)."""
    name = norm.pickled_as.rpartition(".")[2]
    method = norm.__dict__.get("method")
    table = frames.frame(norm.__dict__.get("norm_"))
    head = f"its target is normalised by a {name}" + (f" ({method})" if isinstance(method, str) else "")
    if table is None:
        return head
    rows, cols = table
    if "center" in cols and "scale" in cols:
        groups = [f"{r}: centre {c:.4g}, scale {s:.4g}" for r, c, s in zip(rows, cols["center"], cols["scale"])]
        return head + " per group, " + "; ".join(groups[:4]) + (f"; … {len(groups) - 4} more" if len(groups) > 4 else "")
    return head


def _darts(found: Foreign, hp: dict) -> None:
    found.library = "Darts"
    _batch_first(found, "rnn", "Darts")
    name = hp.get("name")
    found.notes.append(f"A Darts {name or 'torch'} model's checkpoint (model.pt.ckpt): it reads windows of "
                       f"{hp.get('input_chunk_length')} steps and forecasts {hp.get('output_chunk_length')}.")
