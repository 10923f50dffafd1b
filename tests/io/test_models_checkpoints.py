"""Models, parameter counts, save/load round trips, foreign checkpoints, and refusing pickles."""
import io
import os
import pickle

import pytest
import torch

from explorer import InputError, ModelConfig, Vocab, load_model, load_recurrent, save_model, trace
from explorer.io.models.ours import CharModel, SeqModel, comparable_configs, core_parameters, count_parameters


def char_model(kind="lstm", **kw):
    torch.manual_seed(0)
    v = Vocab.from_text("abcdefg hij")
    return CharModel(ModelConfig(kind, vocab_size=len(v), embedding_size=8, hidden_size=16, **kw), v)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_models_shapes_and_core(kind):
    m = char_model(kind, num_layers=2)
    assert m(torch.zeros(3, 7, dtype=torch.long)).shape == (3, 7, len(m.vocab))
    assert type(m.core) is {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[kind]
    s = SeqModel(ModelConfig(kind, input_size=2, embedding_size=8, hidden_size=16, readout="last"))
    assert s(torch.randn(4, 9, 2)).shape == (4,)
    assert core_parameters(kind, 8, 16, 2) == count_parameters(m.core)


def test_gru_has_a_quarter_fewer_parameters_and_equal_param_configs():
    assert core_parameters("gru", 64, 256) / core_parameters("lstm", 64, 256) == 0.75
    cfgs = comparable_configs(ModelConfig("lstm", vocab_size=10, embedding_size=32, hidden_size=64), "params")
    target = core_parameters("lstm", 32, 64)
    for k, c in cfgs.items():
        assert abs(core_parameters(k, 32, c.hidden_size) - target) / target < 0.05
    assert cfgs["rnn"].hidden_size > cfgs["gru"].hidden_size > cfgs["lstm"].hidden_size


def test_roundtrip_identical_logits_and_card(tmp_path):
    m = char_model("gru", num_layers=2).eval()
    path = tmp_path / "m.safetensors"
    save_model(m, path, {"corpus": "test", "steps": 3})
    m2, card = load_model(path)
    ids = m.vocab.encode("abc hij")[None]
    assert torch.equal(m(ids), m2(ids)) and card == {"corpus": "test", "steps": 3} and m2.vocab == m.vocab
    s = SeqModel(ModelConfig("rnn", input_size=2, hidden_size=5, embedding_size=4))
    s2, _ = load_model(save_model(s))
    x = torch.randn(2, 5, 2)
    assert torch.equal(s(x), s2(x))


def test_format_version_and_bad_checkpoints(tmp_path):
    data = save_model(char_model())
    with pytest.raises(InputError, match="damaged or truncated|not a readable"):
        load_model(data[:len(data) // 2])
    with pytest.raises(InputError, match="not a readable safetensors"):
        load_model(b"\x05\x00\x00\x00\x00\x00\x00\x00garbage")
    with pytest.raises(InputError, match="no checkpoint at"):
        load_model(tmp_path / "missing.safetensors")
    # weights that contradict the config
    m = char_model()
    import json

    from safetensors.torch import save
    state = {k: v.contiguous() for k, v in m.state_dict().items()}
    state["head.weight"] = torch.zeros(3, 3)
    bad = save(state, metadata={"format": "1", "config": json.dumps(m.cfg.to_dict()), "vocab": m.vocab.to_json()})
    with pytest.raises(InputError, match="contradict its config"):
        load_model(bad)
    newer = save(state, metadata={"format": "99", "config": json.dumps(m.cfg.to_dict())})
    with pytest.raises(InputError, match="newer"):
        load_model(newer)


class WordLM(torch.nn.Module):
    """The layout of PyTorch's word_language_model example: encoder / rnn / decoder."""
    def __init__(self, cls, **kw):
        super().__init__()
        self.encoder = torch.nn.Embedding(20, 6)
        self.rnn = cls(6, 5, **kw)
        self.decoder = torch.nn.Linear(5 * (2 if kw.get("bidirectional") else 1), 20)


@pytest.mark.parametrize("cls,kw", [(torch.nn.LSTM, dict(num_layers=2)), (torch.nn.GRU, dict(bidirectional=True)),
                                    (torch.nn.RNN, dict(nonlinearity="relu")),
                                    (torch.nn.LSTM, dict(proj_size=3, num_layers=2, bidirectional=True, bias=False))])
@pytest.mark.parametrize("fmt", ["pt", "safetensors", "dict"])
def test_foreign_checkpoint_traced_equal(cls, kw, fmt, tmp_path):
    torch.manual_seed(0)
    m = WordLM(cls, **kw)
    sd = m.state_dict()
    if fmt == "pt":
        src = tmp_path / "m.pt"
        torch.save({"state_dict": sd, "epoch": 3}, src)
    elif fmt == "safetensors":
        from safetensors.torch import save_file
        src = tmp_path / "m.safetensors"
        save_file({k: v.contiguous() for k, v in sd.items()}, src)
    else:
        src = sd
    mods = load_recurrent(src, overrides={"rnn": {"nonlinearity": kw.get("nonlinearity", "tanh")}})
    assert list(mods) == ["rnn"]
    x = torch.randn(7, 2, 6)
    a, b = trace(mods["rnn"], x), trace(m.rnn, x)
    assert torch.equal(a.output, b.output) and a.kind == b.kind
    assert mods["rnn"].num_layers == m.rnn.num_layers and mods["rnn"].bidirectional == m.rnn.bidirectional


def test_seq2seq_encoder_and_decoder_found():
    enc, dec = torch.nn.GRU(4, 8), torch.nn.LSTM(8, 8)
    sd = {**{f"encoder.rnn.{k}": v for k, v in enc.state_dict().items()},
          **{f"decoder.lstm.{k}": v for k, v in dec.state_dict().items()}}
    mods = load_recurrent(sd)
    assert isinstance(mods["encoder.rnn"], torch.nn.GRU) and isinstance(mods["decoder.lstm"], torch.nn.LSTM)


class Evil:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))              # would create a file if unpickled


def test_pickle_with_code_is_refused_and_never_runs(tmp_path):
    target = tmp_path / "pwned.txt"
    buf = io.BytesIO()
    torch.save({"rnn.weight_ih_l0": torch.zeros(4, 2), "evil": Evil(str(target))}, buf)
    with pytest.raises(InputError, match=r"refused: its pickle calls (io|builtins)\.open"):
        load_recurrent(buf.getvalue())
    raw = pickle.dumps(Evil(str(target)))
    with pytest.raises(InputError, match=r"refused: its pickle calls (io|builtins)\.open"):
        load_recurrent(raw)
    assert not target.exists()


@pytest.mark.parametrize("src,match", [
    (b"garbage bytes that are no checkpoint", "neither a PyTorch checkpoint"),
    (b"PK\x03\x04truncated-zip", "damaged or truncated"),
    (b"abc", "too short"),
    ({"linear.weight": torch.zeros(2, 2)}, "no LSTM, GRU or RNN weights"),
    ({"rnn.weight_ih_l0": torch.zeros(7, 3), "rnn.weight_hh_l0": torch.zeros(7, 5)}, "fits no LSTM"),
    ({"rnn.weight_ih_l0": torch.zeros(20, 3), "rnn.weight_hh_l0": torch.zeros(20, 5), "rnn.bias_ih_l0": torch.zeros(3)},
     "inconsistent"),
])
def test_foreign_bad_inputs(src, match):
    with pytest.raises(InputError, match=match):
        load_recurrent(src)


def test_truncated_pt_file(tmp_path):
    buf = io.BytesIO()
    torch.save(torch.nn.LSTM(2, 3).state_dict(), buf)
    with pytest.raises(InputError, match="damaged or truncated"):
        load_recurrent(buf.getvalue()[:200])


def test_a_file_saved_in_format_1_keeps_loading():
    """A checkpoint frozen on the day format 1 shipped, with the logits it gave then."""
    import json
    here = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data")
    m, card = load_model(os.path.join(here, "format-v1-charmodel.safetensors"))
    ref = json.load(open(os.path.join(here, "format-v1-charmodel.json")))
    with torch.no_grad():
        logits = m(m.vocab.encode(ref["text"])[None])[0]
    torch.testing.assert_close(logits, torch.tensor(ref["logits"]), atol=1e-6, rtol=0)
    assert card["note"].startswith("frozen fixture")


@pytest.mark.parametrize("kind", ["mingru", "minlstm", "slstm"])
def test_core_parameters_of_the_modern_cells_by_formula(kind):
    """minGRU and minLSTM have no W_hh; the sLSTM's is block-diagonal over its 4 heads."""
    m = char_model(kind, num_layers=2)
    assert core_parameters(kind, 8, 16, 2, num_heads=4 if kind == "slstm" else 1) == count_parameters(m.core)
    assert core_parameters(kind, 8, 16, 2, bias=False, num_heads=4 if kind == "slstm" else 1) == \
        count_parameters(m.core) - sum(p.numel() for n, p in m.core.named_parameters() if n.startswith("bias"))
