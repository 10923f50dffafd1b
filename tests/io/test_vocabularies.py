"""Vocabularies in the formats libraries write them, recognised by content, each built here as its library writes
it: fairseq's dict.txt (fairseq/data/dictionary.py: <s> <pad> </s> <unk> first, "<sym> <count>" lines), Keras'
word_index.json and Tokenizer.to_json() (keras_preprocessing/text.py: ids from 1, oov_token at 1, every word kept,
num_words applied when encoding), fastai's itos pickle, {id: token}, SentencePiece's .vocab ("<piece>\\t<score>");
and a model read through them equals its own forward."""
import json
import os
import pickle
from collections import Counter

import numpy as np
import pytest
import torch
from torch import nn

import explorer
from explorer import InputError
from explorer.io.inputs.vocabularies import read_vocabulary

TEXTS = ["the film was a delight", "the plot was thin and the film was long", "a delight of a film", "thin thin thin"]


def keras_word_index(texts, oov="<OOV>") -> dict:
    """keras_preprocessing.text.Tokenizer.fit_on_texts: counts sorted most common first, ids from 1, oov first."""
    counts = Counter(w for t in texts for w in t.lower().split())
    words = ([oov] if oov else []) + [w for w, _ in sorted(counts.items(), key=lambda kv: -kv[1])]
    return {w: i + 1 for i, w in enumerate(words)}


def test_fairseq_dict_txt_with_its_specials_and_padding():
    counts = Counter(w for t in TEXTS for w in t.split())
    lines = "".join(f"{w} {c}\n" for w, c in counts.most_common())              # Dictionary.save()
    rows = 4 + len(counts)
    v = read_vocabulary(lines.encode(), rows=rows)
    assert v.itos[:4] == ["<s>", "<pad>", "</s>", "<unk>"] and v.itos[4] == counts.most_common(1)[0][0]
    assert v.unk == 3 and "fairseq" in v.how
    padded = read_vocabulary(lines.encode(), rows=(rows + 7) // 8 * 8)          # pad_to_multiple_(8)
    assert padded.itos[-1].startswith("madeupword") and any("madeupword" in n for n in padded.notes)
    assert v.encode("the film was a dragon").tolist()[-1] == 3                 # unknown -> <unk>


def test_keras_word_index_keeps_the_rows_the_embedding_has():
    wi = keras_word_index(TEXTS)
    v = read_vocabulary(json.dumps(wi).encode(), rows=6)                        # num_words=6
    assert v.itos[0] == "<id 0>" and v.itos[1] == "<OOV>" and len(v) == 6
    assert any("dropped" in n for n in v.notes) and any("padding" in n for n in v.notes)
    assert v.unk == 1                                                           # the oov token reads the rest
    assert v.encode("The delight!").tolist() == [wi["the"], 1] and "Keras" in v.how


def test_keras_tokenizer_to_json():
    wi = keras_word_index(TEXTS)
    config = {"num_words": 8, "filters": "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n", "lower": True, "split": " ",
              "char_level": False, "oov_token": "<OOV>", "document_count": len(TEXTS),
              "word_counts": json.dumps({}), "word_docs": json.dumps({}), "index_docs": json.dumps({}),
              "index_word": json.dumps({str(i): w for w, i in wi.items()}), "word_index": json.dumps(wi)}
    v = read_vocabulary(json.dumps({"class_name": "Tokenizer", "config": config}).encode(), rows=8)
    first = Counter(w for t in TEXTS for w in t.split()).most_common(1)[0][0]
    assert "Tokenizer" in v.how and v.itos[1] == "<OOV>" and v.unk == 1 and v.itos[2] == first


def test_id_to_token_json_fastai_itos_pickle_and_sentencepiece():
    by_id = read_vocabulary(json.dumps({"0": "<pad>", "1": "a", "2": "b"}).encode(), rows=3)
    assert by_id.itos == ["<pad>", "a", "b"]
    itos = ["xxunk", "xxpad", "xxbos", "the", "film"]
    fa = read_vocabulary(pickle.dumps(itos), rows=5)                           # fastai's itos.pkl
    assert fa.itos == itos and fa.unk == 0 and fa.encode("the dragon").tolist() == [3, 0]
    sp = "<unk>\t0\n<s>\t0\n</s>\t0\n▁the\t-2.1\n▁fil\t-4.5\nm\t-5.0\n▁\t-3.0\nt\t-6\nh\t-6\ne\t-6\n"
    v = read_vocabulary(sp.encode(), rows=10)
    assert v.level == "piece" and v.tokens("the film") == ["▁the", "▁fil", "m"] and any("approximation" in n for n in v.notes)


def test_a_vocabulary_pickle_that_names_a_class_is_refused_without_running(tmp_path):
    target = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {target}",))
    with pytest.raises(InputError, match="only a plain list"):
        read_vocabulary(pickle.dumps(["a", Payload()]), rows=2)
    assert not target.exists()


def test_a_fairseq_style_encoder_reads_text_through_dict_txt_exactly():
    counts = Counter(w for t in TEXTS for w in t.split())
    dict_txt = "".join(f"{w} {c}\n" for w, c in counts.most_common()).encode()
    rows = 4 + len(counts)
    torch.manual_seed(0)
    embed, lstm, out = nn.Embedding(rows, 6, padding_idx=1), nn.LSTM(6, 8), nn.Linear(8, rows)
    sd = {"encoder.embed_tokens.weight": embed.weight, **{f"encoder.lstm.{k}": v for k, v in lstm.state_dict().items()},
          "decoder.output_projection.weight": out.weight, "decoder.output_projection.bias": out.bias}
    import io
    buf = io.BytesIO()
    torch.save({"model": {k: v.detach() for k, v in sd.items()}, "args": None}, buf)
    m = explorer.open_model(buf.getvalue(), vocab=dict_txt)
    assert m.embedding.source_key == "encoder.embed_tokens.weight"
    ids = torch.tensor([4 + [w for w, _ in counts.most_common()].index(w) for w in "the film was thin".split()])
    with torch.no_grad():
        want = lstm.double()(embed.weight.double()[ids])[0]
        got, _ = m.core.double()(m.inputs("the film was thin").double())
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12)


def test_a_keras_imdb_style_model_reads_text_through_word_index_exactly(tmp_path):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    wi = keras_word_index(TEXTS)
    num_words = 8
    keras.utils.set_random_seed(2)
    km = keras.Sequential([keras.Input((5,), dtype="int32"), keras.layers.Embedding(num_words, 4),
                           keras.layers.LSTM(3), keras.layers.Dense(1, activation="sigmoid")])
    path = tmp_path / "imdb.keras"
    km.save(str(path))
    text = "the film was a dragon"
    ids = [wi[w] if w in wi and wi[w] < num_words else 1 for w in text.split()]   # texts_to_sequences with oov
    want = float(np.asarray(km.predict(np.array([ids], dtype="int32"), verbose=0))[0, 0])
    m = explorer.open_model(path.read_bytes(), vocab=json.dumps(wi).encode())
    assert m.task == "classifier" and m.vocab.encode(text).tolist() == ids
    got = float(m.readout(m.inputs(text))[-1, 0, 0])
    assert abs(got - want) < 1e-6
