"""A model learning, drawn: the probe's gates at every snapshot of a training history (animated in the
browser, as the cell diagram is), how far back the gradient reaches over training, the gradient at one
snapshot, the adding problem's gates over training, and a prediction against its target.

Data in: History frames (explorer.training.history.History.frame, plain numpy dicts) keyed by a model's
name ("LSTM"); a finished figure out. The animated figure is bounded: at most MAX_CELLS heatmap cells
over all its frames (top units per model; snapshots thinned evenly past that, the first and last kept).
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import plotly.graph_objects as go

from explorer.core.cells import gate_name, value_range

from .figures import FONT, PALETTE, STYLE, heatmap_stack, log_curves
from .scales import gate_scale

MAX_CELLS = 500_000        # float32 cells over all frames: about 2.7 MB of the figure JSON (base64)


def units_to_show(frames: list[dict], top: int) -> list[int]:
    """The `top` units that vary most over the probe at the last snapshot (by the memory: c where there is
    one, else h), in unit order; the same rows at every snapshot, so the figure compares like with like."""
    g = frames[-1]["gates"]
    ref = np.asarray(g["c"] if "c" in g else g["h"], np.float32)          # (T, H)
    return sorted(np.argsort(-np.nan_to_num(ref.std(0)))[:top].tolist())


def _pick(frames: list[dict], cells_per_frame: int) -> list[int]:
    """Indices of the snapshots the animation carries: all of them while they fit MAX_CELLS, else evenly
    spaced ones, the first and the last always."""
    n = len(frames)
    fit = max(2, MAX_CELLS // max(cells_per_frame, 1))
    if n <= fit:
        return list(range(n))
    return sorted(set(np.linspace(0, n - 1, fit).round().astype(int).tolist()))


def history_figure(by_model: dict[str, list[dict]], labels: Optional[Sequence[str]] = None,
                   units: Optional[dict[str, list[int]]] = None, names: Optional[dict[str, list[str]]] = None,
                   top: int = 16, frame_ms: int = 400, animate: bool = True) -> go.Figure:
    """The probe's stacked gates (as Explore's gates figure draws a window) at every snapshot of one or
    several models' histories, on the same probe: one band per model and gate ("LSTM f"), the same units at
    every snapshot; play and a slider over the training steps; the title says the step and the loss.
    by_model: {name: frames} (frames with equal steps, as a TrainingJob's histories have); labels: what each
    probe step reads; units: {name: unit ids} (default: the `top` most variable at the last snapshot);
    names: {name: gates to show} (default: all); animate=False: only the last snapshot (a live view)."""
    first = next(iter(by_model.values()))
    T = len(next(iter(first[-1]["gates"].values())))
    units = units or {m: units_to_show(fr, top) for m, fr in by_model.items()}
    names = names or {m: list(fr[-1]["gates"]) for m, fr in by_model.items()}
    rows = sum(len(units[m]) * len(names[m]) for m in by_model)
    keep = _pick(first, rows * T) if animate else [len(first) - 1]
    bound = _bounds(by_model, units, names, keep)

    def panels(k: int) -> list[dict]:
        out = []
        for m, fr in by_model.items():
            kind = _kind(fr)
            for n in names[m]:
                z = np.asarray(fr[k]["gates"][n], np.float32)[:, units[m]].T
                scale = gate_scale(n, bound=bound.get((m, n)), kind=kind)
                out.append(dict(z=z, rows=[f"u{u}" for u in units[m]], name=f"{m} {n}" if len(by_model) > 1 else n,
                                about=f"{gate_name(n, kind)} ({scale[1]:.3g} … {scale[2]:.3g})", scale=scale,
                                hovertemplate=("<b>%{text}</b> · " if labels is not None else "") +
                                f"probe step %{{x}}<br>unit %{{y}}<br>{n} %{{z:.3f}}<extra>{m}</extra>"))
        return out

    def title(k: int) -> str:
        fr = first[k]
        loss = " · ".join(f"{m} {f[k]['loss']:.3f}" for m, f in by_model.items() if np.isfinite(f[k]["loss"]))
        return f"training step {fr['step']:,}" + (f" · training loss {loss}" if loss else " · before the first update")

    last = keep[-1]
    fig = heatmap_stack(panels(last), np.arange(T), labels, title=title(last), step_label="probe step", colorbars=False)
    if not animate or len(keep) < 2:
        return fig
    d = fig.to_dict()
    # the title (step and losses) at the left: the figure's tool bar appears at its right on hover
    d["layout"]["title"] = dict(text=title(last), x=0.0, xanchor="left", xref="paper")
    d["frames"] = [dict(name=str(first[k]["step"]), data=[dict(type="heatmap", z=p["z"]) for p in panels(k)],
                        traces=list(range(len(d["data"]))), layout=dict(title=dict(text=title(k))))
                   for k in keep]
    # play runs from step 0 (the figure opens on the last snapshot, so "from the current frame" would be nothing)
    play = dict(frame=dict(duration=frame_ms, redraw=True), transition=dict(duration=0), mode="immediate")
    d["layout"].update(
        margin=dict(d["layout"]["margin"], b=110),
        height=d["layout"]["height"] + 70,
        updatemenus=[dict(type="buttons", direction="left", x=0.0, y=-0.02, xanchor="left", yanchor="top", showactive=False,
                          pad=dict(t=30),
                          buttons=[dict(label="▶ play", method="animate", args=[[str(first[k]["step"]) for k in keep], play]),
                                   dict(label="❚❚ pause", method="animate",
                                        args=[[None], dict(frame=dict(duration=0, redraw=False), mode="immediate")])])],
        sliders=[dict(active=len(keep) - 1, x=0.14, y=-0.02, len=0.86, yanchor="top", pad=dict(t=30),
                      currentvalue=dict(prefix="training step ", xanchor="right"),
                      steps=[dict(label=f"{first[k]['step']:,}", method="animate",
                                  args=[[str(first[k]["step"])], dict(frame=dict(duration=0, redraw=True), mode="immediate")])
                             for k in keep])])
    return go.Figure(d)


def _kind(frames: list[dict]) -> str:
    """The cell kind a history's frames came from ("" for frames saved before frames said)."""
    return frames[-1].get("kind", "")


def _bounds(by_model, units, names, keep) -> dict[tuple[str, str], float]:
    """An unbounded value's colours (c; an sLSTM's n and m; minGRU's h̃ and h) span its range over every
    snapshot shown, per model, so frames compare: {(model, name): largest |value|}."""
    out = {}
    for m, fr in by_model.items():
        for n in names[m]:
            if value_range(n, _kind(fr)) is None:
                out[(m, n)] = max(float(np.nanmax(np.abs(np.asarray(fr[k]["gates"][n], np.float32)[:, units[m]])))
                                  for k in keep)
    return out


def history_scales(by_model: dict[str, list[dict]], top: int = 16, animate: bool = True) -> dict[str, tuple]:
    """The colour scales history_figure uses, by gate name ({name: (colorscale, lo, hi)}), for plots.scale_key:
    the gates' fixed ranges, and an unbounded value's (c, an sLSTM's n and m) largest |value| over the snapshots
    drawn, of any model; a name whose fixed range differs between the models' kinds (the GRU's z in [0, 1], the
    sLSTM's in [-1, 1]) gets one entry per model ("sLSTM z")."""
    first = next(iter(by_model.values()))
    T = len(next(iter(first[-1]["gates"].values())))
    units = {m: units_to_show(fr, top) for m, fr in by_model.items()}
    names = {m: list(fr[-1]["gates"]) for m, fr in by_model.items()}
    keep = _pick(first, sum(len(units[m]) * len(names[m]) for m in by_model) * T) if animate else [len(first) - 1]
    bounds = _bounds(by_model, units, names, keep)
    out = {}
    for n in dict.fromkeys(n for m in by_model for n in names[m]):
        own = {m: gate_scale(n, bound=bounds.get((m, n)), kind=_kind(fr)) for m, fr in by_model.items() if n in names[m]}
        if all((m, n) in bounds for m in own):                  # unbounded in every model: the widest range
            out[n] = gate_scale(n, bound=max(bounds[(m, n)] for m in own), kind=_kind(by_model[next(iter(own))]))
        elif len(set(own.values())) == 1:
            out[n] = next(iter(own.values()))
        else:
            out.update({f"{m} {n}": scale for m, scale in own.items()})
    return out


def horizon_figure(by_model: dict[str, tuple[np.ndarray, np.ndarray]], probe_steps: int, fraction: float = 1e-4) -> go.Figure:
    """How far back the gradient reaches (y: probe steps) against the training step (x), a line per model
    ({name: (steps, horizons)}); a dashed line at the probe's length (a horizon there reaches its start)."""
    data = [dict(type="scatter", x=np.asarray(s), y=np.asarray(h), mode="lines+markers", name=m,
                 line=dict(color=PALETTE[k % len(PALETTE)], width=2), marker=dict(size=5),
                 hovertemplate="training step %{x}<br>reaches %{y} steps back<extra>" + m + "</extra>")
            for k, (m, (s, h)) in enumerate(by_model.items())]
    layout = dict(title=dict(text=f"how far back the gradient reaches (‖dJ/dh_t‖ above {fraction:g} of its last value)"),
                  font=FONT, **STYLE, height=340, margin=dict(l=70, r=10, t=50, b=40),
                  xaxis=dict(title=dict(text="training step")), yaxis=dict(title=dict(text="steps back"), rangemode="tozero"),
                  legend=dict(orientation="h", y=-0.25),
                  shapes=[dict(type="line", xref="paper", x0=0, x1=1, y0=probe_steps, y1=probe_steps,
                               line=dict(dash="dash", color="grey", width=1))],
                  annotations=[dict(xref="paper", x=0.01, y=probe_steps, text="the whole probe", showarrow=False,
                                    yanchor="bottom", xanchor="left", font=dict(size=11))])
    return go.Figure(dict(data=data, layout=layout))


def flow_at_figure(by_model: dict[str, np.ndarray], step: int) -> go.Figure:
    """‖dJ/dh_t‖ over the probe at one snapshot, a line per model ({name: (T,)}), log scale."""
    gap = lambda v: np.where(np.asarray(v) > 0, v, np.nan)           # a zero gradient is a gap, not log(0)
    curves = {m: (np.arange(len(v)), gap(v)) for m, v in by_model.items()}
    fig = log_curves(curves, f"‖dJ/dh_t‖ over the probe at training step {step:,}", "gradient norm", x_title="probe step")
    return fig


def storage_figure(story: dict, predictions: dict[str, tuple[np.ndarray, np.ndarray]], target: float) -> go.Figure:
    """The adding problem over training. Left: the LSTM's input gate at the two marked steps and elsewhere,
    and its forget gate between them (storage_story()). Right: each model's prediction on the probe against
    the target ({name: (steps, predictions)})."""
    from plotly.subplots import make_subplots
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1,
                        subplot_titles=("the LSTM's gates on the probe", "prediction on the probe vs the sum"))
    lines = [("i_marks", "i at the two marks", PALETTE[0], "solid"), ("i_elsewhere", "i elsewhere", PALETTE[0], "dot"),
             ("f_between", "f between the marks", PALETTE[2], "solid")]
    if story:
        for key, name, colour, dash in lines:
            fig.add_trace(go.Scatter(x=story["steps"], y=story[key], mode="lines+markers", name=name,
                                     line=dict(color=colour, dash=dash, width=2), marker=dict(size=4)), 1, 1)
    for k, (m, (s, p)) in enumerate(predictions.items()):
        fig.add_trace(go.Scatter(x=np.asarray(s), y=np.asarray(p), mode="lines+markers", name=f"{m} prediction",
                                 line=dict(color=PALETTE[(k + 3) % len(PALETTE)], width=2), marker=dict(size=4)), 1, 2)
    fig.add_hline(y=target, line=dict(dash="dash", color="grey"), annotation_text=f"the sum {target:.3f}", row=1, col=2)
    fig.update_yaxes(range=[0, 1.02], title="gate value", row=1, col=1)
    fig.update_xaxes(title="training step")
    fig.update_layout(font=FONT, **STYLE, height=360, margin=dict(l=60, r=10, t=50, b=40), legend=dict(orientation="h", y=-0.25))
    return fig


def prediction_figure(target: np.ndarray, predictions: dict[str, np.ndarray], step: int) -> go.Figure:
    """A sequence model's output on the probe at one snapshot against the target, a line per model."""
    x = np.arange(len(target))
    data = [dict(type="scatter", x=x, y=np.asarray(target, np.float64), mode="lines", name="target",
                 line=dict(color="grey", width=2))]
    data += [dict(type="scatter", x=x[-len(p):], y=np.asarray(p, np.float64), mode="lines", name=m,
                  line=dict(color=PALETTE[k % len(PALETTE)], width=2, dash="dot")) for k, (m, p) in enumerate(predictions.items())]
    layout = dict(title=dict(text=f"output on the probe at training step {step:,} vs the target"), font=FONT, **STYLE,
                  height=320, margin=dict(l=60, r=10, t=50, b=40), xaxis=dict(title=dict(text="probe step")),
                  legend=dict(orientation="h", y=-0.25))
    return go.Figure(dict(data=data, layout=layout))
