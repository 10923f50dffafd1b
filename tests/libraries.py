"""Files as the big libraries write them, built from each library's own source (file and commit in each builder).

The libraries' classes are written here as small stand-ins carrying the libraries' module paths ("flair.data",
"gru4rec_pytorch" …). They exist in sys.modules only while a file is saved (`library_save`), so a loader that
tried to import them would fail: loading must read them inertly. pandas and numpy objects are the real ones.
"""
from __future__ import annotations

import argparse
import io
import pathlib
import sys
import types
import warnings
from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

LIBRARY_MODULES = ("flair", "gru4rec_pytorch", "lib", "pytorch_forecasting", "darts", "fastai", "fastcore")


def library_save(obj, classes: dict[str, list], protocol: int = 2) -> bytes:
    """torch.save(obj) with each class (or function) living in the module named for it, only while saving."""
    made, old, homes = [], {}, {}
    for module, items in classes.items():
        parts = module.split(".")
        for k in range(1, len(parts) + 1):
            name = ".".join(parts[:k])
            if name not in made:
                old.setdefault(name, sys.modules.get(name))
                sys.modules[name] = types.ModuleType(name)
                made.append(name)
        for it in items:
            homes[it] = it.__module__
            it.__module__ = module
            setattr(sys.modules[module], it.__qualname__.split(".")[0], it)
    try:
        buf = io.BytesIO()
        torch.save(obj, buf, pickle_protocol=protocol)
        return buf.getvalue()
    finally:
        for it, home in homes.items():
            it.__module__ = home
        for name in made:
            if old.get(name) is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = old[name]


# ---- Flair: flair/models/language_model.py (LanguageModel.save), flair/data.py (Dictionary), commit d4ea37779 ----

class Dictionary:
    """flair.data.Dictionary: items kept as bytes, in order."""

    def __init__(self, add_unk=True):
        self.item2idx, self.idx2item, self.add_unk = {}, [], add_unk
        self.multi_label = self.span_labels = False
        if add_unk:
            self.add_item("<unk>")

    def add_item(self, item: str) -> int:
        b = item.encode("utf-8")
        if b not in self.item2idx:
            self.idx2item.append(b)
            self.item2idx[b] = len(self.idx2item) - 1
        return self.item2idx[b]


def flair_language_model(is_forward_lm=True, hidden=24, nlayers=1, chars="abcdefgh ,.\n", seed=0):
    """LanguageModel.save(): {"state_dict", "dictionary", "is_forward_lm", …} with pickle protocol 4.
    Returns (bytes, the rnn, the dictionary's items as str, the state_dict)."""
    torch.manual_seed(seed)
    d = Dictionary()
    for c in chars:
        d.add_item(c)
    encoder = nn.Embedding(len(d.idx2item), 10)
    rnn = nn.LSTM(10, hidden, nlayers)
    decoder = nn.Linear(hidden, len(d.idx2item))
    sd = OrderedDict([("encoder.weight", encoder.weight.detach())]
                     + [(f"rnn.{k}", v) for k, v in rnn.state_dict().items()]
                     + [(f"decoder.{k}", v) for k, v in decoder.state_dict().items()])
    state = {"state_dict": sd, "dictionary": d, "is_forward_lm": is_forward_lm, "hidden_size": hidden,
             "nlayers": nlayers, "embedding_size": 10, "nout": None, "document_delimiter": "\n", "dropout": 0.1,
             "recurrent_type": "LSTM", "has_decoder": True}
    data = library_save(state, {"flair.data": [Dictionary]}, protocol=4)
    return data, rnn.eval(), [b.decode() for b in d.idx2item], sd


# ---- GRU4Rec, the official PyTorch port: gru4rec_pytorch.py (GRU4Rec.savemodel = torch.save(self)), commit d1fc311 ----

class GRU4RecModel(nn.Module):
    def __init__(self, n_items, layers=(20,), constrained_embedding=True):
        super().__init__()
        self.n_items, self.layers, self.constrained_embedding, self.start = n_items, list(layers), constrained_embedding, 0
        n_input = layers[-1]
        self.DE = nn.Dropout(0.0)
        self.G = nn.ModuleList([nn.GRUCell(layers[i - 1] if i > 0 else n_input, layers[i]) for i in range(len(layers))])
        self.D = nn.ModuleList([nn.Dropout(0.0) for _ in layers])
        self.Wy = nn.Embedding(n_items, layers[-1], sparse=True)
        self.By = nn.Embedding(n_items, 1, sparse=True)


class SessionDataIterator:
    def __init__(self, itemids):
        import pandas as pd
        self.n_items = len(itemids)
        self.itemidmap = pd.Series(data=np.arange(self.n_items, dtype="int32"), index=itemids, name="ItemIdx")


class GRU4Rec:
    def __init__(self, itemids, layers=(20,)):
        self.device = torch.device("cpu")
        self.layers, self.loss, self.batch_size, self.embedding, self.constrained_embedding = list(layers), \
            "cross-entropy", 64, 0, True
        self.loss_function = self.xe_loss_with_softmax           # a bound method: pickled through getattr
        self.data_iterator = SessionDataIterator(itemids)
        self.model = GRU4RecModel(len(itemids), layers)

    def xe_loss_with_softmax(self, O, Y, M):
        pass


def gru4rec_official(n_items=30, layers=(20,), seed=0):
    """savemodel(): the whole GRU4Rec object (its model's GRUCells, a pandas item map, a bound method)."""
    torch.manual_seed(seed)
    itemids = np.array([1000 + 7 * k for k in range(n_items)], dtype="int64")
    g = GRU4Rec(itemids, layers)
    data = library_save(g, {"gru4rec_pytorch": [GRU4Rec, GRU4RecModel, SessionDataIterator]})
    return data, g


# ---- GRU4REC-pytorch (hungthanhpham94): lib/trainer.py's checkpoint dict, lib/model.py, lib/optimizer.py, commit 3b2c9eb ----

class GRU4REC(nn.Module):
    def __init__(self, input_size, hidden_size, output_size, num_layers=1, embedding_dim=-1):
        super().__init__()
        self.input_size, self.hidden_size, self.output_size, self.num_layers = input_size, hidden_size, output_size, num_layers
        self.embedding_dim, self.batch_size, self.use_cuda = embedding_dim, 50, False
        self.device = torch.device("cpu")
        self.onehot_buffer = torch.zeros(50, input_size)
        self.h2o = nn.Linear(hidden_size, output_size)
        self.final_activation = nn.Tanh()
        if embedding_dim != -1:
            self.look_up = nn.Embedding(input_size, embedding_dim)
        self.gru = nn.GRU(embedding_dim if embedding_dim != -1 else input_size, hidden_size, num_layers, dropout=0.0)


class Optimizer:
    def __init__(self, params, lr=0.05):
        self.optimizer = torch.optim.Adagrad(params, lr=lr)


def gru4rec_pytorch_checkpoint(n_items=25, hidden=16, layers=2, seed=0):
    """Trainer.train's torch.save({'model': module, 'args': Namespace, 'epoch', 'optim': Optimizer, 'loss' …})."""
    torch.manual_seed(seed)
    model = GRU4REC(n_items, hidden, n_items, layers, embedding_dim=8)
    opt = Optimizer(model.parameters())
    loss = model.h2o(torch.randn(3, hidden)).sum()
    loss.backward()
    opt.optimizer.step()
    args = argparse.Namespace(hidden_size=hidden, num_layers=layers, batch_size=50, optimizer_type="Adagrad",
                              checkpoint_dir="checkpoint/05281025", embedding_dim=8)
    ckpt = {"model": model, "args": args, "epoch": 3, "optim": opt, "loss": np.float64(2.5),
            "recall": np.float64(0.4), "mrr": np.float64(0.2)}
    return library_save(ckpt, {"lib.model": [GRU4REC], "lib.optimizer": [Optimizer]}), model.eval()


# ---- pytorch-forecasting: a Lightning checkpoint of DeepAR (models/deepar/_deepar.py: self.rnn = get_rnn(cell_type)),
# hyper_parameters with a GroupNormalizer (data/encoders.py) fitted on pandas, commit 062aeb47 ----

class GroupNormalizer:
    def __init__(self, groups, method="standard"):
        import pandas as pd
        self.groups, self.method, self.center, self.transformation, self.method_kwargs = groups, method, True, None, {}
        self.norm_ = pd.DataFrame({"center": [1.5, 2.5], "scale": [0.5, 0.25]},
                                  index=pd.Index(["shop_a", "shop_b"], name=groups[0]))
        self.missing_ = {"center": 2.0, "scale": 0.375}


class NormalDistributionLoss(nn.Module):
    def __init__(self):
        super().__init__()
        self.quantiles, self.reduction = [0.1, 0.5, 0.9], "mean"


class LSTM(nn.LSTM):
    """pytorch_forecasting.models.nn.rnn.LSTM: an nn.LSTM that handles zero lengths."""


def forecasting_checkpoint(hidden=16, layers=2, seed=0):
    torch.manual_seed(seed)
    rnn = nn.LSTM(3, hidden, layers, batch_first=True)
    proj = nn.Linear(hidden, 2)
    sd = OrderedDict([(f"rnn.{k}", v) for k, v in rnn.state_dict().items()]
                     + [(f"distribution_projector.{k}", v) for k, v in proj.state_dict().items()]
                     + [("loss.quantiles_tensor", torch.tensor([0.1, 0.5, 0.9]))])
    hp = {"cell_type": "LSTM", "hidden_size": hidden, "rnn_layers": layers, "dropout": 0.1, "target": "sales",
          "static_categoricals": ["shop"], "time_varying_reals_encoder": ["sales", "price", "time_idx"],
          "loss": NormalDistributionLoss(), "output_transformer": GroupNormalizer(["shop"]),
          "dataset_parameters": {"max_encoder_length": 24, "target_normalizer": GroupNormalizer(["shop"])},
          "learning_rate": 0.01}
    ckpt = {"epoch": 4, "global_step": 400, "pytorch-lightning_version": "2.5.0", "state_dict": sd,
            "hyper_parameters": hp, "optimizer_states": [], "lr_schedulers": []}
    data = library_save(ckpt, {"pytorch_forecasting.data.encoders": [GroupNormalizer],
                               "pytorch_forecasting.metrics.distributions": [NormalDistributionLoss]})
    return data, rnn.eval()


# ---- Darts: darts/models/forecasting/torch_forecasting_model.py save(): model.pt is the model object without its
# LightningModule (__getstate__ drops it); the weights go to model.pt.ckpt. Commit 2be8e43fb ----

class TimeSeries:
    def __init__(self, n=20):
        import pandas as pd
        self._time_index = pd.date_range("2024-01-01", periods=n, freq="D")
        self._values = np.linspace(0.0, 1.0, n)[:, None, None]
        self._components = pd.Index(["value"])


class RNNModel:
    def __init__(self):
        self.model_params = OrderedDict(model="LSTM", hidden_dim=25, n_rnn_layers=1, input_chunk_length=12,
                                        training_length=20, random_state=42)
        self._random_instance = np.random.RandomState(42)
        self.training_series = TimeSeries()
        self.work_dir = pathlib.Path("darts_logs")
        self._fit_called = True

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k not in ("model", "trainer")}


def darts_model_pt():
    m = RNNModel()
    return library_save(m, {"darts.models.forecasting.rnn_model": [RNNModel], "darts.timeseries": [TimeSeries]})


# ---- fastai: text/models/awdlstm.py (WeightDropout, AWD_LSTM), commit 1616108 ----

class WeightDropout(nn.Module):
    """fastai's, line for line (fastcore's Module replaced by nn.Module's __init__)."""

    def __init__(self, module, weight_p, layer_names="weight_hh_l0"):
        super().__init__()
        self.module, self.weight_p, self.layer_names = module, weight_p, [layer_names]
        for layer in self.layer_names:
            w = getattr(self.module, layer)
            delattr(self.module, layer)
            self.register_parameter(f"{layer}_raw", nn.Parameter(w.data))
            setattr(self.module, layer, w.clone())
            if isinstance(self.module, (nn.RNNBase, nn.modules.rnn.RNNBase)):
                self.module.flatten_parameters = self._do_nothing

    def _setweights(self):
        for layer in self.layer_names:
            raw_w = getattr(self, f"{layer}_raw")
            w = F.dropout(raw_w, p=self.weight_p) if self.training else raw_w.clone()
            setattr(self.module, layer, w)

    def forward(self, *args):
        self._setweights()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=UserWarning)
            return self.module(*args)

    def _do_nothing(self):
        pass


class AWD_LSTM(nn.Module):
    """fastai's AWD_LSTM's layers (dropouts are identity in eval mode): embedding, then n_layers LSTMs."""

    def __init__(self, vocab_sz=40, emb_sz=12, n_hid=20, n_layers=3):
        super().__init__()
        self.encoder = nn.Embedding(vocab_sz, emb_sz, padding_idx=1)
        self.encoder_dp = nn.Module()
        self.encoder_dp.emb = self.encoder
        self.rnns = nn.ModuleList([WeightDropout(nn.LSTM(emb_sz if l == 0 else n_hid, n_hid if l != n_layers - 1 else emb_sz,
                                                         1, batch_first=True), 0.2) for l in range(n_layers)])

    def forward(self, ids):
        out = self.encoder(ids)
        for rnn in self.rnns:
            out, _ = rnn(out)
        return out


class LinearDecoder(nn.Module):
    def __init__(self, n_out=40, n_hid=12):
        super().__init__()
        self.decoder = nn.Linear(n_hid, n_out)



# ---- fastai: learner.py's Learner.export (torch.save(self, …, pickle_protocol=2) after dls.new_empty(), opt=None) ----

class L:
    """fastcore.foundation.L: a list kept in .items."""

    def __init__(self, items=()):
        self.items = list(items)


class DataLoaders:
    def __init__(self, vocab):
        self.loaders, self.path, self.vocab = L(), pathlib.Path("."), vocab


class Learner:
    def __init__(self, model, vocab):
        self.model, self.dls, self.path, self.model_dir = model, DataLoaders(vocab), pathlib.Path("."), "models"
        self.loss_func, self.opt, self.opt_func = nn.CrossEntropyLoss(), None, adam
        self.cbs, self.metrics, self.wd, self.moms = L(), L(), None, (0.95, 0.85, 0.95)


def adam(params, lr=1e-3):
    """fastai.optimizer.Adam: a function, pickled by name."""


def fastai_export(vocab_size=40, seed=0):
    """learn.export() of a ULMFiT language model: a whole Learner with WeightDropout's bound flatten_parameters."""
    torch.manual_seed(seed)
    lm = nn.Sequential(AWD_LSTM(vocab_sz=vocab_size), LinearDecoder(n_out=vocab_size)).eval()
    vocab = ["xxunk", "xxpad", "xxbos"] + [chr(97 + k % 26) + str(k) for k in range(vocab_size - 3)]
    learn = Learner(lm, vocab)
    data = library_save(learn, {"fastai.learner": [Learner], "fastai.data.core": [DataLoaders],
                                "fastcore.foundation": [L], "fastai.optimizer": [adam],
                                "fastai.text.models.awdlstm": [AWD_LSTM, WeightDropout],
                                "fastai.text.models.core": [LinearDecoder]})
    return data, lm


def assert_awd_layers_equal(found, lm, atol: float):
    """Every WeightDropout-wrapped LSTM of an AWD-LSTM language model (lm[0].rnns) equals the module found for it,
    each fed the one before's output, as fastai runs them in eval mode."""
    x = torch.randn(2, 9, lm[0].rnns[0].module.input_size)
    with torch.no_grad():
        for k, wd in enumerate(lm[0].rnns):
            mod = found.modules[f"0.rnns.{k}.module"].module
            mod.batch_first = True
            want = wd(x)[0]
            torch.testing.assert_close(mod(x)[0], want, rtol=0, atol=atol)
            x = want


# ---- OpenNMT-py: onmt/models/model_saver.py (the checkpoint dict), onmt/inputters/inputter.py (vocabs_to_dict),
# onmt/encoders/rnn_encoder.py and onmt/decoders/decoder.py (InputFeedRNNDecoder's StackedLSTM), commit 97111d97 ----

def opennmt_checkpoint(src_words=30, tgt_words=25, emb=8, hidden=12, seed=0):
    """torch.save({"model", "generator", "vocab", "opt", "optim"}) of an RNN encoder-decoder.
    Returns (bytes, the encoder's embedding, its LSTM, the source tokens)."""
    torch.manual_seed(seed)
    src = ["<unk>", "<blank>", "<s>", "</s>"] + [f"s{k}" for k in range(src_words - 4)]
    tgt = ["<unk>", "<blank>", "<s>", "</s>"] + [f"t{k}" for k in range(tgt_words - 4)]
    enc_emb, enc = nn.Embedding(src_words, emb, padding_idx=1), nn.LSTM(emb, hidden, 2)
    dec_emb, cell = nn.Embedding(tgt_words, emb, padding_idx=1), nn.LSTMCell(emb + hidden, hidden)
    gen = nn.Linear(hidden, tgt_words)
    model = OrderedDict([("encoder.embeddings.make_embedding.emb_luts.0.weight", enc_emb.weight.detach())]
                        + [(f"encoder.rnn.{k}", v) for k, v in enc.state_dict().items()]
                        + [("decoder.embeddings.make_embedding.emb_luts.0.weight", dec_emb.weight.detach())]
                        + [(f"decoder.rnn.layers.0.{k}", v) for k, v in cell.state_dict().items()]
                        + [("decoder.attn.linear_out.weight", torch.randn(hidden, 2 * hidden))])
    opt = argparse.Namespace(encoder_type="rnn", decoder_type="rnn", rnn_type="LSTM", enc_layers=2, dec_layers=1,
                             hidden_size=hidden, word_vec_size=emb, input_feed=1)
    ckpt = {"model": model, "generator": gen.state_dict(), "opt": opt, "optim": {"step": 100},
            "vocab": {"src": src, "tgt": tgt, "data_task": "seq2seq", "decoder_start_token": "<s>"}}
    buf = io.BytesIO()
    torch.save(ckpt, buf)
    return buf.getvalue(), enc_emb.eval(), enc.eval(), src


# ---- PyTorch's name-classifier tutorial (intermediate/char_rnn_classification_tutorial.py, 2024) and
# bentrevett/pytorch-sentiment-analysis' bidirectional LSTM (2023 and before) ----

LANGUAGES = ["Arabic", "Chinese", "Czech", "Dutch", "English", "French", "German", "Greek", "Irish", "Italian",
             "Japanese", "Korean", "Polish", "Portuguese", "Russian", "Scottish", "Spanish", "Vietnamese"]


class CharRNN(nn.Module):
    """The tutorial's model (intermediate/char_rnn_classification_tutorial.py, its 2024 rewrite)."""

    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.rnn = nn.RNN(input_size, hidden_size)
        self.h2o = nn.Linear(hidden_size, output_size)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, line_tensor):
        rnn_out, hidden = self.rnn(line_tensor)
        output = self.h2o(hidden[0])
        return self.softmax(output)


class SentimentLSTM(nn.Module):
    """bentrevett/pytorch-sentiment-analysis' LSTM, 2023: hidden = cat([hidden[-1], hidden[-2]]) (backward first);
    its earlier version: cat((hidden[-2], hidden[-1])) (forward first)."""

    def __init__(self, vocab, emb, hidden, classes, backward_first):
        super().__init__()
        self.embedding = nn.Embedding(vocab, emb)
        self.lstm = nn.LSTM(emb, hidden, 2, bidirectional=True, batch_first=True)
        self.fc = nn.Linear(2 * hidden, classes)
        self.backward_first = backward_first

    def forward(self, ids):
        _, (hidden, _) = self.lstm(self.embedding(ids))
        h = torch.cat([hidden[-1], hidden[-2]], -1) if self.backward_first else torch.cat([hidden[-2], hidden[-1]], -1)
        return self.fc(h)




# ---- a DeepSpeech-style acoustic model for CTC, and MFCC features as numpy.save / librosa write them ----

class SpeechCTC(nn.Module):
    """A speech recogniser's acoustic model (DeepSpeech-style): 40 MFCC per frame, bidirectional GRUs, a character
    per frame for CTC (28 letters and a blank), log-probabilities as nn.CTCLoss takes them."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(40, 16, 2, bidirectional=True, batch_first=True)
        self.fc = nn.Linear(32, 29)

    def forward(self, x):
        return self.fc(self.rnn(x)[0]).log_softmax(-1)


def mfcc_file(T=50, seed=4, librosa_layout=False, npz=False) -> tuple[bytes, torch.Tensor]:
    import io

    import numpy as np
    x = np.random.default_rng(seed).normal(size=(T, 40))
    buf = io.BytesIO()
    arr = x.T if librosa_layout else x
    np.savez(buf, mfcc=arr, labels=np.arange(3)) if npz else np.save(buf, arr)
    return buf.getvalue(), torch.from_numpy(x)


