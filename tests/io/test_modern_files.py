"""Files of the 2024 cells open as our MinGRU / MinLSTM / SLSTM with their weights, exactly: ours (state_dicts,
whole pickles, wrapped), minGRU-pytorch's and xlstm's sLSTM layers (built inside the tests when the packages
are installed; test requirements only), an xLSTM stack's key names; mLSTM-only files get one sentence."""
import io

import pytest
import torch

import explorer
from explorer import SLSTM, InputError, MinGRU, MinLSTM
from explorer.io.readers.foreign import read_foreign


def saved(obj) -> bytes:
    b = io.BytesIO()
    torch.save(obj, b)
    return b.getvalue()


@pytest.mark.parametrize("cls", [MinGRU, MinLSTM, SLSTM])
@pytest.mark.parametrize("layers", [1, 2])
def test_our_modules_files_open_exactly(cls, layers):
    m = cls(5, 8, num_layers=layers, batch_first=True).double()
    x = torch.randn(2, 9, 5, dtype=torch.float64)
    for src, prefix in ((saved(m.state_dict()), ""), (saved({"model": m}), ""),
                        (saved({"state_dict": {f"encoder.rnn.{k}": v for k, v in m.state_dict().items()}}), "encoder.rnn")):
        mods = explorer.load_recurrent(src, overrides={prefix: {"batch_first": True}})
        got = mods[prefix]
        assert type(got) is cls and got.num_layers == layers
        assert torch.allclose(got(x)[0], m(x)[0], atol=1e-12, rtol=0)
    fm = read_foreign(saved(m)).modules[""]               # a whole pickle records batch_first
    assert fm.recorded == {"batch_first": True} and "batch_first" not in fm.assumed


def test_one_layer_minimal_cells_say_what_was_assumed():
    m = MinLSTM(5, 8)                                     # 24 rows: minGRU with H=12 or minLSTM with H=8
    fm = read_foreign(saved(m.state_dict())).modules[""]
    assert fm.kind == "minlstm" and fm.assumed["kind"] == "minlstm"
    g = explorer.load_recurrent(saved(m.state_dict()), overrides={"": {"kind": "mingru"}})[""]
    assert type(g) is MinGRU and g.hidden_size == 12


def test_minGRU_pytorch_files():
    mingru = pytest.importorskip("minGRU_pytorch.minGRU", reason="minGRU-pytorch is a test requirement")
    minlstm = pytest.importorskip("minGRU_pytorch.minLSTM", reason="minGRU-pytorch is a test requirement")
    for R, kind in ((mingru.minGRU, "mingru"), (minlstm.minLSTM, "minlstm")):
        r = R(8, expansion_factor=1.5).double()
        x = torch.randn(2, 12, 8, dtype=torch.float64)
        for src in (saved(r.state_dict()), saved(r), saved({"layers.0.cell." + k: v for k, v in r.state_dict().items()})):
            found = read_foreign(src)
            (fm,) = found.modules.values()
            assert fm.kind == kind and fm.module.batch_first
            assert torch.allclose(r.to_out(fm.module(x)[0]), r(x), atol=1e-10, rtol=0)


@pytest.mark.parametrize("conv", [0, 4])
def test_xlstm_slstm_layers_open(conv):
    layer = pytest.importorskip("xlstm.blocks.slstm.layer", reason="xlstm is a test requirement")
    lay = layer.sLSTMLayer(layer.sLSTMLayerConfig(embedding_dim=8, num_heads=2, backend="vanilla",
                                                   conv1d_kernel_size=conv)).double()
    torch.nn.init.normal_(lay.slstm_cell._recurrent_kernel_, std=0.5)
    x = torch.randn(2, 15, 8, dtype=torch.float64)
    h = explorer.trace(lay, x).h[0, 0].transpose(0, 1)   # the layer's own cell states, (B, T, H)
    stack = {f"xlstm_block_stack.blocks.0.xlstm.{k}": v for k, v in lay.state_dict().items()}
    for src in (saved(lay.state_dict()), saved(lay), saved(stack)):
        found = read_foreign(src)
        (fm,) = found.modules.values()
        if conv == 0:                                     # the head-wise projections are its weight_ih: exact
            assert fm.module.input_size == 8
            assert torch.allclose(fm.module(x)[0], h, atol=1e-10, rtol=0)
        else:                                             # i, f read a convolution: the module reads Wx
            xc = lay.conv_act_fn(lay.conv1d(x))
            wx = torch.cat([lay.fgate(xc), lay.igate(xc), lay.zgate(x), lay.ogate(x)], -1)
            assert fm.module.input_size == 32 and "convolution" in " ".join(found.notes)
            assert torch.allclose(fm.module(wx)[0], h, atol=1e-10, rtol=0)


def test_mlstm_only_files_get_one_sentence():
    sd = {"xlstm_block_stack.blocks.0.xlstm.mlstm_cell.igate.weight": torch.zeros(4, 24),
          "xlstm_block_stack.blocks.0.xlstm.proj_up.weight": torch.zeros(16, 8)}
    with pytest.raises(InputError, match="only mLSTM blocks") as e:
        explorer.load_recurrent(saved(sd))
    assert "\n" not in str(e.value)
    both = dict(sd, **{"xlstm_block_stack.blocks.1.xlstm.slstm_cell._recurrent_kernel_": torch.zeros(2, 16, 4),
                       "xlstm_block_stack.blocks.1.xlstm.slstm_cell._bias_": torch.zeros(32)})
    found = read_foreign(saved(both))
    assert list(found.modules) == ["xlstm_block_stack.blocks.1.xlstm"]
    assert any("mLSTM blocks" in n for n in found.notes)
