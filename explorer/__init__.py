"""Gate Explorer: see every gate of LSTM, GRU and vanilla RNN cells on real sequences."""
from explorer._version import __version__
from explorer.core.stats import RunningStats
from explorer.core.trace import Intervention, Trace, trace
from explorer.core.windows import LongTrace, scan_long
from explorer.errors import InputError

__all__ = ["__version__", "InputError", "Intervention", "Trace", "trace", "scan_long", "LongTrace", "RunningStats"]
from explorer.core.gradients import GradientFlow, char_objective, gradient_flow
from explorer.io.checkpoints import load_model, load_recurrent, save_model
from explorer.io.data import Vocab
from explorer.io.models import CharModel, ModelConfig, SeqModel
from explorer.io.pretrained import list_pretrained, load_pretrained

__all__ += ["GradientFlow", "gradient_flow", "char_objective", "load_recurrent", "load_model", "save_model",
            "list_pretrained", "load_pretrained", "Vocab", "CharModel", "SeqModel", "ModelConfig"]
from explorer.analysis import compare, diagram, export, lessons, patterns, stepview, units  # noqa: E402,F401,I001
from explorer.training import jobs, trainer  # noqa: E402,F401,I001
from explorer.io import checkpoints, data, foreign, models  # noqa: E402,F401,I001
from explorer.core import cells, gradients, kinds, windows  # noqa: E402,F401,I001


def __getattr__(name):
    """explorer.plots on first use: it needs plotly, which the library itself does not."""
    if name == "plots":
        import importlib
        return importlib.import_module(".plots", __name__)
    raise AttributeError(f"module 'explorer' has no attribute {name!r}")
