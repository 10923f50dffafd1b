"""Kind: everything that differs between LSTM, GRU and vanilla RNN, said once per kind.

The engine, the tracer, the gradients, the long scans, the analysis and the app never ask "is
this an LSTM?"; they ask the kind: its gates, whether it has a cell state, how its stock kernel
is called, how its gates are recovered from the kernel's h, its step, its backward step, its
equations for display. Each kind lives in one module (lstm.py, gru.py, rnn.py) and is registered
in kinds/__init__.py; adding a kind is one such module plus its tests (see CONTRIBUTING.md).

Shapes, as everywhere below trace.py: time-major and forward-ordered, x (T, B, I), h (T, B, H_out),
c and gates (T, B, H); one step x (B, I), h (B, H_out), c (B, H).
"""
from __future__ import annotations

from typing import Callable, Optional

from torch import Tensor, nn

from ..cells import Edit
from ..params import LayerParams, LayerTrace

num = lambda v: f"{float(v):.3f}"                     # a number in a displayed equation
pnum = lambda v: f"({num(v)})" if float(v) < 0 else num(v)   # ... parenthesised when negative


class Kind:
    """The description of one cell kind. Subclasses set the attributes and implement the methods."""
    name: str                          # "lstm": the key in KINDS, ModelConfig.kind, Trace.kind
    label: str                         # "LSTM": how the page and the plots name it
    module: type                       # the stock module, nn.LSTM
    gates: tuple[str, ...]             # in the order the stock weights stack them (i, f, g, o)
    has_c: bool = False                # a separate cell state c (LSTM)
    blocks: int = 1                    # weight_hh has blocks·H rows: the gates stacked
    keep_gate: Optional[str] = None    # the gate that, near 1, keeps the old state (LSTM f; GRU z)
    write_gate: Optional[str] = None   # the gate that, near 0, shuts new input out (LSTM i)
    options: tuple[str, ...] = ()      # the module's own constructor options beyond sizes (nonlinearity, proj_size)
    textbook_form: bool = False        # step(convention="cho") gives a textbook form that PyTorch's differs from (GRU)
    reading: str = ""                  # how to read this kind's gates figure, for the page
    own_scan: bool = False             # no fused PyTorch kernel: scan() traces a layer (the 2024 cells)
    carried: tuple[str, ...] = ()      # states beyond h carried step to step, packed in "c" (LSTM: c; sLSTM: c, n, m)
    gates_see_past: bool = True        # the gates read h_{t-1}; minGRU's and minLSTM's read x_t alone

    # ---- what it holds ----------------------------------------------------------------------
    def names(self) -> list[str]:
        """Everything a trace holds, in display order: the gates, c and the other carried states (if any), h."""
        return [*self.gates, *(self.carried or (["c"] if self.has_c else [])), "h"]

    def unpack(self, c):
        """The carried states by name from the packed c (..., k·H): {"c": ...} or {"c", "n", "m"}."""
        if c is None:
            return {}
        if len(self.carried) <= 1:
            return {"c": c}
        return dict(zip(self.carried, c.chunk(len(self.carried), -1)))

    @property
    def memory(self) -> str:
        """The state that carries memory across steps, shown first: c if the kind has one, else h."""
        return "c" if self.has_c else "h"

    @property
    def has_nonlinearity(self) -> bool:
        """The module takes nonlinearity= (nn.RNN): a choice its weights do not record."""
        return "nonlinearity" in self.options

    # ---- building and running the stock module ----------------------------------------------
    def make(self, input_size: int, hidden_size: int, *, nonlinearity: str = "tanh", proj_size: int = 0,
             **kw) -> nn.RNNBase:
        """The stock module; kw: num_layers, bias, batch_first, dropout, bidirectional. nonlinearity and
        proj_size are passed only to a kind whose module takes them (`options`)."""
        own = {k: v for k, v in dict(nonlinearity=nonlinearity, proj_size=proj_size).items() if k in self.options}
        return self.module(input_size, hidden_size, **own, **kw)

    def settings(self, rnn: nn.RNNBase) -> dict:
        """The keywords make() needs, beyond sizes and kw, to rebuild `rnn`."""
        return {k: getattr(rnn, k) for k in self.options}

    def kernel(self, nonlinearity: str) -> Callable:
        """The fused kernel torch's module calls (torch._VF.lstm / gru / rnn_tanh / rnn_relu)."""
        raise NotImplementedError

    def kernel_state(self, h0: Tensor, c0: Optional[Tensor]):
        """The initial state as the kernel takes it, for one layer: (1, B, ·) tensors."""
        return h0[None]

    def fast_route(self, p: LayerParams, x: Tensor, h0: Tensor, c0: Optional[Tensor]) -> Optional[LayerTrace]:
        """A faster exact way to get every step's gates than the stock kernel plus gates_from_h,
        already checked; None where there is none for this input (then the engine takes the stock one)."""
        return None

    def gates_from_h(self, p: LayerParams, x: Tensor, h0: Tensor, out: Tensor) -> dict[str, Tensor]:
        """All gates for all steps at once, given every h the kernel produced: x (T, B, I),
        h0 (B, H_out), out (T, B, H_out) -> {gate: (T, B, H)}. h_{t-1} is out[t-1] (h0 at t=0)."""
        return {}

    def cell_states(self, gates: dict[str, Tensor], c0: Optional[Tensor]) -> Optional[Tensor]:
        """c for every step from the gates (T, B, H), or None for a kind without a cell state."""
        return None

    # ---- one step, for interventions and the step inspector ----------------------------------
    def step(self, x: Tensor, h: Tensor, c: Optional[Tensor], p: LayerParams, *, nonlinearity: str = "tanh",
             edit: Edit = None) -> tuple[Tensor, Optional[Tensor], dict[str, Tensor]]:
        """One step with the equations in cells.py: (h', c' or None, {gate: (B, H)})."""
        raise NotImplementedError

    def preactivations(self, x: Tensor, h: Tensor, p: LayerParams) -> dict[str, Tensor]:
        """The numbers inside the activations (cells.preactivations), for the equations filled in."""
        raise NotImplementedError

    def equations(self, s, u: int, *, nonlinearity: str = "tanh") -> str:
        """LaTeX of this step's equations for unit u, filled in with the numbers of `s`, a
        stepview.StepNumbers (pre, gates, h_prev, c_prev, h, c, previous-step name, projected)."""
        raise NotImplementedError

    # ---- backward through time, for gradient_flow -------------------------------------------
    def backward(self, p: LayerParams, direct: Tensor, h: Tensor, c: Optional[Tensor], gates: dict[str, Tensor],
                 h0: Tensor, c0: Optional[Tensor], *, nonlinearity: str = "tanh", fixed: Optional[dict] = None,
                 x: Optional[Tensor] = None, forward=None) -> tuple[Tensor, Optional[Tensor], Tensor]:
        """Backward through one layer, forward-ordered (T, B, ·). direct: dJ/dh_t from above; fixed:
        {gate: mask} of clamped gate values (no derivative through them); x: the layer's input, and
        forward: the kernel call trace() kept (onednn.keeping_forwards), for kinds whose kernel's own
        backward can be used. Returns (dJ/dh_t, dJ/dc_t or None, dJ/d pre-activations (T, B, blocks·H))."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<cell kind {self.name}>"


def free(fixed: Optional[dict]):
    """K -> K with the derivative factor zeroed where a gate was clamped (fixed[name] mask)."""
    fixed = fixed or {}
    return lambda name, K: K.masked_fill(fixed[name], 0.0) if name in fixed else K
