"""fastai's own layout: what `learn.save()`, `learn.save_encoder()` and the AWD-LSTM's WeightDropout leave in a
file (fastai/text/models/awdlstm.py).

fastai's `WeightDropout` wraps each nn.LSTM of an AWD-LSTM: it moves the dropped weight to the wrapper as a
parameter `weight_hh_l0_raw` and leaves the module's other weights where they were, so a state_dict reads

    0.rnns.0.weight_hh_l0_raw          the wrapper's copy (the weight the LSTM runs with, in eval mode)
    0.rnns.0.module.weight_ih_l0       the LSTM's own
    0.rnns.0.module.bias_ih_l0, .bias_hh_l0

(the module's own weight_hh_l0 is a plain attribute then, not saved). merge_weight_dropout() puts the two
halves back together under the module's name, as the LSTM computes in eval mode.
"""
from __future__ import annotations


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
