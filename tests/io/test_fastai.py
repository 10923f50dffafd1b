"""fastai's files, built here as fastai's own source writes them (fastai/text/models/awdlstm.py, commit
1616108: WeightDropout keeps `weight_hh_l0_raw` on the wrapper and the rest under `.module`; learn.save() writes
{"model": state_dict, "opt": …}; learn.save_encoder() the encoder's state_dict): every layer of the AWD-LSTM
found and equal to the layer as fastai runs it in eval mode, at 1e-6."""
import io

import torch
import torch.nn as nn
from libraries import AWD_LSTM, LinearDecoder, assert_awd_layers_equal

from explorer import load_recurrent
from explorer.io.readers.foreign import read_foreign


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
    assert_awd_layers_equal(found, lm, 1e-6)


def test_learn_save_encoder_too():
    torch.manual_seed(1)
    enc = AWD_LSTM(n_layers=2).eval()
    mods = load_recurrent(saved(enc.state_dict()))                        # learn.save_encoder("enc")
    assert set(mods) == {"rnns.0.module", "rnns.1.module"}
    for k, wd in enumerate(enc.rnns):
        for name, p in wd.module.named_parameters():
            torch.testing.assert_close(getattr(mods[f"rnns.{k}.module"], name), p, rtol=0, atol=0)
        torch.testing.assert_close(mods[f"rnns.{k}.module"].weight_hh_l0, wd.weight_hh_l0_raw, rtol=0, atol=0)
