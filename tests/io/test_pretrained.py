"""The shipped models: they load, match their cards, and do what the cards say."""
import math

import pytest
import torch

import explorer
from explorer import InputError
from explorer.io.inputs import data as D
from explorer.training.trainer import heldout_loss

NAMES = ["shakespeare-lstm", "shakespeare-gru", "shakespeare-rnn", "adding-lstm", "adding-gru", "adding-rnn"]
SAMPLE = ("ROMEO:\nBut soft, what light through yonder window breaks?\nIt is the east, and Juliet is the sun.\n"
          "Arise, fair sun, and kill the envious moon,\nWho is already sick and pale with grief.\n") * 3


def test_every_model_is_listed_and_matches_its_card():
    cards = explorer.list_pretrained()
    assert set(NAMES) <= set(cards)
    for name in NAMES:
        m = explorer.load_pretrained(name)
        c = cards[name]
        assert explorer.io.models.ours.count_parameters(m) == c["parameters"]
        assert m.cfg.kind == c["config"]["kind"] == name.split("-")[1]
        assert c["recipe"].startswith("python -m explorer.training") and c["steps"] == 4000
    for name in NAMES[:3]:
        assert cards[name]["config"]["hidden_size"] == 256                     # one size: a fair comparison
    for name in NAMES[:2]:
        assert cards[name]["heldout_loss_nats"] <= 1.70
    assert cards["adding-lstm"]["heldout_loss"] <= 0.01
    with pytest.raises(InputError, match="no pretrained model 'nope'"):
        explorer.load_pretrained("nope")


@pytest.mark.parametrize("name", NAMES[:3])
def test_char_models_beat_uniform_and_generate_deterministically(name):
    m = explorer.load_pretrained(name)
    loss = heldout_loss(m, m.vocab.encode(SAMPLE), seq_len=64)
    assert loss < 0.6 * math.log(len(m.vocab))                                 # uniform: ln V ≈ 4.2 nats
    a, b = m.generate("ROMEO:\n", 200, 0.8, seed=1), m.generate("ROMEO:\n", 200, 0.8, seed=1)
    assert a == b and len(a) == 200 and a != m.generate("ROMEO:\n", 200, 0.8, seed=2)


def test_adding_lstm_beats_the_baseline_tenfold_on_fresh_samples():
    m = explorer.load_pretrained("adding-lstm")
    t = D.adding_problem(2000, 100, torch.Generator().manual_seed(12345))
    with torch.no_grad():
        mse = float(((m(t.x) - t.y) ** 2).mean())
    assert mse * 10 < t.baseline, mse


def test_pretrained_folder_is_small():
    import os
    total = sum(os.path.getsize(p) for p in explorer.io.models.pretrained.directory().glob("*"))
    assert total < 30 * 2**20
