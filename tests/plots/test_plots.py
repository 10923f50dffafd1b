"""Figure builders (plots.py) checked on data whose answer is known: what each panel shows, which
units it picks, and how many colour bars a stacked figure draws."""
import json

import numpy as np
from apptools import array as _a

from explorer import plots


def _stack_axes(fig):
    d = json.loads(fig.to_json())                    # what the page receives
    return d["data"], d["layout"]


def test_gates_figure_shares_one_colour_bar_per_range():
    rng = np.random.default_rng(0)
    T, units = 30, [3, 1, 4]
    values = {n: rng.random((3, T)).astype(np.float32) for n in "ifgo"}
    values["g"] = values["g"] * 2 - 1
    values["c"] = (rng.standard_normal((3, T)) * 2.5).astype(np.float32)
    values["h"] = np.tanh(values["c"])
    fig = plots.gates_figure(values, {n: units for n in values}, np.arange(100, 100 + T), list("abcdefghij" * 3))
    data, layout = _stack_axes(fig)
    axis_of = {t["hovertemplate"].rsplit("<extra>", 1)[1][:-len("</extra>")]: t["coloraxis"] for t in data}
    assert axis_of["i"] == axis_of["f"] == axis_of["o"] != axis_of["g"]          # sigmoid gates: one bar, 0..1
    assert axis_of["g"] == axis_of["h"] != axis_of["c"]                          # tanh range: one bar, -1..1
    bars = {k: v for k, v in layout.items() if k.startswith("coloraxis")}
    assert len(bars) == 3
    assert (bars[axis_of["i"]]["cmin"], bars[axis_of["i"]]["cmax"]) == (0.0, 1.0)
    assert bars[axis_of["i"]]["colorbar"]["title"]["text"] == "i f o"
    c_max = float(np.abs(values["c"]).max())
    assert np.isclose(bars[axis_of["c"]]["cmax"], c_max) and np.isclose(bars[axis_of["c"]]["cmin"], -c_max)
    # the hover of any row holds every quantity of that row's unit at that step: its own value is
    # z, the others ride along in customdata, in the order the hover names them
    f = next(t for t in data if t["hovertemplate"].endswith("<extra>f</extra>"))
    custom, hover = _a(f["customdata"]), f["hovertemplate"]
    assert "f %{z:.3f}" in hover
    np.testing.assert_array_equal(_a(f["z"]), values["f"])
    for j, n in enumerate(q for q in values if q != "f"):
        assert f"{n} %{{customdata[{j}]:.3f}}" in hover
        np.testing.assert_array_equal(custom[:, :, j], values[n])


def test_gradient_units_picks_the_largest_units_and_shows_decades_below_the_largest():
    rng = np.random.default_rng(1)
    T, H = 40, 10
    flows = {k: {"unit_grad": rng.random((T, H)) * 10.0 ** -rng.integers(0, 8, (1, H))} for k in ("lstm", "gru", "rnn")}
    flows["rnn"]["unit_grad"][:, 2] = 0.0                                       # a unit no gradient reaches
    flows["lstm"]["forget_product"] = np.cumprod(rng.random((T, H)), 0)[::-1]
    fig = plots.gradient_units(flows, {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}, top=4)
    data, layout = _stack_axes(fig)
    assert [layout["yaxis" if k == 0 else f"yaxis{k + 1}"]["title"]["text"].split("</b>")[0][3:]
            for k in range(len(data))] == ["LSTM", "GRU", "RNN", "LSTM ∏f"]
    for tr, k in zip(data, ("lstm", "gru", "rnn")):
        g = flows[k]["unit_grad"]
        want = sorted(range(H), key=lambda u: -g[:, u].max())[:4]
        assert tr["y"] == [f"u{u}" for u in want]
        # decades below the model's largest: 0 at its largest cell, one colour scale for all three
        np.testing.assert_allclose(_a(tr["z"]), np.maximum(np.log10(np.maximum(g[:, want].T, 1e-30)) - np.log10(g.max()), -30),
                                   rtol=1e-5, atol=1e-5)
        assert _a(tr["z"]).max() == 0.0
    fp = flows["lstm"]["forget_product"]
    want = sorted(range(H), key=lambda u: -fp[0, u])[:4]
    assert data[3]["y"] == [f"u{u}" for u in want]
    np.testing.assert_allclose(_a(data[3]["z"]), fp[:, want].T, rtol=1e-6)
    axes = [t["coloraxis"] for t in data]
    assert axes[0] == axes[1] == axes[2] != axes[3]                             # relative decades: one scale
    assert (layout[axes[0]]["cmin"], layout[axes[0]]["cmax"]) == (-12.0, 0.0)


def test_gradient_curves_two_log_panels_one_axis():
    steps = np.arange(50)
    norms = {"LSTM ‖dJ/dh_t‖": (steps, np.exp(-steps / 30.0)), "GRU ‖dJ/dh_t‖": (steps, np.exp(-steps / 10.0)),
             "LSTM ‖dJ/dc_t‖": (steps, np.exp(-steps / 40.0))}
    ratios = {"LSTM ratio": (steps[:-1], np.full(49, 0.97)), "GRU ratio": (steps[:-1], np.full(49, 0.9))}
    data, layout = _stack_axes(plots.gradient_curves(norms, ratios, "norms", "ratios"))
    assert [t["name"] for t in data] == list(norms) + list(ratios)
    assert [t.get("yaxis", "y") for t in data] == ["y", "y", "y", "y2", "y2"]
    assert layout["yaxis"]["type"] == layout["yaxis2"]["type"] == "log"
    assert layout["yaxis2"]["range"] == [-4, 4]                                 # ratios shown around 1
    assert layout["xaxis"].get("matches") == "x2" or layout["xaxis2"].get("matches") == "x"   # one step axis
    colour = {t["name"]: t["line"]["color"] for t in data}
    assert colour["LSTM ratio"] == colour["LSTM ‖dJ/dh_t‖"] != colour["LSTM ‖dJ/dc_t‖"]
    assert colour["GRU ratio"] == colour["GRU ‖dJ/dh_t‖"]
    np.testing.assert_allclose(_a(data[3]["y"]), 0.97)


def test_gates_figure_without_colour_bars_keeps_given_ranges_and_the_key_names_them():
    rng = np.random.default_rng(2)
    T, units = 12, list(range(20))
    values = {"f": rng.random((20, T)), "g": rng.random((20, T)) * 2 - 1, "c": rng.standard_normal((20, T)),
              "h": np.tanh(rng.standard_normal((20, T)))}
    scales = {n: plots.gate_scale(n, bound=7.5 if n == "c" else None) for n in values}
    data, layout = _stack_axes(plots.gates_figure(values, {n: units for n in values}, np.arange(T),
                                                  scales=scales, colorbars=False))
    bars = {k: v for k, v in layout.items() if k.startswith("coloraxis")}
    assert len(bars) == 3 and all(b["showscale"] is False for b in bars.values())       # no bar is drawn
    c_axis = next(t["coloraxis"] for t in data if t["hovertemplate"].endswith("<extra>c</extra>"))
    assert (bars[c_axis]["cmin"], bars[c_axis]["cmax"]) == (-7.5, 7.5)                   # the range given, not the data's
    titles = [layout["yaxis" if k == 0 else f"yaxis{k + 1}"]["title"]["text"] for k in range(4)]
    assert titles[0].endswith("(0 … 1)") and titles[2].endswith("(-7.5 … 7.5)")       # each band names its range
    short = _stack_axes(plots.gates_figure({n: v[:2] for n, v in values.items()}, {n: [0, 1] for n in values},
                                           np.arange(T), colorbars=False))[1]
    assert short["yaxis3"]["title"]["text"] == "<b>c</b>"                          # a 2-row band: the name alone
    key = plots.scale_key(scales)
    assert key.count("linear-gradient") == 3                                           # f | g h | c
    assert "<b>g h</b>" in key and "<b>c</b><span>-7.5</span>" in key
    assert plots.css_gradient("Viridis").startswith("linear-gradient(to right, #440154 0%")
    odd = plots.scale_key({"<b>x</b>": scales["f"]})
    assert "<b>&lt;b&gt;x&lt;/b&gt;</b>" in odd and "<b><b>" not in odd                # names escaped


def test_overview_margins_are_fixed_so_the_page_can_line_up_with_its_axis():
    fig = plots.gate_heatmap("c", np.ones((3, 20)), [0, 1, 2], np.arange(20) * 4, margins=plots.OVERVIEW_MARGINS,
                             colorbar=False)
    d = json.loads(fig.to_json())
    assert (d["layout"]["margin"]["l"], d["layout"]["margin"]["r"]) == plots.OVERVIEW_MARGINS
    assert d["data"][0]["showscale"] is False and not d["layout"].get("shapes")        # no window mark in the figure


def test_history_scales_by_name_and_by_model_where_kinds_disagree():
    """A GRU and an sLSTM watched together: h shares one range; the sLSTM's z (a tanh) and n (unbounded) differ
    from the GRU's z (a gate) and n (a tanh), so each gets an entry per model; c, only the sLSTM's, spans its
    largest |c| over the snapshots."""
    rng = np.random.default_rng(0)
    frame = lambda kind, names, scale: {"kind": kind, "gates": {n: (rng.random((20, 6)) * scale).astype(np.float16)
                                                                 for n in names}}
    by = {"GRU": [frame("gru", "rznh", 1.0) for _ in range(3)],
          "sLSTM": [frame("slstm", ["i", "f", "z", "o", "c", "n", "m", "h"], 3.0) for _ in range(3)]}
    s = plots.history_scales(by, top=6)
    assert s["GRU z"] == ("Viridis", 0.0, 1.0) and s["sLSTM z"] == ("RdBu_r", -1.0, 1.0)
    assert s["GRU n"] == ("RdBu_r", -1.0, 1.0) and s["sLSTM n"][1] == -s["sLSTM n"][2]
    assert s["h"] == ("RdBu_r", -1.0, 1.0) and s["r"] == ("Viridis", 0.0, 1.0)
    c_max = max(float(np.abs(fr["gates"]["c"].astype(np.float32)).max()) for fr in by["sLSTM"])
    assert s["c"] == ("RdBu_r", -c_max, c_max) and "z" not in s and "n" not in s
