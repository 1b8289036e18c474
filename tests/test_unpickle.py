"""The pickle policy: plain data round-trips; every hostile pickle is refused and runs nothing.

Hostile pickles are assembled from raw opcodes and wrapped in a zip shaped like a torch file, so each one goes
through `read_checkpoint` exactly as a stranger's file would. Each would `touch` a sentinel file if it ran.
"""

from __future__ import annotations

import collections
import copyreg
import math
import pickle as P  # opcode constants and pickle.dumps for test inputs; nothing here loads a pickle
import struct
import zipfile
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from compat import unpickle
from compat.checkpoint import read_checkpoint
from compat.errors import (CorruptFileError, LegacyError, UnknownFormatError, UnsafeFileError,
                           UnsupportedReleaseError)
from craft import ODICT, call, g, i, in_dict, pkl, sget, tensor, tup, u

# -- pickle assembly: tests/craft.py -------------------------------------------------------------------------


def wrap(tmp: Path, name: str, data_pkl: bytes) -> Path:
    """A zip shaped like a torch file: storages 0 (4 floats), 1 (2 bools), 2 (2 longs)."""
    path = tmp / f"{name}.ckpt"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", data_pkl)
        z.writestr("archive/byteorder", b"little")
        z.writestr("archive/data/0", struct.pack("<4f", 1, 2, 3, 4))
        z.writestr("archive/data/1", b"\x01\x00")
        z.writestr("archive/data/2", struct.pack("<2q", 5, -6))
        z.writestr("archive/version", b"3\n")
    return path


# -- the hostile corpus -------------------------------------------------------------------------------------------

EXT_CODE = 0xF1  # registered with copyreg as os.system during the test, so EXT1 would reach it if honoured


def hostile(cmd: str, path: str) -> dict[str, tuple[bytes, type, str]]:
    """name -> (data.pkl, expected error, text the one-line message must contain)."""
    c = u(cmd)
    ok_dict = in_dict(u("x"), i(1))
    cases = {
        # globals that run code, under every spelling
        **{f"reduce {m}.{n}": (pkl(call(g(m, n), c)), UnsafeFileError, f"{m}.{n}") for m, n in [
            ("os", "system"), ("posix", "system"), ("nt", "system"), ("subprocess", "Popen"),
            ("subprocess", "call"), ("subprocess", "check_output"), ("builtins", "eval"), ("builtins", "exec"),
            ("builtins", "compile"), ("__builtin__", "eval"), ("builtins", "__import__"),
            ("importlib", "import_module"), ("pkgutil", "resolve_name"), ("runpy", "run_path"),
            ("runpy", "_run_code"), ("torch", "load"), ("torch.storage", "_load_from_bytes"),
            ("torch.serialization", "load"), ("torch._utils", "_rebuild_parameter"),
            ("numpy.core.multiarray", "_reconstruct"), ("numpy", "load"), ("copyreg", "_reconstructor"),
            ("functools", "partial"), ("operator", "attrgetter"), ("types", "FunctionType"), ("_codecs", "encode"),
            ("collections", "OrderedDict.__init__"), ("collections", "OrderedDict.fromkeys"),
            ("torch._utils", "_rebuild_tensor_v2.__globals__"), ("torch", "FloatStorage.__new__"),
        ]},
        "reduce builtins.open": (pkl(call(g("builtins", "open"), u(path), u("w"))), UnsafeFileError, "builtins.open"),
        "getattr chain": (pkl(call(call(g("builtins", "getattr"), call(g("builtins", "__import__"), u("os")),
                                        u("system")), c)), UnsafeFileError, "builtins.getattr"),
        "popen list": (pkl(call(g("subprocess", "Popen"), P.EMPTY_LIST + P.MARK + u("touch") + u(path) + P.APPENDS)),
                       UnsafeFileError, "subprocess.Popen"),
        # opcodes that build objects without REDUCE
        "INST os.system": (pkl(P.MARK + c + P.INST + b"os\nsystem\n"), UnsafeFileError, "INST"),
        "INST allowed": (pkl(P.MARK + P.INST + b"collections\nOrderedDict\n"), UnsafeFileError, "INST"),
        "OBJ os.system": (pkl(P.MARK + g("os", "system") + c + P.OBJ), UnsafeFileError, "os.system"),
        "OBJ allowed": (pkl(P.MARK + g("collections", "OrderedDict") + P.OBJ), UnsafeFileError, "OBJ"),
        "NEWOBJ Popen": (pkl(g("subprocess", "Popen") + tup(c) + P.NEWOBJ), UnsafeFileError, "subprocess.Popen"),
        "NEWOBJ allowed": (pkl(g("collections", "OrderedDict") + P.EMPTY_TUPLE + P.NEWOBJ), UnsafeFileError, "NEWOBJ"),
        "NEWOBJ_EX allowed": (pkl(g("collections", "OrderedDict") + P.EMPTY_TUPLE + P.EMPTY_DICT + P.NEWOBJ_EX,
                                  proto=4), UnsafeFileError, "NEWOBJ_EX"),
        "EXT1": (pkl(P.EXT1 + bytes([EXT_CODE]) + tup(c) + P.REDUCE), UnsafeFileError, "EXT1"),
        "EXT2": (pkl(P.EXT2 + struct.pack("<H", EXT_CODE) + tup(c) + P.REDUCE), UnsafeFileError, "EXT2"),
        "EXT4": (pkl(P.EXT4 + struct.pack("<i", EXT_CODE) + tup(c) + P.REDUCE), UnsafeFileError, "EXT4"),
        # STACK_GLOBAL variants
        "STACK_GLOBAL os.system": (pkl(u("os") + u("system") + P.STACK_GLOBAL + tup(c) + P.REDUCE, proto=4),
                                   UnsafeFileError, "os.system"),
        "STACK_GLOBAL memoized": (pkl(u("builtins") + P.MEMOIZE + u("eval") + P.MEMOIZE + P.BINGET + b"\0"
                                      + P.BINGET + b"\1" + P.STACK_GLOBAL + tup(c) + P.REDUCE, proto=4),
                                  UnsafeFileError, "builtins.eval"),
        "STACK_GLOBAL non-str": (pkl(i(1) + i(2) + P.STACK_GLOBAL, proto=4), CorruptFileError, "two strings"),
        "STACK_GLOBAL allowed, bad args": (pkl(u("collections") + u("OrderedDict") + P.STACK_GLOBAL + tup(c)
                                               + P.REDUCE, proto=4), UnsafeFileError, "collections.OrderedDict"),
        # allowed callables with hostile arguments
        "OrderedDict with args": (pkl(call(g("collections", "OrderedDict"), c)), UnsafeFileError, "OrderedDict"),
        "rebuild with 8 args": (pkl(tensor(None, 0, (4,), (1,), P.NEWFALSE, ODICT, P.NONE, c)), UnsafeFileError,
                                "with 8 argument(s)"),
        "call a StorageType": (pkl(call(g("torch", "FloatStorage"), c)), UnsafeFileError, "torch.FloatStorage"),
        "REDUCE non-tuple args": (pkl(g("collections", "OrderedDict") + c + P.REDUCE), CorruptFileError, "str"),
        # memo tricks
        "memo rebinds a global": (pkl(g("torch._utils", "_rebuild_tensor_v2") + P.BINPUT + b"\0" + P.POP + c
                                      + P.BINPUT + b"\0" + P.POP + P.BINGET + b"\0" + tup(c) + P.REDUCE),
                                  UnsafeFileError, "calls str"),
        "memo global then hostile args": (pkl(g("collections", "OrderedDict") + P.BINPUT + b"\7" + P.POP
                                              + P.BINGET + b"\7" + tup(c) + P.REDUCE),
                                          UnsafeFileError, "1 argument(s)"),
        "GET undefined": (pkl(P.BINGET + b"\7"), CorruptFileError, "memo entry 7"),
        "LONG_GET undefined": (pkl(P.LONG_BINGET + struct.pack("<I", 2**32 - 1)), CorruptFileError, "never written"),
        "PUT huge index": (pkl(c + P.LONG_BINPUT + struct.pack("<I", 2**31)), UnsafeFileError, "memo index"),
        "PUT empty stack": (pkl(P.BINPUT + b"\0" + ok_dict), CorruptFileError, "underflow"),
        "PUT across a mark": (pkl(c + P.MARK + P.BINPUT + b"\0"), CorruptFileError, "underflow"),
        # BUILD
        "BUILD __setstate__": (pkl(ODICT + in_dict(u("__setstate__"), c) + P.BUILD), UnsafeFileError,
                               "'__setstate__'"),
        "BUILD __class__": (pkl(ODICT + in_dict(u("__class__"), g("collections", "OrderedDict")) + P.BUILD),
                            UnsafeFileError, "'__class__'"),
        "BUILD __dict__": (pkl(ODICT + in_dict(u("__dict__"), ok_dict) + P.BUILD), UnsafeFileError, "__dict__"),
        "BUILD odd key": (pkl(ODICT + in_dict(u("a b"), c) + P.BUILD), UnsafeFileError, "'a b'"),
        "BUILD int key": (pkl(ODICT + in_dict(i(1), c) + P.BUILD), UnsafeFileError, "named by an int"),
        "BUILD slot state": (pkl(ODICT + tup(P.NONE, ok_dict) + P.BUILD), UnsafeFileError, "from a tuple"),
        "BUILD string state": (pkl(ODICT + c + P.BUILD), UnsafeFileError, "from a str"),
        "BUILD on the class": (pkl(g("collections", "OrderedDict") + in_dict(u("__reduce__"), c) + P.BUILD),
                               UnsafeFileError, "sets state on a type"),
        "BUILD on a list": (pkl(P.EMPTY_LIST + ok_dict + P.BUILD), UnsafeFileError, "sets state on a list"),
        "BUILD on a tensor": (pkl(tensor() + in_dict(u("_backward_hooks"), c) + P.BUILD), UnsafeFileError,
                              "sets state on a Tensor"),
        "BUILD on rebuild": (pkl(g("torch._utils", "_rebuild_tensor_v2") + ok_dict + P.BUILD), UnsafeFileError,
                             "sets state on a function"),
        "BUILD on StorageType": (pkl(g("torch", "FloatStorage") + ok_dict + P.BUILD), UnsafeFileError,
                                 "sets state on a StorageType"),
        # persistent ids
        "PERSID text": (pkl(P.PERSID + b"0\n"), UnsafeFileError, "PERSID"),
        "BINPERSID str": (pkl(u("0") + P.BINPERSID), UnsafeFileError, "persistent id"),
        "BINPERSID list": (pkl(P.EMPTY_LIST + P.BINPERSID), UnsafeFileError, "persistent id"),
        "BINPERSID 4-tuple": (pkl(tup(u("storage"), g("torch", "FloatStorage"), u("0"), u("cpu")) + P.BINPERSID),
                              UnsafeFileError, "persistent id"),
        "BINPERSID type as str": (pkl(tup(u("storage"), u("FloatStorage"), u("0"), u("cpu"), i(4)) + P.BINPERSID),
                                  UnsafeFileError, "persistent id"),
        "BINPERSID module": (pkl(tup(u("module"), g("torch", "FloatStorage"), u("0"), u("cpu"), i(4))
                                 + P.BINPERSID), UnsafeFileError, "persistent id"),
        "storage key traversal": (pkl(sget("../data.pkl")), CorruptFileError, "storage key"),
        "storage key int": (pkl(tup(u("storage"), g("torch", "FloatStorage"), i(0), u("cpu"), i(4)) + P.BINPERSID),
                            CorruptFileError, "malformed"),
        "storage negative numel": (pkl(sget("0", -1)), CorruptFileError, "malformed"),
        "storage huge numel": (pkl(sget("0", 2**40)), UnsafeFileError, "above the limit"),
        "storage wrong numel": (pkl(sget("0", 5)), CorruptFileError, "holds 16 bytes"),
        "storage missing": (pkl(sget("9")), CorruptFileError, "no archive/data/9"),
        "storage two dtypes": (pkl(tup(sget("0"), sget("0", 2, "LongStorage"))), CorruptFileError,
                               "two different dtypes"),
        "storage two sizes": (pkl(tup(sget("0"), sget("0", 3))), CorruptFileError, "two different"),
        # tensors outside their storage
        "offset past end": (pkl(tensor(None, 4, (1,), (1,))), CorruptFileError, "reaches element 5"),
        "offset negative": (pkl(tensor(None, -1)), CorruptFileError, "malformed offset"),
        "size negative": (pkl(tensor(None, 0, (-1,), (1,))), CorruptFileError, "malformed offset"),
        "stride negative": (pkl(tensor(None, 3, (2,), (-1,))), CorruptFileError, "malformed offset"),
        "extent too big": (pkl(tensor(None, 0, (2, 3), (3, 1))), CorruptFileError, "reaches element 6"),
        "stride too big": (pkl(tensor(None, 0, (2,), (4,))), CorruptFileError, "reaches element 5"),
        "huge broadcast": (pkl(tensor(None, 0, (2**20, 2**20), (0, 0))), UnsafeFileError, "elements, above"),
        "index overflows int64": (pkl(tensor(None, 0, (1,), (2**63,))), CorruptFileError, "malformed"),
        "size/stride mismatch": (pkl(tensor(None, 0, (2, 2), (1,))), CorruptFileError, "malformed"),
        "too many dims": (pkl(tensor(None, 0, (1,) * 65, (1,) * 65)), CorruptFileError, "malformed"),
        "float size": (pkl(tensor(None, 0, (), ()).replace(P.MARK + P.TUPLE, P.MARK + P.BINFLOAT
                                                            + struct.pack(">d", 1.0) + P.TUPLE, 1)),
                       CorruptFileError, "malformed"),
        "storage is a tensor": (pkl(tensor(tensor())), UnsafeFileError, "given a Tensor"),
        "storage is a path": (pkl(tensor(u(path))), UnsafeFileError, "given a str"),
        "storage is a type marker": (pkl(tensor(g("torch", "FloatStorage"))), UnsafeFileError, "StorageType"),
        "hooks not empty": (pkl(tensor(None, 0, (4,), (1,), P.NEWFALSE, ODICT + i(1) + c + P.SETITEM)),
                            UnsafeFileError, "backward hooks"),
        "hooks a string": (pkl(tensor(None, 0, (4,), (1,), P.NEWFALSE, c)), UnsafeFileError, "backward hooks"),
        "metadata": (pkl(tensor(None, 0, (4,), (1,), P.NEWFALSE, ODICT, in_dict(u("neg"), P.NEWTRUE))),
                     UnsupportedReleaseError, "'neg'"),
        "requires_grad int": (pkl(tensor(None, 0, (4,), (1,), i(1))), CorruptFileError, "requires_grad"),
        "grad on long": (pkl(tensor(sget("2", 2, "LongStorage"), 0, (2,), (1,), P.NEWTRUE)), CorruptFileError,
                         "cannot require grad"),
        # other opcodes and malformed streams
        **{f"opcode {name}": (pkl(code), UnsafeFileError, name) for name, code in [
            ("INT", P.INT + b"1\n"), ("LONG", P.LONG + b"1L\n"), ("FLOAT", P.FLOAT + b"1.0\n"),
            ("STRING", P.STRING + b"'x'\n"), ("UNICODE", P.UNICODE + b"x\n"), ("BINSTRING", P.BINSTRING + b"\0" * 4),
            ("DICT", P.MARK + P.DICT), ("LIST", P.MARK + P.LIST), ("PUT", c + P.PUT + b"0\n"),
            ("GET", P.GET + b"0\n"), ("DUP", c + P.DUP), ("BYTEARRAY8", P.BYTEARRAY8 + b"\0" * 8),
            ("NEXT_BUFFER", P.NEXT_BUFFER), ("READONLY_BUFFER", c + P.READONLY_BUFFER),
        ]},
        "deep tuple key": (pkl(P.EMPTY_DICT + P.EMPTY_TUPLE + P.TUPLE1 * 100_000 + i(1) + P.SETITEM), UnsafeFileError,
                           "deeper than"),
        "unhashable key": (pkl(P.EMPTY_DICT + P.EMPTY_LIST + i(1) + P.SETITEM), UnsafeFileError, "a list of 0 items as a dict key"),
        "APPEND to a dict": (pkl(P.EMPTY_DICT + i(1) + P.APPEND), CorruptFileError, "to a dict"),
        "SETITEM on a tensor": (pkl(tensor() + i(1) + c + P.SETITEM), CorruptFileError, "to a Tensor"),
        "SETITEMS odd": (pkl(P.EMPTY_DICT + P.MARK + i(1) + P.SETITEMS), CorruptFileError, "odd"),
        "huge int": (pkl(P.LONG4 + struct.pack("<i", 300) + b"\1" * 300), UnsafeFileError, "integer of"),
        "two results": (pkl(ok_dict + ok_dict), CorruptFileError, "does not end cleanly"),
        "open mark at STOP": (pkl(P.MARK + ok_dict), CorruptFileError, "does not end cleanly"),
        "trailing bytes": (pkl(ok_dict) + g("os", "system"), CorruptFileError, "does not end cleanly"),
        "no STOP": (pkl(ok_dict)[:-1], CorruptFileError, "malformed pickle"),
        "unknown opcode": (pkl(b"\xff"), CorruptFileError, "malformed pickle"),
        "protocol 6": (pkl(ok_dict, proto=6), CorruptFileError, "protocol 6"),
        "empty pickle": (b"", CorruptFileError, "malformed pickle"),
        "POP_MARK without MARK": (pkl(P.POP_MARK + ok_dict), CorruptFileError, "no MARK"),
        "pop below mark": (pkl(ok_dict + P.MARK + P.TUPLE1), CorruptFileError, "underflow"),
        "not a dict": (pkl(P.EMPTY_LIST), CorruptFileError, "not a checkpoint dict"),
    }
    return cases


@pytest.fixture
def ext_registered():
    copyreg.add_extension("os", "system", EXT_CODE)
    yield
    copyreg.remove_extension("os", "system", EXT_CODE)


def test_hostile_corpus_is_refused_and_runs_nothing(tmp_path, monkeypatch, ext_registered):
    sentinel = tmp_path / "pwned"
    monkeypatch.chdir(tmp_path)
    cases = hostile(f"touch {sentinel}", str(sentinel))
    assert len(cases) >= 100
    failures = []
    for n, (name, (data, error, needle)) in enumerate(cases.items()):
        try:
            read_checkpoint(wrap(tmp_path, f"case{n}", data))
            failures.append(f"{name}: no error")
        except LegacyError as e:
            if type(e) is not error or needle not in str(e) or "\n" in str(e):
                failures.append(f"{name}: {type(e).__name__}: {e}")
    assert not sentinel.exists()
    assert not failures, "\n".join(failures)


def test_storage_reference_is_refused_before_any_allocation(tmp_path, monkeypatch):
    """A huge claim must fail on the numbers alone, before the archive is touched."""
    from compat import torch_zip
    read = torch_zip.TorchArchive._read

    def read_no_storage(archive, info):
        assert "/data/" not in info.filename, "read a storage"
        return read(archive, info)
    monkeypatch.setattr(torch_zip.TorchArchive, "_read", read_no_storage)
    with pytest.raises(UnsafeFileError, match="claims"):
        read_checkpoint(wrap(tmp_path, "huge", pkl(sget("0", 2**60))))


@pytest.mark.parametrize("limit, value, data, needle", [
    ("MAX_OPCODES", 10, pkl(P.EMPTY_LIST + P.MARK + i(1) * 20 + P.APPENDS), "opcodes"),
    ("MAX_CONTAINER_LEN", 3, pkl(P.EMPTY_LIST + P.MARK + i(1) * 4 + P.APPENDS), "longer than"),
    ("MAX_CONTAINER_LEN", 3, pkl(P.EMPTY_DICT + P.MARK + (i(1) + i(2)) * 4 + P.SETITEMS), "longer than"),
    ("MAX_CONTAINER_LEN", 3, pkl(tup(*[i(1)] * 4)), "tuple longer than"),
    ("MAX_STR_LEN", 5, pkl(u("abcdef")), "string of 6"),
    ("MAX_MEMO_INDEX", 5, pkl(u("x") + P.BINPUT + b"\5"), "memo index 5"),
    ("MAX_HASHABLE_DEPTH", 3, pkl(P.EMPTY_TUPLE + P.TUPLE1 * 3), "deeper than"),
    ("MAX_TENSOR_NUMEL", 3, pkl(tensor()), "4 elements"),
])
def test_limits(limit, value, data, needle, monkeypatch):
    monkeypatch.setattr(unpickle, limit, value)
    with pytest.raises(UnsafeFileError, match=needle):
        unpickle.loads(data, _fake_storage)


# -- what is allowed ----------------------------------------------------------------------------------------------

def _no_storage(key, dtype, numel):
    raise AssertionError("no storage expected")


def test_allowlist_is_small_and_explained():
    assert set(ALLOWED := unpickle.ALLOWED_GLOBALS) >= {
        "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch.FloatStorage", "torch.LongStorage",
        "torch.BoolStorage"}
    assert len(ALLOWED) <= 12
    for name, (impl, reason) in ALLOWED.items():
        assert reason and "\n" not in reason, name
        assert impl is collections.OrderedDict or getattr(impl, "__module__", "") == "compat.unpickle", name


def test_torch_written_tensors_and_shared_storage(tmp_path):
    data = pkl(in_dict(u("a"), tensor(None, 1, (2,), (2,)), u("b"), tensor(None, 0, (2, 2), (1, 2)),
                       u("m"), tensor(sget("1", 2, "BoolStorage"), 0, (2,), (1,)),
                       u("n"), tensor(sget("2", 2, "LongStorage"), 1, (), ()),
                       u("e"), tensor(None, 4, (0, 3), (3, 1)), u("g"), tensor(None, 0, (4,), (1,), P.NEWTRUE)))
    got = read_checkpoint(wrap(tmp_path, "ok", data))
    assert torch.equal(got["a"], torch.tensor([2.0, 4.0]))
    assert torch.equal(got["b"], torch.tensor([[1.0, 3.0], [2.0, 4.0]])) and got["b"].stride() == (1, 2)
    assert torch.equal(got["m"], torch.tensor([True, False])) and got["n"].item() == -6 and got["n"].dim() == 0
    assert got["e"].shape == (0, 3) and got["g"].requires_grad and got["g"].is_leaf
    assert got["a"].untyped_storage().data_ptr() == got["b"].untyped_storage().data_ptr()


def test_ordered_dict_attributes_and_recursion_round_trip():
    od = collections.OrderedDict(w=1)
    od._metadata = collections.OrderedDict({"": {"version": 1}, "_net": {"version": 2}})
    loop: list = [1]
    loop.append(loop)
    got = unpickle.loads(P.dumps({"sd": od, "loop": loop, "same": [od, od]}, protocol=2), _no_storage)
    assert got["sd"] == od and got["sd"]._metadata == od._metadata and type(got["sd"]._metadata) is type(od)
    assert got["loop"][1] is got["loop"] and got["same"][0] is got["same"][1] is got["sd"]


@pytest.mark.parametrize("obj, name", [(b"x", "_codecs.encode"), ({1}, "__builtin__.set"),
                                       (frozenset({1}), "__builtin__.frozenset"),
                                       (complex(1, 2), "__builtin__.complex")])
def test_protocol_2_encodes_some_plain_types_as_calls_which_we_refuse(obj, name):
    with pytest.raises(UnsafeFileError, match=name):
        unpickle.loads(P.dumps(obj, protocol=2), _no_storage)


def _plain(with_bytes_and_sets: bool):
    leaves = (st.none() | st.booleans() | st.integers(-2**200, 2**200) | st.text(max_size=20)
              | st.floats(allow_nan=False))
    keys = st.text(max_size=8) | st.integers(0, unpickle.MAX_INT_KEY - 1)  # what genuine checkpoints use
    if with_bytes_and_sets:
        leaves |= st.binary(max_size=20) | st.frozensets(keys, max_size=4)
    return st.recursive(leaves, lambda inner: st.lists(inner, max_size=5) | st.tuples(inner, inner)
                        | st.dictionaries(keys, inner, max_size=5)
                        | st.builds(collections.OrderedDict, st.dictionaries(keys, inner, max_size=4))
                        | (st.sets(keys, max_size=4) if with_bytes_and_sets else st.nothing()),
                        max_leaves=30)


def _same(a, b) -> bool:
    """Equality that also insists on the same types all the way down (1 == 1.0 == True is not enough)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return a == b


@settings(max_examples=300, deadline=None)
@given(obj=_plain(False), protocol=st.integers(2, 5))
def test_plain_data_round_trips(obj, protocol):
    assert _same(unpickle.loads(P.dumps(obj, protocol=protocol), _no_storage), obj)


@settings(max_examples=300, deadline=None)
@given(obj=_plain(True), protocol=st.integers(4, 5))
def test_plain_data_with_bytes_and_sets_round_trips(obj, protocol):
    assert _same(unpickle.loads(P.dumps(obj, protocol=protocol), _no_storage), obj)


# -- fuzzing the machine ------------------------------------------------------------------------------------------

_SNIPPETS = [P.MARK, P.POP, P.POP_MARK, P.EMPTY_LIST, P.EMPTY_DICT, P.EMPTY_TUPLE, P.EMPTY_SET, P.TUPLE, P.TUPLE1,
             P.TUPLE2, P.TUPLE3, P.FROZENSET, P.APPEND, P.APPENDS, P.SETITEM, P.SETITEMS, P.ADDITEMS, P.NONE,
             P.NEWTRUE, i(0), i(3), i(-1), i(2**40), u("storage"), u("0"), u("cpu"), u("_metadata"),
             P.BINPUT + b"\0", P.BINPUT + b"\1", P.BINGET + b"\0", P.BINGET + b"\1", P.MEMOIZE, P.REDUCE, P.BUILD,
             P.BINPERSID, g("collections", "OrderedDict"), g("torch._utils", "_rebuild_tensor_v2"),
             g("torch", "FloatStorage"), g("torch", "LongStorage"), u("collections") + u("OrderedDict"),
             P.STACK_GLOBAL, ODICT, sget(), sget("1", 2, "BoolStorage"), tensor(), P.STOP]


def _fake_storage(key, dtype, numel):
    if key != "0" or numel > 8:
        raise CorruptFileError(f"no storage {key}")
    return torch.zeros(numel, dtype=dtype)


@settings(max_examples=300, deadline=None)
@given(ops=st.lists(st.sampled_from(_SNIPPETS), max_size=40), proto=st.sampled_from([2, 4]))
def test_random_opcode_streams_raise_only_legacy_errors(ops, proto):
    try:
        unpickle.loads(pkl(*ops, proto=proto), _fake_storage)
    except LegacyError as e:
        assert "\n" not in str(e) and not isinstance(e, UnknownFormatError)


def test_allowlist_covers_exactly_what_genuine_checkpoints_name():
    """The allowlist was derived from the genuine checkpoints of every release: they name these globals only."""
    import pickletools
    import zipfile
    from pathlib import Path

    used = set()
    for path in sorted((Path(__file__).parent / "fixtures").glob("*/*/model.ckpt")):
        with zipfile.ZipFile(path) as z:
            data = z.read(next(n for n in z.namelist() if n.endswith("/data.pkl")))
        used |= {arg.replace(" ", ".") for op, arg, _ in pickletools.genops(data) if op.name == "GLOBAL"}
    assert used == {"collections.OrderedDict", "torch._utils._rebuild_tensor_v2",
                    "torch.FloatStorage", "torch.LongStorage", "torch.BoolStorage"}
    # Beyond those, only inert storage dtype markers (never callable), each with its reason.
    extras = set(unpickle.ALLOWED_GLOBALS) - used
    assert all(name.startswith("torch.") and name.endswith("Storage") for name in extras)


# -- resource bounds (issue 10, class 1) and FRAME lengths (class 5) ---------------------------------------------

def _dag(depth: int) -> bytes:
    """A tuple DAG of `depth` levels through the memo: 2**depth leaves if anything hashed, printed or walked it."""
    out = P.EMPTY_TUPLE + P.BINPUT + b"\0" + P.POP
    for _ in range(depth):
        out += P.BINGET + b"\0" + P.BINGET + b"\0" + P.TUPLE2 + P.BINPUT + b"\0" + P.POP
    return out + P.BINGET + b"\0"


DAG64 = _dag(64)


@pytest.mark.parametrize("data, error, needle", [
    (pkl(P.EMPTY_DICT + DAG64 + i(1) + P.SETITEM), UnsafeFileError, "a tuple of 2 items as a dict key"),
    (pkl(P.EMPTY_SET + P.MARK + DAG64 + P.ADDITEMS, proto=4), UnsafeFileError, "as a set element"),
    (pkl(P.MARK + DAG64 + P.FROZENSET, proto=4), UnsafeFileError, "as a set element"),
    (pkl(DAG64 + P.BINPERSID), UnsafeFileError, "persistent id is a tuple of 2 items"),
    (pkl(tup(u("storage"), g("torch", "FloatStorage"), DAG64, u("cpu"), i(4)) + P.BINPERSID), CorruptFileError,
     "key a tuple of 2 items"),
    (pkl(ODICT + in_dict(u("_metadata"), DAG64) + P.BUILD), UnsafeFileError, "to a tuple of 2 items"),
    (pkl(tensor(None, 0, (4,), (1,), P.NEWFALSE, ODICT, DAG64)), UnsupportedReleaseError, "(a tuple of 2 items)"),
    (pkl(call(g("collections", "OrderedDict"), DAG64)), UnsafeFileError, "with 1 argument(s)"),
    (pkl(DAG64 + P.EMPTY_TUPLE + P.REDUCE), UnsafeFileError, "calls tuple"),
    (pkl(DAG64 + i(1) + P.APPEND), CorruptFileError, "adds items to a tuple of 2 items"),
])
def test_objects_shared_through_the_memo_are_never_hashed_or_formatted(data, error, needle):
    """Each would take 2**64 steps if the object were hashed, str()-ed or walked; each is refused at once."""
    with pytest.raises(error) as info:
        unpickle.loads(data, _fake_storage)
    assert needle in str(info.value) and len(str(info.value)) < 200


@pytest.mark.parametrize("key", [0, 1, 65535, "", "x" * 1000])
def test_keys_genuine_checkpoints_use_are_allowed(key):
    data = pkl(P.EMPTY_DICT + (u(key) if isinstance(key, str) else i(key)) + P.NONE + P.SETITEM)
    assert unpickle.loads(data, _no_storage) == {key: None}
    data = pkl(P.EMPTY_SET + P.MARK + (u(key) if isinstance(key, str) else i(key)) + P.ADDITEMS, proto=4)
    assert unpickle.loads(data, _no_storage) == {key}


@pytest.mark.parametrize("key, kind", [
    (i(65536), "an int"), (i(-1), "an int"), (i(2**61 - 1), "an int"), (P.NEWTRUE, "a bool"), (P.NEWFALSE, "a bool"),
    (P.BINFLOAT + struct.pack(">d", 1.0), "a float"), (P.NONE, "None"), (P.SHORT_BINBYTES + b"\0", "a bytes"),
    (P.EMPTY_TUPLE, "a tuple of 0 items"), (tup(i(1), u("a")), "a tuple of 2 items"),
    (P.MARK + i(1) + P.FROZENSET, "a frozenset of 1 item"),
])
@pytest.mark.parametrize("where", ["dict key", "set element", "frozenset element", "SETITEMS key"])
def test_other_keys_are_refused(key, kind, where):
    data = {"dict key": P.EMPTY_DICT + key + P.NONE + P.SETITEM,
            "SETITEMS key": P.EMPTY_DICT + P.MARK + u("ok") + P.NONE + key + P.NONE + P.SETITEMS,
            "set element": P.EMPTY_SET + P.MARK + key + P.ADDITEMS,
            "frozenset element": P.MARK + key + P.FROZENSET}[where]
    with pytest.raises(UnsafeFileError, match=f"pickle uses {kind}"):
        unpickle.loads(pkl(data, proto=4), _no_storage)


def test_colliding_int_keys_cannot_be_built():
    """Multiples of 2**61-1 all hash alike in CPython: inserting n of them would take n**2/2 comparisons."""
    keys = b"".join(i(k * (2**61 - 1)) + P.NONE for k in range(1, 20_001))
    with pytest.raises(UnsafeFileError, match="an int of 61 bits as a dict key"):
        unpickle.loads(pkl(P.EMPTY_DICT + P.MARK + keys + P.SETITEMS), _no_storage)


def test_work_is_bounded_by_the_pickle_size():
    """Comparing equal str keys costs a unit per 64 characters: a few big strings compared over and over are
    refused, however few opcodes that takes."""
    big = "k" * 100_000
    data = pkl(u(big) + P.BINPUT + b"\0" + P.POP + u(big) + P.BINPUT + b"\1" + P.POP + P.EMPTY_DICT
               + P.BINGET + b"\0" + P.NONE + P.SETITEM + (P.BINGET + b"\1" + P.NONE + P.SETITEM) * 5000)
    with pytest.raises(UnsafeFileError, match="more work than its size allows"):
        unpickle.loads(data, _no_storage)


def test_genuine_pickles_use_under_a_quarter_of_the_work_budget(monkeypatch):
    monkeypatch.setattr(unpickle, "WORK_BASE", 0)
    monkeypatch.setattr(unpickle, "WORK_PER_BYTE", unpickle.WORK_PER_BYTE / 4)
    for path in sorted((Path(__file__).parent / "fixtures").glob("*/*/model.ckpt")):
        read_checkpoint(path)


@pytest.mark.parametrize("state, needle", [
    (in_dict(u("get"), i(1)), "attribute 'get'"), (in_dict(u("items"), ODICT), "attribute 'items'"),
    (in_dict(u("_metadata"), u("x")), "_metadata of an OrderedDict to a str"),
    (in_dict(u("_metadata"), P.EMPTY_LIST), "to a list"),
])
def test_build_may_only_set_metadata_to_a_dict(state, needle):
    """Anything else could shadow a method (`checkpoint.get`, `state_dict.items`) that the loader calls."""
    with pytest.raises(UnsafeFileError, match=needle):
        unpickle.loads(pkl(ODICT + state + P.BUILD), _no_storage)


def test_messages_quote_a_bounded_escaped_slice_of_strings():
    with pytest.raises(UnsafeFileError) as info:
        unpickle.loads(pkl(g("os\x1b[2J" * 10_000, "sys\ntem")), _no_storage)
    message = str(info.value)
    assert message.isprintable() and len(message) < 250 and "\\x1b[2J" in message and message.endswith("not allowed")


def _framed(body: bytes, *frames: tuple) -> bytes:
    """Protocol 4 with FRAME opcodes inserted at the given body offsets, each claiming the given length."""
    out, last = P.PROTO + b"\4", 0
    for at, length in frames:
        out += body[last:at] + P.FRAME + struct.pack("<Q", length)
        last = at
    return out + body[last:]


def test_frames_as_the_pickler_writes_them_load():
    obj = {"state_dict": collections.OrderedDict((f"k{n}", [n] * 50) for n in range(400)), "x": "y" * 70_000}
    data = P.dumps(obj, protocol=5)
    assert P.FRAME in data[:12]
    assert unpickle.loads(data, _no_storage) == obj


@pytest.mark.parametrize("frames, needle", [
    (((0, 10**6),), "past the end"),
    (((0, 2**63),), "past the end"),
    (((0, 4),), "runs past the end of its frame"),  # ends inside SHORT_BINUNICODE
    (((0, 20), (1, 10)), "inside another frame"),
    (((1, 3),), "runs past the end of its frame"),
])
def test_frame_lengths_are_checked(frames, needle):
    body = P.EMPTY_DICT + P.SHORT_BINUNICODE + b"\5hello" + P.NONE + P.SETITEM + P.STOP
    with pytest.raises(CorruptFileError, match=needle):
        unpickle.loads(_framed(body, *frames), _no_storage)


def test_frames_on_opcode_boundaries_are_fine():
    body = P.EMPTY_DICT + P.SHORT_BINUNICODE + b"\5hello" + P.NONE + P.SETITEM + P.STOP
    assert unpickle.loads(_framed(body, (0, 1), (1, len(body) - 1)), _no_storage) == {"hello": None}
    assert unpickle.loads(_framed(body, (0, 8)), _no_storage) == {"hello": None}  # then unframed opcodes


@pytest.mark.parametrize("exc, needle", [(MemoryError, "more memory"), (RecursionError, "nests too deeply")])
def test_memory_and_recursion_errors_become_typed(monkeypatch, exc, needle):
    def boom(m, _):
        raise exc()
    monkeypatch.setitem(unpickle._OPS, "EMPTY_DICT", boom)
    with pytest.raises(UnsafeFileError, match=needle):
        unpickle.loads(pkl(P.EMPTY_DICT), _no_storage)
