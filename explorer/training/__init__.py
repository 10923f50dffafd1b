"""Training: the Trainer (any device, reports through callbacks), its command line, and jobs that
train several models in lockstep for the app.

    trainer.py  TrainConfig, Trainer, task losses, devices (cuda, then mps, then cpu)
    history.py  History: a Trainer callback keeping snapshots of a probe while the model learns
    cli.py      python -m explorer.training --task char [--text PATH] --kind lstm --out model.safetensors
    jobs.py     TrainingJob: LSTM, GRU and RNN on the same batches in a background thread

Imports: explorer.core and explorer.io (models, data, our checkpoints). Beside explorer.analysis.
"""

from .history import History
from .jobs import TrainingJob
from .trainer import TrainConfig, Trainer

__all__ = ["History", "TrainConfig", "Trainer", "TrainingJob"]
