"""Scalers saved beside a model, as the Kaggle-style stock LSTM saves its MinMaxScaler(feature_range=(-1, 1)) with
joblib.dump (joblib/numpy_pickle.py's layout: arrays after their NumpyArrayWrapper, aligned), with compression, or
with pickle.dump; read without scikit-learn or joblib, and the forecast read back in the series' own units."""
import io
import os
import pickle

import pytest
import torch
from projects import FakeStandardScaler, Forecaster, sklearn_saved, stock_scaler

import explorer
from explorer import InputError
from explorer.io.inputs.series import Scaler
from explorer.io.readers.scalers import read_scaler


@pytest.mark.parametrize("how", ["joblib", "joblib3", "pickle"])
def test_a_saved_min_max_scaler_reads_with_its_range(how):
    sc = read_scaler(sklearn_saved(stock_scaler(), how))
    close = torch.tensor([[10.0], [30.0], [50.0]], dtype=torch.float64)
    torch.testing.assert_close(sc.transform(close).flatten(), torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64))
    torch.testing.assert_close(sc.inverse(sc.transform(close)[:, 0]), close[:, 0])
    assert "min-max to [-1, 1], the uploaded file's MinMaxScaler" in sc.describe(["Close"])


def test_a_standard_scaler_and_bad_files():
    sc = read_scaler(sklearn_saved(FakeStandardScaler([2.0, -1.0], [4.0, 0.5]), "joblib"))
    torch.testing.assert_close(sc.transform(torch.tensor([[6.0, 0.0]])).flatten(),
                               torch.tensor([1.0, 2.0], dtype=torch.float64))
    for data, match in ((b"not a pickle", "not a joblib or pickle"), (pickle.dumps([1, 2]), "no fitted scaler"),
                        (sklearn_saved(stock_scaler(), "joblib")[:-20], "truncated|cannot be read")):
        with pytest.raises(InputError, match=match):
            read_scaler(data)


def test_a_scaler_file_that_calls_code_is_refused_without_running(tmp_path):
    target = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {target}",))
    for data in (pickle.dumps(Payload()), pickle.dumps({"scaler": Payload()}, protocol=2)):
        with pytest.raises(InputError, match="refused"):
            read_scaler(data)
    assert not target.exists()


def test_the_stock_lstm_forecasts_in_the_series_units_through_its_scaler():
    torch.manual_seed(0)
    model = Forecaster(features=1, hidden=8, layers=1).double().eval()
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    m = explorer.open_model(buf.getvalue())
    sc = read_scaler(sklearn_saved(stock_scaler(), "joblib"))
    close = torch.linspace(12, 48, 30, dtype=torch.float64)[:, None]
    x = m.series(close, scale=sc)
    with torch.no_grad():
        want = model(((close - 10) / 40 * 2 - 1)[None])[0, 0]        # the model on the scaled series, its last forecast
        got = m.readout(x)[-1, 0, 0]
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
    torch.testing.assert_close(sc.inverse(got), (want + 1) / 2 * 40 + 10)            # back in dollars
    own = Scaler.fit(close, "min-max ±1")                                            # the page's own, to [−1, 1]
    torch.testing.assert_close(own.transform(close), (close - 12) / 36 * 2 - 1)
    assert "min-max to [-1, 1]" in own.describe(["Close"])
