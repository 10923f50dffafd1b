"""The Train tab's history: the models learning, drawn from their Histories (explorer.training.history).

While the run goes (inside the Train tab's live fragment, redrawn every 2 s): the probe's gates at
the newest snapshot, how far back the gradient reaches so far, and what the model says now. Afterwards:
the gates at every snapshot with play and a training-step slider (animated in the browser), a snapshot to
look at closely (the gradient over the probe, samples or predictions), the adding problem's story, and
"explore this model at step N", which opens that snapshot in every tab.
"""
from __future__ import annotations

import numpy as np
import streamlit as st

from explorer import plots
from explorer.analysis import learning as AL
from explorer.core import kinds
from explorer.training.history import HORIZON_FRACTION
from explorer.training.jobs import TrainingJob

from . import state

PROBE_CHARS = 150


def probe_text() -> str | None:
    """The Explore tab's window (at most PROBE_CHARS characters of it): what every model's History reads."""
    ui, view = st.session_state.get("input"), st.session_state.get("view")
    if ui is None or not ui.text:
        return None
    a, b = (view["a"], view["b"]) if view else (0, len(ui.text))
    text = ui.text[a:b][:PROBE_CHARS]
    return text if len(text) >= 2 else None


def frames_of(job: TrainingJob) -> dict[str, list[dict]]:
    """{model: frames} at the snapshots every model has (lockstep: one may be a few steps ahead). While the run
    goes, only the frames the trainer has computed (the page runs no torch work beside it); afterwards, all."""
    by = {name: (h.cached_frames() if job.running else h.frames()) for name, h in job.histories.items()}
    common = set.intersection(*({f["step"] for f in fr} for fr in by.values())) if by else set()
    return {name: [f for f in fr if f["step"] in common] for name, fr in by.items() if fr}


def _names(by: dict) -> dict:
    return {kinds.label(name): fr for name, fr in by.items()}


def _top(by: dict) -> int:
    return 16 if len(by) == 1 else 8


def live(job: TrainingJob):
    """While training: the newest snapshot's gates, the horizon so far, what the model says now. The figures are
    built again only when a snapshot has arrived (kept on the job between redraws)."""
    by = frames_of(job)
    if not by or not next(iter(by.values())):
        return
    hist = next(iter(job.histories.values()))
    n = len(next(iter(by.values())))
    built = getattr(job, "_live_figures", None)
    if built is None or built[0] != (n, state.page_theme()):
        gates = plots.history_figure(_names(by), hist.labels(), top=_top(by), animate=False)
        horizon = plots.horizon_figure({kinds.label(k): AL.horizons(f) for k, f in by.items()}, _probe_len(hist), HORIZON_FRACTION)
        built = job._live_figures = ((n, state.page_theme()), plots.themed(gates, state.page_theme()),
                                     plots.themed(horizon, state.page_theme()))
    st.subheader("Watch it learn")
    st.caption("The probe's gates at the newest snapshot (the same units throughout); when training ends, play them "
               "through every snapshot.")
    state.chart(built[1], key="watch_live_gates")
    c1, c2 = st.columns(2)
    state.chart(c1, built[2], key="watch_live_horizon")
    _says(c2, job, by, -1)


def _probe_len(hist) -> int:
    return len(hist.probe.data)


def afterwards(job: TrainingJob):
    """After training (finished, stopped or NaN-stopped): the whole history."""
    by = frames_of(job)
    if not by or len(next(iter(by.values()))) < 1:
        return
    hist = next(iter(job.histories.values()))
    steps = [f["step"] for f in next(iter(by.values()))]
    st.subheader("Watch it learn")
    st.caption(f"{len(steps)} snapshots from step 0 to step {steps[-1]:,}, denser early, where most change happens; "
               "every model reads the same probe" + (" (the Explore tab's window)." if hist.labels() else "."))
    with state.error_boundary("drawing the history"):
        st.markdown("**The probe's gates through training.** Press play, or drag the slider: the same units at every "
                    "training step, read down a column as in Explore.")
        # Built once per finished job and theme (kept on the job): moving the snapshot slider below reruns this
        # tab, and rebuilding a figure of a few MB each time is what made that slow.
        built = getattr(job, "_history_figure", None)
        look = (state.page_theme(), state.presenting())
        if built is None or built[0] != look:
            fig = plots.themed(plots.history_figure(_names(by), hist.labels(), top=_top(by)), *look)
            # one key for every band (c: each model's own range, the largest shown here; each band names its range)
            built = job._history_figure = (look, fig, plots.scale_key(plots.history_scales(_names(by), top=_top(by))))
        fig = built[1]
        st.html(built[2])
        state.chart(fig, key=f"watch_gates_{id(job)}", config={"toImageButtonOptions": {"filename": "gates-through-training"}})
    state.keep_valid("watch_step", steps, steps[-1])
    step = st.select_slider("look closely at the snapshot of training step", steps, key="watch_step")
    k = steps.index(step)
    c1, c2 = st.columns(2)
    flows = {kinds.label(n): f[k]["h_norm"] for n, f in by.items()}
    state.chart(c1, plots.flow_at_figure(flows, step), key="watch_flow")
    state.chart(c2, plots.horizon_figure({kinds.label(n): AL.horizons(f) for n, f in by.items()}, _probe_len(hist),
                                         HORIZON_FRACTION), key="watch_horizon")
    st.info(AL.horizon_sentence(by, _probe_len(hist), HORIZON_FRACTION))
    if hist.probe.marks and "lstm" in by:
        _adding(by, hist)
    _says(st, job, by, k)
    cols = st.columns(len(by))
    for col, name in zip(cols, by):
        if col.button(f"explore the {kinds.label(name)} at step {step:,}", key=f"watch_explore_{name}_{id(job)}"):
            h = job.histories[name]
            i = _index(h, step)
            label = f"{kinds.label(name)} on {job.label}, step {step:,}"
            tr = job.trainers[name]
            key = state.add_session_model(label, h.model_at(i), tr.card(name=label, snapshot_step=step))
            st.session_state["pending_choice"] = key
            st.session_state["pending_tab"] = "Explore"
            st.rerun()


def _adding(by: dict, hist):
    """The adding problem: when the LSTM learned to store the marked numbers, next to the others."""
    target = float(np.asarray(hist.probe.target).reshape(-1)[-1])
    story = AL.storage_story(by["lstm"], hist.probe.marks)
    preds = {kinds.label(n): (np.array([x["step"] for x in f]), np.array([x["prediction"][-1] for x in f])) for n, f in by.items()}
    st.markdown(f"**The adding problem's story** (this probe marks steps {hist.probe.marks[0]} and {hist.probe.marks[1]}).")
    state.chart(plots.storage_figure(story, preds, target), key="watch_adding")
    st.info(AL.storage_sentence(by, target, hist.probe.marks))


def _says(where, job: TrainingJob, by: dict, k: int):
    """What each model says at snapshot k: a sample (char models, same prompt and seed at every snapshot),
    or its output on the probe against the target."""
    hist = next(iter(job.histories.values()))
    first = next(iter(by.values()))
    step = first[k]["step"]
    if hist.labels() is not None:                          # a char model: what it writes
        if job.running:                                    # the newest sample the trainer took
            said = {name: job.histories[name].latest_sample() for name in by}
            step = min(s for s, _ in said.values())
            said = {name: text for name, (_, text) in said.items()}
        else:
            said = {name: job.histories[name].sample(_index(job.histories[name], step)) for name in by}
        if step < 0:
            return
        where.markdown(f"**What it says at step {step:,}** (120 characters sampled after a newline, temperature 0.8, "
                       "the same seed at every snapshot):")
        for name, text in said.items():
            where.caption(kinds.label(name))
            where.code(text, language=None, wrap_lines=True)
        return
    if hist.probe.target is None or "prediction" not in first[k]:
        return
    target = np.asarray(hist.probe.target, dtype=np.float64).reshape(-1)
    preds = {kinds.label(n): f[k]["prediction"] for n, f in by.items()}
    if target.size == 1:
        where.markdown(f"**What it says at step {step:,}**: the sum on this probe is {float(target[0]):.3f}; " +
                       "; ".join(f"{n} predicts {float(p[-1]):.3f}" for n, p in preds.items()) + ".")
        return
    state.chart(where, plots.prediction_figure(target, preds, step), key="watch_pred")


def _index(hist, step: int) -> int:
    return hist.steps.index(step)

