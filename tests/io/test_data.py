"""Vocab, text and CSV reading, synthetic tasks: every bad input has its one-sentence error."""
import math

import pytest
import torch

from explorer import InputError, Vocab
from explorer.io.inputs import data as D


def test_vocab_roundtrip_unknown_and_json():
    v = Vocab.from_text("hello world")
    ids = v.encode("hello")
    assert v.decode(ids) == "hello"
    assert v.unknown("héllo!") == ["é", "!"]
    assert v.encode("é")[0].item() == 0 and v.decode([0]) == D.UNK
    assert Vocab.from_json(v.to_json()) == v
    with pytest.raises(InputError, match="vocabulary"):
        Vocab.from_json("{not json")


@pytest.mark.parametrize("text", ["", "abc", "héllo wörld", "emoji 😀 and € and \U0010FFFF", "lone \ud800 surrogate",
                                  "ab" * 5000 + "😀" + "\n"])
def test_encode_equals_a_lookup_per_character(text):
    # encode goes through code points and a table (fast on a book); it must equal the plain per-character lookup,
    # astral characters and lone surrogates included, in the vocabulary or not
    v = D.Vocab("abhélo \n😀")
    want = torch.tensor([v.stoi.get(c, 0) for c in text], dtype=torch.long)
    got = v.encode(text)
    assert got.dtype == torch.long and torch.equal(got, want)
    assert v.decode(got) == "".join(c if c in v.stoi else D.UNK for c in text)
    odd = D.Vocab.from_json('{"itos": ["ab", "c"]}')       # a stored vocabulary with a token that is not one character
    assert torch.equal(odd.encode(text), torch.tensor([odd.stoi.get(c, 0) for c in text], dtype=torch.long))


def test_read_text_variants():
    assert D.read_text("a\r\nb\rc".encode()) == "a\nb\nc"
    assert D.read_text(b"\xef\xbb\xbfhello") == "hello"                       # BOM stripped
    assert D.read_text("héllo".encode("utf-8")) == "héllo"


@pytest.mark.parametrize("data,match", [
    (b"\x00\x01\x02binary", "binary .*NUL"),
    (bytes(range(1, 32)) * 3, "binary .*non-printable"),
    (b"caf\xe9", "not valid UTF-8"),
    (b"", "empty"),
    (b"  \n\t ", "empty"),
    (b"x" * 101, "limit is 100"),
], ids=["nul", "nonprintable", "latin1", "empty", "whitespace", "too-long"])
def test_read_text_errors(data, match):
    with pytest.raises(InputError, match=match):
        D.read_text(data, max_chars=100)


def test_read_series():
    v, names, col = D.read_series(b"t,temp\n1,2.5\n2,3.5\n3,4\n", "temp")
    assert names == ["t", "temp"] and col == "temp" and v.tolist() == [2.5, 3.5, 4.0]
    v, names, _ = D.read_series(b"1;\n2\n3\n".replace(b";", b""))
    assert v.tolist() == [1.0, 2.0, 3.0] and names == ["column 0"]
    v, _, _ = D.read_series(b"1,10\n2,20\n", 1)
    assert v.tolist() == [10.0, 20.0]


@pytest.mark.parametrize("data,col,match", [
    (b"a,b\n1,2\n3,x\n", None, "row 3, column 'b'|row 3, column 'a'"),
    (b"a\n1\nfoo\n", None, r"row 3, column 'a' is 'foo'"),
    (b"a\n1\nnan\n", None, "row 3, column 'a' is nan; NaN"),
    (b"a\n1\ninf\n", None, "infinite"),
    (b"a\n1\n", None, "at least 2"),
    (b"a,b\n1,2\n3,4\n", "c", "no column 'c'"),
    (b"1,2\n3,4\n", 5, "out of range"),
    (b"", None, "empty"),
])
def test_read_series_errors(data, col, match):
    if data == b"a,b\n1,2\n3,x\n":
        col = "b"
    with pytest.raises(InputError, match=match):
        D.read_series(data, col)


def test_adding_problem_and_baseline():
    t = D.adding_problem(20000, 50, torch.Generator().manual_seed(0))
    assert t.x.shape == (20000, 50, 2)
    marks = t.x[..., 1]
    assert (marks.sum(1) == 2).all() and (marks[:, :25].sum(1) == 1).all()
    torch.testing.assert_close(t.y, (t.x[..., 0] * marks).sum(1))
    assert abs(float(((t.y - 1) ** 2).mean()) - t.baseline) < 0.005 and abs(t.baseline - 1 / 6) < 1e-12


def test_copy_task_and_baseline():
    t = D.copy_task(4, 30, generator=torch.Generator().manual_seed(0))
    assert t.x.shape == (4, 50, 10) and t.y.shape == (4, 50)
    assert torch.equal(t.y[:, -10:], t.x[:, :10].argmax(-1))
    assert (t.x[:, 39].argmax(-1) == 9).all()                  # delimiter at step length + T - 1
    assert abs(t.baseline - 10 * math.log(8) / 50) < 1e-12


def test_sine_task():
    t = D.sine_task(3, 40, n_waves=2, generator=torch.Generator().manual_seed(0))
    assert t.x.shape == (3, 40, 1) and t.y.shape == (3, 40)
    torch.testing.assert_close(t.x[:, 1:, 0], t.y[:, :-1])
