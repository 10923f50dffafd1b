"""Models as real projects write them, for the tests to build and save: pytorch/examples'
word_language_model (RNNModel), AWD-LSTM (weight-dropped LSTMs saved with their criterion), a seq2seq
decoder stepping a cell, a TorchScript module; and the tutorials' other tasks: a forecaster (LSTM +
Linear on the last step), a sentiment classifier (embedding, 2-layer bidirectional LSTM, fc on both
final states), a unidirectional classifier, the seq2seq translation tutorial's encoder and attention
decoder. `saved(obj)` is torch.save as the user's script would
call it, the classes living in a module "model" that exists only while saving."""
import io
import sys

import torch
import torch.nn as nn


class RNNModel(nn.Module):
    """pytorch/examples word_language_model/model.py, abridged: encoder -> rnn -> decoder."""

    def __init__(self, rnn_type, ntoken, ninp, nhid, nlayers, dropout=0.5, tie_weights=False):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        if rnn_type in ["LSTM", "GRU"]:
            self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout)
        else:
            nonlinearity = {"RNN_TANH": "tanh", "RNN_RELU": "relu"}[rnn_type]
            self.rnn = nn.RNN(ninp, nhid, nlayers, nonlinearity=nonlinearity, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        if tie_weights:
            self.decoder.weight = self.encoder.weight
        self.rnn_type, self.nhid, self.nlayers = rnn_type, nhid, nlayers


class WeightDrop(nn.Module):
    """AWD-LSTM's weight_drop.py: the recurrent weight lives on as '<name>_raw'."""

    def __init__(self, module, weights):
        super().__init__()
        self.module, self.weights = module, weights
        for name_w in weights:
            w = getattr(module, name_w)
            del module._parameters[name_w]
            module.register_parameter(name_w + "_raw", nn.Parameter(w.data))


class AWDModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Embedding(30, 6)
        self.rnns = nn.ModuleList([WeightDrop(nn.LSTM(6, 8), ["weight_hh_l0"]), WeightDrop(nn.LSTM(8, 6), ["weight_hh_l0"])])
        self.decoder = nn.Linear(6, 30)


class Criterion(nn.Module):
    def __init__(self):
        super().__init__()
        self.splits = [10, 20]


class Decoder(nn.Module):
    """A seq2seq decoder stepping an LSTMCell / GRUCell / RNNCell."""

    def __init__(self, cell):
        super().__init__()
        self.embedding = nn.Embedding(12, 5)
        self.cell = cell
        self.out = nn.Linear(7, 12)


def saved(obj, protocol: int = 2) -> bytes:
    """torch.save(obj) as the user's script would, its classes living in a module "model" (like
    word_language_model's model.py) that exists only while saving: loading must not import it.
    protocol: the pickle protocol (torch.save's pickle_protocol; Flair saves with 4)."""
    import types
    fake = types.ModuleType("model")
    for cls in (RNNModel, WeightDrop, AWDModel, Criterion, Decoder, Scripted, Forecaster, Sentiment, Classifier,
                EncoderRNN, AttnDecoderRNN, BahdanauAttention):
        cls.__module__ = "model"
        setattr(fake, cls.__name__, cls)
    sys.modules["model"] = fake
    try:
        buf = io.BytesIO()
        torch.save(obj, buf, pickle_protocol=protocol)
        return buf.getvalue()
    finally:
        del sys.modules["model"]


class Scripted(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 4)
        self.rnn = nn.LSTM(4, 6, batch_first=True, bidirectional=True, proj_size=3)
        self.act = nn.RNN(6, 5, nonlinearity="relu")

    def forward(self, x):
        return self.rnn(self.emb(x))[0]


# ---- the tutorials' other tasks ----------------------------------------------------------------------

class Forecaster(nn.Module):
    """The usual time-series tutorial: LSTM(input features, 32, 2 layers, batch_first) + Linear on the last step."""

    def __init__(self, features=1, hidden=32, layers=2):
        super().__init__()
        self.lstm = nn.LSTM(features, hidden, num_layers=layers, batch_first=True)
        self.fc = nn.Linear(hidden, 1)

    def forward(self, x):                                   # x (B, T, F) -> (B, 1)
        out, _ = self.lstm(x)
        return self.fc(out[:, -1, :])


class Sentiment(nn.Module):
    """pytorch-sentiment-analysis' RNN: embedding -> 2-layer bidirectional LSTM -> fc(cat(hidden[-2], hidden[-1]))."""

    def __init__(self, vocab_size, embedding_dim, hidden_dim, output_dim=1, pad_idx=1):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_idx)
        self.rnn = nn.LSTM(embedding_dim, hidden_dim, num_layers=2, bidirectional=True, dropout=0.5)
        self.fc = nn.Linear(hidden_dim * 2, output_dim)
        self.dropout = nn.Dropout(0.5)

    def forward(self, text):                               # text (T, B) -> (B, output_dim)
        embedded = self.dropout(self.embedding(text))
        _, (hidden, _) = self.rnn(embedded)
        return self.fc(self.dropout(torch.cat((hidden[-2], hidden[-1]), dim=1)))


class Classifier(nn.Module):
    """A unidirectional text classifier: embedding -> GRU (batch_first) -> fc(hidden[-1]) to K classes."""

    def __init__(self, vocab_size, embedding_dim, hidden_dim, classes=3):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.gru = nn.GRU(embedding_dim, hidden_dim, batch_first=True)
        self.fc = nn.Linear(hidden_dim, classes)

    def forward(self, ids):                                # ids (B, T) -> (B, classes)
        _, hidden = self.gru(self.embedding(ids))
        return self.fc(hidden[-1])


class EncoderRNN(nn.Module):
    """The PyTorch seq2seq translation tutorial's encoder."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.embedding = nn.Embedding(input_size, hidden_size)
        self.gru = nn.GRU(hidden_size, hidden_size, batch_first=True)

    def forward(self, ids):
        return self.gru(self.embedding(ids))


class BahdanauAttention(nn.Module):
    def __init__(self, hidden_size):
        super().__init__()
        self.Wa = nn.Linear(hidden_size, hidden_size)
        self.Ua = nn.Linear(hidden_size, hidden_size)
        self.Va = nn.Linear(hidden_size, 1)


class AttnDecoderRNN(nn.Module):
    """The tutorial's attention decoder: its GRU reads [embedding; context], its out layer predicts tokens."""

    def __init__(self, hidden_size, output_size):
        super().__init__()
        self.embedding = nn.Embedding(output_size, hidden_size)
        self.attention = BahdanauAttention(hidden_size)
        self.gru = nn.GRU(2 * hidden_size, hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, output_size)


class FakeMinMaxScaler:
    """Pickles as scikit-learn's MinMaxScaler does (its fitted arrays as numpy arrays in the state);
    saved under the name sklearn.preprocessing._data.MinMaxScaler by `saved_with_scaler`."""

    def __init__(self, data_min, data_max):
        import numpy as np
        self.feature_range = (0, 1)
        self.n_features_in_ = len(data_min)
        self.data_min_, self.data_max_ = np.asarray(data_min, float), np.asarray(data_max, float)
        self.data_range_ = self.data_max_ - self.data_min_
        self.scale_ = 1.0 / self.data_range_
        self.min_ = -self.data_min_ * self.scale_
        self._sklearn_version = "1.5.0"


def saved_with_scaler(state_dict, scaler) -> bytes:
    """torch.save({"model_state_dict": …, "scaler": scaler}) with the scaler's class named as scikit-learn's."""
    import types
    FakeMinMaxScaler.__module__, FakeMinMaxScaler.__qualname__ = "sklearn.preprocessing._data", "MinMaxScaler"
    fake = types.ModuleType("sklearn.preprocessing._data")
    fake.MinMaxScaler = FakeMinMaxScaler
    names = ["sklearn", "sklearn.preprocessing", "sklearn.preprocessing._data"]
    old = {n: sys.modules.get(n) for n in names}
    for n in names[:2]:
        sys.modules[n] = types.ModuleType(n)
    sys.modules[names[2]] = fake
    try:
        buf = io.BytesIO()
        torch.save({"model_state_dict": state_dict, "scaler": scaler}, buf)
        return buf.getvalue()
    finally:
        for n, m in old.items():
            if m is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = m
        FakeMinMaxScaler.__module__, FakeMinMaxScaler.__qualname__ = __name__, "FakeMinMaxScaler"


def airline_csv(n=48, seed=0) -> bytes:
    """A CSV shaped like the airline-passengers file: "Month","Passengers" with dates as text."""
    g = torch.Generator().manual_seed(seed)
    rows = ['"Month","Passengers"']
    for i in range(n):
        v = 112 + 2.5 * i + 30 * torch.sin(torch.tensor(i * 3.14159 / 6)).item() + torch.randn(1, generator=g).item() * 5
        rows.append(f'"{1949 + i // 12}-{i % 12 + 1:02d}",{v:.0f}')
    return ("\n".join(rows) + "\n").encode()


def fitted_forecaster(csv: bytes, steps: int = 300, seed: int = 0) -> Forecaster:
    """A Forecaster trained on a min-max scaled series to predict the next value after every step (the
    targets of all steps at once, so it follows a series of any length). A few hundred Adam steps, so
    a screenshot shows it following the series."""
    import csv as _csv
    rows = list(_csv.reader(io.StringIO(csv.decode())))[1:]
    v = torch.tensor([float(r[1]) for r in rows])
    v = (v - v.min()) / (v.max() - v.min())
    x, y = v[None, :-1, None], v[None, 1:, None]
    torch.manual_seed(seed)
    net = Forecaster()
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(steps):
        opt.zero_grad()
        out, _ = net.lstm(x)
        loss = torch.nn.functional.mse_loss(net.fc(out), y)
        loss.backward()
        opt.step()
    return net.eval()


# ---- scikit-learn scalers as joblib.dump / pickle.dump write them (their classes named as scikit-learn's) ----

class FakeStandardScaler:
    def __init__(self, mean, std):
        import numpy as np
        self.with_mean = self.with_std = True
        self.mean_, self.scale_, self.var_ = np.asarray(mean, float), np.asarray(std, float), np.asarray(std, float) ** 2
        self.n_features_in_, self.n_samples_seen_ = len(mean), 100


def sklearn_saved(obj, how: str) -> bytes:
    """obj written as joblib.dump / joblib.dump(compress=3) / pickle.dump would, its class named as scikit-learn's."""
    cls = type(obj)
    name = {"FakeMinMaxScaler": "MinMaxScaler", "FakeStandardScaler": "StandardScaler"}[cls.__name__]
    home, qual = cls.__module__, cls.__qualname__
    import types
    names = ["sklearn", "sklearn.preprocessing", "sklearn.preprocessing._data"]
    old = {n: sys.modules.get(n) for n in names}
    for n in names:
        sys.modules[n] = types.ModuleType(n)
    setattr(sys.modules[names[2]], name, cls)
    cls.__module__, cls.__qualname__ = names[2], name
    try:
        buf = io.BytesIO()
        import pickle

        import joblib
        joblib.dump(obj, buf, compress=3) if how == "joblib3" else joblib.dump(obj, buf) if how == "joblib" \
            else pickle.dump(obj, buf)
        return buf.getvalue()
    finally:
        cls.__module__, cls.__qualname__ = home, qual
        for n, m in old.items():
            sys.modules.pop(n) if m is None else sys.modules.__setitem__(n, m)


def stock_scaler(lo=10.0, hi=50.0) -> FakeMinMaxScaler:
    s = FakeMinMaxScaler([lo], [hi])                  # MinMaxScaler(feature_range=(-1, 1)).fit(close)
    s.feature_range = (-1, 1)
    s.scale_ = 2 / s.data_range_
    s.min_ = -1 - s.data_min_ * s.scale_
    return s


