"""Other frameworks, exactly: Keras 3 models (on its torch backend) saved as .keras and .h5, and ONNX files
exported from nn.LSTM / nn.GRU / nn.RNN, each read into stock modules whose outputs equal the framework's
own (Keras' predict, onnxruntime) at 1e-5; what cannot be mapped exactly is refused in one sentence."""
import io
import os

import numpy as np
import pytest
import torch
import torch.nn as nn

import explorer
from explorer import InputError

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")


def keras_bytes(model, tmp_path, ext) -> bytes:
    path = tmp_path / f"m.{ext}"
    model.save(str(path))
    return path.read_bytes()


def _series_model(layer):
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((7, 3)), layer])


@pytest.mark.parametrize("ext", ["keras", "h5"])
@pytest.mark.parametrize("make", [
    lambda: keras.layers.LSTM(5, return_sequences=True),
    lambda: keras.layers.GRU(4, return_sequences=True),
    lambda: keras.layers.SimpleRNN(6, return_sequences=True),
    lambda: keras.layers.SimpleRNN(6, activation="relu", return_sequences=True),
    lambda: keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=True)),
    lambda: keras.layers.Bidirectional(keras.layers.GRU(3, return_sequences=True)),
], ids=["lstm", "gru", "simple_rnn", "simple_rnn_relu", "bidirectional_lstm", "bidirectional_gru"])
def test_keras_recurrent_layers_equal_keras(make, ext, tmp_path):
    km = _series_model(make())
    x = np.random.default_rng(0).standard_normal((2, 7, 3)).astype("float32")
    want = np.asarray(km.predict(x, verbose=0))
    mods = explorer.load_recurrent(keras_bytes(km, tmp_path, ext))
    (mod,) = mods.values()
    assert mod.batch_first
    got = mod(torch.from_numpy(x))[0].detach().numpy()
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


@pytest.mark.parametrize("ext", ["keras", "h5"])
def test_a_keras_sentiment_classifier_opens_with_its_task_and_verdict(ext, tmp_path):
    keras.utils.set_random_seed(1)
    km = keras.Sequential([keras.Input((6,), dtype="int32"), keras.layers.Embedding(12, 5),
                           keras.layers.LSTM(4), keras.layers.Dense(1, activation="sigmoid")])
    ids = np.array([[2, 3, 4, 5, 7, 10]], dtype="int32")
    want = float(np.asarray(km.predict(ids, verbose=0))[0, 0])
    m = explorer.open_model(keras_bytes(km, tmp_path, ext), vocab="\n".join(f"w{i}" for i in range(12)).encode())
    assert m.task == "classifier" and m.embedding is not None and m.head is not None
    x = m.embed(torch.from_numpy(ids[0]).long())
    got = float(m.readout(x)[-1, 0, 0])
    assert abs(got - want) < 1e-5


def test_keras_layers_without_an_exact_pytorch_equal_are_refused(tmp_path):
    for layer, match in [(keras.layers.GRU(3, reset_after=False, return_sequences=True), "reset_after=False"),
                         (keras.layers.LSTM(3, recurrent_activation="hard_sigmoid"), "cannot be mapped exactly"),
                         (keras.layers.LSTM(3, go_backwards=True), "go_backwards")]:
        with pytest.raises(InputError, match=match) as e:
            explorer.load_recurrent(keras_bytes(_series_model(layer), tmp_path, "keras"))
        assert "\n" not in str(e.value)
    dense_only = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(InputError, match="no LSTM, GRU or SimpleRNN layer"):
        explorer.load_recurrent(keras_bytes(dense_only, tmp_path, "keras"))


def onnx_bytes(module, x) -> bytes:
    buf = io.BytesIO()
    torch.onnx.export(module, (x,), buf, dynamo=False, input_names=["x"])
    return buf.getvalue()


@pytest.mark.parametrize("module", [
    lambda: nn.LSTM(3, 5), lambda: nn.GRU(3, 4), lambda: nn.RNN(3, 6, nonlinearity="relu"),
    lambda: nn.LSTM(3, 4, bidirectional=True), lambda: nn.GRU(3, 4, num_layers=2)],
    ids=["lstm", "gru", "rnn_relu", "bidirectional_lstm", "two_layer_gru"])
def test_onnx_recurrent_nodes_equal_onnxruntime(module):
    torch.manual_seed(0)
    mod = module().eval()
    x = torch.randn(9, 1, 3)
    data = onnx_bytes(mod, x)
    want = ort.InferenceSession(data).run(None, {"x": x.numpy()})[0]
    mods = explorer.load_recurrent(data)
    out = x
    for m in mods.values():                     # one module per node: a 2-layer export has two
        out = m(out)[0]
    np.testing.assert_allclose(out.detach().numpy(), want, atol=1e-5, rtol=0)


def test_onnx_nodes_without_an_exact_pytorch_equal_are_refused():
    torch.manual_seed(0)
    data = onnx_bytes(nn.LSTM(3, 4).eval(), torch.randn(5, 1, 3))
    model = onnx.load_model_from_string(data)
    node = next(n for n in model.graph.node if n.op_type == "LSTM")
    peep = onnx.numpy_helper.from_array(np.ones((1, 12), dtype=np.float32), "peepholes")
    model.graph.initializer.append(peep)
    while len(node.input) < 8:
        node.input.append("")
    node.input[7] = "peepholes"
    with pytest.raises(InputError, match="peephole") as e:
        explorer.load_recurrent(model.SerializeToString())
    assert "\n" not in str(e.value)
    node.input[7] = ""
    node.attribute.append(onnx.helper.make_attribute("clip", 3.0))
    with pytest.raises(InputError, match="clip"):
        explorer.load_recurrent(model.SerializeToString())
    graph = onnx.helper.make_graph([onnx.helper.make_node("Relu", ["x"], ["y"])], "g",
                                   [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
                                   [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])])
    plain = onnx.helper.make_model(graph, producer_name="pytorch")
    with pytest.raises(InputError, match="no LSTM, GRU or RNN node"):
        explorer.load_recurrent(plain.SerializeToString())
