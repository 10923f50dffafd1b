"""python -m explorer.training …: the training command line (explorer/training/cli.py)."""
from .cli import main

main()
