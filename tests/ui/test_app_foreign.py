"""AppTest: every foreign layout uploaded through the sidebar renders every tab's charts with no
error; what a file cannot say is shown and can be changed; a vocabulary reads the user's text
through the model's own embedding."""
import io

import pytest
import torch
import torch.nn as nn
from apptools import gates, ok, open_view, run_app, specs, upload_checkpoint
from projects import AWDModel, Decoder, RNNModel, Scripted, saved


def _jit(m) -> bytes:
    buf = io.BytesIO()
    torch.jit.save(torch.jit.script(m), buf)
    return buf.getvalue()


def _layouts():
    torch.manual_seed(0)
    wlm = RNNModel("LSTM", 40, 8, 16, 2)
    return {
        "word_language_model.pt": saved(wlm),
        "lightning.ckpt": saved({"epoch": 1,
                                 "state_dict": {f"model.{k}": v for k, v in RNNModel("GRU", 30, 6, 12, 1).state_dict().items()}}),
        "awd.pt": saved([AWDModel(), None, None]),
        "decoder_cell.bin": saved(Decoder(nn.LSTMCell(5, 7)).state_dict()),
        "scripted.pt": _jit(Scripted()),
        "relu.pth.tar": saved({"rnn." + k: v for k, v in nn.RNN(4, 9, nonlinearity="relu").state_dict().items()}),
        "proj_bidir.pt": saved({"rnn." + k: v for k, v in
                                nn.LSTM(6, 10, num_layers=2, bidirectional=True, proj_size=4).state_dict().items()}),
        "bf16.pt": saved({"encoder.weight": torch.randn(20, 6).bfloat16(),
                          **{"rnn." + k: v.bfloat16() for k, v in nn.GRU(6, 8, num_layers=2).state_dict().items()}}),
    }


def _other_frameworks(tmp="/tmp"):
    """A Keras 3 .keras (Embedding, bidirectional LSTM, Dense), an ONNX GRU and a dynamically quantized LSTM."""
    import os
    import tempfile
    out = {}
    q = nn.Module()
    q.rnn = nn.LSTM(5, 7, num_layers=2)
    out["quantized.pt"] = saved(torch.ao.quantization.quantize_dynamic(q, {nn.LSTM}, dtype=torch.qint8).state_dict())
    buf = io.BytesIO()
    torch.onnx.export(nn.GRU(4, 6).eval(), (torch.randn(5, 1, 4),), buf, dynamo=False)
    out["gru.onnx"] = buf.getvalue()
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
    keras.utils.set_random_seed(0)
    km = keras.Sequential([keras.Input((8,), dtype="int32"), keras.layers.Embedding(20, 6),
                           keras.layers.Bidirectional(keras.layers.LSTM(5, return_sequences=True)),
                           keras.layers.Dense(20)])
    with tempfile.TemporaryDirectory() as d:
        km.save(os.path.join(d, "m.keras"))
        with open(os.path.join(d, "m.keras"), "rb") as f:
            out["model.keras"] = f.read()
    return out


LAYOUTS = _layouts() | _other_frameworks()


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_every_layout_renders_every_tab(name):
    at = upload_checkpoint(run_app(), name, LAYOUTS[name])
    assert not at.error, [e.value for e in at.error]
    assert "h" in gates(at)
    assert len(specs(at)) >= 2                            # the gates and the open view's figures
    for view in ("Units over time", "Step inspector"):    # the views that read the model's own kind and layout
        open_view(at, view)
        assert not at.error, (view, [e.value for e in at.error])


def test_a_bare_relu_state_dict_shows_its_assumption_and_a_picker():
    at = upload_checkpoint(run_app(), "relu.pth.tar", LAYOUTS["relu.pth.tar"])
    side = " ".join(c.value for c in at.sidebar.caption) + " ".join(m.value for m in at.sidebar.markdown)
    assert "tanh (assumed; nothing in the file records it)" in side.replace("\\", "")
    pick = at.sidebar.selectbox(key="ck_nonlin_rnn")
    assert pick.value == "tanh"
    pick.set_value("relu").run()
    ok(at)
    assert "nonlinearity relu" in " ".join(c.value for c in at.sidebar.caption)


def test_a_pickled_relu_model_says_what_it_recorded():
    m = RNNModel("RNN_RELU", 30, 6, 12, 1)
    at = upload_checkpoint(run_app(), "wlm_relu.pt", saved(m))
    side = " ".join(c.value for c in at.sidebar.caption)
    assert "nonlinearity relu" in side and "not imported or run" in " ".join(i.value for i in at.sidebar.info)


def test_a_refused_file_names_its_reason_in_one_sentence():
    class Boom:
        def __reduce__(self):
            import os
            return (os.system, ("echo hi",))
    at = upload_checkpoint(run_app(), "evil.pt", saved({"x": Boom()}))
    assert at.error and "calls" in at.error[0].value and "system" in at.error[0].value
    assert "\n" not in at.error[0].value


CORPUS = "the king and the queen\nthe lord of the field\nwhat say you my lord\n"


def test_a_word_model_reads_the_users_text_through_its_own_embedding():
    from explorer.io.inputs.tokens import corpus_vocabulary
    torch.manual_seed(0)
    vocab = corpus_vocabulary(CORPUS)                     # 14 words + <eos>, word_language_model's order
    m = RNNModel("LSTM", len(vocab), 8, 16, 1)
    at = upload_checkpoint(run_app(), "wlm.pt", saved(m))
    at.sidebar.file_uploader(key="ckpt_vocab").set_value(("train.txt", CORPUS.encode(), "text/plain")).run()
    ok(at)
    assert "vocabulary: 12 words" in " ".join(c.value for c in at.sidebar.caption)
    at.text_area(key="text_area").set_value("the king of the field\nwhat say you").run()
    ok(at)
    assert not at.error
    labels = gates(at)["h"]["ticktext"] or []
    assert "king" in " ".join(map(str, labels)) and "&lt;eos&gt;" in " ".join(map(str, labels))   # escaped: never HTML
    # the unknown word is named
    at.text_area(key="text_area").set_value("the dragon of the field").run()
    assert any("dragon" in w.value for w in at.warning)


def test_a_vocabulary_of_the_wrong_size_is_one_sentence():
    m = RNNModel("GRU", 99, 8, 16, 1)
    at = upload_checkpoint(run_app(), "wlm.pt", saved(m))
    at.sidebar.file_uploader(key="ckpt_vocab").set_value(("train.txt", CORPUS.encode(), "text/plain")).run()
    ok(at)
    assert any("99 rows" in e.value for e in at.error)
