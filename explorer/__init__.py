"""Gate Explorer: see every gate of LSTM, GRU and vanilla RNN cells on real sequences.

The public API (DESIGN.md's contract) is here at the top: `explorer.trace`, `explorer.scan_long`,
`explorer.gradient_flow`, `explorer.load_recurrent`, `explorer.load_pretrained` … The floors below
it, one folder each (imports only go down):

    core/      the tracer: equations, cell kinds, trace(), scan_long(), gradient_flow()
    io/        what comes in: text, series, vocabularies, checkpoints, other people's files, models
    analysis/  reading traces: saturation, units, patterns, the diagram's and inspector's numbers
    training/  the Trainer, its command line, jobs (beside analysis)
    plots/     plotly figures (imported on first use: the library needs no plotly)
    ui/        the Streamlit page (the only streamlit importer)
    bench/     benchmarks against stock PyTorch and a bare Streamlit page
"""
import importlib as _importlib

from explorer._version import __version__
from explorer.analysis.connectivity import Attribution, attribute, connectivity
from explorer.core.gradients import GradientFlow, char_objective, gradient_flow
from explorer.core.modules import SLSTM, MinGRU, MinLSTM
from explorer.core.stats import RunningStats
from explorer.core.trace import Intervention, Trace, trace
from explorer.core.windows import LongTrace, scan_long
from explorer.errors import InputError
from explorer.io.inputs.data import Vocab
from explorer.io.models.checkpoints import load_model, load_recurrent, save_model
from explorer.io.models.opened import OpenedModel, open_model
from explorer.io.models.ours import CharModel, ModelConfig, SeqModel
from explorer.io.models.pretrained import list_pretrained, load_pretrained

# Every floor's modules, so a notebook reaches explorer.analysis.units (say) after `import explorer`.
# Imported by name, not bound here: the old flat names (explorer.kinds …) are not kept.
for _name in ("core.cells", "core.kinds", "core.windows", "io.models.cards", "io.readers.foreign", "io.inputs.series", "io.models.tasks",
              "io.inputs.tokens", "io.inputs.vocabularies", "analysis.compare", "analysis.diagram", "analysis.export", "analysis.lessons",
              "analysis.patterns", "analysis.stepview", "analysis.units", "training.jobs", "training.trainer"):
    _importlib.import_module(f"{__name__}.{_name}")
del _name

__all__ = ["__version__", "InputError", "MinGRU", "MinLSTM", "SLSTM",
           "Intervention", "Trace", "trace", "scan_long", "LongTrace", "RunningStats",
           "GradientFlow", "gradient_flow", "char_objective", "load_recurrent", "load_model", "save_model",
           "list_pretrained", "load_pretrained", "Vocab", "CharModel", "SeqModel", "ModelConfig",
           "open_model", "OpenedModel", "connectivity", "attribute", "Attribution"]


def __getattr__(name):
    """explorer.plots on first use: it needs plotly, which the library itself does not."""
    if name == "plots":
        return _importlib.import_module(".plots", __name__)
    raise AttributeError(f"module 'explorer' has no attribute {name!r}")
