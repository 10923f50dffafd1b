"""The cell kinds, one module each, and how to find one: KINDS["lstm"], of(rnn), get(name).

    from explorer.core import kinds
    k = kinds.of(model.core)          # the Kind of a stock nn.LSTM / nn.GRU / nn.RNN
    k.gates, k.has_c, k.names()       # ('i', 'f', 'g', 'o'), True, ['i', 'f', 'g', 'o', 'c', 'h']

See base.Kind for what a kind says about itself.
"""
from __future__ import annotations

from explorer.errors import InputError

from .base import Kind
from .gru import GRU
from .lstm import LSTM
from .mingru import MINGRU
from .minlstm import MINLSTM
from .rnn import RNN
from .slstm import SLSTMKind

KINDS: dict[str, Kind] = {k.name: k for k in (LSTM(), GRU(), RNN(), MINGRU(), MINLSTM(), SLSTMKind())}
CLASSIC = ("lstm", "gru", "rnn")               # the stock modules' kinds
MODERN = ("mingru", "minlstm", "slstm")        # the 2024 cells: our modules (core/modules.py)


def get(kind) -> Kind:
    """A Kind from its name ("lstm") or itself."""
    if isinstance(kind, Kind):
        return kind
    try:
        return KINDS[kind]
    except (KeyError, TypeError):
        raise InputError(f"unknown cell kind {kind!r}; choose from {', '.join(KINDS)}.") from None


def label(name: str) -> str:
    """How the page writes a kind ("LSTM", "minGRU", "sLSTM"); an unknown name upper-cased."""
    k = KINDS.get(name) if isinstance(name, str) else None
    return k.label if k is not None else str(name).upper()


def of(rnn) -> Kind:
    """The Kind of a stock recurrent module."""
    for k in KINDS.values():
        if type(rnn) is k.module or isinstance(rnn, k.module):
            return k
    raise InputError(f"expected a torch.nn.LSTM, nn.GRU, nn.RNN or an explorer MinGRU, MinLSTM or SLSTM module, got "
                     f"{type(rnn).__name__}; "
                     "for a whole model pass its recurrent part (e.g. model.core).")


__all__ = ["KINDS", "CLASSIC", "MODERN", "Kind", "get", "label", "of"]
