"""fastai's files, built here as fastai's own source writes them (fastai/text/models/awdlstm.py, commit
1616108: WeightDropout keeps `weight_hh_l0_raw` on the wrapper and the rest under `.module`; learn.save() writes
{"model": state_dict, "opt": …}; learn.save_encoder() the encoder's state_dict): every layer of the AWD-LSTM
found and equal to the layer as fastai runs it in eval mode, at 1e-6."""
import io
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F

from explorer import load_recurrent
from explorer.io.readers.foreign import read_foreign


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


def saved(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def test_learn_save_of_an_awd_lstm_language_model_finds_every_layer_exactly():
    torch.manual_seed(0)
    lm = nn.Sequential(AWD_LSTM(), LinearDecoder()).eval()
    opt = torch.optim.Adam(lm.parameters())
    found = read_foreign(saved({"model": lm.state_dict(), "opt": opt.state_dict()}))     # learn.save("lm")
    assert set(found.modules) == {"0.rnns.0.module", "0.rnns.1.module", "0.rnns.2.module"}
    assert any("WeightDropout" in n for n in found.notes)
    x = torch.randn(2, 9, 12)
    with torch.no_grad():
        for k, wd in enumerate(lm[0].rnns):
            mod = found.modules[f"0.rnns.{k}.module"].module
            mod.batch_first = True
            want = wd(x)[0]
            torch.testing.assert_close(mod(x)[0], want, rtol=0, atol=1e-6)
            x = want


def test_learn_save_encoder_too():
    torch.manual_seed(1)
    enc = AWD_LSTM(n_layers=2).eval()
    mods = load_recurrent(saved(enc.state_dict()))                        # learn.save_encoder("enc")
    assert set(mods) == {"rnns.0.module", "rnns.1.module"}
    for k, wd in enumerate(enc.rnns):
        for name, p in wd.module.named_parameters():
            torch.testing.assert_close(getattr(mods[f"rnns.{k}.module"], name), p, rtol=0, atol=0)
        torch.testing.assert_close(mods[f"rnns.{k}.module"].weight_hh_l0, wd.weight_hh_l0_raw, rtol=0, atol=0)
