"""The sidebar: which model (pretrained, trained here, uploaded, random), layer, direction, device."""
from __future__ import annotations

import streamlit as st

from explorer import ModelConfig, Vocab
from explorer.core.kinds import CLASSIC, KINDS, MODERN
from explorer.io.models.ours import build
from explorer.training.trainer import available_devices, best_device, device_label

from . import state
from .state import SelectedModel, error_boundary
from .upload import upload

UPLOAD, RANDOM = "upload a checkpoint…", "a fresh random model…"
RANDOM_VOCAB = "".join(chr(c) for c in range(32, 127)) + "\n\t"


@st.cache_resource(show_spinner=False, ttl=60)
def _pretrained_options() -> list[str]:
    names = state.pretrained_names()
    first = [n for n in (f"shakespeare-{k}" for k in CLASSIC + MODERN) if n in names]
    return first + [n for n in names if n not in first]


@st.cache_resource(show_spinner=False, max_entries=16)
def _random_model(kind: str, hidden: int, layers: int, seed: int):
    vocab = Vocab(RANDOM_VOCAB)
    return build(ModelConfig(kind, vocab_size=len(vocab), embedding_size=32, hidden_size=hidden, num_layers=layers),
                 vocab, seed=seed).eval()


def sidebar() -> SelectedModel | None:
    """Draws the sidebar; returns the picked model (also in st.session_state['picked'])."""
    sb = st.sidebar
    sb.header("Model")
    trained = state.session_models()
    options = _pretrained_options() + list(trained) + [UPLOAD, RANDOM]
    fmt = lambda k: trained[k].label + " (trained here)" if k in trained else k
    pending = st.session_state.pop("pending_choice", None)     # "explore this model" from the Train tab
    if pending in options:
        st.session_state["model_choice"] = pending
    if st.session_state.get("model_choice") not in options:
        st.session_state["model_choice"] = options[0]
    choice = sb.selectbox("model", options, format_func=fmt, key="model_choice", bind="query-params",
                          help="Pretrained models were trained by this project's own CLI (see pretrained/README.md).")
    p = None
    with error_boundary("loading the model"):
        if choice in trained:
            p = trained[choice]
        elif choice == UPLOAD:
            with sb:
                p = upload()
        elif choice == RANDOM:
            kind = sb.selectbox("kind", list(KINDS), key="rnd_kind", format_func=lambda k: KINDS[k].label)
            hidden = sb.select_slider("hidden size", [8, 16, 32, 64, 128, 256], 64, key="rnd_hidden")
            layers = sb.select_slider("layers", [1, 2, 3], 1, key="rnd_layers")
            seed = sb.number_input("seed", 0, 10_000, 0, key="rnd_seed")
            m = _random_model(kind, hidden, layers, int(seed))
            p = SelectedModel(f"random:{kind}:{hidden}:{layers}:{seed}",
                              f"random {KINDS[kind].label} (H={hidden}, {layers} layer)", m.core, m,
                       {"note": "untrained: PyTorch's default initialisation"})
        else:
            m = state.pretrained(choice)
            p = SelectedModel(f"pretrained:{choice}", choice, m.core, m, m.card)
    if p is None:
        st.session_state.pop("picked", None)
        return None
    core = p.core
    sb.caption(f"{KINDS[p.kind].label} · hidden {core.hidden_size} · {core.num_layers} layer(s)"
               f"{' · bidirectional' if core.bidirectional else ''}"
               f"{' · proj ' + str(core.proj_size) if getattr(core, 'proj_size', 0) else ''}"
               f"{' · nonlinearity ' + core.nonlinearity if KINDS[p.kind].has_nonlinearity else ''}"
               f"{' · ' + str(core.num_heads) + ' heads' if getattr(core, 'num_heads', 1) > 1 else ''}")
    sb.header("Where to look")
    state.keep_valid("layer_pick", list(range(core.num_layers)), 0)
    st.session_state["layer"] = sb.selectbox("layer", list(range(core.num_layers)), key="layer_pick", bind="query-params")
    state.keep_valid("dir_pick", list(range(p.directions)), 0)
    st.session_state["direction"] = sb.selectbox(
        "direction", list(range(p.directions)), key="dir_pick", bind="query-params",
        format_func=lambda d: "forward" if d == 0 else "reverse (indexed by input position)")
    sb.header("Device")
    devs = available_devices()
    best = best_device()
    dev = sb.selectbox("device for training", devs, index=devs.index(best), key="device",
                       help="Defaults to the best available: cuda, then mps, then cpu.")
    sb.caption(f"in use: {device_label(dev)}")
    st.session_state["picked"] = p
    return p
