"""Models as real projects write them, for the tests to build and save: pytorch/examples'
word_language_model (RNNModel), AWD-LSTM (weight-dropped LSTMs saved with their criterion), a seq2seq
decoder stepping a cell, a TorchScript module. `saved(obj)` is torch.save as the user's script would
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


def saved(obj) -> bytes:
    """torch.save(obj) as the user's script would, its classes living in a module "model" (like
    word_language_model's model.py) that exists only while saving: loading must not import it."""
    import types
    fake = types.ModuleType("model")
    for cls in (RNNModel, WeightDrop, AWDModel, Criterion, Decoder, Scripted):
        cls.__module__ = "model"
        setattr(fake, cls.__name__, cls)
    sys.modules["model"] = fake
    try:
        buf = io.BytesIO()
        torch.save(obj, buf)
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
