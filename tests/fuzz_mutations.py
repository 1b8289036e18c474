"""Structure-aware mutation of genuine checkpoints: their pickle as opcodes (ints, memo references, strings,
globals, tensor offsets/sizes/strides), their zip headers as fields, and raw bytes.

Every choice goes through `below(n)` (an int in [0, n)), so hypothesis (tests/test_fuzz_checkpoints.py) and a
seeded `random.Random` (the subprocess sample in tests/test_hostile_checkpoints.py) drive the same mutations.
"""

from __future__ import annotations

import pickle as P
import random
import struct
from pathlib import Path
from typing import Callable, List, Optional

import craft
from craft import Op

Below = Callable[[int], int]

INTERESTING_INTS = [0, 1, 2, 3, 4, 7, 8, 255, 256, 65535, 65536, 2**16 + 1, 2**20, 2**28, 2**31 - 1, 2**31, 2**32,
                    2**32 + 1, 2**40, 2**62, 2**63, 2**64, -1, -2**31, 10**30]
INTERESTING_STRS = ["", "0", "1", "9", "99999999999999999999", "../data.pkl", "storage", "cpu", "_metadata", "get",
                    "items", "state_dict", "sample_rate", "_net.", "_net._core.weight_hh_l0", "_net._initial_hidden",
                    "_net._has_sample_rate", "_net._sample_rate", "pytorch-lightning_version", "\x1b[2J\n", "\ud800",
                    "x" * 5000]
GLOBALS = ["collections OrderedDict", "torch._utils _rebuild_tensor_v2", "torch FloatStorage", "torch HalfStorage",
           "torch LongStorage", "torch BoolStorage", "torch DoubleStorage", "torch ByteStorage", "os system",
           "builtins eval", "torch._utils _rebuild_parameter"]
SNIPPETS: List[List[Op]] = [
    [("MARK", None)], [("POP", None)], [("NONE", None)], [("EMPTY_TUPLE", None)], [("TUPLE2", None)],
    [("EMPTY_DICT", None)], [("EMPTY_LIST", None)], [("APPEND", None)], [("SETITEM", None)], [("REDUCE", None)],
    [("BUILD", None)], [("BINPERSID", None)], [("TUPLE", None)], [("SETITEMS", None)], [("NEWTRUE", None)],
    [("BINFLOAT", float("nan"))], [("BINFLOAT", float("inf"))], [("BINFLOAT", -48000.0)],
    [("BINGET", 0)], [("BINGET", 1)], [("BINPUT", 0)], [("LONG_BINGET", 2**31)],
    [("EMPTY_DICT", None), ("BINUNICODE", "get"), ("BININT1", 1), ("SETITEM", None), ("BUILD", None)],
    [("BINUNICODE", "sample_rate"), ("BINFLOAT", float("nan")), ("SETITEM", None)],
    [("FRAME", 7)], [("FRAME", 2**40)],
]
_INT_OPS = ("BININT1", "BININT2", "BININT", "LONG1", "LONG4")


def pick(below: Below, items):
    return items[below(len(items))]


def _int_value(below: Below, old: int) -> int:
    choice = below(4)
    if choice == 0:
        return pick(below, INTERESTING_INTS)
    if choice == 1:
        return old + pick(below, [-2, -1, 1, 2])
    if choice == 2:
        return old * pick(below, [0, 2, 4, 1000, 2**20])
    return below(1 << 16)


def _tensor_ints(ops: List[Op]) -> List[int]:
    """Indices of the ints that give a tensor its storage numel, offset, sizes and strides: the ints in the
    dozen opcodes that follow each BINPERSID (and the numel just before it)."""
    out = []
    for k, (name, _) in enumerate(ops):
        if name == "BINPERSID":
            out += [j for j in range(max(0, k - 3), min(len(ops), k + 14)) if ops[j][0] in _INT_OPS]
    return out


def mutate_ops(ops: List[Op], below: Below, count: int) -> List[Op]:
    ops = list(ops)
    memo = sorted({arg for name, arg in ops if name in ("BINPUT", "LONG_BINPUT")}) or [0]
    for _ in range(count):
        kind = below(10)
        if kind in (0, 1):  # an int; tensor ints twice as often as the others
            where = _tensor_ints(ops) if kind == 0 else [k for k, (n, _) in enumerate(ops) if n in _INT_OPS]
            if where:
                k = pick(below, where)
                ops[k] = craft.int_op(_int_value(below, ops[k][1]))
        elif kind == 2:  # a memo reference
            where = [k for k, (n, _) in enumerate(ops) if n in ("BINGET", "LONG_BINGET", "BINPUT", "LONG_BINPUT")]
            if where:
                k = pick(below, where)
                index = pick(below, memo) if below(4) else pick(below, [0, 255, 256, 2**20, 2**31])
                ops[k] = (("BINGET" if "GET" in ops[k][0] else "BINPUT") if index < 256
                          else ("LONG_BINGET" if "GET" in ops[k][0] else "LONG_BINPUT"), index)
        elif kind == 3:  # a string
            where = [k for k, (n, _) in enumerate(ops) if n == "BINUNICODE"]
            if where:
                k = pick(below, where)
                ops[k] = ("BINUNICODE", pick(below, INTERESTING_STRS) if below(2) else ops[pick(below, where)][1])
        elif kind == 4:  # a global
            where = [k for k, (n, _) in enumerate(ops) if n == "GLOBAL"]
            if where:
                ops[pick(below, where)] = ("GLOBAL", pick(below, GLOBALS))
        elif kind == 5 and len(ops) > 2:  # delete an opcode (never PROTO)
            del ops[1 + below(len(ops) - 1)]
        elif kind == 6 and len(ops) > 2:  # duplicate one
            k = 1 + below(len(ops) - 1)
            ops.insert(k, ops[k])
        elif kind == 7 and len(ops) > 3:  # swap two neighbours
            k = 1 + below(len(ops) - 2)
            ops[k], ops[k + 1] = ops[k + 1], ops[k]
        elif kind == 8:  # insert a snippet
            k = 1 + below(len(ops))
            ops[k:k] = pick(below, SNIPPETS)
        else:  # a float (the only floats are hyperparameters and sample rates)
            where = [k for k, (n, _) in enumerate(ops) if n == "BINFLOAT"]
            if where:
                ops[pick(below, where)] = ("BINFLOAT", pick(below, [float("nan"), float("inf"), -1.0, 0.0, 1e300,
                                                                    48000.0]))
    return ops


def mutate_zip(data: bytes, below: Below, count: int) -> bytes:
    out = bytearray(data)
    fields = craft.zip_fields(data)
    for _ in range(count):
        _, offset, fmt = pick(below, fields)
        size = struct.calcsize(fmt)
        old = struct.unpack_from(fmt, out, offset)[0]
        value = pick(below, [0, 1, old + 1, old - 1, old * 2, old * 100, len(data), 2**(8 * size) - 1,
                             2**(8 * size - 1), 20_001, 4 << 20]) % (2**(8 * size))
        struct.pack_into(fmt, out, offset, value)
    return bytes(out)


def mutate_bytes(data: bytes, below: Below, count: int) -> bytes:
    out = bytearray(data)
    for _ in range(count):
        out[below(len(out))] = below(256)
    if below(4) == 0:
        del out[below(len(out)):]
    return bytes(out)


def mutant(fixture: Path, below: Below) -> bytes:
    """Bytes of a mutated copy of the genuine checkpoint `fixture`."""
    prefix, found = craft.entries(fixture)
    mode = below(4)
    if mode in (0, 1):  # the pickle, re-zipped with valid CRCs so every mutation reaches the unpickler
        ops = craft.ops_of(found[f"{prefix}/data.pkl"])
        try:
            found[f"{prefix}/data.pkl"] = craft.encode(mutate_ops(ops, below, 1 + below(4)))
        except (struct.error, OverflowError, ValueError):  # a value its opcode cannot hold: keep the original
            pass
        import io
        import zipfile
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            for name, value in found.items():
                z.writestr(name, value)
        data = buf.getvalue()
        return mutate_zip(data, below, 1) if mode == 1 else data
    data = fixture.read_bytes()
    if mode == 2:
        return mutate_zip(data, below, 1 + below(3))
    return mutate_bytes(data, below, 1 + below(8))


def write_mutant(path: Path, rng: random.Random, fixture: Optional[Path] = None) -> Path:
    fixture = fixture or rng.choice(craft.genuine_checkpoints())
    path.write_bytes(mutant(fixture, lambda n: rng.randrange(n)))
    return path
