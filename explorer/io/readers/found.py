"""What reading a checkpoint finds, whatever the framework: each recurrent module rebuilt as a stock one
(FoundModule), and everything else the file holds (Foreign). Below foreign.py and frameworks.py."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from torch import Tensor, nn

from .pickles import PickledModule


@dataclass
class FoundModule:
    """One recurrent module of a foreign checkpoint."""
    module: nn.RNNBase
    kind: str                                               # lstm | gru | rnn
    cell: bool = False                                      # saved as nn.LSTMCell/GRUCell/RNNCell
    assumed: dict = field(default_factory=dict)             # what the file cannot say, as used
    recorded: dict = field(default_factory=dict)            # what a pickle recorded (nonlinearity, batch_first)


@dataclass
class Foreign:
    """Everything read_foreign() found in a file."""
    modules: dict[str, FoundModule]
    tensors: dict[str, Tensor]
    classes: list[str] = field(default_factory=list)        # pickled classes (never imported)
    notes: list[str] = field(default_factory=list)          # one sentence each, for people
    source: str = "state_dict"                              # state_dict | pickled model | TorchScript | safetensors
    pickled: dict[str, PickledModule] = field(default_factory=dict)   # module classes by prefix
    values: dict = field(default_factory=dict)              # plain settings saved beside the weights
    objects: dict[str, PickledModule] = field(default_factory=dict)   # e.g. a fitted scaler, inert
    # What a library's reader (fastai.py, flair.py, gru4rec.py, forecasting.py) found in its own layout:
    library: str = ""                                       # "Flair", "GRU4Rec" … ("" when no layout was recognised)
    vocab: Optional[list[str]] = None                       # the tokens the file carries (Flair's dictionary, an item map)
    vocab_from: str = ""                                    # where they come from, for people
    hints: dict[str, dict] = field(default_factory=dict)    # per module: {"embedding": key, "head": key,
                                                            #  "head_bias": key, "reversed": True} where names mislead
    root: Any = None                                        # what the pickle rebuilt (inert), for those readers
