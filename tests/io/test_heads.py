"""Heads read as they compute: PyTorch's name-classifier tutorial (one-hot letters over 57, an nn.RNN, LogSoftmax over
18 languages), the bidirectional sentiment LSTM in both of its published orders, pooled readings, and a Sigmoid
multi-label head; readout() equals each model's own forward (float64, 1e-12)."""
import string

import pytest
import torch
from libraries import LANGUAGES, CharRNN, SentimentLSTM, SpeechCTC, library_save, mfcc_file
from torch import nn

import explorer
from explorer import InputError
from explorer.io.inputs.alphabets import TUTORIAL, alphabets_for
from explorer.io.models.heads import READINGS


def line_to_tensor(line, alphabet=TUTORIAL):
    """The tutorial's lineToTensor: (len, 1, n_letters) one-hot."""
    t = torch.zeros(len(line), 1, len(alphabet), dtype=torch.float64)
    for i, c in enumerate(line):
        t[i, 0, alphabet.index(c)] = 1
    return t


@pytest.mark.parametrize("whole", [True, False])
def test_the_name_classifier_reads_one_hot_letters_and_its_languages_form(whole):
    torch.manual_seed(0)
    model = CharRNN(len(TUTORIAL), 32, len(LANGUAGES)).double().eval()
    data = library_save(model, {"model": [CharRNN]}) if whole else library_save(model.state_dict(), {})
    assert list(alphabets_for(57).values()) == [TUTORIAL]
    plain = explorer.open_model(data)
    assert plain.embedding is None and plain.task == ("classifier" if whole else "regressor")   # LogSoftmax: classes
    m = explorer.open_model(data, alphabet=TUTORIAL)
    assert m.task == "classifier" and m.embedding.source_key == "one-hot letters"
    if whole:
        assert m.recorded["after the head"] == "LogSoftmax"
    for name in ("Satoshi", "Ślusàrski", "O'Neal"):
        x = m.inputs(name)
        folded = "".join(c for c in __import__("unicodedata").normalize("NFD", name) if c in TUTORIAL)
        torch.testing.assert_close(x, line_to_tensor(folded)[:, 0], rtol=0, atol=0)
        with torch.no_grad():
            want = model(line_to_tensor(folded)).exp()[0]
            got = m.readout(x)                                                # (T, 1, 18): forming letter by letter
        assert got.shape == (len(folded), 1, 18)
        torch.testing.assert_close(got[-1, 0], want, rtol=0, atol=1e-12)
    with pytest.raises(InputError, match="26 letters"):
        explorer.open_model(data, alphabet=string.ascii_lowercase)


@pytest.mark.parametrize("backward_first", [True, False])
def test_a_bidirectional_classifier_reads_in_the_order_it_was_written(backward_first):
    torch.manual_seed(1)
    model = SentimentLSTM(40, 6, 5, 2, backward_first).double().eval()
    data = library_save(model.state_dict(), {})
    ids = torch.tensor([3, 17, 4, 25, 9, 11])
    with torch.no_grad():
        want = torch.softmax(model(ids[None]), -1)[0]
    m = explorer.open_model(data)
    assert m.readings[1:3] == ["forward then backward", "backward then forward"] and "reads" in m.assumed
    assert m.reading == "forward then backward"                          # tokens: a verdict after the whole text
    right = "backward then forward" if backward_first else "forward then backward"
    wrong = "forward then backward" if backward_first else "backward then forward"
    for reading, equal in ((right, True), (wrong, False)):
        mr = explorer.open_model(data, reading=reading)
        assert "reads" not in mr.assumed
        got = mr.readout(mr.embed(ids))[0, 0]
        if equal:
            torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
        else:
            assert (got - want).abs().max() > 1e-6


def test_pooled_readings_equal_their_definitions():
    torch.manual_seed(2)
    lstm, fc = nn.LSTM(4, 3, bidirectional=True).double(), nn.Linear(6, 2).double()
    data = library_save({**{f"rnn.{k}": v for k, v in lstm.state_dict().items()},
                         "fc.weight": fc.weight.detach(), "fc.bias": fc.bias.detach()}, {})
    x = torch.randn(7, 4, dtype=torch.float64)
    out = lstm(x)[0].detach()
    for reading, feats in (("mean over steps", out.mean(0)), ("max over steps", out.amax(0)), ("last output step", out[-1])):
        m = explorer.open_model(data, overrides={"task": "classifier"}, reading=reading)
        with torch.no_grad():
            torch.testing.assert_close(m.readout(x)[0, 0], torch.softmax(fc(feats), -1), rtol=0, atol=1e-12)
    assert set(READINGS) >= {"forward then backward", "backward then forward", "last, max, mean (fastai)"}


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(20, 4)
        self.gru = nn.GRU(4, 6)
        self.out = nn.Linear(6, 5)
        self.act = nn.Sigmoid()


def test_a_sigmoid_after_a_multi_output_head_is_read_per_class():
    torch.manual_seed(3)
    model = Tagger().double().eval()
    m = explorer.open_model(library_save(model, {"model": [Tagger]}), overrides={"task": "classifier"})
    assert m.recorded["after the head"] == "Sigmoid"
    ids = torch.tensor([1, 5, 7])
    with torch.no_grad():
        want = torch.sigmoid(model.out(model.gru(model.embedding(ids))[0]))
        torch.testing.assert_close(m.readout(m.embed(ids))[:, 0], want, rtol=0, atol=1e-12)


def test_a_speech_model_reads_feature_files_and_speaks_a_character_per_frame():
    from explorer.io.inputs.series import read_array
    from explorer.io.models.heads import PER_STEP
    torch.manual_seed(5)
    model = SpeechCTC().double().eval()
    m = explorer.open_model(library_save(model.state_dict(), {}))
    assert m.task == "classifier" and m.reading == PER_STEP and not m.final_only and "reads" in m.assumed
    for kw in ({}, {"librosa_layout": True}, {"npz": True}):
        data, x = mfcc_file(**kw)
        got, how = read_array(data, 40)
        torch.testing.assert_close(got, x, rtol=0, atol=0)
        assert ("transposed" in how) == bool(kw.get("librosa_layout")) and ("'mfcc'" in how) == bool(kw.get("npz"))
    with torch.no_grad():
        want = model(x[None]).exp()[0]                                 # (T, 29): a character distribution per frame
        got = m.readout(m.series(x, scale="none"))[:, 0]
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
    with pytest.raises(InputError, match="holds Python objects"):
        import io

        import numpy as np
        buf = io.BytesIO()
        np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
        read_array(buf.getvalue(), 40)


class PoolingLinearClassifier(nn.Module):
    """fastai's head (text/models/core.py), its layers cut to one Linear: it pools [last, max, mean] of the output."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.layers = nn.Linear(n_in, n_out)

    def forward(self, out):                                 # out (B, T, H)
        return self.layers(torch.cat([out[:, -1], out.max(1)[0], out.mean(1)], -1))


class PooledClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(30, 6)
        self.rnn = nn.LSTM(6, 5, batch_first=True)
        self.head = PoolingLinearClassifier(15, 3)

    def forward(self, ids):
        return self.head(self.rnn(self.embedding(ids))[0])


def test_a_pooling_head_records_its_reading_in_a_whole_pickle():
    torch.manual_seed(6)
    model = PooledClassifier().double().eval()
    m = explorer.open_model(library_save(model, {"model": [PooledClassifier], "fastai.text.models.core": [PoolingLinearClassifier]}))
    assert m.task == "classifier" and m.reading == "last, max, mean (fastai)" and m.recorded["reads"] == m.reading
    assert "reads" not in m.assumed and m.final_only
    ids = torch.tensor([4, 9, 2, 17, 5])
    with torch.no_grad():
        torch.testing.assert_close(m.readout(m.embed(ids))[0, 0], torch.softmax(model(ids[None])[0], -1), rtol=0, atol=1e-12)
