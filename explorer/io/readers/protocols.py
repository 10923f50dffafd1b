"""Pickle protocols 3, 4 and 5 (Flair's `LanguageModel.save`, `torch.save(..., pickle_protocol=5)`) rewritten as
the protocol-2 opcodes that torch's weights-only reader knows. Nothing of the file runs: the rewrite reads
the opcodes (pickletools) and writes equivalent ones; the reader then decides what to rebuild, as for
any other file.

    data = downgrade(data)        # a torch.save zip (or a bare pickle) whose pickle is protocol 3, 4 or 5

What changes, opcode by opcode (the values and the memo stay the same):
- FRAME (protocol 4's framing) is dropped: it only groups opcodes;
- SHORT_BINUNICODE and BINUNICODE8 become BINUNICODE;
- MEMOIZE becomes LONG_BINPUT with the index MEMOIZE would use (the memo's size);
- bytes (protocol 3's SHORT_BINBYTES, BINBYTES, BINBYTES8; Flair keeps its dictionary's items as bytes) are
  written as protocol 2 writes them: _codecs.encode(the latin-1 string, "latin1"), a call torch's reader
  allows; protocol 5's BYTEARRAY8 as bytearray(those bytes);
- STACK_GLOBAL, which takes a module and a name from the two strings pushed before it, becomes GLOBAL with
  those names; the two pushes go (their memo slots are kept as strings for any later GET of them).
Out-of-band buffers (protocol 5's NEXT_BUFFER / READONLY_BUFFER) live outside the file, so such a pickle is
refused in one sentence.
"""
from __future__ import annotations

import io
import pickletools
import struct
import zipfile

from explorer.errors import InputError

_STRINGS = ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8")
_GETS = ("BINGET", "LONG_BINGET")
_PUTS = ("BINPUT", "LONG_BINPUT")


def protocol(raw: bytes) -> int:
    """A pickle's protocol from its first opcode (PROTO n), 0-1 when it has none."""
    return raw[1] if len(raw) > 1 and raw[0] == 0x80 else 1


def _unicode(s: str) -> bytes:
    b = s.encode("utf-8", "surrogatepass")
    return b"X" + struct.pack("<I", len(b)) + b


_BYTES = ("SHORT_BINBYTES", "BINBYTES", "BINBYTES8")


def _bytes(b: bytes) -> bytes:
    """Protocol 2's way to push a bytes object: _codecs.encode(str, "latin1")."""
    return b"c_codecs\nencode\n" + _unicode(b.decode("latin-1")) + _unicode("latin1") + b"\x86R"


def downgrade_pickle(raw: bytes) -> bytes:
    """The same pickle in protocol 2's opcodes (see the module docstring); raw unchanged below protocol 3."""
    if protocol(raw) < 3:
        return raw
    try:
        ops = list(pickletools.genops(raw))
    except Exception:            # a damaged pickle: the reader says what it can
        return raw
    if any(op.name in ("NEXT_BUFFER", "READONLY_BUFFER") for op, _, _ in ops):
        raise InputError("this file's pickle keeps some of its data in out-of-band buffers (pickle protocol 5's "
                         "NEXT_BUFFER), which live outside the file; re-save it with torch.save and no buffer_callback.")
    # First pass: the string each op pushes (literal or from the memo), and the two pushes each STACK_GLOBAL takes.
    value: dict[int, str] = {}
    memo: dict[int, object] = {}
    taken: dict[int, tuple[int, int]] = {}
    pushes: list[int] = []                       # indices of the ops that pushed what is on the stack's top
    for k, (op, arg, _) in enumerate(ops):
        if op.name in _STRINGS:
            value[k] = str(arg)
        elif op.name in _GETS and isinstance(memo.get(arg), str):
            value[k] = memo[arg]
        if op.name == "MEMOIZE":
            memo[len(memo)] = value.get(pushes[-1]) if pushes else None
            continue
        if op.name in _PUTS:
            memo[arg] = value.get(pushes[-1]) if pushes else None
            continue
        if op.name == "STACK_GLOBAL":
            if len(pushes) < 2 or pushes[-2] not in value or pushes[-1] not in value:
                return raw                        # names not from plain strings: leave it to the reader
            taken[k] = (pushes[-2], pushes[-1])
            pushes = pushes[:-2]
        pushes.append(k)
    dropped = {i for pair in taken.values() for i in pair}
    # Second pass: write protocol 2.
    out = io.BytesIO()
    out.write(b"\x80\x02")
    size = 0                                      # the memo's size: what the next MEMOIZE's index is
    strings: dict[int, str] = {}                  # memo slots of dropped strings, for a later GET
    prev = None
    for k, (op, arg, _) in enumerate(ops):
        name = op.name
        if name in ("PROTO", "FRAME"):
            pass
        elif name == "MEMOIZE":
            if prev in dropped:
                strings[size] = value[prev]
            else:
                out.write(b"r" + struct.pack("<I", size))          # LONG_BINPUT
            size += 1
        elif name in _PUTS and prev in dropped:
            strings[arg] = value[prev]
            size = max(size, arg + 1)
        elif k in dropped:
            pass
        elif name in _GETS and arg in strings:
            out.write(_unicode(strings[arg]))
        elif name == "STACK_GLOBAL":
            module, qual = value[taken[k][0]], value[taken[k][1]]
            out.write(b"c" + module.encode() + b"\n" + qual.encode() + b"\n")
        elif name in ("SHORT_BINUNICODE", "BINUNICODE8"):
            out.write(_unicode(str(arg)))
        elif name in _BYTES:
            out.write(_bytes(bytes(arg)))
        elif name == "BYTEARRAY8":
            out.write(b"c__builtin__\nbytearray\n" + _bytes(bytes(arg)) + b"\x85R")
        else:
            if name in _PUTS:
                size = max(size, arg + 1)
            out.write(raw[ops[k][2]:ops[k + 1][2]] if k + 1 < len(ops) else raw[ops[k][2]:])
        if name not in ("MEMOIZE", "FRAME") and name not in _PUTS:
            prev = k
    return out.getvalue()


def downgrade(data: bytes) -> bytes:
    """A torch.save zip whose data.pkl is protocol 3, 4 or 5, rebuilt with that pickle in protocol 2 (every other
    record as it was); a bare pickle rewritten; anything else unchanged."""
    if data[:2] == b"PK":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                names = z.namelist()
                pkl = next((n for n in names if n.endswith("/data.pkl") or n == "data.pkl"), None)
                if pkl is None:
                    return data
                raw = z.read(pkl)
                if protocol(raw) < 3:
                    return data
                new = downgrade_pickle(raw)
                buf = io.BytesIO()
                with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as w:
                    for n in names:
                        w.writestr(z.getinfo(n), new if n == pkl else z.read(n))
                return buf.getvalue()
        except InputError:
            raise
        except Exception:        # a damaged zip (any of zipfile's errors): the reader says what it is in its own words
            return data
    if protocol(data) >= 3:
        return downgrade_pickle(data)
    return data
