"""Pickle protocols 4 and 5 (Flair saves with 4; torch.save(..., pickle_protocol=5)): read exactly, as protocol 2
is, with nothing imported or run; out-of-band buffers refused in one sentence; a payload is still refused."""
import io
import pickle
import pickletools
import re
import sys

import pytest
import torch
from projects import RNNModel, saved

from explorer import InputError, load_recurrent
from explorer.io.readers.foreign import read_foreign
from explorer.io.readers.protocols import downgrade, downgrade_pickle


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_a_state_dict_in_every_protocol_reads_exactly(protocol):
    torch.manual_seed(0)
    m = torch.nn.LSTM(3, 5, num_layers=2, bidirectional=True)
    buf = io.BytesIO()
    torch.save({"model": m.state_dict(), "epoch": 3, "args": {"lr": 0.1, "name": "exp"}}, buf, pickle_protocol=protocol)
    mods = load_recurrent(buf.getvalue())                    # the training dict unwrapped: one module at the top
    assert len(mods) == 1
    got = next(iter(mods.values()))
    for k, v in m.state_dict().items():
        assert torch.equal(got.state_dict()[k], v)


@pytest.mark.parametrize("protocol", [4, 5])
def test_a_whole_model_in_protocol_4_or_5_opens_and_imports_nothing(protocol):
    torch.manual_seed(0)
    m = RNNModel("GRU", 30, 6, 8, 2).eval()
    data = saved(m, protocol=protocol)
    assert data[:2] == b"PK"
    before = set(sys.modules)
    found = read_foreign(data)
    assert "model" not in sys.modules and not [n for n in set(sys.modules) - before if not n.startswith(("torch", "explorer"))]
    x = torch.randn(7, 2, 6)
    with torch.no_grad():
        torch.testing.assert_close(found.modules["rnn"].module(x)[0], m.rnn(x)[0], rtol=0, atol=0)
    assert found.modules["rnn"].recorded["batch_first"] is False


def test_the_rewrite_keeps_every_value_and_the_memo():
    obj = {"a": [1, 2.5, "x" * 300, ("t", None, True)], "b": {"shared": "s"}, "c": ["s", "s"], "n": 2**70}
    for protocol in (4, 5):
        raw = pickle.dumps(obj, protocol=protocol)
        new = downgrade_pickle(raw)
        assert new[:2] == b"\x80\x02" and not {op.name for op, _, _ in pickletools.genops(new)} & {
            "FRAME", "MEMOIZE", "SHORT_BINUNICODE", "STACK_GLOBAL"}
        assert pickle.loads(new) == obj
    od = pickle.dumps(__import__("collections").OrderedDict(x=1), protocol=4)      # STACK_GLOBAL -> GLOBAL
    assert b"ccollections\nOrderedDict\n" in downgrade_pickle(od)


def test_out_of_band_buffers_are_named_in_one_sentence():
    raw = pickle.dumps({"weight": pickle.PickleBuffer(bytearray(64)), "name": "rnn.weight_ih_l0"}, protocol=5,
                       buffer_callback=lambda b: False)
    with pytest.raises(InputError, match="out-of-band buffers") as e:
        load_recurrent(raw)
    assert "\n" not in str(e.value)


def test_a_payload_in_protocol_4_or_5_is_still_refused_and_never_runs(tmp_path):
    target = tmp_path / "ran.txt"

    class Payload:
        def __reduce__(self):
            import os
            return (os.system, (f"touch {target}",))

    class Import:
        def __reduce__(self):
            return (__import__, ("os",))

    class System:                             # getattr(__import__("os"), "system"), as a pickle can spell it
        def __call__(self, *a):
            pass

        def __reduce__(self):
            return (getattr, (Import(), "system"))

    class ThroughGetattr:                     # ... then called
        def __reduce__(self):
            return (System(), (f"touch {target}",))
    for protocol in (4, 5):
        for payload in (Payload(), ThroughGetattr()):
            m = RNNModel("LSTM", 10, 4, 4, 1)
            m.extra = payload
            with pytest.raises(InputError, match=r"refused: its pickle calls"):
                read_foreign(saved(m, protocol=protocol))
            with pytest.raises(InputError, match=r"refused|cannot be read"):
                read_foreign(pickle.dumps(payload, protocol=protocol))
    assert not target.exists()
    assert downgrade(b"not a pickle at all") == b"not a pickle at all"


def test_files_of_other_architectures_say_what_they_are():
    """Key names as Hugging Face's BERT, the mamba_ssm package and the xlstm package write them."""
    def sd(keys):
        buf = io.BytesIO()
        torch.save({k: torch.zeros(2, 2) for k in keys}, buf)
        return buf.getvalue()
    cases = {
        "a Transformer (BERT)": ["bert.embeddings.word_embeddings.weight", "bert.encoder.layer.0.attention.self.query.weight"],
        "a Mamba state-space model": ["backbone.layers.0.mixer.A_log", "backbone.layers.0.mixer.in_proj.weight"],
    }
    for what, keys in cases.items():
        with pytest.raises(InputError, match=re.escape(f"this file holds {what}") + ".*no LSTM, GRU or RNN layer") as e:
            load_recurrent(sd(keys))
        assert "\n" not in str(e.value) and "right file" not in str(e.value)
    # an xLSTM of mLSTM blocks only: what an mLSTM is, and that sLSTM blocks open
    with pytest.raises(InputError, match=r"this xLSTM holds only mLSTM blocks: an mLSTM keeps a matrix memory") as e:
        load_recurrent(sd(["xlstm_block_stack.blocks.0.xlstm.mlstm_layer.qkv_proj.weight"]))
    assert "\n" not in str(e.value)
    # an sLSTM kernel in a layout other than the vanilla backend's: what it holds, and how to save it instead
    with pytest.raises(InputError, match=r"keeps its recurrent kernel as \(2, 2\), not the vanilla backend's") as e:
        load_recurrent(sd(["xlstm_block_stack.blocks.0.xlstm.slstm_cell._recurrent_kernel_"]))
    assert "\n" not in str(e.value)
