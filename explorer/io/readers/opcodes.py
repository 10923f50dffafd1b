"""Reading a pickle's opcodes without running it: the globals it names, and the ones it calls.

    names, torchscript = globals_in(zip_bytes)     # every global of a torch.save zip's data.pkl
    refuse_calls(raw_pickle)                       # InputError naming any callable outside the allowlist

torch.serialization's own scanner lists names; called_globals runs the opcodes on a stack of
placeholders (pickletools' stack effects) to see which of them the pickle would call. Nothing is
built, imported or run.
"""
from __future__ import annotations

import io
import zipfile

from explorer.errors import InputError

from ..files import short

# TorchScript's pickles wrap lists in these; pickles.py stands in for them (they return their first argument).
PASSTHROUGH = ["torch.jit._pickle.build_tensorlist", "torch.jit._pickle.build_intlist",
               "torch.jit._pickle.build_doublelist", "torch.jit._pickle.build_boollist",
               "torch.jit._pickle.build_tensor_from_id", "torch.jit._pickle.restore_type_tag"]


def pickle_globals(raw: bytes) -> list[str]:
    """The globals a bare pickle names, any protocol, by reading its opcodes (pickletools; nothing
    runs). STACK_GLOBAL takes its two names from the strings pushed before it (memo included)."""
    import pickletools
    found, strings, memo = [], [], {}
    try:
        for op, arg, _ in pickletools.genops(raw):
            if op.name == "GLOBAL":
                found.append(str(arg).replace(" ", "."))
            elif op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "BINUNICODE8", "SHORT_BINSTRING",
                             "BINSTRING", "STRING"):
                strings.append(str(arg))
            elif op.name == "MEMOIZE":
                memo[len(memo)] = strings[-1] if strings else None
            elif op.name in ("BINPUT", "LONG_BINPUT", "PUT") and strings:
                memo[arg] = strings[-1]
            elif op.name in ("BINGET", "LONG_BINGET", "GET") and isinstance(memo.get(arg), str):
                strings.append(memo[arg])
            elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                found.append(f"{strings[-2]}.{strings[-1]}")
    except Exception:            # a damaged pickle: what was read so far
        pass
    return sorted(set(found))


def globals_in(data: bytes) -> tuple[list[str], bool]:
    """The globals a torch.save zip or a TorchScript archive names (opcode scan, nothing runs),
    and whether it is TorchScript."""
    from torch._weights_only_unpickler import get_globals_in_pkl
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = z.namelist()
            pkl = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
            if not pkl:
                raise InputError("this zip file holds no data.pkl, so it is not a PyTorch checkpoint; "
                                 "upload a .pt/.pth saved with torch.save or a .safetensors file.")
            script = any(n.endswith("/constants.pkl") or "/code/" in n for n in names)
            raw = z.read(pkl[0])
    except zipfile.BadZipFile:
        raise InputError("this .pt file is damaged or truncated (its zip structure is broken); upload it again.") from None
    try:
        found = get_globals_in_pkl(io.BytesIO(raw))
    except Exception:            # torch's scanner stops at protocol 4's frames; pickletools reads every protocol
        found = pickle_globals(raw)
    refuse_calls(raw)
    return sorted(found), script


# What a pickle may *call* (REDUCE, INST, OBJ): torch's own rebuild functions (torch.load's weights-only
# allowlist), TorchScript's list wrappers, and these data constructors. A class rebuilt the way torch.save
# pickles a module or object (NEWOBJ: cls.__new__(cls), then its state) gets an inert stand-in; any other
# callable refuses the file by name. An allowlist, so that no list of forbidden names needs to be complete.
DATA_CALLS = {"collections.OrderedDict", "collections.defaultdict", "builtins.set", "builtins.frozenset",
              "builtins.list", "builtins.dict", "builtins.tuple", "builtins.slice", "builtins.bytearray",
              "builtins.complex", "builtins.range", "copyreg._reconstructor", "numpy.core.multiarray._reconstruct",
              "numpy._core.multiarray._reconstruct", "numpy.dtype", "numpy.core.multiarray.scalar",
              "numpy._core.multiarray.scalar", "torch.device", "torch.Size", "torch.nn.parameter.Parameter"}
# Besides: the inert ones, whose stand-ins (pickles.py) rebuild plain data and run nothing. getattr only as a
# pickle rebuilds a bound method: on an object the pickle built, by a plain name (refused on a global, such as a
# module, or a dunder name, and its result may never be called). Paths and argparse Namespaces are what
# training scripts keep beside the weights; in the data libraries below, every callable rebuilds a pandas object
# (an item map, a fitted normaliser; pyarrow holds pandas' strings) or numpy's random state, which become inert
# stand-ins.
INERT_CALLS = {"builtins.getattr", "pathlib.Path", "pathlib.PosixPath", "pathlib.WindowsPath", "pathlib.PurePosixPath",
               "pathlib.PureWindowsPath", "pathlib._local.Path", "pathlib._local.PosixPath",
               "pathlib._local.WindowsPath", "argparse.Namespace"}
INERT_MODULES = ("pandas.", "pyarrow.", "numpy.random._pickle.")   # pyarrow: pandas' strings
_STRINGS = {"SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "BINUNICODE8", "SHORT_BINSTRING", "BINSTRING", "STRING"}


def called_globals(raw: bytes) -> set[str]:
    """The globals a pickle calls, found by running its opcodes on a stack of placeholders (pickletools'
    stack effects; nothing is built, imported or run)."""
    import pickletools
    MARK = object()
    stack: list = []
    memo: dict = {}
    called: set[str] = set()

    def pop_to_mark() -> list:
        """The items above the last MARK, in the order they were pushed (the MARK goes too)."""
        items = []
        while stack and stack[-1] is not MARK:
            items.append(stack.pop())
        if stack:
            stack.pop()
        return items[::-1]

    def pop():
        return stack.pop() if stack else None

    for op, arg, _ in pickletools.genops(raw):
        n = op.name
        if n == "GLOBAL":
            stack.append(("g", str(arg).replace(" ", ".")))
        elif n == "STACK_GLOBAL":
            b, a = pop(), pop()
            name = f"{a[1] if isinstance(a, tuple) else '?'}.{b[1] if isinstance(b, tuple) else '?'}"
            stack.append(("g", name))
        elif n in _STRINGS:
            stack.append(("s", str(arg)))
        elif n in ("BINPUT", "LONG_BINPUT", "PUT"):
            memo[arg] = stack[-1] if stack else None
        elif n == "MEMOIZE":
            memo[len(memo)] = stack[-1] if stack else None
        elif n in ("BINGET", "LONG_BINGET", "GET"):
            stack.append(memo.get(arg))
        elif n == "REDUCE":
            args, f = pop(), pop()
            if isinstance(f, tuple) and f[0] == "g":
                called.add(f[1])
                if f[1].rpartition(".")[2] == "getattr":
                    called.update(_getattr_misuse(args))
                    stack.append(("m",))           # a method: calling it is refused below
                    continue
            elif isinstance(f, tuple) and f[0] == "m":
                called.add("a method that getattr fetched")
            elif not (isinstance(f, tuple) and f[0] == "o"):
                called.add("a callable it computed")
            stack.append(("o",))
        elif n in ("TUPLE1", "TUPLE2", "TUPLE3"):
            k = {"TUPLE1": 1, "TUPLE2": 2, "TUPLE3": 3}[n]
            items = [pop() for _ in range(k)][::-1]
            stack.append(("t", items))
        elif n == "TUPLE":
            stack.append(("t", pop_to_mark()))
        elif n in ("NEWOBJ", "NEWOBJ_EX"):
            pop()
            if n == "NEWOBJ_EX":
                pop()
            pop()
            stack.append(("o",))
        elif n == "INST":
            called.add(str(arg).replace(" ", "."))
            pop_to_mark()
            stack.append(("o",))
        elif n == "OBJ":
            items = pop_to_mark()
            if items and isinstance(items[0], tuple) and items[0][0] == "g":
                called.add(items[0][1])
            stack.append(("o",))
        elif n == "MARK":
            stack.append(MARK)
        elif n == "STOP":
            break
        else:                       # the generic stack effect: what the opcode takes, then what it leaves
            before = op.stack_before
            if any(x is pickletools.markobject for x in before):
                pop_to_mark()
            for x in before:
                if x is not pickletools.markobject and x is not pickletools.stackslice:
                    pop()
            for x in op.stack_after:
                stack.append(MARK if x is pickletools.markobject else ("o",))
    return called


def _getattr_misuse(args) -> set[str]:
    """What is wrong with a getattr call's arguments, as names the allowlist refuses (empty when it only
    rebuilds a bound method of an object the pickle built)."""
    if not (isinstance(args, tuple) and args[0] == "t" and len(args[1]) == 2):
        return {"getattr with arguments it computed"}
    obj, name = args[1]
    if not (isinstance(name, tuple) and name[0] == "s"):
        return {"getattr with a name it computed"}
    if name[1].startswith("__"):
        return {f"getattr(…, {short(name[1], 40)!r})"}
    if isinstance(obj, tuple) and obj[0] == "g":
        return {f"getattr({short(obj[1], 60)}, {short(name[1], 40)!r})"}
    return set()


def admitted(name: str) -> bool:
    """Whether the allowlist lets a pickle call this global (see DATA_CALLS and INERT_CALLS)."""
    from torch._weights_only_unpickler import _get_allowed_globals
    return (name in _get_allowed_globals() or name in DATA_CALLS or name in INERT_CALLS or name in PASSTHROUGH
            or name.startswith(INERT_MODULES) or name.startswith("__torch__."))


def refuse_calls(raw: bytes):
    """Refuse a pickle that calls anything but torch's own rebuild functions, plain data constructors and the
    inert ones (see INERT_CALLS)."""
    try:
        called = called_globals(raw)
    except Exception:
        raise InputError("this checkpoint's pickle could not be read opcode by opcode (damaged?); re-save it with "
                         "torch.save(model.state_dict(), path) or as safetensors.") from None
    plain = lambda n: "builtins." + n[len("__builtin__."):] if n.startswith("__builtin__.") else n   # protocol 2's name
    bad = sorted(plain(n) for n in called if not admitted(plain(n)))
    if bad:
        raise InputError(f"this file is refused: its pickle calls {', '.join(short(b) for b in bad[:4])}"
                         f"{' …' if len(bad) > 4 else ''} on loading, which a model file never needs; nothing of it was run.")
