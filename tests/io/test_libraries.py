"""The files the big libraries write (built in tests/libraries.py from each library's own source) open exactly:
every recurrent module found, equal to the library's own at 1e-5 (float64 references), what the file records
used (Flair's dictionary and direction, GRU4Rec's item map and tied head, batch_first as the library builds it,
a fitted normaliser's numbers), nothing of the libraries imported, and the files that hold no weights refused in
one sentence that says which file to upload."""
import io
import json
import os
import subprocess
import sys
from collections import OrderedDict

import libraries as L
import pytest
import torch
from torch import nn

import explorer
from explorer import InputError
from explorer.io.readers.foreign import read_foreign

ATOL = 1e-5


def _steps(cell: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """A GRUCell stepped through x (T, B, I), as GRU4Rec runs it: (T, B, H)."""
    h = torch.zeros(x.shape[1], cell.hidden_size, dtype=x.dtype)
    out = []
    for t in range(x.shape[0]):
        h = cell(x[t], h)
        out.append(h)
    return torch.stack(out)


def test_flair_forward_language_model_opens_with_its_dictionary():
    data, rnn, chars, sd = L.flair_language_model(is_forward_lm=True)
    found = read_foreign(data)
    assert set(found.modules) == {"rnn"} and found.library == "Flair"
    assert found.modules["rnn"].recorded["is_forward_lm"] is True
    x = torch.randn(9, 2, 10)
    with torch.no_grad():
        torch.testing.assert_close(found.modules["rnn"].module(x)[0], rnn(x)[0], rtol=0, atol=ATOL)
    m = explorer.open_model(data)
    assert m.task == "language model" and m.vocab.itos == chars and "Flair's dictionary" in m.recorded["vocabulary"]
    text = "bad cafe, head"
    ids = torch.tensor([chars.index(c) for c in text])
    with torch.no_grad():                                    # the language model as Flair computes it
        emb = sd["encoder.weight"][ids].double()
        ref = rnn.double()(emb[:, None])[0][:, 0]
        probs = torch.softmax(ref @ sd["decoder.weight"].double().T + sd["decoder.bias"].double(), -1)
        torch.testing.assert_close(m.inputs(text).double(), emb, rtol=0, atol=0)
        got = m.readout(m.inputs(text))
    torch.testing.assert_close(got[:, 0].double(), probs, rtol=0, atol=ATOL)


def test_flair_backward_language_model_reads_the_text_from_its_end():
    data, rnn, chars, _ = L.flair_language_model(is_forward_lm=False, seed=1)
    m = explorer.open_model(data)
    assert m.recorded["is_forward_lm"] is False and any("backward" in n for n in m.notes)
    assert m.vocab.known("abc") == ["c", "b", "a"]
    torch.testing.assert_close(m.vocab.encode("abc"), torch.tensor([chars.index(c) for c in "cba"]))


def test_gru4rec_official_savemodel_opens_with_its_item_map_and_tied_head():
    data, g = L.gru4rec_official(n_items=30, layers=(20,))
    found = read_foreign(data)
    assert set(found.modules) == {"G.0"} and found.library == "GRU4Rec"
    assert found.modules["G.0"].cell and found.vocab == [str(1000 + 7 * k) for k in range(30)]
    cell = g.model.G[0].double()
    x = torch.randn(6, 3, 20, dtype=torch.float64)
    with torch.no_grad():
        mod = found.modules["G.0"].module.double()
        torch.testing.assert_close(mod(x)[0], _steps(cell, x), rtol=0, atol=1e-10)
    m = explorer.open_model(data)
    assert m.task == "language model" and m.embedding.source_key == "Wy.weight" and m.head.source_key == "Wy.weight"
    sessions = "1000 1014 1203 1007"
    items = torch.tensor([0, 2, 29, 1])
    with torch.no_grad():                                   # GRU4Rec's scores: softmax over h·Wyᵀ + By
        wy, by = g.model.Wy.weight.double(), g.model.By.weight.double()[:, 0]
        h = _steps(cell, wy[items][:, None])[:, 0]
        want = torch.softmax(h @ wy.T + by, -1)
        got = m.readout(m.inputs(sessions))[:, 0].double()
    torch.testing.assert_close(got, want, rtol=0, atol=ATOL)


def test_gru4rec_pytorch_trainer_checkpoint_opens_with_its_settings():
    data, model = L.gru4rec_pytorch_checkpoint(n_items=25, hidden=16, layers=2)
    found = read_foreign(data)
    assert set(found.modules) == {"gru"} and found.library == "GRU4REC-pytorch"
    assert any("epoch 3" in n and "recall 0.4" in n for n in found.notes)
    x = torch.randn(5, 2, 8)
    with torch.no_grad():
        torch.testing.assert_close(found.modules["gru"].module(x)[0], model.gru(x)[0], rtol=0, atol=ATOL)
    m = explorer.open_model(data)
    assert m.task == "language model" and m.embedding.source_key == "look_up.weight" and m.head.source_key == "h2o.weight"


def test_pytorch_forecasting_checkpoint_opens_batch_first_and_says_its_normaliser():
    data, rnn = L.forecasting_checkpoint(hidden=16, layers=2)
    found = read_foreign(data)
    fm = found.modules["rnn"]
    assert found.library == "pytorch-forecasting" and fm.recorded["batch_first"] is True and "batch_first" not in fm.assumed
    assert any("shop_a: centre 1.5, scale 0.5; shop_b: centre 2.5, scale 0.25" in n for n in found.notes)
    x = torch.randn(2, 7, 3)
    with torch.no_grad():
        torch.testing.assert_close(fm.module(x)[0], rnn(x)[0], rtol=0, atol=ATOL)
    m = explorer.open_model(data)
    assert m.task == "regressor" and m.head.source_key == "distribution_projector.weight"


def test_darts_model_pt_says_the_weights_are_in_the_ckpt_beside_it():
    with pytest.raises(InputError) as e:
        read_foreign(L.darts_model_pt())
    msg = str(e.value)
    assert "Darts keeps this model's weights in model.pt.ckpt beside it: upload that" in msg and "\n" not in msg


def test_darts_ckpt_opens_batch_first():
    torch.manual_seed(0)
    rnn, V = nn.GRU(2, 12, 1, batch_first=True), nn.Linear(12, 1)
    sd = OrderedDict([(f"rnn.{k}", v) for k, v in rnn.state_dict().items()] + [(f"V.{k}", v) for k, v in V.state_dict().items()])
    ckpt = {"epoch": 9, "state_dict": sd, "pytorch-lightning_version": "2.5.0",
            "hyper_parameters": {"name": "GRU", "input_size": 2, "hidden_dim": 12, "num_layers": 1, "target_size": 1,
                                 "nr_params": 1, "input_chunk_length": 12, "output_chunk_length": 1}}
    buf = io.BytesIO()
    torch.save(ckpt, buf)
    found = read_foreign(buf.getvalue())
    assert found.library == "Darts" and found.modules["rnn"].recorded["batch_first"] is True
    x = torch.randn(3, 12, 2)
    with torch.no_grad():
        torch.testing.assert_close(found.modules["rnn"].module(x)[0], rnn(x)[0], rtol=0, atol=ATOL)


def test_fastai_export_pkl_opens_every_layer_with_its_vocabulary_and_decoder():
    data, lm = L.fastai_export(vocab_size=40)
    found = read_foreign(data)
    assert set(found.modules) == {"0.rnns.0.module", "0.rnns.1.module", "0.rnns.2.module"} and found.library == "fastai"
    L.assert_awd_layers_equal(found, lm, ATOL)
    m = explorer.open_model(data, prefix="0.rnns.2.module")
    assert m.head.source_key == "1.decoder.weight" and m.task == "language model"
    assert m.vocab is None or len(m.vocab) == 40                  # the last layer reads the one before, not tokens
    first = explorer.open_model(data, prefix="0.rnns.0.module")
    assert first.vocab.itos[:3] == ["xxunk", "xxpad", "xxbos"] and "fastai's vocabulary" in first.recorded["vocabulary"]


# ---- nothing of the libraries is imported: loading runs where importing them fails ----

BLOCK = """
import sys, importlib.abc
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ImportError("blocked: " + name)
sys.meta_path.insert(0, Block())
import json, explorer
from explorer.io.readers.foreign import read_foreign
out = {{}}
for path in sys.argv[1:]:
    try:
        out[path] = sorted(read_foreign(open(path, "rb").read()).modules)
    except explorer.InputError as e:
        out[path] = str(e)
out["imported"] = sorted(m for m in sys.modules if m.split(".")[0] in {blocked!r})
print(json.dumps(out))
"""


def test_loading_imports_none_of_the_libraries(tmp_path):
    blocked = {"pandas", "pyarrow", "flair", "fastai", "fastcore", "gru4rec_pytorch", "lib", "pytorch_forecasting",
               "darts", "sklearn"}
    files = {"flair.pt": L.flair_language_model()[0], "gru4rec.pt": L.gru4rec_official()[0],
             "trainer.pt": L.gru4rec_pytorch_checkpoint()[0], "forecast.ckpt": L.forecasting_checkpoint()[0],
             "model.pt": L.darts_model_pt(), "export.pkl": L.fastai_export()[0]}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    res = subprocess.run([sys.executable, "-c", BLOCK.format(blocked=blocked)] + [str(tmp_path / n) for n in files],
                         capture_output=True, text=True, cwd=root, env={**os.environ, "PYTHONPATH": root}, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out.pop("imported") == []
    got = {os.path.basename(k): v for k, v in out.items()}
    assert got["flair.pt"] == ["rnn"] and got["gru4rec.pt"] == ["G.0"] and got["trainer.pt"] == ["gru"]
    assert got["forecast.ckpt"] == ["rnn"] and len(got["export.pkl"]) == 3 and "model.pt.ckpt" in got["model.pt"]


def test_opennmt_encoder_reads_text_through_its_own_vocabulary():
    data, emb, lstm, src = L.opennmt_checkpoint()
    found = read_foreign(data)
    assert found.library == "OpenNMT-py" and {"encoder.rnn", "decoder.rnn.layers.0"} <= set(found.modules)
    m = explorer.open_model(data, prefix="encoder.rnn")
    assert m.embedding.source_key == "encoder.embeddings.make_embedding.emb_luts.0.weight"
    assert m.vocab.itos == src and "OpenNMT-py's source vocabulary" in m.recorded["vocabulary"]
    ids = torch.tensor([src.index(w) for w in "s3 s7 s1 s9".split()])
    with torch.no_grad():
        want = lstm.double()(emb.weight.double()[ids])[0]
        got = m.core.double()(m.inputs("s3 s7 s1 s9").double())[0]
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
