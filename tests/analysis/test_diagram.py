"""The cell diagram's numbers are the trace's (and, where no trace holds them, the documented
equations on the trace's own states); the state path is PCA."""
import numpy as np
import pytest
import torch
from reference import reference

from explorer import scan_long, trace
from explorer.analysis import diagram
from explorer.core import cells

CLS = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}


@pytest.mark.parametrize("kind", list(CLS))
@pytest.mark.parametrize("direction", [0, 1])
def test_every_wire_equals_the_reference(kind, direction):
    torch.manual_seed(1)
    rnn = CLS[kind](3, 5, bidirectional=True, num_layers=2).double()
    x = torch.randn(20, 1, 3, dtype=torch.double)
    with torch.no_grad():
        ref = reference(rnn, x)
    lt = scan_long(rnn, x, checkpoint_every=4, chunk=8)
    a, b, u, layer = 6, 15, 2, 1
    story, tr = diagram.story_for_window(lt, a, b, layer, direction, u, x[a:b, 0])
    v = story.values
    h = ref["h"][layer, direction, :, 0, u].numpy()
    prev = (lambda s: s[a - 1:b - 1]) if direction == 0 else (lambda s: s[a + 1:b + 1])
    np.testing.assert_allclose(v["h"], h[a:b], atol=1e-12)
    np.testing.assert_allclose(v["h_prev" if kind != "lstm" else "c_prev"],
                               prev(ref["h" if kind != "lstm" else "c"][layer, direction, :, 0, u].numpy()), atol=1e-12)
    if kind == "lstm":
        g = {k: ref[k][layer, direction, a:b, 0, u].numpy() for k in "ifgo"}
        c_prev = prev(ref["c"][layer, direction, :, 0, u].numpy())
        np.testing.assert_allclose(v["f*c_prev"], g["f"] * c_prev, atol=1e-12)
        np.testing.assert_allclose(v["i*g"], g["i"] * g["g"], atol=1e-12)
        np.testing.assert_allclose(v["c"], v["f*c_prev"] + v["i*g"], atol=1e-12)          # the + node
        np.testing.assert_allclose(v["h"], g["o"] * np.tanh(v["c"]), atol=1e-12)         # the output path
    elif kind == "gru":
        np.testing.assert_allclose(v["h"], v["(1-z)*n"] + v["z*h_prev"], atol=1e-12)
        np.testing.assert_allclose(v["z"], ref["z"][layer, direction, a:b, 0, u].numpy(), atol=1e-12)
    else:
        np.testing.assert_allclose(np.tanh(v["a"]), v["h"], atol=1e-12)                  # a really is the pre-activation


def test_the_textbook_gru_is_the_cho_cell_on_the_traces_own_states():
    torch.manual_seed(2)
    rnn = torch.nn.GRU(3, 4).double()
    x = torch.randn(12, 3, dtype=torch.double)
    tr = trace(rnn, x)
    story = diagram.cell_story(tr, rnn, 0, 0, 1, x=x, convention="cho")
    h_prev = torch.cat([torch.zeros(1, 4, dtype=torch.double), tr.h[0, 0, :-1, 0]])
    h_new, g = cells.gru_cell(x, h_prev, rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0,
                              convention="cho")
    np.testing.assert_allclose(story.values["h"], h_new[:, 1].detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(story.values["h"], story.values["z*n"] + story.values["(1-z)*h_prev"], atol=1e-12)
    assert not np.allclose(story.values["h"], tr.h[0, 0, :, 0, 1].numpy())     # a different function
    assert story.notes and "Cho" in story.notes[0]


def test_projected_lstm_shows_m_and_says_why():
    rnn = torch.nn.LSTM(3, 6, proj_size=2).double()
    story = diagram.cell_story(trace(rnn, torch.randn(7, 3, dtype=torch.double)), rnn, 0, 0, 4)
    assert "h" not in story.values and "m" in story.values and "proj_size=2" in story.notes[0]


def test_state_path_is_pca():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(50, 2)) * [3.0, 1.0]
    states = base @ rng.normal(size=(2, 8)) + 0.01 * rng.normal(size=(50, 8))
    coords, explained = diagram.state_path(states, 3)
    assert coords.shape == (50, 3) and explained[0] > explained[1] > explained[2] and explained[:2].sum() > 0.99
    X = states - states.mean(0)
    np.testing.assert_allclose(np.abs(coords[:, 0]) ** 2 @ np.ones(50), (np.linalg.svd(X)[1][0]) ** 2, rtol=1e-9)
    hi, lo = diagram.path_extremes(coords, list("abcdefghij" * 5), k=2)
    assert hi[0][1] == int(np.argmax(coords[:, 0])) and lo[0][1] == int(np.argmin(coords[:, 0]))
