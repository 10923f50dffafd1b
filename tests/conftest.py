"""Shared fixtures. A newcomer's test gets:
- make_rnn(kind, input_size=3, hidden_size=4, *, dtype=float64, seed=1, **module_kw): a seeded stock
  module of any kind, built through explorer.core.kinds (the same description the library uses);
- rnn_config: parametrizes a test over MODULE_GRID, every layout the public API promises
  (kind × layers × bidirectional × batch_first × bias × proj_size), as keyword dicts for make_rnn;
- the AppTest helpers live in tests/apptools.py (run_app gives a fresh AppTest per call).
"""
import itertools

import pytest
import torch

from explorer.core.kinds import CLASSIC, KINDS

MODULE_GRID = [
    dict(kind=k, num_layers=L, bidirectional=bd, batch_first=bf, bias=bias, **({"proj_size": ps} if ps else {}))
    for k, L, bd, bf, bias, ps in itertools.product(list(CLASSIC), [1, 2, 3], [False, True], [False, True], [True, False], [0, 2])
    if not (ps and not KINDS[k].has_c) and not (L == 3 and (bf or not bias))
]


def _make_rnn(kind, input_size=3, hidden_size=4, *, dtype=torch.float64, seed=1, **kw):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return KINDS[kind].make(input_size, hidden_size, **kw).to(dtype).eval()


@pytest.fixture
def make_rnn():
    return _make_rnn


def pytest_generate_tests(metafunc):
    if "rnn_config" in metafunc.fixturenames:
        metafunc.parametrize("rnn_config", MODULE_GRID, ids=["-".join(f"{k}={v}" for k, v in c.items()) for c in MODULE_GRID])


@pytest.fixture(autouse=True)
def _seeded():
    """Every test draws the same random numbers whichever tests ran before it."""
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _no_remembered_workspace_pages(monkeypatch):
    """Every test starts with no workspace page remembered (explorer/core/onednn.py), so no test passes
    or fails because of which tests ran before it."""
    from explorer.core import onednn
    monkeypatch.setattr(onednn, "_PAGES", {})
