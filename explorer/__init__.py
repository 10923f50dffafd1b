"""Gate Explorer: see every gate of LSTM, GRU and vanilla RNN cells on real sequences."""
from .errors import InputError
from .trace import Intervention, Trace, trace
from .windows import LongTrace, RunningStats, scan_long

__all__ = ["InputError", "Intervention", "Trace", "trace", "scan_long", "LongTrace", "RunningStats"]
