"""OpenNMT-py's layout: a checkpoint saved by onmt/models/model_saver.py

    {"model": state_dict without the generator, "generator": {"weight", "bias"},
     "vocab": {"src": [tokens], "tgt": [tokens], "data_task": …, "decoder_start_token": …},
     "opt": argparse.Namespace, "optim": …}

An RNNEncoder's embedding sits at `encoder.embeddings.make_embedding.emb_luts.0.weight`, deeper than the names
under a module's parent are searched (tasks.py), so it is pointed out here, with the source vocabulary the
checkpoint carries. The decoder's cells (`decoder.rnn.layers.k`, input feeding: they read the embedding and the
previous attention output together) read more than its embedding, so its text is not read for it.
"""
from __future__ import annotations

from .found import Foreign

EMB = "{side}.embeddings.make_embedding.emb_luts.0.weight"


def adapt(found: Foreign) -> None:
    root = found.root
    vocab = root.get("vocab") if isinstance(root, dict) else None
    if not (isinstance(vocab, dict) and isinstance(vocab.get("src"), list) and "model" in root):
        return
    found.library = "OpenNMT-py"
    src = [t for t in vocab["src"] if isinstance(t, str)]
    key = EMB.format(side="encoder")
    emb = found.tensors.get(key)
    for prefix, fm in found.modules.items():
        if prefix.startswith("encoder.") and emb is not None and emb.dim() == 2 and emb.shape[1] == fm.module.input_size:
            hint = found.hints.setdefault(prefix, {})
            hint["embedding"] = key
            if len(src) == emb.shape[0]:
                hint["vocab"], hint["vocab_from"] = src, f"OpenNMT-py's source vocabulary ({len(src):,} tokens)"
    task = vocab.get("data_task")
    found.notes.append("An OpenNMT-py checkpoint" + (f" ({task})" if isinstance(task, str) else "")
                       + ": the encoder reads text through its own embedding and the source vocabulary the checkpoint "
                         "carries; the decoder's cells also read the previous attention output (input feeding).")
