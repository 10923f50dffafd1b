"""compare.py: the trio, their flows, and the reading (computed from the numbers)."""
import pytest
import torch

import explorer
from explorer import InputError, ModelConfig, Vocab
from explorer.analysis import compare as C
from explorer.io.models.ours import core_parameters


def test_trio_equal_params_and_inits():
    v = Vocab("abcdefgh ")
    base = ModelConfig("lstm", vocab_size=len(v), embedding_size=16, hidden_size=32)
    trio = C.random_trio(base, v, match="params", init="forget bias 1")
    target = core_parameters("lstm", 16, 32)
    for m in trio.values():
        assert abs(explorer.io.models.ours.count_parameters(m.core) - target) / target < 0.05
    assert (trio["lstm"].core.bias_ih_l0[32:64] == 1).all()
    s = C.summary(trio)
    assert "spectral radius of W_hh" in s["rnn"] and s["gru"]["hidden size"] > 32


def test_flows_and_reading_match_numbers():
    torch.manual_seed(0)
    v = Vocab("abcdefgh ")
    trio = C.random_trio(ModelConfig("lstm", vocab_size=len(v), embedding_size=8, hidden_size=16), v,
                         init="forget bias 1")
    with torch.no_grad():
        trio["rnn"].core.weight_hh_l0.mul_(0.2)                   # a contracting RNN
    ids = v.encode("abcdefgh " * 20)[None]
    flows = C.compare_flow(trio, ids, "last", clamp_forget=1.0)
    n = flows["rnn"].h_norm[0, 0]
    k = C.vanishing_point(n)
    assert n[-1] == 0                                            # the last output predicts nothing
    ref = n[-2]
    assert k is not None and n[-2 - k] < 1e-6 * ref and (n[-1 - k:-1] >= 1e-6 * ref).all()
    text = C.reading(flows)
    assert f"the RNN's falls below 1e-06 of its final value {k} steps back" in text
    assert "the LSTM's stays above" in text                      # f := 1 keeps it alive
    with pytest.raises(InputError, match="objective"):
        C.compare_flow(trio, ids, "max")


def test_inits_of_the_modern_cells():
    """orthogonal W_hh: each of an sLSTM's heads' gate blocks orthogonal; forget bias 1: minLSTM's f block;
    minGRU has no keeping gate to open (its z weights the new state), so its biases stay as they were."""
    from explorer import SLSTM, MinGRU, MinLSTM
    from explorer.analysis.units import init_core
    s = init_core(SLSTM(8, 16, num_heads=4).double(), "orthogonal W_hh")
    d = 4
    for k in range(4):
        for j in range(4):
            block = s.weight_hh_l0[k, j * d:(j + 1) * d].detach()
            torch.testing.assert_close(block @ block.T, torch.eye(d, dtype=torch.float64), atol=1e-12, rtol=0)
    m = init_core(MinLSTM(8, 16), "forget bias 1")
    assert (m.bias_ih_l0[:16] == 1).all() and not (m.bias_ih_l0[16:] == 1).all()
    g = MinGRU(8, 16)
    before = g.bias_ih_l0.detach().clone()
    torch.testing.assert_close(init_core(g, "chrono").bias_ih_l0.detach(), before)
