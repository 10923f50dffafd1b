"""The Train tab: train LSTM / GRU / RNN (or all three on the same batches) live, on any device."""
from __future__ import annotations

import math

import numpy as np
import streamlit as st

from explorer import InputError, ModelConfig, Vocab, plots
from explorer.core.kinds import CLASSIC, KINDS, MODERN
from explorer.io.files import short
from explorer.io.inputs import data as D
from explorer.io.inputs.corpus import tiny_shakespeare
from explorer.io.inputs.series import finite, read_table
from explorer.io.models.checkpoints import save_model
from explorer.io.models.ours import build, count_parameters
from explorer.training.jobs import TrainingJob
from explorer.training.trainer import TrainConfig, device_label

from . import state, watch
from .state import error_boundary, md_escape

TASKS = {"char: Tiny Shakespeare (ships with Gate Explorer)": "char", "char: the text from the Explore tab": "char",
         "char: an uploaded text": "char", "adding problem": "adding", "copy task": "copy",
         "sine forecasting": "sine", "CSV series (upload)": "series"}
# Defaults that learn within about a minute on 2 CPU cores, per task (python -m explorer.bench train measures
# them): LSTM, GRU and RNN side by side; on Tiny Shakespeare the held-out loss ends far below the uniform
# baseline; on the adding problem (T = 50) the LSTM and GRU solve it (MSE well below 1/6) and the RNN does not.
DEFAULTS = dict(train_arch="all three", train_T=64, train_hidden=128, train_layers=1, train_lr=3e-3, train_steps=500,
                train_batch=32, train_clip=1.0)
TASK_DEFAULTS = {"char": DEFAULTS,
                 "adding": dict(DEFAULTS, train_T=50, train_hidden=64, train_lr=1e-2, train_steps=1000, train_batch=64),
                 "copy": dict(DEFAULTS, train_T=20, train_hidden=64, train_lr=1e-2, train_steps=600),
                 "sine": dict(DEFAULTS, train_hidden=64, train_steps=400),
                 "series": dict(DEFAULTS, train_hidden=64, train_steps=400)}


def _task_defaults():
    """A new task: its own defaults in every field of the form (what learns in about a minute for it)."""
    st.session_state.update(TASK_DEFAULTS[TASKS[st.session_state["train_task"]]])


def _source(task_label: str, seq_len: int):
    """The training data for a task: text (char), a series tensor, or None (synthetic)."""
    kind = TASKS[task_label]
    if task_label.endswith("Explore tab"):
        ui = st.session_state.get("input")
        if ui is None or not ui.text:
            raise InputError("there is no text in the Explore tab; type or upload one there, or pick another task.")
        return ui.text
    if task_label.endswith("uploaded text"):
        up = st.file_uploader("training text (.txt)", type=["txt"], key="train_upload")
        if up is None:
            raise InputError("upload a .txt file to train on.")
        return D.read_text(up.getvalue(), max_chars=state.MAX_CHARS, name=short(up.name, 60))
    if "Shakespeare" in task_label:
        return tiny_shakespeare()
    if kind == "series":
        up = st.file_uploader("series (.csv)", type=["csv"], key="train_csv")
        if up is None:
            raise InputError("upload a CSV file with a numeric column to train on.")
        table = read_table(up.getvalue(), name=short(up.name, 60))
        names = list(table.numeric)                  # a new CSV's columns: a stale pick is dropped, never refused
        state.keep_valid("train_csv_col", names, names[0])
        col = st.selectbox("column", names, key="train_csv_col")
        return finite(table.features([col])[:, 0], what=f"the column {short(col)!r}")
    return None


def _models(archs, kind, hidden, layers, source):
    out = {}
    vocab = Vocab.from_text(source) if kind == "char" else None
    for a in archs:
        if kind == "char":
            cfg = ModelConfig(a, vocab_size=len(vocab), embedding_size=64, hidden_size=hidden, num_layers=layers)
        else:
            i, o, r = D.TASK_SHAPES[kind]
            cfg = ModelConfig(a, input_size=i, embedding_size=32, hidden_size=hidden, num_layers=layers, output_size=o, readout=r)
        out[a] = build(cfg, vocab, seed=0)
    return out


ARCHS = {"LSTM": ["lstm"], "GRU": ["gru"], "RNN": ["rnn"], "LSTM and RNN": ["lstm", "rnn"], "all three": list(CLASSIC),
         "minGRU": ["mingru"], "minLSTM": ["minlstm"], "sLSTM": ["slstm"], "GRU and minGRU": ["gru", "mingru"],
         "the modern cells (minGRU, minLSTM, sLSTM)": list(MODERN), "all six": list(CLASSIC) + list(MODERN)}


def start_job(task, arch, hidden, layers, lr, steps, batch, seq_len, clip) -> TrainingJob:
    """A TrainingJob for the form's choices, started and kept in the session (also the seventh lesson's)."""
    kind = TASKS[task]
    source = _source(task, seq_len)
    models = _models(ARCHS[arch], kind, hidden, layers, source)
    cfg = TrainConfig(kind, steps=int(steps), batch_size=batch, seq_len=seq_len, lr=float(lr), clip=float(clip),
                      eval_every=max(10, int(steps) // 20), device=st.session_state.get("device", "cpu"))
    job = TrainingJob(models, cfg, source, probe=watch.probe_text() if kind == "char" else None)
    job.label = f"{task.split(':')[-1].strip()} · H={hidden}"
    job.task = task
    st.session_state["job"] = job.start()
    st.session_state["job_id"] = id(job)
    return job


def train_tab():
    st.caption("Train models here, live, and watch them learn: the gates on a fixed probe, how far back the gradient "
               "reaches and what the model says, at every snapshot; then explore any snapshot in every tab. The cells you "
               "pick (up to all six: LSTM, GRU, RNN, minGRU, minLSTM, sLSTM) train on exactly the same batches, so "
               "they compare fairly.")
    job = st.session_state.get("job")
    busy = job is not None and job.running
    # The task sits outside the form: picking one fills the form with that task's defaults.
    state.keep_valid("train_task", list(TASKS), next(iter(TASKS)))
    task = st.selectbox("task", list(TASKS), key="train_task", on_change=_task_defaults)
    with st.form("train_setup"):
        c1, c2, c3 = st.columns(3)
        c1.caption("Every model reads the same probe at every snapshot: the Explore tab's window for a char task, "
                   "one fixed sample otherwise.")
        state.keep_valid("train_arch", list(ARCHS), DEFAULTS["train_arch"])
        arch = c2.selectbox("architecture", list(ARCHS), key="train_arch")
        state.keep_valid("train_T", [20, 50, 64, 100, 128, 200, 500, 1000], DEFAULTS["train_T"])
        seq_len = c3.select_slider("sequence length T", [20, 50, 64, 100, 128, 200, 500, 1000], key="train_T",
                                   help="Window length for text and series; T for the synthetic tasks.")
        c1, c2, c3, c4 = st.columns(4)
        state.keep_valid("train_hidden", [16, 32, 64, 128, 256, 512], DEFAULTS["train_hidden"])
        hidden = c1.select_slider("hidden size", [16, 32, 64, 128, 256, 512], key="train_hidden")
        state.keep_valid("train_layers", [1, 2, 3], 1)
        layers = c2.select_slider("layers", [1, 2, 3], key="train_layers")
        state.keep_valid("train_lr", [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 1.0, 1e38], DEFAULTS["train_lr"])
        lr = c3.select_slider("learning rate", [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 1.0, 1e38], key="train_lr",
                              format_func=lambda v: f"{v:g}", help="The last one is absurd on purpose: see what happens.")
        state.start_at("train_steps", DEFAULTS["train_steps"], 1, 100_000)
        steps = c4.number_input("steps", 1, 100_000, step=50, key="train_steps")
        c1, c2, c3 = st.columns(3)
        state.keep_valid("train_batch", [4, 8, 16, 32, 64, 128], 32)
        batch = c1.select_slider("batch size", [4, 8, 16, 32, 64, 128], key="train_batch")
        state.keep_valid("train_clip", [0.0, 0.25, 1.0, 5.0], 1.0)
        clip = c2.select_slider("gradient clipping (global norm)", [0.0, 0.25, 1.0, 5.0], key="train_clip",
                                format_func=lambda v: "off" if v == 0 else f"{v:g}")
        device = st.session_state.get("device", "cpu")
        c3.caption(f"device: {device_label(device)} (change it in the sidebar)")
        go = st.form_submit_button("start training", disabled=busy, type="primary")
    if go:
        with error_boundary("setting up the training"):
            start_job(task, arch, hidden, layers, lr, steps, batch, seq_len, clip)
    elif task in ("char: an uploaded text", "CSV series (upload)"):
        with error_boundary("reading the training data"):
            _source(task, seq_len)                 # show the uploader / path box before starting
    job = st.session_state.get("job")
    if job is None:
        st.caption("Choose a task and press start training.")
        return
    _live(job)


def _live(job: TrainingJob):
    # Every 2 s while it trains: the page's Python shares the interpreter lock with the trainer's (small models
    # spend most of a step in Python), so each redraw costs the trainer steps (python -m explorer.bench train).
    @st.fragment(run_every=2.0 if job.running else None)
    def live():
        snap = job.snapshot()
        c1, c2 = st.columns([5, 1])
        done = min(m["step"] for m in snap["models"].values())
        rate = sum(m["steps_per_s"] for m in snap["models"].values()) / max(len(snap["models"]), 1)
        # each model's rate is measured in wall time while the others take their turns: it is the job's rate
        remaining = (snap["steps"] - done) / rate if rate > 0 and snap["running"] else 0
        c1.progress(done / snap["steps"], text=f"step {done:,} / {snap['steps']:,} · {rate:.1f} steps/s per model · "
                    f"elapsed {snap['elapsed']:.0f} s" + (f" · about {remaining:.0f} s left" if snap["running"] else ""))
        if c2.button("stop", key="train_stop", disabled=not snap["running"]):
            job.stop()
            job.join(5)
            snap = job.snapshot()
        if snap["error"]:
            st.error(md_escape(snap["error"]) + " The weights trained so far are kept.")
        for name, m in snap["models"].items():
            if m["error"]:
                st.error(f"{KINDS[name].label}: {md_escape(m['error'])}")
        if not snap["running"]:
            what = "stopped" if snap["stopped"] else "finished"
            st.success(f"Training {what} after {done:,} steps in {snap['elapsed']:.0f} s; the weights are kept.")
        curves, norms = {}, {}
        for name, m in snap["models"].items():
            h = m["history"]
            if h["step"]:
                curves[f"{KINDS[name].label} train"] = (h["step"], _smooth(h["loss"]))
                norms[KINDS[name].label] = (h["step"], np.maximum(h["grad_norm"], 1e-12))
            if h["val_step"]:
                curves[f"{KINDS[name].label} held-out"] = (h["val_step"], h["val_loss"])
        if curves:
            c1, c2 = st.columns(2)
            state.chart(c1, plots.log_curves(curves, "loss (train smoothed; held-out every few steps)", "loss",
                                             baseline=job.baseline, log_y=False), key="train_loss")
            state.chart(c2, plots.log_curves(norms, "gradient norm before clipping", "‖g‖"), key="train_gnorm")
        if snap["running"]:
            watch.live(job)
        if not snap["running"] and st.session_state.get("job_drawn_done") != id(job):
            st.session_state["job_drawn_done"] = id(job)
            st.rerun()                              # draw the "afterwards" part below the fragment
    live()
    if not job.running:
        watch.afterwards(job)
        _afterwards(job)


def _smooth(v, k: int = 10):
    v = np.asarray(v, dtype=np.float64)
    if len(v) < k:
        return v
    c = np.cumsum(np.insert(v, 0, 0.0))
    out = np.empty_like(v)
    out[k - 1:] = (c[k:] - c[:-k]) / k
    out[:k - 1] = c[1:k] / np.arange(1, k)
    return out


def _afterwards(job: TrainingJob):
    st.subheader("Your trained models")
    for name, tr in job.trainers.items():
        m = tr.model.eval()
        with st.container(border=True):
            c1, c2, c3 = st.columns([2, 1, 1])
            c1.markdown(f"**{KINDS[name].label}** · {count_parameters(m):,} parameters · step {tr.step} · "
                        f"held-out loss {tr.val_loss:.4f}" + (f" (baseline {tr.baseline:.4f})" if math.isfinite(tr.baseline) else ""))
            label = f"{KINDS[name].label} on {job.label}"
            if c2.button("explore this model", key=f"explore_{name}_{id(job)}"):
                key = state.add_session_model(label, m, tr.card(name=label))
                st.session_state["pending_choice"] = key
                st.session_state["pending_tab"] = "Explore"
                st.rerun()
            c3.download_button("download (.safetensors)", save_model(m, card=tr.card(name=label)),
                               f"{name}-{tr.step}.safetensors", key=f"dl_{name}_{id(job)}")
            if getattr(m, "vocab", None) is not None:
                g1, g2, g3 = st.columns([2, 1, 1])
                prompt = g1.text_input("prompt", "\n", key=f"gen_prompt_{name}")
                temp = g2.slider("temperature", 0.1, 2.0, 0.8, 0.1, key=f"gen_temp_{name}")
                seed = g3.number_input("seed", 0, 10_000, 0, key=f"gen_seed_{name}")
                sample = m.generate(prompt, 300, temp, int(seed))
                st.code(prompt + sample, language=None)
