"""Reading traces: numbers computed from a Trace (or a long pass) that the page and a notebook show.

    units.py     saturation, feature tracks over text, user regexes (RE2), the unit finder, memory spans,
                 the init and spectral quantities of the gradient-flow comparison
    patterns.py  pattern search (after LSTMVis) and clusters of units
    compare.py   LSTM vs GRU vs RNN on the same input: gradient flow side by side, read in words;
                 a picked model's own flow with its task's objective
    says.py      what a model's head says over a window, by its task
    diagram.py   the numbers of the textbook cell diagram, wire by wire
    stepview.py  one step of one layer with the equations filled in (the step inspector)
    lessons.py   the numbers behind the classroom lessons
    export.py    a window's trace as CSV / NPZ

Imports: explorer.core, and explorer.io where a reading needs a model or a vocabulary (compare).
"""
