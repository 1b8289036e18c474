"""The allowlist policy for the pickle inside a torch checkpoint, and the small interpreter that enforces it.

Checkpoints come from strangers, so nothing here imports, looks up or calls anything the file names: there is no
`pickle.loads` and no `find_class`. `pickletools.genops` only parses the opcodes; this module decides what each may
do. A global outside `ALLOWED_GLOBALS` or an opcode outside `_OPS` raises `UnsafeFileError` naming it.
"""

from __future__ import annotations

import collections
import math
import pickletools
import warnings
from typing import Callable

import torch

from .errors import CorruptFileError, LegacyError, UnsafeFileError, UnsupportedReleaseError

# Far above a genuine data.pkl (a few thousand opcodes, a few KB), low enough that no pickle can exhaust memory.
MAX_OPCODES = 2_000_000
MAX_MEMO_INDEX = 1_000_000
MAX_CONTAINER_LEN = 1_000_000
MAX_STR_LEN = 16 * 2**20
MAX_INT_BITS = 1024
MAX_HASHABLE_DEPTH = 100  # CPython hashes nested tuples recursively in C with no guard: deep ones crash it
MAX_TENSOR_DIMS = 64
MAX_TENSOR_NUMEL = 2**32  # stride-0 views can claim any size; a bigger one is not a model weight
_MAX_INDEX = 2**62  # offsets, sizes and strides must fit torch's int64 with room for our sums


class StorageType:
    """What `torch.FloatStorage` etc. mean in a persistent id: a dtype, nothing callable."""

    def __init__(self, name: str, dtype: torch.dtype):
        self.name, self.dtype = name, dtype

    def __repr__(self) -> str:
        return f"torch.{self.name}"


class Storage:
    """A storage read from the archive (a flat tensor); the only thing `_rebuild_tensor_v2` accepts."""

    def __init__(self, dtype: torch.dtype, flat: torch.Tensor):
        self.dtype, self.flat = dtype, flat


def _is_index(v: object) -> bool:
    return type(v) is int and 0 <= v < _MAX_INDEX


def rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata=None):
    """Our `torch._utils._rebuild_tensor_v2`: a bounds-checked strided view of a storage from the archive."""
    if not isinstance(storage, Storage):
        raise UnsafeFileError(f"_rebuild_tensor_v2 given a {type(storage).__name__}, not a storage from the archive")
    if not (isinstance(size, tuple) and isinstance(stride, tuple) and len(size) == len(stride) <= MAX_TENSOR_DIMS
            and all(map(_is_index, (storage_offset, *size, *stride))) and type(requires_grad) is bool):
        raise CorruptFileError("_rebuild_tensor_v2 given a malformed offset, size, stride or requires_grad")
    if not isinstance(backward_hooks, dict) or backward_hooks:
        raise UnsafeFileError("tensor carries backward hooks")
    if metadata:
        raise UnsupportedReleaseError(f"tensor metadata {sorted(metadata)!r} is not supported")
    numel = math.prod(size)
    if numel > MAX_TENSOR_NUMEL:
        raise UnsafeFileError(f"tensor claims {numel} elements, above the limit of {MAX_TENSOR_NUMEL}")
    end = storage_offset + (numel and 1 + sum((n - 1) * s for n, s in zip(size, stride)))
    if end > storage.flat.numel():
        raise CorruptFileError(f"tensor reaches element {end} of a storage of {storage.flat.numel()} elements")
    if requires_grad and not storage.dtype.is_floating_point:
        raise CorruptFileError(f"a {storage.dtype} tensor cannot require grad")
    return storage.flat.as_strided(size, stride, storage_offset).requires_grad_(requires_grad)


_STORAGE_DTYPES = {
    "DoubleStorage": torch.float64, "FloatStorage": torch.float32, "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16, "LongStorage": torch.int64, "IntStorage": torch.int32,
    "ShortStorage": torch.int16, "CharStorage": torch.int8, "ByteStorage": torch.uint8, "BoolStorage": torch.bool,
}

# "module.name" -> (what GLOBAL pushes, why it is allowed). Nothing else may be named by a file.
ALLOWED_GLOBALS: dict[str, tuple[object, str]] = {
    "collections.OrderedDict": (
        collections.OrderedDict, "state_dict, its _metadata and every tensor's backward_hooks; only OrderedDict()"),
    "torch._utils._rebuild_tensor_v2": (
        rebuild_tensor_v2, "every tensor; ours only views a storage read from the archive, after bounds checks"),
    **{f"torch.{name}": (StorageType(name, dtype), f"names the dtype ({dtype}) of a storage; never called")
       for name, dtype in _STORAGE_DTYPES.items()},
}
_NAMES = {id(obj): name for name, (obj, _) in ALLOWED_GLOBALS.items()}


def loads(data: bytes, load_storage: Callable[[str, torch.dtype, int], torch.Tensor]) -> object:
    """Run `data` (a data.pkl) under the policy; `load_storage(key, dtype, numel)` returns that storage, flat."""
    with warnings.catch_warnings():  # genops warns (DeprecationWarning) on bad escapes in text opcodes we refuse
        warnings.simplefilter("ignore", DeprecationWarning)
        return _Machine(load_storage).run(data)


class _Machine:
    def __init__(self, load_storage):
        self.load_storage = load_storage
        self.stack: list = []
        self.marks: list[int] = []  # stack heights at each open MARK
        self.memo: dict[int, object] = {}
        self.storages: dict[str, Storage] = {}
        self.depth: dict[int, tuple[object, int]] = {}  # id -> (tuple or frozenset kept alive, nesting depth)

    def run(self, data: bytes) -> object:
        pos = 0
        try:
            for count, (op, arg, pos) in enumerate(pickletools.genops(data)):
                if count >= MAX_OPCODES:
                    raise UnsafeFileError(f"pickle runs more than {MAX_OPCODES} opcodes")
                if op.name == "STOP":
                    break  # genops stops after STOP, or raises ValueError if the bytes end first
                handler = _OPS.get(op.name)
                if handler is None:
                    raise UnsafeFileError(f"pickle opcode {op.name} is not allowed (byte {pos})")
                handler(self, arg)
        except LegacyError:
            raise
        except (ValueError, TypeError, OverflowError, RuntimeError) as e:  # genops on bad bytes, unhashable keys
            raise CorruptFileError(f"malformed pickle near byte {pos}: {str(e)[:200]!r}") from None
        if len(self.stack) != 1 or self.marks or pos + 1 != len(data):
            raise CorruptFileError(f"pickle does not end cleanly at STOP (byte {pos})")
        return self.stack[0]

    # -- stack
    def top(self):
        if len(self.stack) <= (self.marks[-1] if self.marks else 0):
            raise CorruptFileError("malformed pickle: stack underflow")
        return self.stack[-1]

    def pop(self):
        self.top()
        return self.stack.pop()

    def pop_mark(self) -> list:
        if not self.marks:
            raise CorruptFileError("malformed pickle: no MARK to pop to")
        start = self.marks.pop()
        items = self.stack[start:]
        del self.stack[start:]
        return items

    def push_value(self, v):
        if isinstance(v, (str, bytes)) and len(v) > MAX_STR_LEN:
            raise UnsafeFileError(f"pickle holds a string of {len(v)} bytes, above the limit of {MAX_STR_LEN}")
        if type(v) is int and v.bit_length() > MAX_INT_BITS:
            raise UnsafeFileError(f"pickle holds an integer of {v.bit_length()} bits")
        self.stack.append(v)

    def push_hashable(self, v):
        """Push a new tuple or frozenset whose nesting depth is bounded (see MAX_HASHABLE_DEPTH)."""
        depth = 1 + max((self.depth.get(id(x), (None, 0))[1] for x in v), default=0)
        if depth > MAX_HASHABLE_DEPTH or len(v) > MAX_CONTAINER_LEN:
            raise UnsafeFileError(f"pickle nests tuples deeper than {MAX_HASHABLE_DEPTH} or makes one too long")
        self.depth[id(v)] = (v, depth)
        self.stack.append(v)

    def add_to(self, kind: type, items: list):
        target = self.top()
        if not isinstance(target, kind):
            raise CorruptFileError(f"pickle adds items to a {type(target).__name__}, not a {kind.__name__}")
        if len(target) + len(items) // (2 if kind is dict else 1) > MAX_CONTAINER_LEN:
            raise UnsafeFileError(f"pickle makes a {kind.__name__} longer than {MAX_CONTAINER_LEN}")
        if kind is dict:
            if len(items) % 2:
                raise CorruptFileError("malformed pickle: SETITEMS with an odd number of items")
            for k, v in zip(items[::2], items[1::2]):
                target[k] = v
        elif kind is list:
            target.extend(items)
        else:
            target.update(items)

    # -- memo
    def put(self, index: int):
        if index >= MAX_MEMO_INDEX:
            raise UnsafeFileError(f"pickle memo index {index} is above the limit of {MAX_MEMO_INDEX}")
        self.memo[index] = self.top()

    def get(self, index: int):
        if index not in self.memo:
            raise CorruptFileError(f"pickle reads memo entry {index}, which was never written")
        self.stack.append(self.memo[index])

    # -- the opcodes that can touch a global
    def global_(self, module: object, name: object):
        if not isinstance(module, str) or not isinstance(name, str):
            raise CorruptFileError("malformed pickle: STACK_GLOBAL needs two strings")
        entry = ALLOWED_GLOBALS.get(f"{module}.{name}")
        if entry is None:
            raise UnsafeFileError(f"pickle refers to global {module}.{name}, which is not allowed")
        self.stack.append(entry[0])

    def reduce(self, _):
        args, func = self.pop(), self.pop()
        if not isinstance(args, tuple):
            raise CorruptFileError(f"malformed pickle: REDUCE arguments are a {type(args).__name__}")
        if func is collections.OrderedDict and not args:
            self.stack.append(collections.OrderedDict())
        elif func is rebuild_tensor_v2 and 6 <= len(args) <= 7:
            self.stack.append(rebuild_tensor_v2(*args))
        else:
            what = _NAMES.get(id(func), type(func).__name__)
            raise UnsafeFileError(f"pickle calls {what} with {len(args)} argument(s), which is not allowed")

    def build(self, _):
        state, inst = self.pop(), self.top()
        # OrderedDict.__reduce__ carries instance attributes (a state_dict's `_metadata`) as a dict state.
        if type(inst) is not collections.OrderedDict or not isinstance(state, dict):
            raise UnsafeFileError(f"pickle BUILD sets state on a {type(inst).__name__} from a {type(state).__name__}")
        for key in state:
            if not isinstance(key, str) or not key.isidentifier() or key.startswith("__"):
                raise UnsafeFileError(f"pickle sets attribute {str(key)[:80]!r} on an OrderedDict")
        vars(inst).update(state)

    def persistent_load(self, _):
        pid = self.pop()
        if not (isinstance(pid, tuple) and len(pid) == 5 and isinstance(pid[0], str) and pid[0] == "storage"
                and isinstance(pid[1], StorageType)):
            raise UnsafeFileError(f"pickle persistent id {str(pid)[:80]!r} is not a storage reference")
        _, stype, key, location, numel = pid
        if not (isinstance(key, str) and isinstance(location, str) and _is_index(numel)):
            raise CorruptFileError(f"pickle storage reference {str(pid)[:80]!r} is malformed")
        storage = self.storages.get(key)
        if storage is None:  # location is ignored: everything is read onto the CPU
            storage = self.storages[key] = Storage(stype.dtype, self.load_storage(key, stype.dtype, numel))
        elif storage.dtype != stype.dtype or storage.flat.numel() != numel:
            raise CorruptFileError(f"storage {key} is referenced with two different dtypes or sizes")
        self.stack.append(storage)


def _pop_n(m: _Machine, n: int) -> list:
    return [m.pop() for _ in range(n)][::-1]


def _check_protocol(version: int) -> None:
    if version > 5:
        raise CorruptFileError(f"pickle protocol {version} is unknown")


# opcode name -> what it does; genops has already decoded each argument.
_OPS: dict[str, Callable[[_Machine, object], None]] = {
    "PROTO": lambda m, v: _check_protocol(v),
    "FRAME": lambda m, _: None,
    "MARK": lambda m, _: m.marks.append(len(m.stack)),
    "POP": lambda m, _: m.pop() if len(m.stack) > (m.marks[-1] if m.marks else 0) else m.pop_mark(),
    "POP_MARK": lambda m, _: m.pop_mark(),
    "NONE": lambda m, _: m.stack.append(None),
    "NEWTRUE": lambda m, _: m.stack.append(True),
    "NEWFALSE": lambda m, _: m.stack.append(False),
    **{name: lambda m, v: m.push_value(v) for name in (
        "BININT", "BININT1", "BININT2", "LONG1", "LONG4", "BINFLOAT", "BINUNICODE", "SHORT_BINUNICODE",
        "BINUNICODE8", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8")},
    "EMPTY_DICT": lambda m, _: m.stack.append({}),
    "EMPTY_LIST": lambda m, _: m.stack.append([]),
    "EMPTY_SET": lambda m, _: m.stack.append(set()),
    "EMPTY_TUPLE": lambda m, _: m.push_hashable(()),
    "TUPLE": lambda m, _: m.push_hashable(tuple(m.pop_mark())),
    "TUPLE1": lambda m, _: m.push_hashable(tuple(_pop_n(m, 1))),
    "TUPLE2": lambda m, _: m.push_hashable(tuple(_pop_n(m, 2))),
    "TUPLE3": lambda m, _: m.push_hashable(tuple(_pop_n(m, 3))),
    "FROZENSET": lambda m, _: m.push_hashable(frozenset(m.pop_mark())),
    "APPEND": lambda m, _: m.add_to(list, [m.pop()]),
    "APPENDS": lambda m, _: m.add_to(list, m.pop_mark()),
    "SETITEM": lambda m, _: m.add_to(dict, _pop_n(m, 2)),
    "SETITEMS": lambda m, _: m.add_to(dict, m.pop_mark()),
    "ADDITEMS": lambda m, _: m.add_to(set, m.pop_mark()),
    "BINPUT": _Machine.put,
    "LONG_BINPUT": _Machine.put,
    "MEMOIZE": lambda m, _: m.put(len(m.memo)),
    "BINGET": _Machine.get,
    "LONG_BINGET": _Machine.get,
    "GLOBAL": lambda m, v: m.global_(*v.split(" ", 1)),
    "STACK_GLOBAL": lambda m, _: m.global_(*_pop_n(m, 2)),
    "REDUCE": _Machine.reduce,
    "BUILD": _Machine.build,
    "BINPERSID": _Machine.persistent_load,
}
