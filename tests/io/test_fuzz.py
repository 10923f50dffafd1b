"""A seeded fuzz test: a few hundred mutants of real checkpoint files, and bad texts, CSVs, vocabularies
and regular expressions. Every outcome is a load or an InputError of one line: never another exception,
a hang, or an allocation over the memory budget (checked as the growth of the process's peak RSS)."""
import io
import json
import random
import resource
import struct
import time

import libraries
import pytest
import torch
import torch.nn as nn
from projects import Forecaster, RNNModel, Sentiment, saved

import explorer
from explorer import InputError
from explorer.analysis.units import regex_track
from explorer.io.inputs.data import read_text
from explorer.io.inputs.series import read_table
from explorer.io.inputs.vocabularies import read_vocabulary

N_FILES, N_TEXTS = 520, 160


def _sources() -> dict[str, bytes]:
    torch.manual_seed(0)
    sd = io.BytesIO()
    torch.save({"rnn." + k: v for k, v in nn.LSTM(4, 6, num_layers=2, bidirectional=True).state_dict().items()}, sd)
    legacy = io.BytesIO()
    torch.save({"rnn." + k: v for k, v in nn.GRU(3, 5).state_dict().items()}, legacy, _use_new_zipfile_serialization=False)
    ckpt = io.BytesIO()
    torch.save({"state_dict": {"model." + k: v for k, v in Forecaster(hidden=4, layers=1).state_dict().items()},
                "hyper_parameters": {"lr": 0.01}}, ckpt)
    from safetensors.torch import save
    ours = explorer.save_model(explorer.load_pretrained("adding-gru"))
    return {"state_dict": sd.getvalue(), "legacy": legacy.getvalue(), "lightning": ckpt.getvalue(),
            "whole": saved(RNNModel("GRU", 20, 4, 6, 1)), "sentiment": saved(Sentiment(12, 4, 3)),
            "safetensors": save({"rnn." + k: v.contiguous() for k, v in nn.RNN(3, 4).state_dict().items()},
                                metadata={"note": "x"}), "ours": ours,
            # the libraries' layouts (tests/libraries.py): protocol 4, getattr, pandas, pyarrow, numpy random states
            "flair": libraries.flair_language_model()[0], "gru4rec": libraries.gru4rec_official()[0],
            "gru4rec_trainer": libraries.gru4rec_pytorch_checkpoint()[0],
            "forecasting": libraries.forecasting_checkpoint()[0], "darts": libraries.darts_model_pt(),
            "fastai_export": libraries.fastai_export()[0],
            # the defects of the last measurement, kept as seeds
            "weight_hr_1d": _sd({**_lstm_proj(), "rnn.weight_hr_l0": torch.zeros(5)}),
            "proj_equal": _sd({**_lstm_proj(), "rnn.weight_hr_l0": torch.zeros(6, 6)})}


def _lstm_proj() -> dict:
    return {"rnn." + k: v for k, v in nn.LSTM(3, 6, proj_size=2).state_dict().items()}


def _sd(d) -> bytes:
    buf = io.BytesIO()
    torch.save(d, buf)
    return buf.getvalue()


def _zip_mutant(data: bytes, rng: random.Random) -> bytes:
    """Structural mutants of a zip: another compression method, the encryption bit, a non-UTF-8 name."""
    b = bytearray(data)
    sigs = [i for i in range(len(b) - 4) if b[i:i + 4] in (b"PK\x03\x04", b"PK\x01\x02")]
    if not sigs:
        return bytes(b)
    i = rng.choice(sigs)
    local = b[i:i + 4] == b"PK\x03\x04"
    flags, method, name = (i + 6, i + 8, i + 30) if local else (i + 8, i + 10, i + 46)
    how = rng.randrange(3)
    if how == 0:
        b[method:method + 2] = struct.pack("<H", rng.choice([1, 6, 8, 9, 12, 14, 99]))
    elif how == 1:
        b[flags] |= 1
    elif name < len(b):
        b[name] = 0xFF
    return bytes(b)


def _mutant(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    how = rng.randrange(6)
    if how == 0:                                   # flip bytes
        for _ in range(rng.randint(1, 20)):
            b[rng.randrange(len(b))] = rng.randrange(256)
    elif how == 1:                                 # truncate
        b = b[:rng.randrange(len(b))]
    elif how == 2:                                 # a block of another file's bytes or zeros
        at = rng.randrange(len(b))
        b[at:at + rng.randint(1, 64)] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    elif how == 3 and data[:2] == b"PK":
        return _zip_mutant(data, rng)
    elif how == 4 and data[8:9] == b"{":           # a safetensors header with other JSON
        n = int.from_bytes(data[:8], "little")
        header = rng.choice([b"[1, 2]", b"[" * 5000 + b"]" * 5000, b'{"a": {"dtype": "F8_E8M0", "shape": [2]}}',
                             b'{"a": {"dtype": "F32", "shape": [-1]}}', b'{"__metadata__": {"k": 3}}',
                             b'{"a": {"dtype": "F32", "shape": [1e10, 1e10]}}'])
        return struct.pack("<Q", len(header)) + header + bytes(data[8 + n:])
    else:                                          # duplicate a slice
        at = rng.randrange(len(b))
        b[at:at] = b[at:at + rng.randint(1, 200)]
    return bytes(b)


def _one_line(e: Exception, what: str):
    msg = str(e)
    assert "\n" not in msg and len(msg) <= 500, (what, msg[:300])


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_mutants_of_real_files_load_or_say_one_sentence(monkeypatch):
    monkeypatch.setenv("GATE_EXPLORER_MAX_BYTES", str(300_000_000))
    rng = random.Random(27)
    sources = _sources()
    names = list(sources)
    peak, t0, slowest, outcomes = _peak_mb(), time.perf_counter(), 0.0, {"loaded": 0, "refused": 0}
    for k in range(N_FILES):
        name = names[k % len(names)]
        data = _mutant(sources[name], rng)
        t = time.perf_counter()
        try:
            explorer.open_model(data)
            outcomes["loaded"] += 1
        except InputError as e:
            _one_line(e, name)
            outcomes["refused"] += 1
        except Exception as e:      # noqa: BLE001  (every other exception is the defect this test looks for)
            pytest.fail(f"mutant {k} of {name} raised {type(e).__name__}: {str(e)[:200]}")
        slowest = max(slowest, time.perf_counter() - t)
    assert slowest < 10, slowest
    assert _peak_mb() - peak < 800, (peak, _peak_mb())
    assert outcomes["refused"] > N_FILES // 4 and time.perf_counter() - t0 < 90, outcomes


def test_bad_texts_csvs_vocabularies_and_regexes():
    rng = random.Random(29)
    alphabet = "ab\\pLN{}()[]*+?|^$.,-:=!<>\\d\\w\\s" + "\ud800é字\x00\n\r\t\x1b"
    text = ("To be, or not to be: that is the question 1601.\n" * 300)[:10_000]
    for k in range(N_TEXTS):
        blob = bytes(rng.randrange(256) for _ in range(rng.randint(0, 300)))
        csv = rng.choice([b"a,b\n1,2\n3,4\n", b"t;v\n1;1e300\n2;3\n", b'"d","x"\n"1949-01",1\n"1949-02",\n',
                          b"x\n" + b"9" * 200_000 + b"\n1\n", b"1,2,3\n4,5\n", b"", b"\xff\xfe"]) + blob[:rng.randint(0, 20)]
        vocab = rng.choice([json.dumps({"a": 0, "b": 2}).encode(), b"[1, 2]", b"a\nb\n", blob, b"{" * 3000,
                            b"[" * 100_000 + b"]" * 100_000])
        regex = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        for what, call in (("text", lambda: read_text(blob)), ("csv", lambda: read_table(csv).features()),
                           ("vocabulary", lambda: read_vocabulary(vocab, 12)),
                           ("regex", lambda: regex_track(text, regex))):
            try:
                call()
            except InputError as e:
                _one_line(e, what)
            except Exception as e:  # noqa: BLE001
                pytest.fail(f"{what} case {k} raised {type(e).__name__}: {str(e)[:200]} ({ascii(regex)[:80]})")


def test_long_repetitions_over_non_ascii_text_are_refused_at_once():
    """RE2's DFA over non-ASCII text slows a hundredfold once a pattern's program outgrows its cache."""
    rng = random.Random(3)
    text = "".join(rng.choice("é字yabx \n") for _ in range(100_000))
    for regex in ("[^x]{1000}y", "(?s).{1000}x", "(?s).{700}x"):
        with pytest.raises(InputError, match="instructions") as e:
            regex_track(text, regex)
        _one_line(e.value, regex)
    assert regex_track(text, "(?s).{50}x").sum() > 0             # shorter repetitions still run


@pytest.mark.parametrize("name", ["evil\nname.txt", "\x1b[31mred\x1b[0m.csv", "n" * 320 + ".txt"])
def test_file_names_are_never_copied_raw_into_messages(name):
    for call in (lambda: read_text(b"\x00\x01binary", name=name), lambda: read_table(b"", name=name),
                 lambda: read_text(b"   ", name=name)):
        with pytest.raises(InputError) as e:
            call()
        msg = str(e.value)
        _one_line(e.value, name)
        assert "\x1b" not in msg and len(msg) < 250, msg
