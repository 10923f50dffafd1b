"""The tracer: the equations, one description per cell kind, and everything that runs a stock
nn.LSTM / nn.GRU / nn.RNN step by step.

    cells.py      the equations: one step function per kind, gate names and meanings
    kinds/        what differs between LSTM, GRU and RNN (kernels, fast routes, gate recovery, backward)
    params.py     one layer's weights and results, shared by onednn, kinds and engine
    onednn.py     reading PyTorch's CPU LSTM kernel workspace (the exact fast route)
    engine.py     one layer, one direction, all steps: route choice, interventions
    trace.py      trace(), Trace, Intervention, input checks
    stats.py      running statistics and overview block means of a long pass
    windows.py    scan_long(): one pass over a whole book, any window traced exactly
    gradients.py  gradient_flow(): dJ/dh_t and dJ/dc_t through time

Imports: torch and explorer.errors only, no other subpackage (the `.plot()` conveniences of Trace
and GradientFlow import explorer.plots when called, for notebooks).
"""
