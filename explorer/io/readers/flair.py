"""Flair's layout: a character language model saved by `LanguageModel.save()` (flair/models/language_model.py):

    {"state_dict": {"encoder.weight", "rnn.weight_ih_l0" …, "decoder.weight" …},
     "dictionary": flair.data.Dictionary (idx2item: the characters, as bytes), "is_forward_lm": bool,
     "hidden_size", "nlayers", "embedding_size", "nout", "document_delimiter", "dropout", "recurrent_type", …}

pickled with protocol 4 (protocols.py reads it). The dictionary becomes the vocabulary, so the page reads text
through the model's own characters without an upload, and a backward model (is_forward_lm False, half of every
Flair embedding pair) reads the text from its end: its steps run right to left, as Flair feeds it.
"""
from __future__ import annotations

from .found import Foreign
from .pickles import StandIn


def adapt(found: Foreign) -> None:
    root = found.root
    if not (isinstance(root, dict) and isinstance(root.get("is_forward_lm"), bool) and "dictionary" in root):
        return
    d = root["dictionary"]
    items = d.__dict__.get("idx2item") if isinstance(d, StandIn) else None
    forward = root["is_forward_lm"]
    found.library = "Flair"
    if isinstance(items, list) and all(isinstance(b, (bytes, bytearray, str)) for b in items):
        found.vocab = [b.decode("utf-8", "replace") if isinstance(b, (bytes, bytearray)) else b for b in items]
        found.vocab_from = f"Flair's dictionary ({len(items):,} characters)"
    for prefix, fm in found.modules.items():
        fm.recorded["is_forward_lm"] = forward
        if not forward:
            found.hints.setdefault(prefix, {})["reversed"] = True
    kind = root.get("recurrent_type", "LSTM")
    found.notes.append(f"A Flair {'forward' if forward else 'backward'} character language model ({kind}, "
                       f"{root.get('nlayers', '?')} layer(s), hidden size {root.get('hidden_size', '?')}), saved with "
                       "LanguageModel.save()" + (": it reads text from the last character to the first, as Flair "
                                                 "feeds a backward model, so its steps run right to left." if not forward
                                                 else "."))
