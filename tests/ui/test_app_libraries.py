"""AppTest: each file the big libraries write (tests/libraries.py) uploaded through the sidebar renders every tab
with no error; a file's own vocabulary is used without an upload; Darts' model.pt says which file to upload."""
import os
import sys

import libraries as L
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "io"))   # test_scalers: its files
from apptools import gates, ok, open_tab, open_view, run_app, upload_checkpoint

FILES = {"flair-forward.pt": lambda: L.flair_language_model()[0],
         "flair-backward.pt": lambda: L.flair_language_model(is_forward_lm=False)[0],
         "gru4rec.pt": lambda: L.gru4rec_official()[0],
         "model_00003.pt": lambda: L.gru4rec_pytorch_checkpoint()[0],
         "deepar.ckpt": lambda: L.forecasting_checkpoint()[0],
         "export.pkl": lambda: L.fastai_export()[0],
         "model_step_100.pt": lambda: L.opennmt_checkpoint()[0]}


@pytest.mark.parametrize("name", list(FILES))
def test_every_library_file_renders_every_tab(name):
    at = upload_checkpoint(run_app(), name, FILES[name]())
    assert not at.error, [e.value for e in at.error]
    if "series_src" in at.session_state and not gates(at):       # a forecaster starts on a CSV upload: noise instead
        at.selectbox(key="series_src").set_value("random Gaussian input").run()
    assert "h" in gates(at)
    every_tab(at)


def every_tab(at):
    """Every view of the Explore tab and every other tab render with no error."""
    for view in ("What it says", "What it depends on", "Units over time", "Step inspector"):
        open_view(at, view)
        assert not at.error, (view, [e.value for e in at.error])
    for tab in ("Cell", "Gradient flow", "Units", "Explore"):
        open_tab(at, tab)
        assert not at.error, (tab, [e.value for e in at.error])
        ok(at)


def test_a_flair_model_reads_typed_text_through_its_own_dictionary():
    at = upload_checkpoint(run_app(), "flair-backward.pt", FILES["flair-backward.pt"]())
    side = " ".join(c.value for c in at.sidebar.caption)
    assert "its own vocabulary, Flair's dictionary" in side.replace("\\", "")
    assert any("backward" in i.value for i in at.sidebar.info)
    at.text_area(key="text_area").set_value("bad cafe").run()
    ok(at)
    labels = gates(at)["h"]["ticktext"] or []
    assert "".join(map(str, labels)).startswith("efac")              # read from the end, as Flair feeds it


def test_gru4rec_reads_its_own_item_ids():
    at = upload_checkpoint(run_app(), "gru4rec.pt", FILES["gru4rec.pt"]())
    assert any("knows none of the sample" in c.value for c in at.caption)
    assert at.text_area(key="text_area").value.startswith("1000 1007 1014")
    at.text_area(key="text_area").set_value("1000 1014 1203 1007").run()
    ok(at)
    assert [str(t) for t in gates(at)["h"]["ticktext"]] == ["1000", "1014", "1203", "1007"]


def test_darts_model_pt_names_the_file_to_upload():
    at = upload_checkpoint(run_app(), "model.pt", L.darts_model_pt())
    assert at.error and "model.pt.ckpt beside it" in at.error[0].value and "\n" not in at.error[0].value


def test_the_name_classifier_reads_a_typed_name_through_one_hot_letters():
    import torch
    from libraries import LANGUAGES, CharRNN
    torch.manual_seed(0)
    data = L.library_save(CharRNN(57, 32, len(LANGUAGES)), {"model": [CharRNN]})
    at = upload_checkpoint(run_app(), "char_rnn.pt", data)
    pick = at.sidebar.selectbox(key="ck_alphabet")
    assert any("57" in o for o in pick.options)
    pick.set_value(next(o for o in pick.options if "57" in o)).run()
    ok(at)
    assert "task: **classifier**" in " ".join(c.value for c in at.sidebar.caption)
    assert at.sidebar.selectbox(key="ck_task").value == "classifier"
    at.text_area(key="text_area").set_value("Satoshi").run()
    ok(at)
    assert not at.error, [e.value for e in at.error]
    assert [str(t) for t in gates(at)["h"]["ticktext"]] == list("Satoshi")
    every_tab(at)


def test_a_bidirectional_classifier_offers_its_readings():
    import torch
    from libraries import SentimentLSTM
    torch.manual_seed(1)
    data = L.library_save(SentimentLSTM(40, 6, 5, 2, True).state_dict(), {})
    at = upload_checkpoint(run_app(), "sentiment.pt", data)
    pick = at.sidebar.selectbox(key="ck_reading")
    assert pick.value == "forward then backward" and "backward then forward" in pick.options
    assert any("assumed: the file cannot tell" in c.value for c in at.sidebar.caption)
    pick.set_value("backward then forward").run()
    ok(at)
    assert not at.exception
    every_tab(at)


def test_a_speech_model_reads_an_npy_of_mfcc_frames():
    import torch
    from libraries import SpeechCTC, mfcc_file
    torch.manual_seed(5)
    at = upload_checkpoint(run_app(), "acoustic.pt", L.library_save(SpeechCTC().state_dict(), {}))
    assert "task: **classifier**" in " ".join(c.value for c in at.sidebar.caption)
    assert at.selectbox(key="series_src").value == "feature file (.npy, .npz)"
    at.file_uploader(key="array_upload").set_value(("utterance.npy", mfcc_file(librosa_layout=True)[0],
                                                    "application/octet-stream")).run()
    ok(at)
    assert not at.error, [e.value for e in at.error]
    assert any("transposed from (features, T)" in c.value for c in at.caption)
    assert len(gates(at)["h"]["x"]) == 50
    every_tab(at)


def test_a_forecaster_reads_its_csv_through_the_scaler_saved_beside_it():
    import io

    import torch
    from projects import Forecaster, airline_csv, sklearn_saved, stock_scaler
    torch.manual_seed(0)
    buf = io.BytesIO()
    torch.save(Forecaster(features=1, hidden=8, layers=1).state_dict(), buf)
    at = upload_checkpoint(run_app(), "stock_lstm.pt", buf.getvalue())
    at.file_uploader(key="csv_upload").set_value(("close.csv", airline_csv(), "text/csv")).run()
    ok(at)
    at.file_uploader(key="scaler_upload").set_value(("scaler.save", sklearn_saved(stock_scaler(100, 600), "joblib"),
                                                     "application/octet-stream")).run()
    ok(at)
    assert not at.error, [e.value for e in at.error]
    assert at.selectbox(key="csv_scale").value == "the uploaded scaler"
    said = " ".join(c.value for c in at.caption).replace("\\", "")
    assert "min-max to [-1, 1], the uploaded file" in said, said
