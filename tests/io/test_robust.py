"""Files and inputs read truthfully, or refused in one sentence: what a training checkpoint records is
used; each module of a multi-module file owns its pieces; quantized, torch.export, Keras, ONNX and
SavedModel files say what they are; declared sizes are checked against the memory budget before anything
is allocated; pickles are read against an allowlist; messages quote at most a short excerpt."""
import io
import json
import struct
import time
import zipfile

import pytest
import torch
import torch.nn as nn
from projects import AttnDecoderRNN, EncoderRNN, saved

import explorer
from explorer import InputError
from explorer.io.readers.foreign import read_foreign


def sd_bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def one_line(e: InputError) -> str:
    msg = str(e)
    assert "\n" not in msg and len(msg) < 400, msg
    return msg


def test_a_lightning_checkpoint_records_relu_in_its_hyper_parameters():
    torch.manual_seed(0)
    rnn = nn.RNN(4, 6, nonlinearity="relu")
    ckpt = {"epoch": 3, "global_step": 10, "pytorch-lightning_version": "2.4.0",
            "state_dict": {"model.rnn." + k: v for k, v in rnn.state_dict().items()},
            "hyper_parameters": {"nonlinearity": "relu", "hidden_size": 6, "lr": 1e-3}}
    fm = read_foreign(sd_bytes(ckpt)).modules["rnn"]           # Lightning's "state_dict" and "model." unwrapped
    assert fm.module.nonlinearity == "relu" and fm.recorded["nonlinearity"] == "relu"
    assert "nonlinearity" not in fm.assumed
    x = torch.randn(7, 4)
    torch.testing.assert_close(fm.module(x)[0], rnn(x)[0], atol=1e-6, rtol=0)
    args = {"model": {"rnn." + k: v for k, v in rnn.state_dict().items()}, "args": {"model": "RNN_RELU", "nhid": 6}}
    assert read_foreign(sd_bytes(args)).modules["rnn"].module.nonlinearity == "relu"      # word_language_model's args


def test_the_seq2seq_encoder_takes_its_own_vocabulary():
    torch.manual_seed(1)
    data = sd_bytes({"encoder": EncoderRNN(41, 6).state_dict(), "decoder": AttnDecoderRNN(6, 37).state_dict()})
    enc = explorer.open_model(data, prefix="encoder.gru", vocab=json.dumps([f"w{i}" for i in range(41)]).encode())
    assert enc.embedding.num_embeddings == 41 and len(enc.vocab) == 41 and enc.task == "encoder"


@pytest.mark.parametrize("cls,kw", [(nn.LSTM, {}), (nn.LSTM, dict(num_layers=2, bidirectional=True)),
                                    (nn.GRU, dict(num_layers=3))])
def test_a_dynamically_quantized_model_is_read_as_its_dequantized_float_model(cls, kw):
    torch.manual_seed(0)
    m = nn.Module()
    m.rnn = cls(3, 5, **kw)
    q = torch.ao.quantization.quantize_dynamic(m, {cls}, dtype=torch.qint8)
    x = torch.randn(30, 2, 3)
    for data in (sd_bytes(q.state_dict()), saved(q)):
        found = read_foreign(data)
        mod = found.modules["rnn"].module
        assert (mod.num_layers, mod.bidirectional) == (kw.get("num_layers", 1), kw.get("bidirectional", False))
        note = next(n for n in found.notes if "dynamically quantized" in n)
        assert "dequantized float model" in note and "differs from the quantized module's by at most" in note
        from explorer.io.readers.foreign import _read
        from explorer.io.readers.quantized import quantized_groups, quantized_twin
        raw = _read(data)
        (entries,) = quantized_groups(raw.tensors, raw.values).values()
        with torch.no_grad():
            # the twin the note measures against is the file's quantized module, exactly ...
            torch.testing.assert_close(quantized_twin(mod, entries)(x)[0], q.rnn(x)[0], atol=0, rtol=0)
            # ... and the float model is close to it (the quantized kernels also round activations)
            gap = float((mod(x)[0] - q.rnn(x)[0]).abs().max())
            assert 0 < gap < 0.05


def test_files_we_cannot_read_say_what_they_are():
    ep = torch.export.export(nn.Linear(3, 2), (torch.randn(1, 3),))
    buf = io.BytesIO()
    torch.export.save(ep, buf)
    keras = io.BytesIO()
    with zipfile.ZipFile(keras, "w") as z:
        z.writestr("metadata.json", "{}")
        z.writestr("config.json", json.dumps({"class_name": "Sequential"}))
        z.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n")
    saved_model = io.BytesIO()
    with zipfile.ZipFile(saved_model, "w") as z:
        z.writestr("m/saved_model.pb", b"\x08\x01")
    other_zip = io.BytesIO()
    with zipfile.ZipFile(other_zip, "w") as z:
        z.writestr("readme.txt", "hello")
    cases = {"torch.export": buf.getvalue(), "Keras 3": keras.getvalue(), "HDF5": b"\x89HDF\r\n\x1a\n" + b"\0" * 100,
             "SavedModel": saved_model.getvalue(), "ONNX": b"\x08\x07\x12\x07pytorch\x1a\x032.4" + b"\0" * 40,
             "no PyTorch data.pkl": other_zip.getvalue()}
    for what, data in cases.items():
        with pytest.raises(InputError) as e:
            explorer.load_recurrent(data)
        assert what in one_line(e.value), (what, str(e.value))


def test_a_stride_0_bomb_is_refused_before_any_allocation():
    # A 2 KB file whose views claim LSTM(60000, 25000): 34 GB if built.
    w_ih, w_hh = torch.zeros(1).expand(100_000, 60_000), torch.zeros(1).expand(100_000, 25_000)
    data = sd_bytes({"rnn.weight_ih_l0": w_ih, "rnn.weight_hh_l0": w_hh})
    assert len(data) < 4000
    t = time.perf_counter()
    with pytest.raises(InputError) as e:
        explorer.load_recurrent(data)
    assert time.perf_counter() - t < 5
    msg = one_line(e.value)
    assert "would take" in msg and "the limit is 2.0 GB" in msg
    # and a claim under the limit but over a lowered one is refused the same way
    small = sd_bytes({"rnn." + k: v for k, v in nn.LSTM(64, 128).state_dict().items()})
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GATE_EXPLORER_MAX_BYTES", "100000")
        with pytest.raises(InputError, match="limit is 100 KB"):
            explorer.load_recurrent(small)
    assert explorer.load_recurrent(small)["rnn"].hidden_size == 128


def test_a_safetensors_header_that_claims_50_gb():
    header = json.dumps({"rnn.weight_ih_l0": {"dtype": "F32", "shape": [100_000, 125_000], "data_offsets": [0, 4]}})
    data = struct.pack("<Q", len(header)) + header.encode() + b"\0" * 8
    with pytest.raises(InputError) as e:
        explorer.load_recurrent(data)
    assert "50 GB" in one_line(e.value)


def test_declared_bounds_layers_sizes_and_our_config():
    lstm = nn.LSTM(3, 4).state_dict()
    far = {"rnn.weight_ih_l100000": lstm["weight_ih_l0"], "rnn.weight_hh_l100000": lstm["weight_hh_l0"],
           **{"rnn." + k: v for k, v in lstm.items()}}
    with pytest.raises(InputError, match="layer 100,000"):
        explorer.load_recurrent(sd_bytes(far))
    from safetensors.torch import save
    for cfg, match in [({"kind": "lstm", "vocab_size": 5, "hidden_size": 8, "num_layers": 10**6}, "num_layers"),
                       ({"kind": "lstm", "vocab_size": 5, "hidden_size": 10**6}, "hidden_size"),
                       ({"kind": "lstm", "vocab_size": 10**9, "hidden_size": 8}, "vocab_size"),
                       ({"kind": "lstm", "vocab_size": 5, "hidden_size": "8"}, "whole number"),
                       ({"kind": "lstm", "vocab_size": 60000, "embedding_size": 60000, "hidden_size": 60000}, "would take")]:
        data = save({"x": torch.zeros(1)}, metadata={"format": "1", "config": json.dumps(cfg)})
        with pytest.raises(InputError, match=match) as e:
            explorer.load_model(data)
        one_line(e.value)


class Payload:
    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


@pytest.mark.parametrize("target", ["timeit.timeit", "cProfile.run", "pdb.run", "codecs.open", "logging.FileHandler",
                                    "zipfile.ZipFile", "sqlite3.connect", "operator.attrgetter"])
def test_a_pickle_that_calls_anything_outside_the_allowlist_is_refused_by_name(target):
    import importlib
    mod, _, name = target.rpartition(".")
    fn = getattr(importlib.import_module(mod), name)
    data = sd_bytes({"rnn." + k: v for k, v in nn.GRU(2, 3).state_dict().items()} | {"x": Payload(fn, ("1",))})
    with pytest.raises(InputError) as e:
        explorer.load_recurrent(data)
    assert target in one_line(e.value) and "nothing of it was run" in str(e.value)


def test_vocabularies_from_several_files_and_a_hint_when_they_do_not_fit():
    train, valid, test = b"the cat sat\n", b"a dog ran\n", b"the end\n"
    words = ["the", "cat", "sat", "<eos>", "a", "dog", "ran", "end"]
    torch.manual_seed(2)
    from projects import RNNModel
    m = RNNModel("LSTM", len(words), 4, 4, 1, dropout=0.0)
    om = explorer.open_model(saved(m), vocab=[train, valid, test])
    assert om.vocab.itos == words
    with pytest.raises(InputError, match="train.txt, valid.txt and test.txt together") as e:
        explorer.open_model(saved(m), vocab=train)
    one_line(e.value)


@pytest.mark.parametrize("bad", [
    dict(intervene=explorer.Intervention("f", "abc")), dict(intervene=explorer.Intervention("f", 1.0, steps=slice(9, 2, -1))),
    dict(intervene=[explorer.Intervention("f", 1.0), 3]), dict(intervene=explorer.Intervention("f", float("nan")))])
def test_bad_trace_calls_get_one_sentence(bad):
    with pytest.raises(InputError) as e:
        explorer.trace(nn.LSTM(3, 4), torch.randn(10, 3), **bad)
    one_line(e.value)


def test_a_huge_range_of_steps_is_read_by_its_ends_and_odd_tensors_are_refused():
    tr = explorer.trace(nn.LSTM(3, 4), torch.randn(10, 3), intervene=explorer.Intervention("f", 1.0, steps=range(10**12)))
    assert bool((tr.gates["f"] == 1).all())
    for x in (torch.randn(10, 3).to_sparse(), torch.empty(10, 3, device="meta")):
        with pytest.raises(InputError, match="dense tensor"):
            explorer.trace(nn.LSTM(3, 4), x)


def test_pickle_protocols_load_or_say_which_protocol():
    sd = {"rnn." + k: v for k, v in nn.LSTM(2, 3).state_dict().items()}
    buf = io.BytesIO()
    torch.save(sd, buf, pickle_protocol=2)
    assert explorer.load_recurrent(buf.getvalue())["rnn"].hidden_size == 3
    for protocol in (4, 5):                        # read too now: rewritten as protocol 2's opcodes (io/protocols.py)
        buf = io.BytesIO()
        torch.save(sd, buf, pickle_protocol=protocol)
        got = explorer.load_recurrent(buf.getvalue())["rnn"]
        assert all(torch.equal(getattr(got, k[4:]), v) for k, v in sd.items())
