"""The colour scales read with colour-vision deficiency, and the themes read at WCAG contrast.

Deuteranopia and protanopia are simulated with Machado, Oliveira & Fernandes (2009)'s matrices at
severity 1 (applied to linear sRGB); colours are compared in CIELAB (D65). A sequential scale must get
lighter from end to end in every vision (so it reads as "more" without hue); a diverging one must get
lighter towards its middle from both ends, and a value and its opposite must stay apart (ΔE ≥ 30) in
every vision, so the sign reads. A red–green scale (RdYlGn) fails that: the check can fail."""
import numpy as np
import plotly.colors as pc
import plotly.graph_objects as go
import pytest

from explorer import plots
from explorer.plots import scales, theme

VISIONS = {
    "normal": np.eye(3),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "protanopia": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
}


def rgb(c: str) -> np.ndarray:
    return np.array(pc.unlabel_rgb(c) if c.startswith("rgb") else pc.hex_to_rgb(c), dtype=float)


def linear(c) -> np.ndarray:
    c = np.asarray(c, dtype=float) / 255
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def lab(lin: np.ndarray) -> np.ndarray:
    M = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = M @ lin / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def seen(colorscale, n=11) -> dict[str, np.ndarray]:
    """{vision: (n, 3) CIELAB of the scale sampled at n evenly spaced points}."""
    cols = [rgb(c) for c in pc.sample_colorscale(colorscale, list(np.linspace(0, 1, n)))]
    return {v: np.array([lab(np.clip(M @ linear(c), 0, 1)) for c in cols]) for v, M in VISIONS.items()}


def reads_as_more(colorscale) -> bool:
    return all(np.all(np.diff(L[:, 0]) > 2) for L in seen(colorscale).values())


def sign_reads(colorscale) -> bool:
    ok = True
    for L in seen(colorscale).values():
        light = L[:, 0]
        ok &= bool(np.all(np.diff(light[:6]) > 0) and np.all(np.diff(light[5:]) < 0))
        ok &= min(float(np.linalg.norm(L[k] - L[10 - k])) for k in range(4)) >= 30
    return ok


def test_the_gate_scale_reads_as_more_in_every_vision():
    assert reads_as_more(scales.SEQ) and reads_as_more("Cividis")
    assert plots.REACH_SCALE[0] == "Cividis" and plots.GRADIENT_DECADES[0] == scales.SEQ


def test_the_signed_scale_keeps_its_sign_in_every_vision_and_a_red_green_one_does_not():
    assert sign_reads(scales.DIV)
    assert not sign_reads("RdYlGn")                  # the check tells a scale that fails apart


@pytest.mark.parametrize("name", ["i", "f", "o", "r", "z", "g", "n", "h", "c"])
def test_every_gate_and_state_is_drawn_on_one_of_the_checked_scales(name):
    cs, lo, hi = plots.gate_scale(name, np.array([-3.0, 2.0]))
    assert cs in (scales.SEQ, scales.DIV) and lo < hi
    assert (cs == scales.SEQ) == (name in "ifozr")


def test_keys_name_their_scale():
    key = plots.scale_key({"i": plots.gate_scale("i"), "g": plots.gate_scale("g"), "t": plots.DECADE_SCALE})
    assert "viridis" in key and "blue–red" in key and "white–blue" in key
    assert [plots.scale_name(s) for s in ("Viridis", "RdBu_r", "Cividis")] == ["viridis", "blue–red", "cividis"]


def contrast(a: str, b: str) -> float:
    la, lb = (float(np.dot([0.2126, 0.7152, 0.0722], linear(rgb(c)))) for c in (a, b))
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


@pytest.mark.parametrize("name", ["light", "dark"])
def test_each_themes_text_reads_on_its_background(name):
    t = theme.THEMES[name]
    assert contrast(t.text, t.background) >= 7
    assert contrast(t.ink, t.background) >= 4.5                     # "the actual series", wires, outlines


def test_themed_figures_are_transparent_and_written_in_the_themes_colours():
    fig = plots.gradient_curves({"LSTM ‖dJ/dh_t‖": (np.arange(5), np.ones(5))},
                                {"LSTM ratio": (np.arange(4), np.ones(4))}, "t", "ratio")
    fig.add_annotation(text="a note in red", font=dict(color="red"))
    assert plots.themed(fig, "dark") is fig and isinstance(fig, plots.FrozenFigure)
    d = fig.to_dict()["layout"]
    t = theme.THEMES["dark"]
    assert d["paper_bgcolor"] == d["plot_bgcolor"] == theme.TRANSPARENT
    assert d["font"]["color"] == t.text and d["xaxis"]["gridcolor"] == t.grid and d["yaxis2"]["linecolor"] == t.axis
    assert d["annotations"][0]["font"]["color"] == t.text                  # the panel's title
    assert d["annotations"][-1]["font"]["color"] == "red"                 # a colour the builder chose stays
    plots.themed(fig, "light")                                            # themed again: the other theme's colours
    d = fig.to_dict()["layout"]
    light = theme.THEMES["light"]
    assert d["font"]["color"] == light.text and d["annotations"][0]["font"]["color"] == light.text
    assert d["annotations"][-1]["font"]["color"] == "red" and d["yaxis"]["gridcolor"] == light.grid
    assert plots.theme_of("no such theme") is theme.THEMES["light"]


def test_a_stacked_figures_spikes_take_the_themes_text():
    fig = plots.gates_figure({"f": np.random.rand(3, 6)}, {"f": [0, 1, 2]}, np.arange(6), list("abcdef"))
    d = plots.themed(fig, "dark").to_dict()["layout"]
    assert d["xaxis"]["showspikes"] and d["xaxis"]["spikecolor"] == theme.THEMES["dark"].text


def test_every_builder_draws_on_a_transparent_background():
    figs = [plots.gate_heatmap("f", np.random.rand(3, 5), [0, 1, 2], np.arange(5)),
            plots.state_lines({"c u0": np.zeros(5)}, np.arange(5)),
            plots.text_heatmap(list("hello"), np.zeros(5), "h"),
            plots.forecast_figure(np.arange(3), np.zeros(3), np.ones(3), theme="dark"),
            plots.connectivity_figure(np.tril(np.ones((4, 4))), 0),
            plots.reach_figure({"LSTM": np.linspace(1, 0.1, 5)})]
    for fig in figs:
        assert isinstance(fig, go.Figure)
        lay = fig.to_dict()["layout"]
        assert lay["paper_bgcolor"] == lay["plot_bgcolor"] == theme.TRANSPARENT
    assert figs[3].data[0].line.color == theme.THEMES["dark"].ink


def test_a_projectors_figure_has_larger_type_and_thicker_data_lines():
    fig = plots.state_lines({"c u0": np.zeros(5), "h u0": np.ones(5)}, np.arange(5))
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(width=1))          # a faint guide
    d = plots.themed(fig, "dark", large=True).to_dict()
    assert d["layout"]["font"]["size"] >= 16
    assert [tr["line"]["width"] for tr in d["data"]] == [3, 3, 1]
    plain = plots.themed(plots.state_lines({"c": np.zeros(3)}, np.arange(3)), "dark").to_dict()
    assert plain["layout"]["font"]["size"] == 13 and plain["data"][0]["line"].get("width", 2) == 2


@pytest.mark.parametrize("name, lo, hi", [("f", 0, 1), ("h", -1, 1), ("c", -3, 3)])
def test_every_letter_of_the_text_figure_reads_on_its_own_cell_in_both_themes(name, lo, hi):
    """Karpathy's picture: the text coloured by one unit. Each letter's ink is chosen against its own cell, so it
    reads at WCAG AA (4.5:1) on every cell of either colour scale, light or dark page alike."""
    rng = np.random.default_rng(0)
    text = list(("The quick brown fox jumps over the lazy dog.\n" * 8)[:300])
    vals = rng.uniform(lo, hi, len(text))
    fig = plots.text_heatmap(text, vals, name)
    for th in ("light", "dark"):
        d = plots.themed(fig, th).to_dict()
        hm, letters = fig.data[0], d["data"][1]
        assert letters["mode"] == "text" and len(letters["textfont"]["color"]) == len(text)     # every character
        for x, y, ink in zip(fig.data[1].x, fig.data[1].y, letters["textfont"]["color"]):
            cell = scales.fills(np.array([hm.z[y][x]]), hm.colorscale, hm.zmin, hm.zmax)[0]
            assert contrast(ink, cell) >= 4.5, (th, x, y, ink, cell)
