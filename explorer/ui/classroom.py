"""Classroom: shareable views (widgets bound to the URL's query parameters), presentation mode,
and guided lessons, one per classic claim about recurrent cells, each computed live, never hard-coded."""
from __future__ import annotations

import numpy as np
import streamlit as st

import explorer
from explorer import plots
from explorer.analysis import units as A
from explorer.analysis.lessons import packing_demo
from explorer.core.kinds import CLASSIC, KINDS
from explorer.core.trace import Intervention
from explorer.io.models.ours import core_parameters

from . import state
from .lesson_gates import h_in_gates

HIDEABLE = ["input", "display controls", "overview", "step inspector", "saturation", "what-if", "export"]
# Option names double as the URL's value (?lesson=vanishing+gradients), so they are short and readable.
LESSONS = {
    "vanishing gradients": "Lesson 1 · Vanishing gradients: RNN vs LSTM",
    "forget gate": "Lesson 2 · A forget gate near 1 keeps memory",
    "GRU parameters": "Lesson 3 · A GRU has about 25% fewer parameters",
    "interpretable unit": "Lesson 4 · An interpretable unit in the char model",
    "padding and packing": "Lesson 5 · Padded batches are handled like packed sequences",
    "how far back": "Lesson 6 · How far back does each cell look?",
    "watch it learn": "Lesson 7 · Watch an LSTM learn",
    "h in the gates": "Lesson 8 · Do RNNs need h(t−1) in their gates?",
}
DEFAULT_HIDDEN = ["input", "display controls", "export"]
# Larger type for the back of the room, and the page's own top padding (6rem) down to what the header needs,
# so that the chosen tab's figure is the first thing on a 1280×720 screen.
CSS = """<style>
html, body, [class*="css"], .stMarkdown p, .stCaption, label, .stSelectbox, .stSlider { font-size: 1.22rem !important; }
h1 { font-size: 3rem !important; } h2, h3 { font-size: 2.1rem !important; }
[data-testid="stMainBlockContainer"] { padding-top: 3.2rem !important; padding-bottom: 1rem !important; }
</style>"""


def hidden(section: str) -> bool:
    """True when presentation mode hides this section (the link's ?hide=..., else DEFAULT_HIDDEN, until the
    sidebar's multiselect holds the choice)."""
    if not state.presenting():
        return False
    chosen = st.session_state.get("hide")
    if chosen is None:
        chosen = st.query_params.get_all("hide") or DEFAULT_HIDDEN
    return section in chosen


def classroom_sidebar():
    sb = st.sidebar
    sb.header("Classroom")
    sb.toggle("presentation mode", key="present", bind="query-params",
              help="Larger fonts, and the sections you choose hidden: for a projector.")
    if st.session_state.get("present"):
        sb.multiselect("hide", HIDEABLE, default=DEFAULT_HIDDEN, key="hide", bind="query-params")
    sb.selectbox("guided lesson", [""] + list(LESSONS), format_func=lambda k: k or "—", key="lesson",
                 bind="query-params", on_change=_lesson_setup,
                 help="One click each: a classic claim about recurrent cells, computed live on the pretrained models.")
    sb.caption("Every choice on this page lives in the address bar: copy the URL to hand out exactly this view.")


def _lesson_setup():
    """When a lesson is picked: move the page to where it is best seen."""
    k = st.session_state.get("lesson")
    if k == "vanishing gradients":
        st.session_state.update(tab="Gradient flow", gf_source="pretrained (shakespeare-lstm, -gru, -rnn)", gf_T=500,
                                gf_clamp=False)
    elif k in ("forget gate", "interpretable unit"):
        st.session_state.update(tab="Explore", model_choice="shakespeare-lstm")
    elif k == "padding and packing":
        st.session_state.update(tab="Explore")
    elif k == "watch it learn":
        st.session_state.update(tab="Train")
    elif k == "h in the gates":
        st.session_state.update(tab="Explore", model_choice="shakespeare-mingru")
    elif k == "how far back":
        st.session_state.update(tab="Explore", xtab="What it depends on", model_choice="shakespeare-lstm")


def lesson_panel():
    k = st.session_state.get("lesson")
    if k not in LESSONS:
        return
    with st.container(border=True):
        c1, c2 = st.columns([6, 1])
        c1.subheader(LESSONS[k])
        if c2.button("close", key="lesson_close"):
            st.session_state["lesson"] = ""
            st.rerun()
        with state.error_boundary("preparing the lesson"):
            {"vanishing gradients": _vanishing, "forget gate": _forget, "GRU parameters": _params,
             "interpretable unit": _unit, "padding and packing": _packing, "how far back": _far_back,
             "watch it learn": _watch, "h in the gates": lambda: h_in_gates(_text())}[k]()


def _text() -> str:
    ui = st.session_state.get("input")
    return ui.text if ui is not None and ui.text else explorer.io.inputs.data.SAMPLES["prose"]


def _vanishing():
    from explorer.analysis import compare as C
    trio = {k: state.pretrained(f"shakespeare-{k}") for k in CLASSIC}
    text = (_text() * 5)[:500]
    ids = trio["lstm"].vocab.encode(text)[None]
    flows = C.compare_flow(trio, ids, "last")
    st.markdown("In a vanilla RNN the gradient is multiplied by $W_{hh}^\\top$ and $\\tanh'$ at every step back, so it "
                "vanishes (Bengio et al. 1994; Pascanu et al. 2013); the LSTM's cell state carries it back multiplied "
                "only by the forget gate, $\\partial c_t / \\partial c_{t-1} = f_t$ along the cell (Hochreiter & "
                "Schmidhuber 1997). The three pretrained models read the same 500 characters; the loss is the "
                "next-character loss at the end.")
    steps = np.arange(500)
    state.chart(plots.log_curves({KINDS[k].label: (steps, np.maximum(gf.h_norm[0, 0].numpy(), 1e-45))
                                      for k, gf in flows.items()}, "‖dJ/dh_t‖ over t (log scale)", "‖dJ/dh_t‖"),
                    key="lesson_vanishing")
    st.info(C.reading(flows))
    st.caption("The Gradient flow tab has the same picture with more controls (random models, inits, clamping f).")


def _forget():
    m = state.pretrained("shakespeare-lstm")
    text = (_text() * 3)[:300]
    x = m.embed(text)
    base = explorer.trace(m.core, x)
    u = int(base.c[0, 0, :, 0].std(0).argmax())
    iv = [Intervention("f", 1.0, units=[u], steps=range(100, 300)), Intervention("i", 0.0, units=[u], steps=range(100, 300))]
    new = explorer.trace(m.core, x, intervene=iv)
    st.latex(r"c_t = f_t \odot c_{t-1} + i_t \odot g_t")
    st.markdown(f"The LSTM's cell update (Hochreiter & Schmidhuber 1997; the forget gate of Gers et al. 2000), as "
                f"PyTorch's `nn.LSTM` computes it. From step 100 on we set **f := 1** and **i := 0** for unit "
                f"{u} (the unit whose cell state varies most here): nothing is forgotten and nothing written, so the "
                "cell keeps its value exactly, however long the text runs. Without the clamp it keeps changing.")
    steps = np.arange(300)
    state.chart(plots.state_lines({f"c u{u} as trained": base.c[0, 0, :, 0, u].numpy(),
                                       f"c u{u} with f := 1, i := 0 from step 100": new.c[0, 0, :, 0, u].numpy()},
                                      steps, list(text), title="a forget gate of 1 keeps memory"), key="lesson_forget")
    frozen = float((new.c[0, 0, 100:, 0, u] - new.c[0, 0, 99, 0, u]).abs().max())
    st.caption(f"Largest change of the clamped cell after step 99: {frozen:.1e}. Try it yourself in the Explore tab's "
               "What if… section.")


def _params():
    rows = []
    for H in (64, 128, 256, 512):
        lstm, gru, rnn = (core_parameters(k, 64, H) for k in CLASSIC)
        rows.append({"hidden size": H, "LSTM": lstm, "GRU": gru, "RNN": rnn, "GRU / LSTM": round(gru / lstm, 4)})
    st.markdown("The GRU (Cho et al. 2014) is often said to have fewer parameters than the LSTM. Per layer an LSTM "
                "has 4 weight blocks ($i, f, g, o$), a GRU 3 ($r, z, n$), a vanilla RNN 1, each with $H(I + H)$ "
                "weights and $2H$ biases, so at the same hidden size a GRU has exactly 3/4 of the LSTM's recurrent "
                "parameters. Counted for input size 64:")
    st.dataframe(rows, hide_index=True)
    counts = {k: explorer.io.models.ours.count_parameters(state.pretrained(f"shakespeare-{k}").core) for k in ("lstm", "gru")}
    st.caption(f"The pretrained models' cores, counted from their weights: LSTM {counts['lstm']:,}, GRU {counts['gru']:,} "
               f"(ratio {counts['gru'] / counts['lstm']:.3f}).")


def _unit():
    m = state.pretrained("shakespeare-lstm")
    text = _text()
    tr = explorer.trace(m.core, m.embed(text))
    rows = A.find_units(tr, text, top=1)
    best = rows[0]
    st.markdown(f"Karpathy, Johnson & Fei-Fei (2015) found cells that track quotes, line length and nesting. The unit "
                f"finder searched every gate and state of shakespeare-lstm on the current text: the strongest is "
                f"**{best['name']} unit {best['unit']}**, correlated **r = {best['r']:+.2f}** with **{best['track']}**.")
    v = tr.values(best["name"])[best["layer"], best["direction"], :, 0, best["unit"]].numpy()
    n = min(len(text), 400)
    state.chart(plots.text_heatmap(list(text[:n]), v[:n], best["name"], 0, title=f"{best['name']} unit {best['unit']}"),
                    key="lesson_unit")
    st.caption("The Units tab ranks units for every feature, and lets you add your own as a regular expression.")


def _packing():
    m = state.pretrained("shakespeare-lstm")
    texts = ["To be, or not to be.", "Ay, there's the rub.", "What light through yonder window breaks?"]
    demo = packing_demo(m, texts)
    st.markdown("PyTorch packs sequences of different lengths (`torch.nn.utils.rnn.pack_padded_sequence`) so the "
                "LSTM never reads the padding. "
                "`explorer.trace(..., lengths=...)` does the same: three lines of different lengths, padded into one "
                f"batch. Largest difference from PyTorch's own run on the PackedSequence (output, h_n, c_n): **{demo.diff:.1e}**. "
                "Padded steps are empty (NaN) in the trace, so they show as gaps:")
    fig = plots.gate_heatmap("h", demo.h, list(range(demo.h.shape[0])), np.arange(demo.steps), row_labels=demo.row_labels,
                             title="h of 8 units for each of the three lines (rows grouped by line); gaps = padding")
    state.chart(fig, key="lesson_packing")


def _far_back():
    from explorer.analysis import connectivity as CN

    from .depends_view import MAX_WINDOW, _trio
    text = _text()[:MAX_WINDOW]
    got = _trio(text)
    st.markdown("Which earlier characters does the prediction at each step use? For every output step t and "
                "input step s, connectivity ‖∂y_t/∂x_s‖ (Madsen 2019) measures how much the logit of the next "
                "character changes with the character at s. The three pretrained models read the same "
                f"{len(text)} characters; the curve is the typical share of an output's peak that reaches d steps back.")
    state.chart(plots.reach_figure({name: r for name, (r, _) in got.items()}), key="lesson_far_back")
    st.info(CN.far_back({KINDS[name.split("-")[1]].label: h for name, (_, h) in got.items()}, len(text)))
    st.caption("Explore's 'What it depends on' view (open now) lights up the characters one step depends on; type "
               "a sentence above and pick a step.")


def _watch():
    """Lesson 7: an LSTM and an RNN train live on Tiny Shakespeare; the history is narrated as it comes in, and
    the lesson ends on the trained LSTM opened in the Explore tab."""
    from .train import start_job
    st.markdown("An LSTM and a vanilla RNN, side by side on the same batches of Tiny Shakespeare, learn to predict the "
                "next character (about half a minute here). The Train tab below shows every snapshot: the gates on "
                "the Explore tab's text going from noise to structure, how far back the gradient reaches, and samples "
                "going from gibberish to words. This panel reads the history aloud as it comes in.")
    job = st.session_state.get("job")
    mine = job is not None and getattr(job, "lesson", False)
    if not mine and st.button("start the lesson's training run", type="primary", key="lesson_train",
                              disabled=job is not None and job.running):
        job = start_job("char: Tiny Shakespeare (ships with Gate Explorer)", "LSTM and RNN", hidden=128, layers=1,
                        lr=3e-3, steps=400, batch=32, seq_len=64, clip=1.0)
        job.lesson = True
        st.rerun()
    if not mine:
        return

    @st.fragment(run_every=1.0 if job.running else None)
    def narrate():
        from explorer.analysis import learning as AL

        from . import watch
        by = watch.frames_of(job)
        if not by or not by.get("lstm"):
            st.caption("Waiting for the first snapshots…")
            return
        for line in AL.lesson_lines(by, job.baseline):
            st.markdown("- " + state.md_escape(line))
    narrate()
    if not job.running:              # the Train tab reruns the whole page when the run ends: this appears then
        st.button("explore the trained LSTM", type="primary", key="lesson_explore", on_click=_explore_lesson_model,
                  args=(job,))


def _explore_lesson_model(job):
    """The lesson's end: its trained LSTM, picked in the sidebar, open in the Explore tab; the lesson closed."""
    h = job.histories["lstm"]
    key = state.add_session_model("LSTM from lesson 7", h.model_at(-1), job.trainers["lstm"].card(name="LSTM from lesson 7"))
    st.session_state.update(pending_choice=key, pending_tab="Explore", lesson="")
