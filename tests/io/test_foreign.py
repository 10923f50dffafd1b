"""Foreign checkpoints as real projects save them, built here: whole pickled models (the
word_language_model example's RNNModel, AWD-LSTM's [model, criterion, optimizer]), Lightning
checkpoints, training dicts, DataParallel, cells, weight-dropped LSTMs, TorchScript, relu RNNs,
projections, bfloat16/float16. Each rebuilt module must compute what the original computes, and
nothing from a file may be imported or run."""
import io
import pickle
import sys

import pytest
import torch
import torch.nn as nn
from projects import AWDModel, Criterion, Decoder, RNNModel, Scripted, saved

import explorer
from explorer import InputError, load_recurrent, trace
from explorer.io.models.tasks import parts_for
from explorer.io.readers.foreign import read_foreign


def same_output(stock, mod, x, atol=1e-6):
    stock, mod = stock.eval(), mod.eval()
    with torch.no_grad():
        want, got = stock(x)[0], mod(x.to(next(mod.parameters()).dtype))[0]
    torch.testing.assert_close(got.to(want.dtype), want, atol=atol, rtol=0)


def imported_nothing_new(before):
    return "model" not in sys.modules and not [m for m in set(sys.modules) - before if not m.startswith(("torch", "explorer"))]


# ---- whole pickled models ------------------------------------------------------------------------

@pytest.mark.parametrize("rnn_type", ["LSTM", "GRU", "RNN_TANH", "RNN_RELU"])
def test_word_language_model_saved_whole(rnn_type):
    torch.manual_seed(0)
    m = RNNModel(rnn_type, 50, 8, 16, 2).eval()
    data = saved(m)
    before = set(sys.modules)
    found = read_foreign(data)
    assert imported_nothing_new(before)
    assert set(found.modules) == {"rnn"} and found.source == "pickled model"
    fm = found.modules["rnn"]
    same_output(m.rnn, fm.module, torch.randn(13, 3, 8))
    if rnn_type.startswith("RNN"):
        assert fm.module.nonlinearity == rnn_type[4:].lower() and "nonlinearity" not in fm.assumed
        assert fm.recorded["nonlinearity"] == rnn_type[4:].lower()
    assert fm.recorded["batch_first"] is False and "batch_first" not in fm.assumed
    assert any("model.RNNModel" in n and "not imported or run" in n for n in found.notes)
    parts = parts_for(found, "rnn")
    emb, head = parts.embedding, parts.head
    torch.testing.assert_close(emb.weight, m.encoder.weight)
    torch.testing.assert_close(head.weight, m.decoder.weight)
    torch.testing.assert_close(head.bias, m.decoder.bias)


def test_tied_weights_and_awd_lstm_saved_with_criterion_and_optimizer():
    torch.manual_seed(0)
    tied = RNNModel("LSTM", 40, 16, 16, 1, tie_weights=True).eval()
    found = read_foreign(saved(tied))
    parts = parts_for(found, "rnn")
    torch.testing.assert_close(parts.head.weight, tied.encoder.weight)
    assert parts.tied and parts.head.source_key == "decoder.weight"
    awd = AWDModel().eval()
    opt = torch.optim.SGD(awd.parameters(), lr=0.1)
    mods = load_recurrent(saved([awd, Criterion(), opt]))
    assert set(mods) == {"0.rnns.0.module", "0.rnns.1.module"}
    x = torch.randn(9, 2, 6)
    ref0 = nn.LSTM(6, 8).eval()
    ref0.load_state_dict({k.replace("_raw", ""): v for k, v in awd.rnns[0].module.state_dict().items()})
    same_output(ref0, mods["0.rnns.0.module"], x)


def test_a_payload_in_a_whole_model_is_refused_by_name_and_never_runs(tmp_path):
    target = tmp_path / "ran.txt"

    class Payload:
        def __reduce__(self):
            import os
            return (os.system, (f"touch {target}",))
    m = RNNModel("LSTM", 10, 4, 4, 1)
    m.extra = Payload()
    with pytest.raises(InputError, match=r"refused: its pickle calls (os|posix)\.system") as e:
        read_foreign(saved(m))
    assert "\n" not in str(e.value) and "\x1b" not in str(e.value)

    class Eval:
        def __reduce__(self):
            return (eval, (f"open({str(target)!r}, 'w')",))
    with pytest.raises(InputError, match=r"calls builtins\.eval"):
        read_foreign(saved({"rnn.weight_ih_l0": torch.zeros(4, 2), "x": Eval()}))
    with pytest.raises(InputError, match=r"calls builtins\.eval"):
        read_foreign(pickle.dumps(Eval(), protocol=4))
    assert not target.exists()


# ---- training-checkpoint layouts ------------------------------------------------------------------

def test_lightning_checkpoint_training_dict_and_dataparallel():
    torch.manual_seed(0)
    net = RNNModel("GRU", 20, 6, 10, 2).eval()
    opt = torch.optim.Adam(net.parameters())
    lightning = {"epoch": 3, "global_step": 120, "pytorch-lightning_version": "2.4.0",
                 "state_dict": {f"model.{k}": v for k, v in net.state_dict().items()},
                 "optimizer_states": [opt.state_dict()], "lr_schedulers": [], "hyper_parameters": {"lr": 1e-3}}
    for src in (saved(lightning), saved({"model": net.state_dict(), "optimizer": opt.state_dict(), "epoch": 7}),
                saved({f"module.{k}": v for k, v in net.state_dict().items()}), saved(net.state_dict())):
        mods = load_recurrent(src)
        assert list(mods) == ["rnn"], list(mods)
        same_output(net.rnn, mods["rnn"], torch.randn(7, 2, 6))


@pytest.mark.parametrize("cls", [nn.LSTMCell, nn.GRUCell, nn.RNNCell])
def test_cells_become_one_layer_modules_and_stepping_the_cell_equals_the_trace(cls):
    torch.manual_seed(0)
    dec = Decoder(cls(5, 7)).double()
    found = read_foreign(dec.state_dict())
    fm = found.modules["cell"]
    assert fm.cell and fm.module.num_layers == 1
    x = torch.randn(11, 5, dtype=torch.double)
    tr = trace(fm.module, x)
    h = torch.zeros(1, 7, dtype=torch.double)
    c = torch.zeros(1, 7, dtype=torch.double)
    for t in range(11):
        if cls is nn.LSTMCell:
            h, c = dec.cell(x[t:t + 1], (h, c))
            torch.testing.assert_close(tr.c[0, 0, t], c, atol=1e-12, rtol=0)
        else:
            h = dec.cell(x[t:t + 1], h)
        torch.testing.assert_close(tr.h[0, 0, t], h, atol=1e-12, rtol=0)
    assert parts_for(found, "cell").embedding.weight.shape == (12, 5)


def test_relu_cell_from_a_whole_pickle_keeps_relu():
    dec = Decoder(nn.RNNCell(5, 7, nonlinearity="relu"))
    fm = read_foreign(saved(dec)).modules["cell"]
    assert fm.module.nonlinearity == "relu" and not fm.assumed.get("nonlinearity")


# ---- TorchScript ----------------------------------------------------------------------------------

def test_torchscript_archive_is_read_without_running_it():
    torch.manual_seed(0)
    m = Scripted().eval()
    buf = io.BytesIO()
    torch.jit.save(torch.jit.script(m), buf)
    found = read_foreign(buf.getvalue())
    assert found.source == "TorchScript" and any("TorchScript archive" in n for n in found.notes)
    rnn, act = found.modules["rnn"], found.modules["act"]
    assert rnn.module.batch_first and rnn.module.proj_size == 3 and rnn.module.bidirectional
    assert act.module.nonlinearity == "relu" and not act.assumed
    same_output(m.rnn, rnn.module, torch.randn(2, 9, 4))
    same_output(m.act, act.module, torch.randn(9, 2, 6))


# ---- what a state_dict cannot say, dtypes, projections --------------------------------------------

def test_a_bare_relu_state_dict_says_what_it_assumed_and_takes_overrides():
    torch.manual_seed(0)
    relu = nn.RNN(3, 5, nonlinearity="relu")
    found = read_foreign(relu.state_dict())
    fm = found.modules[""]
    assert fm.assumed == {"nonlinearity": "tanh", "batch_first": False}
    fixed = load_recurrent(relu.state_dict(), overrides={"": {"nonlinearity": "relu", "batch_first": True}})[""]
    assert fixed.nonlinearity == "relu" and fixed.batch_first
    same_output(relu, load_recurrent(relu.state_dict(), overrides={"": {"nonlinearity": "relu"}})[""],
                torch.randn(6, 2, 3))
    same_output(relu, load_recurrent(relu.state_dict(), nonlinearity="relu")[""], torch.randn(6, 2, 3))
    pickled_tanh = RNNModel("RNN_TANH", 10, 3, 5, 1)          # a recorded value beats the assumed default
    assert load_recurrent(saved(pickled_tanh), nonlinearity="relu")["rnn"].nonlinearity == "tanh"
    with pytest.raises(InputError, match="'tanh' or 'relu'"):
        load_recurrent(relu.state_dict(), overrides={"": {"nonlinearity": "sigmoid"}})


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_low_precision_weights_are_traced_in_float32(dtype):
    torch.manual_seed(0)
    lstm = nn.LSTM(4, 6, num_layers=2, proj_size=3).to(dtype)
    found = read_foreign(saved({"encoder.weight": torch.randn(9, 4).to(dtype), **{f"rnn.{k}": v for k, v in lstm.state_dict().items()}}))
    mod = found.modules["rnn"].module
    assert mod.weight_ih_l0.dtype == torch.float32 and mod.proj_size == 3
    assert any(str(dtype).replace("torch.", "") in n and "float32" in n for n in found.notes)
    same_output(lstm.float(), mod, torch.randn(5, 2, 4))
    assert parts_for(found, "rnn").embedding.weight.dtype == torch.float32


@pytest.mark.parametrize("src,match", ids=["binary", "no weights", "a pickled Linear"], argvalues=[
    (b"\x00\x01binary that is nothing at all......", "neither a PyTorch checkpoint"),
    (saved({"weights": [1, 2, 3]}), "no LSTM, GRU or RNN weights"),
    (saved(nn.Linear(2, 2)), r"no LSTM, GRU or RNN weights found in this checkpoint \(it pickles"),
])
def test_refusals_are_one_sentence(src, match):
    with pytest.raises(InputError, match=match) as e:
        read_foreign(src)
    assert "\n" not in str(e.value)


# ---- vocabularies ---------------------------------------------------------------------------------

def test_vocabularies_json_lines_and_corpus():
    import json

    from explorer.io.inputs.tokens import TokenVocab
    from explorer.io.inputs.vocabularies import read_vocabulary
    corpus = "the king said\nthe queen said no\n"
    v = read_vocabulary(corpus.encode(), rows=6)
    assert v.itos == ["the", "king", "said", "<eos>", "queen", "no"] and v.level == "word"
    assert v.tokens("the king\nsaid") == ["the", "king", "<eos>", "said", "<eos>"]
    assert v.unknown("the jester said") == ["jester"] and v.encode("the jester said").tolist() == [0, 2, 3]
    j = read_vocabulary(json.dumps({"a": 1, "b": 0, "<unk>": 2}).encode(), rows=3)
    assert j.itos == ["b", "a", "<unk>"] and j.level == "char" and j.encode("abz").tolist() == [1, 0, 2]
    lines = read_vocabulary("x\ny\nz\n".encode(), rows=3)
    assert lines.itos == ["x", "y", "z"]
    assert isinstance(lines, TokenVocab)
    with pytest.raises(InputError, match="5 rows"):
        read_vocabulary(corpus.encode(), rows=5)
    gaps = read_vocabulary(json.dumps({"a": 0, "b": 5}).encode(), rows=2)      # ids beyond the rows: dropped, said
    assert gaps.itos == ["a", "<id 1>"] and any("dropped" in n for n in gaps.notes)


def test_the_opened_token_model_equals_the_original_model():
    from explorer.io.inputs.tokens import TokenVocab, corpus_vocabulary
    torch.manual_seed(0)
    corpus = "a b c\nb c d\n"
    vocab = TokenVocab(corpus_vocabulary(corpus))
    m = RNNModel("GRU", len(vocab), 4, 6, 2).eval()
    om = explorer.open_model(saved(m), vocab=vocab)
    assert om.head.source_key == "decoder.weight" and om.embedding.source_key == "encoder.weight"
    ids = vocab.encode("a b c d\nc b a")
    with torch.no_grad():
        want = m.decoder(m.rnn(m.encoder(ids[:, None]))[0])[:, 0]
        got = om.logits(om.embed(ids))[:, 0]
    torch.testing.assert_close(got, want, atol=1e-6, rtol=0)
