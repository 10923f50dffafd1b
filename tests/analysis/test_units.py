"""Saturation, feature tracks, the unit finder (full and streaming), memory spans, inits."""
import math

import pytest
import torch

import explorer
from explorer import InputError, scan_long, trace
from explorer.analysis import units as A


def test_saturation_from_trace_equals_long_stats():
    torch.manual_seed(0)
    rnn = torch.nn.LSTM(3, 6, num_layers=2).double()
    x = 3 * torch.randn(200, 3, dtype=torch.double)
    tr = trace(rnn, x)
    lt = scan_long(rnn, x, checkpoint_every=16, chunk=64)
    for g in "ifgo":
        lo, hi = A.saturation(tr, g)
        lo2, hi2 = A.saturation(lt, g)
        torch.testing.assert_close(lo, lo2)
        torch.testing.assert_close(hi, hi2)
        v = tr.gates[g][0, 0, :, 0, 2]
        th = (0.1, 0.9) if g != "g" else (-0.9, 0.9)
        assert abs(lo[0, 0, 2] - (v < th[0]).double().mean()) < 1e-12
        assert abs(hi[0, 0, 2] - (v > th[1]).double().mean()) < 1e-12


def test_feature_tracks():
    t = A.feature_tracks('ab "c(d)" \nX9', regex=r"c\(")
    assert t["inside quotes"].tolist() == [0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0]
    assert t["bracket depth"].tolist()[4:8] == [0, 1, 1, 1] and t["bracket depth"][8] == 0
    assert t["position in line"].tolist()[-3:] == [10, 0, 1]
    assert t["newline"][10] == 1 and t["uppercase"][11] == 1 and t["digit"][12] == 1
    assert t["start of word"].tolist()[:4] == [1, 0, 0, 0] and t["vowel"][0] == 1
    assert t["regex"].tolist()[4:7] == [1, 1, 0]
    with pytest.raises(InputError, match="regular expression"):
        A.feature_tracks("abc", regex="(")


def test_unit_finder_finds_a_planted_unit_and_streams_exactly():
    """Unit 5 is wired to be +1 on a space and -1 elsewhere (g reads the space's one-hot, f shut,
    i and o open); the finder must rank it first for whitespace."""
    torch.manual_seed(0)
    text = ('he said "hello there" and "bye" then left. ' * 20)
    vocab = explorer.Vocab.from_text(text)
    rnn = torch.nn.LSTM(len(vocab), 8).double()
    with torch.no_grad():
        for p in rnn.parameters():
            p.mul_(0.1)
        sp, u = vocab.stoi[" "], 5
        rnn.weight_hh_l0[[u, 8 + u, 16 + u, 24 + u]] = 0.0
        rnn.weight_ih_l0[[u, 8 + u, 16 + u, 24 + u]] = 0.0
        rnn.bias_ih_l0[[u, 8 + u, 16 + u, 24 + u]] = torch.tensor([20.0, -20.0, -15.0, 20.0], dtype=torch.double)
        rnn.weight_ih_l0[16 + u, sp] = 30.0          # g: tanh(15) on a space, tanh(-15) elsewhere
    x = torch.nn.functional.one_hot(vocab.encode(text), len(vocab)).double()
    tr = trace(rnn, x)
    rows = A.find_units(tr, text, top=3)
    ws = [r for r in rows if r["track"] == "whitespace"]
    assert ws[0]["unit"] == 5 and ws[0]["r"] > 0.999, ws[0]
    assert {"track", "name", "layer", "direction", "unit", "r"} <= set(rows[0])
    by_track = [r for r in rows if r["track"] == "bracket depth"]
    assert all(r["r"] == 0 for r in by_track)    # constant track -> 0, not NaN
    lt = scan_long(rnn, x, checkpoint_every=32, chunk=64)
    rows2 = A.find_units(lt, text, top=3, window=100)
    key = lambda r: (r["track"], r["name"], r["layer"], r["direction"], r["unit"])
    full, streamed = {key(r): r["r"] for r in rows}, {key(r): r["r"] for r in rows2}
    assert full.keys() == streamed.keys()                       # the same units (near-ties may swap order)
    assert all(abs(full[k] - streamed[k]) < 1e-9 for k in full)
    # cross-check one correlation by hand
    c = A.Correlator()
    c.update(tr, A.feature_tracks(text))
    r = c.correlations()["h"][0, 0, 3]
    v = tr.h[0, 0, :, 0, 3]
    f = A.feature_tracks(text)["vowel"].double()
    ref = torch.corrcoef(torch.stack([v, f]))[0, 1]
    assert abs(r[list(A.feature_tracks(text)).index("vowel")] - ref) < 1e-9


def test_memory_span_and_forget_product():
    rnn = torch.nn.LSTM(2, 3).double()
    tr = trace(rnn, torch.randn(10, 2, dtype=torch.double), intervene={"f": math.exp(-0.1)})
    torch.testing.assert_close(A.memory_span(tr), torch.full((1, 1, 3), 10.0, dtype=torch.double))
    fp = A.forget_product(tr)
    torch.testing.assert_close(fp[0, 0, 0, 0, 0], torch.tensor(math.exp(-0.9), dtype=torch.double))
    assert (fp[:, :, -1] == 1).all()
    rnn = torch.nn.LSTM(2, 3, bidirectional=True).double()
    tr = trace(rnn, torch.randn(6, 2, dtype=torch.double))
    f = tr.gates["f"]
    fp = A.forget_product(tr)
    torch.testing.assert_close(fp[0, 0, 2, 0], f[0, 0, 3:, 0].prod(0))
    torch.testing.assert_close(fp[0, 1, 4, 0], f[0, 1, :4, 0].prod(0))


def test_inits_and_spectral_radius():
    lstm = A.init_core(torch.nn.LSTM(4, 8), "forget bias 1")
    assert (lstm.bias_ih_l0[8:16] == 1).all() and (lstm.bias_hh_l0[8:16] == 0).all()
    lstm = A.init_core(torch.nn.LSTM(4, 8), "chrono", t_max=50)
    bf = lstm.bias_ih_l0[8:16]
    assert (bf >= 0).all() and (bf <= math.log(49) + 1e-6).all() and torch.equal(lstm.bias_ih_l0[:8], -bf)
    rnn = A.init_core(torch.nn.RNN(4, 8), "orthogonal W_hh")
    assert abs(A.spectral_radius(rnn.weight_hh_l0) - 1) < 1e-5
    with pytest.raises(InputError, match="init must be"):
        A.init_core(rnn, "xavier")


PATHOLOGICAL = [r"(a+)+$", r"(a|a)*$", r"(a|aa)+$", r"(.*a){20}$", r"^(a?){25}a{25}$", r"(\w+\s?)+$", r"(a*)*b"]


def test_pathological_patterns_on_100k_characters_return():
    """Python's re backtracks exponentially on these (and holds the GIL, so nothing in-process can
    stop it). They run in a child process that is killed if it hangs: a hang fails the test."""
    import subprocess
    import sys
    code = ("import sys, explorer.analysis.units as A\n"
            f"pats = {PATHOLOGICAL!r}\n"
            "text = 'a' * 99_999 + '!'\n"
            "for p in pats:\n"
            "    try:\n"
            "        r = A.feature_tracks(text, p)['regex']\n"
            "        print(p, 'matched', int(r.sum()))\n"
            "    except A.InputError as e:\n"
            "        print(p, 'refused', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == len(PATHOLOGICAL)
    got = dict(line.split(" ", 1) for line in lines)
    assert got[r"(a+)+$"] == "matched 0"                 # no run of a's reaches the end ('!' does)
    assert got[r"(a*)*b"] == "matched 0"


def test_regex_track_marks_exactly_the_matches():
    import re
    text = "To be, or not to be: that is the question.\nWhether 'tis nobler in the mind to suffer"
    for pat in [r"\bbe\b", r"[A-Z]\w+", r"t.", r"(?i)THE", r"o", r"x*"]:
        want = torch.zeros(len(text))
        for m in re.finditer(pat, text):                  # harmless patterns: Python's re is the reference
            want[m.start():max(m.end(), m.start() + 1)] = 1
        assert A.regex_track(text, pat).tolist() == want[:len(text)].tolist(), pat
    assert A.regex_track("héllo wörld", "w.r").tolist() == [0] * 6 + [1, 1, 1, 0, 0]   # positions in characters


@pytest.mark.parametrize("pat,why", [(r"(a)\1", "backreferences"), (r"foo(?=bar)", "look-arounds"),
                                     (r"(?<!x)y", "look-arounds"), (r"(?P<q>a)(?P=q)", "backreferences"),
                                     (r"(", "is invalid"), ("a" * 2000, "keep it under")])
def test_unsupported_or_broken_patterns_get_one_sentence(pat, why):
    with pytest.raises(InputError, match=why) as e:
        A.feature_tracks("abc", pat)
    assert "\n" not in str(e.value)


def test_the_first_screens_finding_skips_gates_that_read_the_character_alone():
    """A minGRU's first-layer gates are functions of the current character (no h_{t-1} in them): the unit
    finder matches one of them to "whitespace" exactly, which says nothing learned about the past; the
    finding then names a hidden-state unit, while an LSTM's may name any gate or state."""
    from explorer.analysis.finding import finding
    from explorer.analysis.units import find_units
    text = ("KING:\nWhat say you, lords? Shall we to the field tonight,\nOr wait the morning and the better light?\n"
            "QUEEN:\nMy lord, 'the night is kind to those who wait,' they say;\n") * 2
    m = explorer.load_pretrained("shakespeare-mingru")
    tr = explorer.trace(m.core, m.embed(text))
    rows = find_units(tr, text, top=1)
    best = max(rows, key=lambda r: abs(r["r"]))
    assert best["name"] != "h" and abs(best["r"]) > 0.99             # a gate, matched exactly by the character
    f = finding(tr, text=text)
    assert f.kind == "unit" and f.name == "h" and "hidden state" in f.sentence
    lstm = explorer.load_pretrained("shakespeare-lstm")
    g = finding(explorer.trace(lstm.core, lstm.embed(text)), text=text)
    assert g.kind == "unit" and g.name in ("i", "f", "g", "o", "c", "h")
