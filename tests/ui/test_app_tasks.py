"""AppTest: models as they are used, uploaded through the sidebar with their CSV or vocabulary: a
forecaster with a dated CSV, a 3-feature forecaster with a 3-column CSV, a unidirectional and a
bidirectional classifier with a JSON vocabulary, a seq2seq file's encoder, a tied language model.
Every tab renders with no exception and no error box; the task is shown; what the model says is its
own head's output; nothing claims a next token for a model that is not a language model."""
import io
import json

import numpy as np
import pytest
import torch
from apptools import array, ok, open_tab, open_view, plain, run_app, specs, upload_checkpoint
from projects import AttnDecoderRNN, Classifier, EncoderRNN, Forecaster, RNNModel, Sentiment, airline_csv, saved

import explorer

VOCAB = ["<unk>", "<pad>", "the", "film", "was", "great", "awful", "and", "a", "plot", "moving", "boring"]
TEXT = "the film was great and the plot was moving"
THREE = b"date,temp,humidity,wind\n" + b"".join(f"2024-01-{d:02d},{d * 0.5},{50 + d % 7},{d % 4}\n".encode()
                                                for d in range(1, 31))


def _seq2seq() -> bytes:
    buf = io.BytesIO()
    torch.save({"encoder": EncoderRNN(11, 6).state_dict(), "decoder": AttnDecoderRNN(6, 9).state_dict()}, buf)
    return buf.getvalue()


def _models():
    torch.manual_seed(0)
    return {
        "forecaster.pt": (saved(Forecaster().eval()), "csv", airline_csv(), "regressor"),
        "weather.pt": (saved(Forecaster(features=3, hidden=8, layers=1).eval()), "csv", THREE, "regressor"),
        "classifier.pt": (saved(Classifier(len(VOCAB), 6, 5, classes=3).eval()), "vocab", None, "classifier"),
        "sentiment.pt": (saved(Sentiment(len(VOCAB), 8, 4).eval()), "vocab", None, "classifier"),
        "seq2seq.pt": (_seq2seq(), None, None, "language model"),
        "lm.pt": (saved(RNNModel("LSTM", len(VOCAB), 8, 8, 1, dropout=0.0, tie_weights=True).eval()), "vocab", None,
                  "language model"),
    }


MODELS = _models()


def _open(name):
    data, extra, payload, _ = MODELS[name]
    at = upload_checkpoint(run_app(), name, data)
    if extra == "vocab":
        at.sidebar.file_uploader(key="ckpt_vocab").set_value(
            [("vocab.json", json.dumps({t: i for i, t in enumerate(VOCAB)}).encode(), "application/json")]).run()
        ok(at)
        at.text_area(key="text_area").set_value(TEXT).run()
    elif extra == "csv":
        at.selectbox(key="series_src").set_value("CSV upload").run()
        at.file_uploader(key="csv_upload").set_value(("series.csv", payload, "text/csv")).run()
    return ok(at)


def _no_error(at, where):
    assert not at.error, (where, [e.value for e in at.error])


def _text(at) -> str:
    return plain(" ".join([m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info]))


@pytest.mark.parametrize("name", list(MODELS))
def test_every_tab_renders_for_every_task(name):
    at = _open(name)
    _no_error(at, "explore")
    side = plain(" ".join(c.value for c in at.sidebar.caption))
    assert f"task: **{MODELS[name][3]}**" in side
    for view in ("What it says", "What it depends on", "Step inspector", "Units over time", "What if", "Export"):
        open_view(at, view)
        _no_error(at, view)
        if MODELS[name][3] != "language model":
            assert "expects next" not in _text(at), view
        if view == "What it depends on" and MODELS[name][3] in ("classifier", "regressor"):
            said = " ".join(mk.value for mk in at.markdown if "What drove the final" in mk.value)
            assert "steps; the attributions add up" in said and ("% of it)" in said or "was not met" in said), said
    for tab in ("Cell", "Gradient flow", "Units", "Explore"):
        open_tab(at, tab)
        _no_error(at, tab)


def test_the_forecaster_draws_its_prediction_against_the_series():
    at = _open("forecaster.pt")
    open_view(at, "What it says")
    fig = next(s for s in specs(at) if s["layout"].get("title", {}).get("text", "").startswith("prediction after"))
    actual, pred = (array(t["y"]) for t in fig["data"])
    # the forecaster's own forward on the series as the page scaled it (min-max fitted on the series)
    data = explorer.io.inputs.series.read_table(airline_csv())
    m = explorer.open_model(MODELS["forecaster.pt"][0])
    x = m.inputs(data, scale="min-max").float()
    sc = explorer.io.inputs.series.Scaler.fit(data.features(["Passengers"]), "min-max")
    net_out = m.readout(x)[:, 0, 0].double()
    want = sc.inverse(net_out).numpy()
    np.testing.assert_allclose(pred, want, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(actual[:-1], data.features(["Passengers"])[1:, 0].numpy())
    assert np.isnan(actual[-1])
    assert "min 1" in _text(at) or "min-max" in _text(at)
    assert fig["data"][0]["text"][0] == "1949-01"                    # the dates label the steps


def test_the_three_feature_forecaster_takes_three_columns():
    at = _open("weather.pt")
    assert at.multiselect(key="csv_cols").value == ["temp", "humidity", "wind"]
    at.multiselect(key="csv_cols").set_value(["wind", "temp"]).run()
    assert any("pick 3 columns" in e.value for e in at.error)
    at.multiselect(key="csv_cols").set_value(["wind", "temp", "humidity"]).run()
    _no_error(at, "three columns")
    at.file_uploader(key="csv_upload").set_value(("other.csv", b"a,b,c\n1,2,3\n4,5,6\n7,8,9\n", "text/csv")).run()
    _no_error(at, "a CSV with other column names")                  # a new CSV is never refused for the old names
    assert at.multiselect(key="csv_cols").value == ["a", "b", "c"]


def test_classifiers_say_their_verdict_never_a_next_token():
    at = _open("sentiment.pt")
    open_view(at, "What it says")
    assert "speaks once, after the whole input has been read" in _text(at)
    bars = next(s for s in specs(at) if s["data"][0].get("type") == "bar")
    m = explorer.open_model(MODELS["sentiment.pt"][0], vocab=json.dumps({t: i for i, t in enumerate(VOCAB)}).encode())
    want = float(m.readout(m.inputs(TEXT))[0, 0, 0])
    assert abs(float(array(bars["data"][0]["y"])[0]) - want) < 1e-6
    at = _open("classifier.pt")
    open_view(at, "What it says")
    lines = next(s for s in specs(at) if "if the input ended here" in s["layout"].get("title", {}).get("text", ""))
    assert len(lines["data"]) == 3 and "verdict forming" in _text(at)


def test_the_encoder_says_it_has_no_head():
    at = _open("seq2seq.pt")
    at.sidebar.selectbox(key="ckpt_module").set_value("encoder.gru").run()
    ok(at)
    open_view(at, "What it says")
    assert "encoder" in _text(at) and "no prediction" in _text(at)
    assert not any(s["layout"].get("title", {}).get("text", "").startswith(("prediction", "how sure")) for s in specs(at))
