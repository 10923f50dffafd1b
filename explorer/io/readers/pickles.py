"""Reading whole pickled models (`torch.save(model)`) without importing or running anything.

A pickle names the classes and functions it needs ("model.RNNModel", "torch.nn.modules.rnn.LSTM")
and the loader calls them. Here nothing is imported and nothing of the file runs:

1. the pickle's globals are listed by scanning its opcodes (torch.serialization's own scanner,
   no execution); any that reach for code or the system (os.system, builtins.eval, subprocess …)
   refuse the whole file, naming them;
2. every other global the default weights_only loader does not know gets an inert stand-in of our
   own, registered under the file's name for it (torch.serialization.safe_globals): a stand-in
   only records what the pickle gives it (constructor arguments, state);
3. torch.load(weights_only=True) then rebuilds tensors as usual and stand-ins for the rest, and
   `flatten()` walks that graph like nn.Module.state_dict() does, keeping what a state_dict
   forgets: each module's class name and plain attributes (an RNN's nonlinearity, batch_first).

The same reader takes TorchScript archives: their data.pkl pickles the module tree the same way
(classes named "__torch__.…"), and their code is never compiled or run.
"""
from __future__ import annotations

import ast
import io
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any, Optional

import torch
from torch import Tensor

from explorer.errors import InputError

from ..files import short
from . import opcodes

# Globals that run code or touch the system. A pickle naming any of them is refused outright:
# its stand-in would be inert, but a file built to call them is not a model to explore.
DANGEROUS_MODULES = {"os", "posix", "nt", "subprocess", "sys", "shutil", "socket", "importlib", "runpy",
                     "pickle", "_pickle", "marshal", "ctypes", "code", "codeop", "pty", "multiprocessing",
                     "webbrowser", "signal", "commands", "popen2", "asyncio", "ssl", "urllib", "http", "ftplib",
                     "smtplib", "telnetlib", "dill", "cloudpickle", "joblib", "_io", "io", "tempfile"}
DANGEROUS_BUILTINS = {"eval", "exec", "compile", "open", "__import__", "setattr", "delattr", "globals",
                      "locals", "vars", "input", "breakpoint", "execfile", "file", "reload", "apply", "__builtins__"}
DANGEROUS_NAMES = {"operator.attrgetter", "operator.methodcaller", "functools.partial", "functools.reduce",
                   "torch.load", "torch.hub.load", "torch.jit.load", "torch.ops.load_library",
                   "torch.classes.load_library", "numpy.load", "numpy.testing._private.utils.runstring",
                   "types.FunctionType", "types.CodeType", "inspect.getattr_static"}


def dangerous(name: str) -> bool:
    """Whether a pickle global ("module.qualname") is one that runs code or touches the system."""
    module, _, attr = name.rpartition(".")
    root = module.split(".")[0]
    if module in ("builtins", "__builtin__"):
        return attr in DANGEROUS_BUILTINS
    return root in DANGEROUS_MODULES or name in DANGEROUS_NAMES


class StandIn:
    """An inert object in place of a class or function a pickle names: it records the arguments
    it is called with and the state it is given, and does nothing else."""
    pickled_as = "?"

    def __new__(cls, *args, **kwargs):
        obj = object.__new__(cls)
        obj.__dict__["_args"] = args
        return obj

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) == 2 and (state[0] is None or isinstance(state[0], dict)):
            state = {**(state[0] or {}), **(state[1] or {})}                     # (dict, slots) form
        if isinstance(state, dict):
            self.__dict__.update({str(k): v for k, v in state.items()})
        else:
            self.__dict__["_state"] = state

    def __repr__(self):
        return f"<stand-in for {self.pickled_as}>"


class BoundMethod(StandIn):
    """What a pickle rebuilds with getattr(obj, "name"), a bound method such as fastai's
    `module.flatten_parameters = self._do_nothing`: the object and the name are recorded (in _args, so a walk
    does not go round to the object again); nothing is looked up, and the result cannot be called (opcodes.py
    refuses a pickle that calls what getattr returned)."""
    pickled_as = "builtins.getattr"


def plain_dict(*args):
    """collections.defaultdict(factory) as a plain dict (an optimizer's state): the factory is never called."""
    return {}


# The callables a pickle may call that are not torch's: each rebuilds data and runs nothing.
INERT_CALLS = {"builtins.getattr": BoundMethod, "__builtin__.getattr": BoundMethod,
               "collections.defaultdict": plain_dict}


def stand_in(name: str) -> type:
    return type(name.rpartition(".")[2] or "StandIn", (StandIn,), {"pickled_as": name, "__module__": __name__})


@dataclass
class PickledModule:
    """One module of a pickled model as the pickle recorded it."""
    cls: str                                       # e.g. "torch.nn.modules.rnn.LSTM", "model.RNNModel"
    attrs: dict[str, Any] = field(default_factory=dict)   # plain attributes: numbers, strings, bools


@dataclass
class Unpickled:
    """What flatten() found: the tensors by state_dict-style name, the modules by prefix, the
    classes the file pickles (none of which was imported or run)."""
    tensors: dict[str, Tensor]
    modules: dict[str, PickledModule]
    classes: list[str]
    torchscript: bool = False
    values: dict[str, Any] = field(default_factory=dict)           # plain settings by path ("hyper_parameters.lr")
    objects: dict[str, PickledModule] = field(default_factory=dict)  # other objects (a fitted scaler), inert
    root: Any = None              # what the pickle rebuilt (tensors, plain data, stand-ins): for a library's reader


MAX_VALUES = 5000                 # plain settings kept from one file (a config is a few dozen)
MAX_ARRAY_BYTES = 64 << 20        # a pickled numpy array larger than this is not a scaler's numbers
_ARRAY_CODES = {"f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "b1"}


def plain_dtype(dt):
    """A pickled numpy dtype (its stand-in: code and byte order) as a numpy dtype, if it is a plain number's."""
    if not (isinstance(dt, StandIn) and dt.pickled_as.endswith(".dtype") and dt.__dict__.get("_args")):
        return None
    code = str(dt._args[0])
    dst = dt.__dict__.get("_state")
    endian = dst[1] if isinstance(dst, tuple) and len(dst) > 1 and dst[1] in ("<", ">", "|", "=") else "<"
    if code not in _ARRAY_CODES:
        return None
    import numpy as np
    return np.dtype(("|" if code in ("i1", "u1", "b1") else endian) + code)


def plain_array(o) -> Optional[Tensor]:
    """A pickled numpy array (numpy's _reconstruct + ndarray state) as a float64 tensor, decoded from its
    recorded shape, dtype code and raw bytes without numpy's code; None if it is not a plain numeric one."""
    if not (isinstance(o, StandIn) and o.pickled_as.endswith("multiarray._reconstruct")):
        return None
    st = o.__dict__.get("_state")
    if not (isinstance(st, tuple) and len(st) == 5 and isinstance(st[1], tuple) and isinstance(st[4], bytes)):
        return None
    _, shape, dt, fortran, raw = st
    dtype = plain_dtype(dt)
    if dtype is None or not all(isinstance(n, int) and n >= 0 for n in shape) or len(raw) > MAX_ARRAY_BYTES:
        return None
    import numpy as np
    if len(raw) != int(np.prod(shape, dtype=np.int64)) * dtype.itemsize:
        return None
    a = np.frombuffer(raw, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    return torch.from_numpy(a.astype(np.float64))


PASSTHROUGH = opcodes.PASSTHROUGH
# Globals that are data, not a library's classes: left out when a note names what a file pickles.
PLAIN_DATA = ("torch.", "__torch__.torch.", "builtins.", "__builtin__.", "collections.", "numpy.", "pandas.",
              "pyarrow.", "argparse.", "pathlib.", "_codecs.", "copyreg.")


def torch_reason(e: Exception) -> str:
    """The one line of torch.load's weights-only message that says what failed (its paragraph names PyTorch 2.6's
    default and asks for an issue; the reason follows "WeightsUnpickler error:"), cleaned for a message."""
    text = str(e)
    hit = re.search(r"WeightsUnpickler error:\s*(\S[^\n]*)", text)
    if hit:
        return short(re.sub(r"<class '[\w.]*\.pickles\.(\w+)'>", r"\1", hit[1]), 140)   # our stand-in: its name
    lines = [s.strip() for s in text.splitlines() if s.strip()]
    return short(lines[0] if lines else type(e).__name__, 140)


def _first(value, *rest):
    return value


def load_unsafe_free(data: bytes) -> Unpickled:
    """torch.load(weights_only=True) of a zip checkpoint (or a TorchScript archive's data.pkl) whose
    unknown globals become stand-ins. Raises InputError, naming them, if any global runs code or
    touches the system."""
    from torch import _weights_only_unpickler as weights_only
    _get_allowed_globals = weights_only._get_allowed_globals
    names, script = opcodes.globals_in(data)
    bad = [n for n in names if dangerous(n)]
    if bad:
        raise InputError(f"this file is refused: its pickle calls {', '.join(bad[:4])}{' …' if len(bad) > 4 else ''}, "
                         "code that runs on loading (a model file never needs that); nothing of it was run.")
    allowed = _get_allowed_globals()
    unknown = [n for n in names if n not in allowed and n not in PASSTHROUGH]
    pairs = [(INERT_CALLS.get(n) or stand_in(n), n) for n in unknown] + [(_first, n) for n in names if n in PASSTHROUGH]
    try:
        with torch.serialization.safe_globals(pairs):
            if script:        # torch.load hands TorchScript to torch.jit.load; read its data.pkl ourselves
                reader = torch._C.PyTorchFileReader(io.BytesIO(data))
                obj = torch.serialization._load(reader, "cpu", weights_only)
            else:
                obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as e:      # torch's messages are paragraphs: the reason is one line of them
        reason = torch_reason(e)
        classes = [n for n in unknown if not n.startswith(PLAIN_DATA)]
        advice = (f"save the model's state_dict from the code that defines {short(classes[0])} instead"
                  if classes else "upload the file as your training script saved it")
        raise InputError(f"this checkpoint's pickle holds something the weights-only reader does not rebuild "
                         f"({reason}); nothing of it was run; {advice}.") from None
    out = flatten(obj)
    out.classes = sorted(n for n in unknown if not n.startswith(PLAIN_DATA))
    out.torchscript = script
    if script:
        _scripted_constants(data, out)
    return out


_FINAL = re.compile(r"^  (\w+) : Final\[\w+\] = (.+)$")


def _scripted_constants(data: bytes, out: Unpickled):
    """A scripted module's constants (batch_first, mode, hidden_size …) are not in its data.pkl but
    in the class header of its code file, as `  batch_first : Final[bool] = True`. Read those lines
    as text (ast.literal_eval of a literal; the code is never compiled or run)."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        files = {n.split("/code/", 1)[1]: n for n in z.namelist() if "/code/" in n and n.endswith(".py")}
        for m in out.modules.values():
            if not m.cls.startswith("__torch__."):
                continue
            path, _, cls = m.cls.rpartition(".")
            src = files.get(path.replace(".", "/") + ".py")
            if src is None:
                continue
            inside = False
            for line in z.read(src).decode("utf-8", "replace").splitlines():
                if line.startswith("class "):
                    inside = line.startswith(f"class {cls}(")
                elif inside and (hit := _FINAL.match(line)):
                    try:
                        m.attrs.setdefault(hit[1], ast.literal_eval(hit[2].strip()))
                    except (ValueError, SyntaxError):
                        pass


def flatten(obj) -> Unpickled:
    """Walk an unpickled object graph: dicts, lists, tuples and stand-ins of nn.Modules (their
    _parameters, _buffers and _modules, as nn.Module.state_dict() names them)."""
    tensors: dict[str, Tensor] = {}
    modules: dict[str, PickledModule] = {}
    values: dict[str, Any] = {}
    objects: dict[str, PickledModule] = {}
    seen: set[int] = set()

    def walk(o, prefix: str, depth: int):
        if depth > 64 or id(o) in seen:
            return
        if isinstance(o, Tensor):
            tensors.setdefault(prefix.rstrip("."), o)
            return
        if isinstance(o, (bool, int, float, str)) or o is None:
            if prefix and len(values) < MAX_VALUES and (not isinstance(o, str) or len(o) <= 1000):
                values[prefix.rstrip(".")] = o
            return
        seen.add(id(o))
        if isinstance(o, StandIn) and not isinstance(o.__dict__.get("_parameters"), dict) \
                and not isinstance(o.__dict__.get("_modules"), dict) and not _is_scripted(o):
            d = o.__dict__
            attrs = {k: v for k, v in d.items() if not k.startswith("_") and isinstance(v, (int, float, str, bool))}
            attrs.update({k: a for k, v in d.items() if not k.startswith("_") and (a := plain_array(v)) is not None})
            if attrs and len(objects) < MAX_VALUES:
                objects[prefix.rstrip(".")] = PickledModule(o.pickled_as, attrs)
        if isinstance(o, StandIn):
            d = o.__dict__
            if isinstance(d.get("_parameters"), dict) or isinstance(d.get("_modules"), dict):
                attrs = {k: v for k, v in d.items() if not k.startswith("_") and isinstance(v, (int, float, str, bool))}
                modules[prefix.rstrip(".")] = PickledModule(o.pickled_as, attrs)
                for store in ("_parameters", "_buffers"):
                    for k, v in (d.get(store) or {}).items():
                        if isinstance(v, Tensor):
                            tensors[prefix + str(k)] = v
                for k, v in (d.get("_modules") or {}).items():
                    if v is not None:
                        walk(v, prefix + str(k) + ".", depth + 1)
                for k, v in d.items():            # objects held as plain attributes (a quantized layer's packed weights)
                    if not k.startswith("_") and isinstance(v, StandIn) and not isinstance(v.__dict__.get("_modules"), dict):
                        walk(v, prefix + str(k) + ".", depth + 1)
                return
            if _is_scripted(o):                   # TorchScript: attributes are the module's fields
                modules[prefix.rstrip(".")] = PickledModule(o.pickled_as, {
                    k: v for k, v in d.items() if not k.startswith("_") and isinstance(v, (int, float, str, bool))})
                for k, v in d.items():
                    if isinstance(v, Tensor):
                        tensors[prefix + k] = v
                    elif isinstance(v, StandIn):
                        walk(v, prefix + k + ".", depth + 1)
                return
            for k, v in d.items():                # another object (an optimizer, a loss): look inside
                if k not in ("_args",):
                    walk(v, prefix + k + ".", depth + 1)
            return
        if isinstance(o, dict):
            for k, v in o.items():
                walk(v, prefix + str(k) + ".", depth + 1)
        elif isinstance(o, (list, tuple)):
            for i, v in enumerate(o):
                walk(v, prefix + str(i) + ".", depth + 1)

    walk(obj, "", 0)
    return Unpickled(tensors, modules, [], values=values, objects=objects, root=obj)


def _is_scripted(o: StandIn) -> bool:
    return o.pickled_as.startswith("__torch__.")
