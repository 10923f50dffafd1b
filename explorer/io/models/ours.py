"""Models around a stock recurrent core: CharModel (embedding -> core -> head) and SeqModel
(linear in -> core -> head). `model.core` is a plain nn.LSTM / nn.GRU / nn.RNN (or our MinGRU / MinLSTM /
SLSTM) with batch_first=True, so trace() and gradient_flow() apply to it directly."""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Optional

import torch
from torch import Tensor, nn

from explorer.core import kinds
from explorer.core.kinds import CLASSIC, KINDS
from explorer.errors import InputError

from .. import budget
from ..inputs.data import Vocab


@dataclass
class ModelConfig:
    kind: str = "lstm"              # lstm | gru | rnn | mingru | minlstm | slstm (sLSTM: 4 heads)
    vocab_size: int = 0             # char models: > 0 (embedding); sequence models: 0
    input_size: int = 0             # sequence models: features per step
    embedding_size: int = 64
    hidden_size: int = 256
    num_layers: int = 1
    dropout: float = 0.0
    bidirectional: bool = False
    output_size: int = 0            # head outputs; char models: vocab_size
    nonlinearity: str = "tanh"      # rnn only
    readout: str = "all"            # "all": a prediction per step; "last": only the last step's

    def __post_init__(self):
        if not isinstance(self.kind, str) or self.kind not in KINDS:
            raise InputError(f"model kind must be one of {', '.join(KINDS)}, not {str(self.kind)[:30]!r}.")
        # Bounds on everything a config declares (a saved file's config is read back through here).
        self.hidden_size = budget.bounded(self.hidden_size, "hidden_size")
        self.num_layers = budget.bounded(self.num_layers, "num_layers", hi=budget.MAX_LAYERS)
        self.vocab_size = budget.bounded(self.vocab_size, "vocab_size", 0, budget.MAX_ROWS)
        self.input_size = budget.bounded(self.input_size, "input_size", 0)
        self.embedding_size = budget.bounded(self.embedding_size, "embedding_size")
        self.output_size = budget.bounded(self.output_size, "output_size", 0, budget.MAX_ROWS)
        if not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            raise InputError(f"dropout must be a number in [0, 1), not {str(self.dropout)[:30]!r}.")
        if self.nonlinearity not in ("tanh", "relu"):
            raise InputError(f"nonlinearity must be 'tanh' or 'relu', not {str(self.nonlinearity)[:30]!r}.")
        if self.readout not in ("all", "last"):
            raise InputError(f"readout must be 'all' or 'last', not {str(self.readout)[:30]!r}.")
        self.bidirectional = bool(self.bidirectional)
        if self.vocab_size <= 0 and self.input_size <= 0:
            raise InputError("a model needs vocab_size (char model) or input_size (sequence model).")

    @property
    def is_char(self) -> bool:
        return self.vocab_size > 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        if not isinstance(d, dict):
            raise InputError("a model config must be a JSON object of settings.")
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def nbytes(self) -> int:
        """What the model's parameters take in float32, by formula (checked before building it)."""
        k = KINDS[self.kind]
        D = 2 if self.bidirectional else 1
        width = self.embedding_size
        core = budget.recurrent_bytes(k.blocks, width, self.hidden_size, self.num_layers, D)
        inp = (self.vocab_size * width) if self.is_char else (self.input_size + 1) * width
        out = (self.hidden_size * D + 1) * (self.output_size or self.vocab_size or 1)
        return core + 4 * (inp + out)


def make_core(cfg: ModelConfig, input_size: int) -> nn.RNNBase:
    kw = dict(num_layers=cfg.num_layers, batch_first=True, bidirectional=cfg.bidirectional,
              dropout=cfg.dropout if cfg.num_layers > 1 else 0.0)
    return kinds.get(cfg.kind).make(input_size, cfg.hidden_size, nonlinearity=cfg.nonlinearity, **kw)


class CharModel(nn.Module):
    """ids (B, T) -> logits (B, T, V). Embedding -> core -> linear head."""

    def __init__(self, cfg: ModelConfig, vocab: Optional[Vocab] = None):
        super().__init__()
        self.cfg, self.vocab = cfg, vocab
        self.embedding = nn.Embedding(cfg.vocab_size, cfg.embedding_size)
        self.core = make_core(cfg, cfg.embedding_size)
        self.head = nn.Linear(cfg.hidden_size * (2 if cfg.bidirectional else 1), cfg.output_size or cfg.vocab_size)

    def forward(self, ids: Tensor, hx=None, return_state: bool = False):
        out, state = self.core(self.embedding(ids), hx)
        logits = self.head(out)
        return (logits, state) if return_state else logits

    def embed(self, text: str) -> Tensor:
        """The core's input for a text: (T, embedding_size). Unknown characters use the unknown id."""
        with torch.no_grad():
            return self.embedding(self.vocab.encode(text).to(self.embedding.weight.device))

    @torch.no_grad()
    def generate(self, prompt: str, n: int, temperature: float = 1.0, seed: int = 0) -> str:
        """Sample n characters after prompt; deterministic for a given seed."""
        g = torch.Generator(device="cpu").manual_seed(seed)
        dev = self.embedding.weight.device
        ids = self.vocab.encode(prompt or "\n").to(dev)[None]
        logits, state = self(ids, return_state=True)
        out = []
        for _ in range(n):
            p = torch.softmax(logits[0, -1].float().cpu() / max(temperature, 1e-4), -1)
            p[0] = 0.0                                       # never sample the unknown symbol
            nxt = int(torch.multinomial(p / p.sum(), 1, generator=g))
            out.append(nxt)
            logits, state = self(torch.tensor([[nxt]], device=dev), state, return_state=True)
        return self.vocab.decode(out)


class SeqModel(nn.Module):
    """x (B, T, input_size) -> (B, T, output_size), or (B, output_size) with readout="last"
    (the adding problem reads its prediction at the last step)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg, self.vocab = cfg, None
        self.proj = nn.Linear(cfg.input_size, cfg.embedding_size)
        self.core = make_core(cfg, cfg.embedding_size)
        self.head = nn.Linear(cfg.hidden_size * (2 if cfg.bidirectional else 1), cfg.output_size or 1)

    def forward(self, x: Tensor, hx=None) -> Tensor:
        out, _ = self.core(self.proj(x), hx)
        y = self.head(out[:, -1] if self.cfg.readout == "last" else out)
        return y.squeeze(-1) if y.shape[-1] == 1 else y

    def embed(self, x: Tensor) -> Tensor:
        """The core's input for a series x (T, input_size): (T, embedding_size)."""
        with torch.no_grad():
            return self.proj(x.to(self.proj.weight.device))


def next_token_loss(model, output: Tensor, targets: Tensor) -> Optional[float]:
    """Mean next-token cross-entropy (nats) of core outputs (T, F) against the ids that follow them
    (T,), through model.head; None when the model has no head or there is nothing to predict."""
    head = getattr(model, "head", None)
    if head is None or len(targets) == 0:
        return None
    with torch.no_grad():
        logits = head(torch.as_tensor(output[:len(targets)]).to(head.weight.dtype))
        return float(nn.functional.cross_entropy(logits, targets.to(logits.device)))


def top_next(model, output_row: Tensor, k: int = 5) -> list[tuple[str, float]]:
    """The k most likely next tokens after one step's core output (F,): [(token, probability)]."""
    head = getattr(model, "head", None)
    if head is None:
        return []
    with torch.no_grad():
        p = torch.softmax(head(torch.as_tensor(output_row).to(head.weight.dtype)), -1)
        top = torch.topk(p, min(k, p.numel()))
    return [(model.vocab.decode([int(i)]), float(v)) for v, i in zip(top.values, top.indices)]


def build(cfg: ModelConfig, vocab: Optional[Vocab] = None, *, seed: Optional[int] = None) -> nn.Module:
    """A fresh model for cfg; with seed, its initial weights depend on the seed alone (the global
    random state is left as it was)."""
    if seed is None:
        return CharModel(cfg, vocab) if cfg.is_char else SeqModel(cfg)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return CharModel(cfg, vocab) if cfg.is_char else SeqModel(cfg)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def core_parameters(kind: str, input_size: int, hidden_size: int, num_layers: int = 1,
                    bidirectional: bool = False, bias: bool = True, num_heads: int = 1) -> int:
    """Parameters of a recurrent core, by formula, per layer and direction: G·H·I (W_ih) + G·H·H/heads (W_hh,
    block-diagonal over the sLSTM's heads; none for minGRU/minLSTM, whose gates never read h) + one G·H bias
    for each of the two. G: the gate blocks (4 LSTM, 3 GRU, 1 RNN, 2 minGRU, 3 minLSTM, 4 sLSTM)."""
    k = kinds.get(kind)
    G, H, D = k.blocks, hidden_size, 2 if bidirectional else 1
    recurrent = getattr(k.module, "recurrent", True)
    total = 0
    for layer in range(num_layers):
        I = input_size if layer == 0 else H * D
        total += D * G * H * (I + (1 if bias else 0))
        if recurrent:
            total += D * G * H * (H // num_heads + (1 if bias else 0))
    return total


def comparable_configs(base: ModelConfig, match: str = "hidden", kinds_: tuple = CLASSIC) -> dict[str, ModelConfig]:
    """Configs of each kind in `kinds_` (the LSTM, GRU and RNN unless told) from `base`: at equal hidden
    size (match="hidden"), or with the hidden size of each chosen so its recurrent core has about as many
    parameters as base's (match="params"; an sLSTM's stays a multiple of its heads)."""
    if match not in ("hidden", "params"):
        raise InputError("match must be 'hidden' or 'params'.")
    I = base.embedding_size
    out = {}
    target = core_parameters(base.kind, I, base.hidden_size, base.num_layers, base.bidirectional)
    for kind in kinds_:
        H = base.hidden_size
        if match == "params":
            step = 4 if kind == "slstm" else 1          # the sLSTM's heads (ModelConfig's default, 4) divide H
            H = min(range(step, 8 * base.hidden_size + 1, step),
                    key=lambda h: abs(core_parameters(kind, I, h, base.num_layers, base.bidirectional,
                                                      num_heads=step) - target))
        out[kind] = replace(base, kind=kind, hidden_size=H)
    return out


class LazyEmbedding:
    """The core's input for a long id sequence, embedded slice by slice on demand, so a
    million characters never sit in memory as (N, embedding_size) floats. len() and
    slicing like a tensor; what scan_long and LongTrace.window expect."""

    def __init__(self, model: CharModel, ids: Tensor):
        self.model, self.ids = model, ids

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, sl: slice) -> Tensor:
        with torch.no_grad():
            return self.model.embedding(self.ids[sl].to(self.model.embedding.weight.device))
