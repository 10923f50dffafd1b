"""fastai's own layout: what `learn.save()`, `learn.save_encoder()` and the AWD-LSTM's WeightDropout leave in a
file (fastai/text/models/awdlstm.py).

fastai's `WeightDropout` wraps each nn.LSTM of an AWD-LSTM: it moves the dropped weight to the wrapper as a
parameter `weight_hh_l0_raw` and leaves the module's other weights where they were, so a state_dict reads

    0.rnns.0.weight_hh_l0_raw          the wrapper's copy (the weight the LSTM runs with, in eval mode)
    0.rnns.0.module.weight_ih_l0       the LSTM's own
    0.rnns.0.module.bias_ih_l0, .bias_hh_l0

(the module's own weight_hh_l0 is a plain attribute then, not saved). merge_weight_dropout() puts the two
halves back together under the module's name, as the LSTM computes in eval mode.

`learn.export()` (learner.py: torch.save(self, "export.pkl", pickle_protocol=2) after dls.new_empty() and
opt = None) pickles the whole Learner: the model, `path` (a pathlib.Path), the loss, fastcore's L lists, and
WeightDropout's `module.flatten_parameters = self._do_nothing`, a bound method (pickles.py rebuilds all of these
inertly). adapt() reads its vocabulary (`dls.vocab`) and, for a language model (SequentialRNN(AWD_LSTM,
LinearDecoder)), points the last LSTM at its decoder `1.decoder`, which sits outside the encoder's subtree.
"""
from __future__ import annotations

from .found import Foreign
from .pickles import StandIn


def merge_weight_dropout(groups: dict[str, dict]) -> tuple[dict[str, dict], list[str]]:
    """groups as foreign._groups makes them ({prefix: {(name, layer, reverse): tensor}}): a group holding only
    weight-dropped weights whose "<prefix>.module" group lacks them is merged into it. Returns the groups and a
    note per merge."""
    out, notes = dict(groups), []
    for prefix, g in groups.items():
        inner = out.get(f"{prefix}.module")
        if inner is None or any(slot[0] == "weight_ih" for slot in g) or any(slot in inner for slot in g):
            continue
        out[f"{prefix}.module"] = {**inner, **g}
        del out[prefix]
        notes.append(f"'{prefix}' is a WeightDropout wrapper (fastai's AWD-LSTM): its {', '.join(sorted({s[0] for s in g}))} "
                     f"and the other weights under '{prefix}.module' make one LSTM, as it runs in eval mode.")
    return out, notes


def adapt(found: Foreign) -> None:
    if not any(c.startswith("fastai.") for c in found.classes) and not any(".module" in p for p in found.modules):
        return
    stack = sorted((p for p in found.modules if p.endswith(".module") and ".rnns." in p),
                   key=lambda p: int(p.split(".rnns.")[1].split(".")[0]))
    if not stack and not any(c.startswith("fastai.") for c in found.classes):
        return
    found.library = "fastai"
    dec = found.tensors.get("1.decoder.weight")
    if stack and dec is not None and dec.dim() == 2 and found.modules[stack[-1]].module.hidden_size == dec.shape[1]:
        found.hints.setdefault(stack[-1], {}).update(head="1.decoder.weight")
    vocab = _vocab(found.root)
    if vocab is not None:
        found.vocab, found.vocab_from = vocab, f"fastai's vocabulary (dls.vocab, {len(vocab):,} tokens)"
    if any(c.endswith("learner.Learner") for c in found.classes):
        found.notes.append("A fastai Learner exported with learn.export(): "
                           + (f"its {len(stack)} AWD-LSTM layer(s), " if stack else "")
                           + ("its vocabulary, " if vocab is not None else "") + "read without running fastai.")


def _vocab(root) -> list[str] | None:
    """dls.vocab of an exported Learner: a token list (a language model), or [tokens, labels] (a classifier)."""
    dls = root.__dict__.get("dls") if isinstance(root, StandIn) else None
    v = dls.__dict__.get("vocab") if isinstance(dls, StandIn) else None
    if isinstance(v, StandIn):                                   # fastcore's L keeps its list in .items
        v = v.__dict__.get("items")
    if isinstance(v, list) and len(v) == 2 and all(isinstance(x, list) for x in v):
        v = v[0]
    return list(v) if isinstance(v, list) and v and all(isinstance(x, str) for x in v) else None
