"""Gate Explorer: see every gate of LSTM, GRU and vanilla RNN cells on real sequences."""
from .errors import InputError
from .trace import Intervention, Trace, trace
from .windows import LongTrace, RunningStats, scan_long

__all__ = ["InputError", "Intervention", "Trace", "trace", "scan_long", "LongTrace", "RunningStats"]
from .gradients import GradientFlow, char_objective, gradient_flow
from .checkpoints import load_model, load_recurrent, save_model
from .pretrained import list_pretrained, load_pretrained
from .data import Vocab
from .models import CharModel, ModelConfig, SeqModel

__all__ += ["GradientFlow", "gradient_flow", "char_objective", "load_recurrent", "load_model", "save_model",
            "list_pretrained", "load_pretrained", "Vocab", "CharModel", "SeqModel", "ModelConfig"]
from . import analysis, cells, checkpoints, compare, data, gradients, jobs, models, patterns, plots, training, windows  # noqa: E402,F401
