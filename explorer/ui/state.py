"""What the tabs share: the picked model, cached model loads and input scans, error guards.

Caching follows Streamlit's conventions: st.cache_resource for models and the long-input
scans (heavy objects, shared read-only), st.cache_data for window traces (small numpy dicts).
What a user makes (trained models, uploads) lives in st.session_state, keyed by ids unique
to that session, so one session never sees another's models.
"""
from __future__ import annotations

import contextlib
import hashlib
import threading
import time
import traceback
import uuid
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
import streamlit as st

import explorer
from explorer import InputError, plots
from explorer.core import kinds
from explorer.core.windows import LongTrace, scan_long, time_left
from explorer.io.models.opened import as_opened
from explorer.io.models.ours import LazyEmbedding

MAX_CHARS = 2_000_000          # upload cap for text (characters)


@dataclass
class SelectedModel:
    """The model every tab looks at."""
    key: str                       # unique per model instance: the cache key
    label: str
    core: Any                      # the stock recurrent module (torch.nn.LSTM / GRU / RNN)
    model: Optional[Any] = None    # CharModel / SeqModel, None for a bare foreign module
    card: dict = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return kinds.of(self.core).name

    @property
    def is_char(self) -> bool:
        """It reads text: tokens through its own vocabulary and embedding."""
        return self.model is not None and getattr(self.model, "vocab", None) is not None

    @property
    def opened(self):
        """The model as it is used (explorer.io.models.opened.OpenedModel): its task, its head, what it reads."""
        return opened_model(self.key, self.model, self.core)

    @property
    def task(self) -> str:
        return self.opened.task

    @property
    def is_lm(self) -> bool:
        """Only a language model's head says what comes next."""
        return self.task == "language model" and getattr(self.model, "head", None) is not None

    @property
    def input_size(self) -> int:
        """Features per step of the data it reads (before our sequence models' projection)."""
        return self.opened.input_size

    @property
    def directions(self) -> int:
        return 2 if self.core.bidirectional else 1


@contextlib.contextmanager
def error_boundary(what: str):
    """Show a failure in one sentence (st.error) instead of a traceback; the page goes on."""
    try:
        yield
    except InputError as e:
        st.error(md_escape(str(e)))
    except Exception as e:      # an unexpected failure: say so, keep the page (st.rerun/st.stop are BaseExceptions)
        traceback.print_exc()
        st.error(f"Something went wrong while {what} ({type(e).__name__}: {str(e).splitlines()[0][:160]}); "
                 "the rest of the page still works.")


_FIGURES: OrderedDict = OrderedDict()
_FIGURES_LOCK = threading.Lock()
MAX_FIGURES = 48
_BUILDING: dict = {}                   # key -> threading.Event of the build under way (single flight)
BUILD_WAIT_S = 60.0                    # how long a session waits on another's build before building it itself
BUILDS: Counter = Counter()            # builds per figure name (the key's first part), for the load tests


def page_theme() -> str:
    """"dark" or "light": the theme this session's browser shows the page in (Streamlit follows the system's
    setting unless the user picks one). A browser that switches theme while the page is open is seen at the
    next run of the script; until then the figures' transparent backgrounds already follow it."""
    return "dark" if st.context.theme.type == "dark" else "light"


def presenting() -> bool:
    """Presentation mode (ui/classroom.py), from the first run of a presentation link (?present=true): the
    sidebar toggle's value once it exists, the address bar's before (the page's top is drawn before it)."""
    if "present" in st.session_state:
        return bool(st.session_state["present"])
    return st.query_params.get("present", "").lower() in ("true", "1")


def chart(fig_or_where, fig=None, **kw):
    """st.plotly_chart for one of our figures, finished for the page's theme (plots.themed), drawn as it is
    (theme=None: Streamlit's own chart theme would rewrite the figure's JSON in the browser on every redraw).
    chart(fig, key=...) draws on the page, chart(column, fig, key=...) in a column. A shared figure
    (shared_figure) was finished for its theme when it was built."""
    where, fig = (st, fig_or_where) if fig is None else (fig_or_where, fig)
    if not isinstance(fig, plots.FrozenFigure):
        fig = plots.themed(fig, page_theme(), large=presenting())     # its one dict, patched: no second copy
    return where.plotly_chart(fig, theme=None, **kw)


def shared_figure(key: str, build):
    """A finished figure built once per key, theme and presentation mode for every session of the process (a class opening one
    link gets one build, not sixty: the Cell tab's animated figure is about 1.8 s of plotly validation). The figure is
    never changed after it is built: st.plotly_chart copies it (to_dict) before serialising."""
    theme, large = page_theme(), presenting()
    return shared(f"{key}|{theme}|{large}", lambda: plots.themed(build(), theme, large))


def shared(key: str, build):
    """What build() returns, built once per key for every session of the process (read-only afterwards). Single
    flight: sessions asking for a key while another builds it wait for that build instead of building it again (a
    class opening one link on a just-started server asks at the same moment); a failed build lets the next try."""
    while True:
        with _FIGURES_LOCK:
            value = _FIGURES.get(key)
            if value is not None:
                _FIGURES.move_to_end(key)
                return value
            building = _BUILDING.get(key)
            if building is None:
                building = _BUILDING[key] = threading.Event()
                break                                              # this session builds it
        building.wait(timeout=BUILD_WAIT_S)                        # another session builds it: wait, then look again
        with _FIGURES_LOCK:
            if key not in _FIGURES and _BUILDING.get(key) is building:
                break                                              # it is taking too long: build it here too
    try:
        value = build()
        with _FIGURES_LOCK:
            _FIGURES[key] = value
            BUILDS[key.split("|")[0]] += 1
            while len(_FIGURES) > MAX_FIGURES:
                _FIGURES.popitem(last=False)
        return value
    finally:
        with _FIGURES_LOCK:
            if _BUILDING.get(key) is building:
                del _BUILDING[key]
        building.set()


_OPENED: dict = {}


def opened_model(key: str, model, core):
    """as_opened, once per model key (a dict of the process: the same key is the same model)."""
    if key not in _OPENED:
        if len(_OPENED) > 64:
            _OPENED.clear()
        _OPENED[key] = as_opened(model, core)
    return _OPENED[key]


@st.cache_resource(show_spinner=False)
def pretrained(name: str):
    return explorer.load_pretrained(name)


@st.cache_resource(show_spinner=False, ttl=60)
def pretrained_names() -> list[str]:
    """The shipped models' names (their files' names; no weights read)."""
    return list(explorer.list_pretrained())


# Hides Streamlit's running icon while a progress bar of ours is on the page, and makes the bar jump
# instead of sliding for half a second after every message, so the browser has fewer frames to draw
# while the pass runs (our own constant CSS).
QUIET_ICON = ("<style>body:has([data-testid='stProgress']) [data-testid='stStatusWidgetRunningIcon']"
              "{visibility:hidden} [data-testid='stProgress'] *{transition:none !important}</style>")
SCANS_KEPT = 6                 # long-input passes kept in memory, shared by all sessions (read-only)


@st.cache_resource(show_spinner=False)
def _scans() -> dict:
    """The kept passes, most recent last. Not st.cache_resource per input: a cached function may not
    draw into a block made outside it, and the pass must move a progress bar on the page."""
    return {"lock": threading.Lock(), "items": OrderedDict(), "building": {}}


def scan(key: str, core, x, n: int, blocks: int = 800) -> LongTrace:
    """The one pass over an input (checkpoints, statistics, overview), once per (model, input).
    A progress bar moves while it runs (scan_long reports after every chunk) and goes when done;
    on a cached input it is never seen."""
    bar = st.empty()
    last = [-1.0, 0.0]                                 # fraction and time of the last message
    first: list[float] = []                            # time and fraction of the first report

    def progress(done: float):
        # At most one message a second (and the first and last): on a machine shared with the browser,
        # each redraw of the bar (and its 0.5 s slide) takes CPU from the pass itself.
        now = time.monotonic()
        if not first:
            first[:] = [now, done]
        if done >= 1.0 or last[0] < 0 or (done - last[0] >= 0.01 and now - last[1] >= 1.0):
            last[0], last[1] = done, now
            left = time_left(now - first[0], done, first[1])
            bar.progress(min(done, 1.0), text=f"Reading {n:,} steps: {done:.0%}{' · ' + left if left else ''} "
                                              "(one pass, then every window is instant)")
    kept = _scans()
    k = (key, blocks)
    while True:                                        # single flight: one pass per input, however many ask at once
        with kept["lock"]:
            lt = kept["items"].get(k)
            if lt is not None:
                kept["items"].move_to_end(k)
                return lt
            building = kept["building"].get(k)
            if building is None:
                building = kept["building"][k] = threading.Event()
                break
        building.wait(timeout=BUILD_WAIT_S)            # another session is reading this input: wait for its pass
        with kept["lock"]:
            if k not in kept["items"] and kept["building"].get(k) is building:
                break
    # Streamlit's own "running" icon redraws five times a second; our bar says the same. Sent once:
    # a style element redrawn with every tick of the bar would restyle the whole page each time.
    st.html(QUIET_ICON)
    try:
        # A short input's whole trace is kept (up to 4M values, 16 MB): moving the window is then a slice.
        lt = scan_long(core, x, checkpoint_every=256, chunk=1024, overview_blocks=blocks, progress=progress,
                       keep_whole=4_000_000)
        with kept["lock"]:
            kept["items"][k] = lt
            BUILDS["scan"] += 1
            while len(kept["items"]) > SCANS_KEPT:
                kept["items"].popitem(last=False)
    finally:
        bar.empty()
        with kept["lock"]:
            if kept["building"].get(k) is building:
                del kept["building"][k]
        building.set()
    return lt


@st.cache_data(show_spinner=False, max_entries=64)
def window_cached(key: str, a: int, b: int, iv_key: str = "", _lt=None, _iv=None) -> dict[str, np.ndarray]:
    """A window's arrays (LongTrace.window_arrays), cached per (input key, window, intervention)."""
    return _lt.window_arrays(a, b, _iv)


def _from_url(key: str, like):
    """The shared link's value for a widget, parsed like `like` (bool, int, float, str, or a range);
    None if the link has none or it does not parse."""
    if key not in st.query_params:
        return None
    raw = st.query_params.get_all(key)
    try:
        if isinstance(like, (tuple, list)):
            return tuple(type(like[0])(r) for r in raw) if len(raw) == len(like) else None
        if isinstance(like, bool):
            return raw[-1].lower() in ("true", "1", "yes")
        return type(like)(raw[-1])
    except (TypeError, ValueError):
        return None


def start_at(key: str, default, lo=None, hi=None):
    """For a widget drawn without a default of its own: session state is the one source of truth.
    Starts at the shared link's value or `default`, clamped into [lo, hi] (the range may change)."""
    v = st.session_state.get(key)
    if v is None:
        v = _from_url(key, default)
    if v is None:
        v = default
    if lo is not None and hi is not None:
        if isinstance(v, (tuple, list)):
            v = tuple(min(max(x, lo), hi) for x in v)
        else:
            v = min(max(v, lo), hi)
    st.session_state[key] = v


# Widgets that are not drawn in every run (a closed tab, a section presentation mode hides): Streamlit
# forgets the value of a widget that is not drawn, so every run starts by writing these back.
# Buttons, uploads and forms' submit buttons cannot be written and are not listed.
KEEP = [
    "shown", "topk", "order", "win_len", "win_start", "insp_t", "insp_units", "text_unit", "text_name", "line_units",
    "ov_name", "xtab", "cho", "wi_gate", "wi_mode", "wi_value", "wi_units", "wi_steps",                         # Explore
    "cell_unit", "cell_textbook",                                                                        # Cell
    "gtab", "gf_top", "gf_source", "gf_obj", "gf_T", "gf_hidden", "gf_init", "gf_clamp", "gf_fval",
    "gf_text",                                                                                           # Gradient flow
    "train_task", "train_arch", "train_hidden", "train_layers", "train_steps", "train_batch", "train_lr",
    "train_clip", "train_T", "watch_step", "train_csv_col",                                                     # Train
    "uf_regex", "uf_top", "uf_row", "pt_name", "pt_range", "pt_thr", "cl_k", "cl_name",                  # Units
    "sample", "text_area", "series_src", "series_T", "series_seed", "csv_col",                            # input
]


def lazy_tabs(views: dict, key: str, *args):
    """Tabs of which only the open one runs and is drawn: views {name: draw(*args)}. The open tab is
    session state under `key`, bound to the URL (?key=name), so a link reopens it; a value set under
    "pending_<key>" (a "go there" button, before the tabs exist) opens that tab, and a remembered name
    that is no longer among the views (e.g. "Saturation" after switching to an RNN) falls back to the first."""
    if f"pending_{key}" in st.session_state:
        st.session_state[key] = st.session_state.pop(f"pending_{key}")
    if key in st.session_state and st.session_state[key] not in views:
        st.session_state.pop(key)
    for tab, draw in zip(st.tabs(list(views), key=key, bind="query-params"), views.values()):
        if tab.open is not False:                           # None: the frontend does not say; draw it
            with tab:
                draw(*args)


def keep_widget_state():
    """Write every remembered widget value back, so it survives runs in which its widget is not drawn."""
    for k in KEEP:
        if k in st.session_state:
            st.session_state[k] = st.session_state[k]


def keep_valid(key: str, options, default):
    """Before a widget keyed `key` is drawn: session state is its one source of truth. Start it at
    `default` when it has no value yet, or when its remembered value is no longer among the options
    (the units shown changed, say). The widget itself is then drawn with no default of its own
    (a second default is what makes Streamlit warn that the value was also set via Session State)."""
    if key not in st.session_state and key in st.query_params:     # a shared link: its value, if valid
        url = st.query_params.get_all(key)
        if isinstance(default, (list, tuple)):
            picked = [o for o in options if str(o) in url]
        else:
            picked = next((o for o in options if str(o) == url[-1]), None)
        if picked:
            st.session_state[key] = picked
            return
    v = st.session_state.get(key)
    vals = v if isinstance(v, (list, tuple)) else [v]
    if key not in st.session_state or not vals or any(x not in options for x in vals):
        st.session_state[key] = default


def md_escape(s: str) -> str:
    """User-derived text inside st.markdown/st.warning: backslash every Markdown/LaTeX/HTML-active
    character, so it shows exactly as typed and is never interpreted."""
    return "".join("\\" + c if c in "\\`*_[]<>$~|#:&" else c for c in s)


def digest(data) -> str:
    h = hashlib.sha256()
    h.update(data if isinstance(data, (bytes, bytearray)) else str(data).encode("utf-8", "surrogatepass"))
    return h.hexdigest()[:16]


def session_models() -> dict:
    """Models trained or uploaded in this session: {key: SelectedModel}."""
    return st.session_state.setdefault("session_models", {})


def add_session_model(label: str, model, card: Optional[dict] = None, core=None) -> str:
    key = f"session:{uuid.uuid4().hex[:12]}"
    session_models()[key] = SelectedModel(key, label, core if core is not None else model.core, model, card or {})
    return key


def picked() -> SelectedModel:
    return st.session_state["picked"]


def core_input(p: SelectedModel, payload) -> object:
    """The recurrent core's input for a payload: ids -> lazy embedding; (T, I) series -> projected."""
    if p.is_char:
        return LazyEmbedding(p.model, payload)
    if p.model is not None:
        return p.model.embed(payload)
    return payload
