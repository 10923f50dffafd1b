"""LSTM vs GRU vs vanilla RNN on the same input: gradient flow side by side, and a reading in words.

    models = random_trio(ModelConfig("lstm", vocab_size=V, hidden_size=128), match="params", init="chrono")
    flows = compare_flow(models, ids, objective="last")
    print(reading(flows))     # "the RNN's gradient falls below 1e-6 of its final value 41 steps back; ..."
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from explorer.core import kinds
from explorer.core.gradients import GradientFlow, char_objective, gradient_flow, last_reached, vanishing_point
from explorer.core.trace import Intervention
from explorer.errors import InputError
from explorer.io.inputs.data import Vocab
from explorer.io.models.heads import READINGS
from explorer.io.models.ours import ModelConfig, build, comparable_configs, count_parameters

from .units import init_core, spectral_radius

OBJECTIVES = {"last": "next-character loss at the last step", "mean": "next-character loss averaged over all steps",
              "output": "sum of the last output (no head)"}


def random_trio(base: ModelConfig, vocab: Optional[Vocab] = None, match: str = "hidden",
                init: str = "pytorch default", seed: int = 0, t_max: int = 100) -> dict[str, torch.nn.Module]:
    """Untrained LSTM, GRU and RNN models at equal hidden size or equal parameter count."""
    out = {}
    for kind, cfg in comparable_configs(base, match).items():
        torch.manual_seed(seed)
        m = build(cfg, vocab).eval()
        init_core(m.core, init, t_max=t_max, seed=seed)
        out[kind] = m
    return out


def compare_flow(models: dict[str, torch.nn.Module], inp: Tensor, objective: str = "last",
                 clamp_forget: Optional[float] = None) -> dict[str, GradientFlow]:
    """Gradient flow of each model's core on the same input. inp: ids (1, T) for char models, or
    x (1, T, I) for sequence models. objective: "last" / "mean" (char models) or "output".
    clamp_forget: the LSTM's forget gate set to this value at every unit and step."""
    if objective not in OBJECTIVES:
        raise InputError(f"objective must be one of {', '.join(OBJECTIVES)}.")
    flows = {}
    for kind, m in models.items():
        char = getattr(m, "vocab", None) is not None
        with torch.no_grad():
            x = m.embedding(inp) if char else m.proj(inp)
        obj = None
        if objective != "output":
            if not char:
                raise InputError("the next-character objectives need char models; use objective='output'.")
            obj = char_objective(m, inp, objective)
        iv = Intervention("f", clamp_forget) if (clamp_forget is not None and kind == "lstm") else None
        flows[kind] = gradient_flow(m.core, x, objective=obj, intervene=iv)
    return flows


def reading(flows: dict[str, GradientFlow], layer: int = 0, direction: int = 0, threshold: float = 1e-6) -> str:
    """A plain-language sentence computed from the curves."""
    parts = []
    name = lambda k: f"the {kinds.get(k).label}'s" if k in kinds.KINDS else k
    for kind, gf in flows.items():
        n = gf.h_norm[layer, direction]
        if direction == 1:
            n = n.flip(0)
        k = vanishing_point(n, threshold)
        if k is None:
            last = last_reached(n)
            lo = float((n[:last + 1] / n[last].clamp_min(1e-300)).min())
            parts.append(f"{name(kind)} stays above {threshold:g} of its final value over all {last + 1} steps "
                         f"(lowest ratio {lo:.1e})")
        else:
            last = last_reached(n)
            zero = (n[:last + 1] == 0).nonzero()
            under = f" (and is exactly 0, below float range, from {last - int(zero.max())} steps back)" if zero.numel() else ""
            parts.append(f"{name(kind)} falls below {threshold:g} of its final value {k} steps back{under}")
    return "Gradient ‖dJ/dh_t‖: " + "; ".join(parts) + "."


def reach_back(n: Tensor, back: int) -> Optional[float]:
    """‖dJ/dh‖ `back` steps before the last step J reaches, as a share of its value there (None if the input is shorter)."""
    last = last_reached(n)
    if last - back < 0 or float(n[last]) == 0:
        return None
    return float(n[last - back] / n[last])


def modern_reading(flows: dict[str, GradientFlow], back: int = 50) -> str:
    """A sentence on the 2024 cells beside the classic ones, computed from the curves ("" without them)."""
    if not any(k in flows for k in kinds.MODERN):
        return ""
    shares = {k: reach_back(f.h_norm[0, 0], back) for k, f in flows.items()}
    said = ", ".join(f"{kinds.get(k).label} {shares[k]:.1e}" for k in flows if shares[k] is not None)
    if not said:
        return ""
    return (f"The share of the final gradient that is left {back} steps back: {said}. minGRU's and minLSTM's gates never "
            "read h_{t−1}, so from h_t to h_{t−1} the gradient is multiplied only by (1 − z_t) (minGRU) or f_t (minLSTM), "
            "gates set by the character alone: no W_hh and no tanh′ in the chain, as in a GRU or LSTM whose gates are "
            "held. The sLSTM's h path goes through W_hh (one block per head) and its exponential gates, as an LSTM's does.")


def summary(models: dict[str, torch.nn.Module]) -> dict[str, dict]:
    """Parameter counts (core and whole model) and the RNN's W_hh spectral radius."""
    out = {}
    for kind, m in models.items():
        row = {"core parameters": count_parameters(m.core), "parameters": count_parameters(m),
               "hidden size": m.core.hidden_size}
        if kinds.get(kind).blocks == 1:                 # a square W_hh (the vanilla RNN's)
            row["spectral radius of W_hh"] = spectral_radius(m.core.weight_hh_l0)
        out[kind] = row
    return out


def flow_arrays(models: dict[str, torch.nn.Module], text: str, objective: str = "last",
                clamp_forget: Optional[float] = None) -> dict:
    """Everything the Gradient flow view draws, as numpy, for char models reading `text`:
    {kind: {"h_norm" (T,), "c_norm" (T,) or None, "unit_grad" |dJ/dh_t| (T, H), "ratio" (T-1,),
    "forget_product" (T, H) where the kind has a forget gate}, "reading": str, "summary": summary()}."""
    from .units import forget_product
    vocab = next(iter(models.values())).vocab
    flows = compare_flow(models, vocab.encode(text)[None], objective, clamp_forget)
    out = {"reading": reading(flows), "modern": modern_reading(flows), "summary": summary(models)}
    for k, gf in flows.items():
        out[k] = {"h_norm": gf.h_norm[0, 0].numpy(), "c_norm": None if gf.c_norm is None else gf.c_norm[0, 0].numpy(),
                  "unit_grad": gf.h_grad[0, 0, :, 0].abs().numpy(), "ratio": gf.step_ratio()[0, 0].numpy()}
        if "f" in gf.trace.gates:
            out[k]["forget_product"] = forget_product(gf.trace)[0, 0, :, 0].numpy()
    return out


def task_objective(m, ids: Optional[Tensor] = None):
    """(J(output) -> scalar, what J is in words) for an explorer.open_model result, by its task:
    a language model's next-token loss at the last step, a classifier's top class logit at its
    verdict, a forecaster's prediction at the last step, an encoder's last output summed. `output`
    is the core's output for an unbatched input, (T, D*H_out)."""
    head, H = m.head, m.core.proj_size or m.core.hidden_size
    if m.task == "language model" and head is not None and ids is not None and len(ids) >= 2:
        tgt = ids[-1].reshape(1)
        return (lambda out: torch.nn.functional.cross_entropy(head(out[-2:-1].to(head.weight.dtype)), tgt),
                "its next-token loss at the last step")
    if m.task in ("classifier", "regressor") and head is not None:
        if m.final_only and m.task == "classifier":        # as the head reads the whole input (heads.READINGS)
            feats = lambda out: READINGS[m.reading](out[:, None], H)[0, 0]
        else:
            feats = lambda out: out[-1]
        if m.task == "classifier":
            return (lambda out: head(feats(out).to(head.weight.dtype)).max(),
                    "its winning class logit at its verdict")
        return lambda out: head(feats(out).to(head.weight.dtype))[0], "its prediction after the last step"
    return lambda out: out[-1].sum(), "the sum of its last output (it has no head to read)"


def model_flow(m, x: Tensor, ids: Optional[Tensor] = None) -> dict:
    """The picked model's own gradient flow on its input x (T, I), unbatched, with the objective of
    its task: {"h_norm" (T,), "c_norm" (T,) or None, "ratio" (T-1,), "objective": str, "flow": GradientFlow}
    (last layer, forward direction)."""
    J, what = task_objective(m, ids)
    gf = gradient_flow(m.core, x.detach(), objective=J)
    L = m.core.num_layers - 1
    return {"h_norm": gf.h_norm[L, 0].numpy(), "c_norm": None if gf.c_norm is None else gf.c_norm[L, 0].numpy(),
            "ratio": gf.step_ratio()[L, 0].numpy(), "objective": what, "flow": gf}
