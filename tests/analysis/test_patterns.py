"""Pattern search and clustering, on planted structure."""
import pytest
import torch

from explorer import InputError, scan_long, trace
from explorer.analysis import patterns as P


def test_pattern_and_ranked_matches_on_planted_signal():
    T, H = 300, 6
    v = torch.zeros(T, H, dtype=torch.double)
    for s in (20, 140, 250):                 # units 1 and 4 switch on together three times
        v[s:s + 10, [1, 4]] = 1.0
    v[200:210, 1] = 1.0                       # unit 1 alone: a weaker match
    assert P.pattern(v, 20, 30, 0.5).nonzero().flatten().tolist() == [1, 4]
    tr = trace(torch.nn.RNN(1, H).double(), torch.zeros(T, 1, dtype=torch.double))
    tr.h[0, 0, :, 0] = v                      # a Trace carrying the planted values
    units, hits = P.find_pattern(tr, "h", 0, 0, 20, 30, threshold=0.5)
    assert units == [1, 4]
    assert [(h["start"], h["score"]) for h in hits[:3]] == [(140, 1.0), (250, 1.0), (200, 0.5)]


def _lstm_and_input():
    torch.manual_seed(0)
    rnn = torch.nn.LSTM(2, 8).double()
    x = torch.zeros(400, 2, dtype=torch.double)
    for s in (30, 180, 330):
        x[s:s + 5, 0] = 5.0                  # the same event three times
    return rnn, x


def test_find_pattern_full_and_streaming_agree():
    rnn, x = _lstm_and_input()
    tr = trace(rnn, x)
    units, hits = P.find_pattern(tr, "h", 0, 0, 30, 35, threshold=0.0)
    assert units and hits[0]["score"] == 1.0
    assert {h["start"] for h in hits[:2]} == {180, 330}
    lt = scan_long(rnn, x, checkpoint_every=16, chunk=64)
    units2, hits2 = P.find_pattern(lt, "h", 0, 0, 30, 35, threshold=0.0, window=100)
    assert units2 == units
    assert [(h["start"], round(h["score"], 9)) for h in hits2[:2]] == [(h["start"], round(h["score"], 9)) for h in hits[:2]]
    with pytest.raises(InputError, match="outside the input"):
        P.find_pattern(tr, "h", 0, 0, 390, 410)


def test_kmeans_separates_two_groups():
    t = torch.linspace(0, 6.28, 100)
    a, b = torch.sin(t), torch.cos(3 * t)
    v = torch.stack([a, a * 2 + 0.01 * torch.randn(100), b, b * 0.5, a - 0.02, b + 1])
    lab = P.kmeans_units(v, 2)
    assert lab[0] == lab[1] == lab[4] and lab[2] == lab[3] == lab[5] and lab[0] != lab[2]
    with pytest.raises(InputError, match="between 1 and 6"):
        P.kmeans_units(v, 9)
