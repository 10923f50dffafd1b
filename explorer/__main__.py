"""python -m explorer [--version | streamlit options]: the same as the gate-explorer command."""
import sys

from .cli import main

sys.exit(main())
