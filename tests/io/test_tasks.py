"""Models as they are used (explorer.open_model): forecasters, classifiers, encoders and language
models written as their tutorials write them, saved whole and as state_dicts. The task read, the
readout equal to the original model's own forward (float64), no next-token claim for a model that is
not a language model, series from dated and multi-column CSVs, a pickled scikit-learn scaler read inertly."""
import io
import json
import sys

import pytest
import torch
from projects import (
    AttnDecoderRNN,
    Classifier,
    EncoderRNN,
    FakeMinMaxScaler,
    Forecaster,
    RNNModel,
    Sentiment,
    airline_csv,
    saved,
    saved_with_scaler,
)

import explorer
from explorer import InputError
from explorer.io.inputs.series import Scaler, read_table

VOCAB = ["<unk>", "<pad>", "the", "film", "was", "great", "awful", "and", "a", "plot", "moving", "boring"]


def state_dict_bytes(model) -> bytes:
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.getvalue()


def both(model):
    """The two ways people save: the whole model and its state_dict."""
    return [saved(model), state_dict_bytes(model)]


@pytest.mark.parametrize("how", [0, 1])
def test_forecaster_reads_a_dated_csv_and_its_readout_is_its_forward(how):
    torch.manual_seed(0)
    net = Forecaster().double().eval()
    m = explorer.open_model(both(net)[how])
    assert m.task == "regressor" and m.assumed["task"] == "regressor" and m.prefix == "lstm"
    assert m.head is not None and m.head.source_key == "fc.weight" and not m.reads_tokens
    table = read_table(airline_csv())
    assert list(table.numeric) == ["Passengers"] and list(table.labels) == ["Month"]
    assert table.row_labels()[:2] == ["1949-01", "1949-02"]
    x = m.inputs(table, scale="min-max")                       # (T, 1), scaled to [0, 1]
    assert x.shape == (48, 1) and float(x.min()) == 0.0 and float(x.max()) == 1.0
    y = m.readout(x)                                            # (T, 1, 1): the forecast after each step
    assert y.shape == (48, 1, 1)
    with torch.no_grad():
        for t in (0, 10, 47):                                   # the model's own forward on the series up to t
            want = net(x[None, :t + 1])
            torch.testing.assert_close(y[t], want, atol=1e-12, rtol=0)


def test_three_feature_forecaster_takes_its_columns_in_order():
    torch.manual_seed(1)
    net = Forecaster(features=3, hidden=8, layers=1).double().eval()
    m = explorer.open_model(state_dict_bytes(net))
    csv = b"date,temp,humidity,wind\n" + b"".join(f"2024-01-{d:02d},{d * 0.5},{50 + d},{d % 4}\n".encode()
                                                  for d in range(1, 21))
    table = read_table(csv)
    x = m.inputs(table, columns=["wind", "temp", "humidity"])
    assert x.shape == (20, 3) and float(x[0, 0]) == 1.0 and float(x[0, 1]) == 0.5    # wind first, as asked
    with pytest.raises(InputError, match="reads 3 feature"):
        m.inputs(table, columns=["temp"])
    with pytest.raises(InputError, match="label column"):
        m.inputs(table, columns=["date", "temp", "wind"])
    y = m.readout(x)
    with torch.no_grad():
        torch.testing.assert_close(y[-1], net(x[None]), atol=1e-12, rtol=0)


def vocab_json() -> bytes:
    return json.dumps({t: i for i, t in enumerate(VOCAB)}).encode()


@pytest.mark.parametrize("how", [0, 1])
def test_bidirectional_sentiment_classifier_gives_one_verdict_equal_to_its_forward(how):
    torch.manual_seed(2)
    # embedding width == the head's input width (2 × hidden): the embedding must not be taken for the head
    net = Sentiment(len(VOCAB), embedding_dim=8, hidden_dim=4).double().eval()
    m = explorer.open_model(both(net)[how], vocab=vocab_json())
    assert m.task == "classifier" and m.head.source_key == "fc.weight" and m.embedding.source_key == "embedding.weight"
    assert m.final_only and m.assumed["reads"] == "forward then backward"
    x = m.inputs("the film was great and moving")
    ids = m.vocab.encode("the film was great and moving")
    p = m.readout(x)
    assert p.shape == (1, 1, 1)                                 # one verdict, one logit -> a probability
    with torch.no_grad():
        want = torch.sigmoid(net(ids[:, None]))                 # the tutorial's text is (T, B)
    torch.testing.assert_close(p[0], want, atol=1e-12, rtol=0)


def test_unidirectional_classifier_verdict_forms_word_by_word():
    torch.manual_seed(3)
    net = Classifier(len(VOCAB), 6, 5, classes=3).double().eval()
    m = explorer.open_model(saved(net), vocab=vocab_json())
    assert m.task == "classifier" and not m.final_only and m.assumed["reads"] == "the last step"
    text = "a boring plot and awful"
    x = m.inputs(text)
    p = m.readout(x)                                             # (T, 1, 3)
    ids = m.vocab.encode(text)
    assert p.shape == (len(ids), 1, 3)
    torch.testing.assert_close(p.sum(-1), torch.ones(len(ids), 1, dtype=p.dtype), atol=1e-12, rtol=0)
    with torch.no_grad():
        out, _ = net.gru(net.embedding(ids[None]))               # the head applied to the module's own output
        torch.testing.assert_close(p[:, 0], torch.softmax(net.fc(out[0]), -1), atol=1e-12, rtol=0)
        torch.testing.assert_close(p[-1], torch.softmax(net(ids[None]), -1), atol=1e-12, rtol=0)


def test_a_word_the_vocabulary_lacks_reads_as_unk():
    torch.manual_seed(3)
    m = explorer.open_model(saved(Classifier(len(VOCAB), 6, 5).double().eval()), vocab=vocab_json())
    assert m.vocab.known("the zebra film") == ["the", "<unk>", "film"]


def test_seq2seq_encoder_and_attention_decoder_in_one_file():
    torch.manual_seed(4)
    enc, dec = EncoderRNN(11, 6).double(), AttnDecoderRNN(6, 9).double()
    buf = io.BytesIO()
    torch.save({"encoder": enc.state_dict(), "decoder": dec.state_dict()}, buf)
    data = buf.getvalue()
    m = explorer.open_model(data)
    assert set(m.cores) == {"encoder.gru", "decoder.gru"} and m.prefix == "decoder.gru"    # sorted: decoder first
    e = explorer.open_model(data, prefix="encoder.gru")
    assert e.task == "encoder" and e.head is None and e.embedding.source_key == "encoder.embedding.weight"
    assert e.embedding.num_embeddings == 11                      # its own, not the decoder's 9 rows
    x = e.embed(torch.tensor([1, 4, 2]))
    assert e.readout(x) is None
    d = explorer.open_model(data, prefix="decoder.gru")
    assert d.task == "language model" and d.head.source_key == "decoder.out.weight" and d.embedding is None
    assert "attention" in d.why


def test_tied_language_model_reads_as_a_language_model():
    torch.manual_seed(5)
    net = RNNModel("LSTM", 12, 8, 8, 1, dropout=0.0, tie_weights=True).double().eval()
    m = explorer.open_model(saved(net), vocab=json.dumps(VOCAB).encode())
    assert m.task == "language model" and m.head.source_key == "decoder.weight"
    x = m.inputs("the film was great")
    p = m.readout(x)
    ids = m.vocab.encode("the film was great")
    with torch.no_grad():
        out, _ = net.rnn(net.encoder(ids[:, None]))
        torch.testing.assert_close(p, torch.softmax(net.decoder(out), -1), atol=1e-12, rtol=0)


def test_no_next_token_claim_for_what_is_not_a_language_model():
    torch.manual_seed(6)
    for data, vocab in [(saved(Sentiment(len(VOCAB), 8, 4).double()), vocab_json()),
                        (saved(Forecaster().double()), None)]:
        m = explorer.open_model(data, vocab=vocab)
        assert m.task != "language model"


def test_the_task_can_be_changed_and_a_file_can_record_it():
    torch.manual_seed(7)
    net = Forecaster(hidden=4, layers=1).double()
    m = explorer.open_model(state_dict_bytes(net), overrides={"task": "encoder"})
    assert m.task == "encoder" and "task" not in m.assumed and m.readout(m.inputs(torch.rand(5, 1))) is None
    buf = io.BytesIO()
    torch.save({"state_dict": net.state_dict(), "hyper_parameters": {"task": "forecasting", "lr": 1e-3}}, buf)
    m = explorer.open_model(buf.getvalue())
    assert m.task == "regressor" and m.recorded["task"] == "regressor" and "task" not in m.assumed
    with pytest.raises(InputError, match="task must be one of"):
        explorer.open_model(state_dict_bytes(net), overrides={"task": "poetry"})


def test_a_pickled_minmax_scaler_is_read_without_importing_sklearn():
    torch.manual_seed(8)
    net = Forecaster(hidden=4, layers=1).double().eval()
    data = saved_with_scaler(net.state_dict(), FakeMinMaxScaler([100.0], [600.0]))
    before = set(sys.modules)
    m = explorer.open_model(data)
    assert not [n for n in set(sys.modules) - before if n.startswith("sklearn")]
    assert m.scaler is not None and m.scaler.source == "the checkpoint's MinMaxScaler"
    x = m.inputs(torch.tensor([[100.0], [350.0], [600.0]]))
    torch.testing.assert_close(x[:, 0], torch.tensor([0.0, 0.5, 1.0], dtype=x.dtype), atol=1e-12, rtol=0)
    assert "min 100" in m.scaler.describe(["Passengers"]) and "max 600" in m.scaler.describe(["Passengers"])


def test_scalers_fit_and_invert():
    x = torch.tensor([[1.0, 10.0], [3.0, 30.0], [5.0, 20.0]], dtype=torch.float64)
    mm = Scaler.fit(x, "min-max")
    torch.testing.assert_close(mm.transform(x).min(0).values, torch.zeros(2, dtype=torch.float64))
    torch.testing.assert_close(mm.inverse(mm.transform(x)[:, 1], feature=1), x[:, 1])
    sd = Scaler.fit(x, "standardise")
    z = sd.transform(x)
    torch.testing.assert_close(z.mean(0), torch.zeros(2, dtype=torch.float64), atol=1e-12, rtol=0)
    assert "mean 3" in sd.describe(["a", "b"])


def test_csv_tables_report_blanks_by_row_and_column_and_take_no_header():
    with pytest.raises(InputError, match=r"row 3, column 'b' is blank"):
        read_table(b"a,b\n1,2\n3,\n5,6\n")
    with pytest.raises(InputError, match=r"row 2, column 'b' is 'NaN'"):
        read_table(b"a,b\n1,NaN\n3,4\n")
    t = read_table(b"1,2\n3,4\n5,6\n")
    assert not t.header and list(t.numeric) == ["column 0", "column 1"]
    t = read_table(b"when;value\n09:00;1.5\n09:05;2\n")
    assert t.row_labels() == ["09:00", "09:05"] and t.features(["value"]).flatten().tolist() == [1.5, 2.0]
    with pytest.raises(InputError, match="too large for float32"):
        explorer.open_model("adding-lstm").inputs(torch.tensor([[1e300, 0.0], [1.0, 1.0]]))
