"""python -m explorer [--version | streamlit options]: the same as the gate-explorer command."""
import sys

from explorer.cli import main

sys.exit(main())
