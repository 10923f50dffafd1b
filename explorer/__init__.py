"""Gate Explorer: see every gate of LSTM, GRU and vanilla RNN cells on real sequences."""
from ._version import __version__
from .errors import InputError
from .stats import RunningStats
from .trace import Intervention, Trace, trace
from .windows import LongTrace, scan_long

__all__ = ["__version__", "InputError", "Intervention", "Trace", "trace", "scan_long", "LongTrace", "RunningStats"]
from .checkpoints import load_model, load_recurrent, save_model
from .data import Vocab
from .gradients import GradientFlow, char_objective, gradient_flow
from .models import CharModel, ModelConfig, SeqModel
from .pretrained import list_pretrained, load_pretrained

__all__ += ["GradientFlow", "gradient_flow", "char_objective", "load_recurrent", "load_model", "save_model",
            "list_pretrained", "load_pretrained", "Vocab", "CharModel", "SeqModel", "ModelConfig"]
from . import (analysis, cells, checkpoints, compare, data, diagram, export, foreign, gradients, jobs,  # noqa: E402,F401,I001
               kinds, lessons, models, patterns, stepview, training, windows)


def __getattr__(name):
    """explorer.plots on first use: it needs plotly, which the library itself does not."""
    if name == "plots":
        import importlib
        return importlib.import_module(".plots", __name__)
    raise AttributeError(f"module 'explorer' has no attribute {name!r}")
