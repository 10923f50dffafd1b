"""The pickle allowlist stays an allowlist: what it admits beyond torch's own rebuild functions (getattr for a bound
method, paths, Namespaces, pandas/pyarrow objects, numpy random states, defaultdict) rebuilds inert data and can run
nothing, and getattr cannot be turned into a way to reach code."""
import collections
import io
import os
import pickle
import posixpath

import pandas
import pytest
import torch
from torch import nn

from explorer import InputError
from explorer.io.readers import opcodes, pickles
from explorer.io.readers.foreign import read_foreign


class Call:
    """Pickles as fn(*args): the way a pickle calls anything."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args

    def __call__(self, *a):             # so that a Call can stand where a pickle calls what another call returned
        pass


class Obj:                      # an object the pickle builds (NEWOBJ), like a model's wrapper
    def run(self, *a):
        pass


def with_weights(extra) -> bytes:
    buf = io.BytesIO()
    torch.save({**{"rnn." + k: v for k, v in nn.GRU(2, 3).state_dict().items()}, "x": extra}, buf)
    return buf.getvalue()


def evil_pickle(path, target) -> None:
    with open(path, "wb") as f:
        pickle.dump(Call(os.system, f"touch {target}"), f)


def test_every_admitted_callable_rebuilds_inert_data_and_runs_nothing(tmp_path):
    target, evil = tmp_path / "ran", tmp_path / "evil.pkl"
    evil_pickle(evil, target)
    # Functions that would run code or read files if they were the real ones: each is admitted as a stand-in.
    calls = [Call(pandas.read_pickle, str(evil)), Call(pandas.read_csv, str(evil)), Call(pandas.eval, "1+1"),
             Call(__import__("pathlib").PosixPath, str(evil)),
             Call(__import__("argparse").Namespace), Call(collections.defaultdict, dict)]
    import numpy.random._pickle as nrp
    calls.append(Call(nrp.__randomstate_ctor, "MT19937"))
    for c in calls:
        found = read_foreign(with_weights(c))
        x = found.root["x"]
        assert isinstance(x, (pickles.StandIn, dict)) and not isinstance(x, pandas.DataFrame), c.fn
    assert not target.exists()
    for name in opcodes.INERT_CALLS:                       # each name admitted maps to a stand-in of ours
        assert opcodes.admitted(name)
    for name, fn in pickles.INERT_CALLS.items():
        assert fn.__module__ == pickles.__name__, name


def test_getattr_rebuilds_a_bound_method_inertly():
    o = Obj()
    o.hook = o.run                                          # pickled as getattr(o, "run")
    found = read_foreign(with_weights(o))
    hook = found.root["x"].__dict__["hook"]
    assert isinstance(hook, pickles.BoundMethod) and hook._args[1] == "run"


@pytest.mark.parametrize("payload, named", [
    (Call(getattr, posixpath.join, "__globals__"), "getattr"),              # a dunder: the way to a module's globals
    (Call(getattr, collections.OrderedDict, "fromkeys"), "getattr(collections.OrderedDict"),   # a global's attribute
    (Call(Call(getattr, Obj(), "run"), "echo hi"), "a method that getattr fetched"),   # calling what getattr returned
    (Call(Call(getattr, Call(__import__, "os"), "system"), "echo hi"), "builtins.__import__"),  # os.system via getattr
])
def test_getattr_cannot_reach_code(payload, named, tmp_path):
    for data in (with_weights(payload), pickle.dumps(payload, protocol=2), pickle.dumps(payload, protocol=4)):
        with pytest.raises(InputError) as e:
            read_foreign(data)
        msg = str(e.value)
        assert "refused" in msg and named in msg and "\n" not in msg, msg
