"""The allowlist policy for the pickle inside a torch checkpoint, and the small interpreter that enforces it.

Checkpoints come from strangers, so nothing here imports, looks up or calls anything the file names: there is no
`pickle.loads` and no `find_class`. `pickletools.genops` only parses the opcodes; this module decides what each may
do. A global outside `ALLOWED_GLOBALS` or an opcode outside `_OPS` raises `UnsafeFileError` naming it.

Time and memory are bounded by what the file is, not by what it builds:

- Dict keys and set elements are only what genuine checkpoints use: `str`, and `int` in [0, MAX_INT_KEY). Their
  hashes are cheap and cannot be chosen to collide (small ints hash to themselves; str hashes are seeded per
  process), and a structure shared through the memo is never hashed or walked.
- Every step is charged to a work budget proportional to the pickle's size (`work_budget`), so no opcode sequence
  can do more than a constant amount of work per byte of the file.
- Error messages never format a file's objects: they name a type and a size (`compat.errors.describe_value`), or
  quote a short, escaped slice of a string (`compat.errors.quote`).
"""

from __future__ import annotations

import collections
import math
import pickletools
import warnings
from typing import Callable

import torch

from .errors import CorruptFileError, LegacyError, UnsafeFileError, UnsupportedReleaseError, describe_value, quote

# Far above a genuine data.pkl (a few thousand opcodes, a few KB), low enough to run in a few seconds.
MAX_OPCODES = 2_000_000
MAX_MEMO_INDEX = 1_000_000
MAX_CONTAINER_LEN = 1_000_000
MAX_STR_LEN = 16 * 2**20
MAX_INT_BITS = 1024
MAX_INT_KEY = 2**16  # genuine int keys are optimizer parameter indices (0, 1, ...)
MAX_HASHABLE_DEPTH = 100  # tuple nesting; CPython's C code recurses through nested tuples unguarded
MAX_TENSOR_DIMS = 64
MAX_TENSOR_NUMEL = 2**32  # stride-0 views can claim any size; a bigger one is not a model weight
WORK_PER_BYTE = 4  # a genuine pickle uses about 1 unit per byte
WORK_BASE = 100_000
_KEY_BYTES_PER_UNIT = 64  # comparing two equal str keys costs about a unit per 64 characters
_MAX_INDEX = 2**62  # offsets, sizes and strides must fit torch's int64 with room for our sums
_QUOTE = 60  # characters of a file's string quoted in a message (compat.errors.quote)


def work_budget(pickle_bytes: int) -> int:
    """Work units a pickle of this many bytes may use: opcodes, items moved into containers, key comparisons."""
    return WORK_BASE + WORK_PER_BYTE * pickle_bytes


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
        raise UnsafeFileError(f"_rebuild_tensor_v2 given {describe_value(storage)}, not a storage from the archive")
    if not (type(size) is tuple and type(stride) is tuple and len(size) == len(stride) <= MAX_TENSOR_DIMS
            and all(map(_is_index, (storage_offset, *size, *stride))) and type(requires_grad) is bool):
        raise CorruptFileError("_rebuild_tensor_v2 given a malformed offset, size, stride or requires_grad")
    if type(backward_hooks) not in (dict, collections.OrderedDict) or backward_hooks:
        raise UnsafeFileError("tensor carries backward hooks")
    if metadata:
        names = ", ".join(quote(k, 20) if type(k) is str else describe_value(k) for k in list(metadata)[:3]) \
            if isinstance(metadata, dict) else describe_value(metadata)
        raise UnsupportedReleaseError(f"tensor metadata ({names}) is not supported")
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
_LONGEST_GLOBAL = max(map(len, ALLOWED_GLOBALS))

# Instance attributes BUILD may set on an OrderedDict: a state_dict carries `_metadata` (module versions). Nothing
# else, so that no attribute can shadow a method (`get`, `items`) that later code calls.
BUILD_ATTRIBUTES = frozenset({"_metadata"})


def loads(data: bytes, load_storage: Callable[[str, torch.dtype, int], torch.Tensor]) -> object:
    """Run `data` (a data.pkl) under the policy; `load_storage(key, dtype, numel)` returns that storage, flat."""
    with warnings.catch_warnings():  # genops warns (DeprecationWarning) on bad escapes in text opcodes we refuse
        warnings.simplefilter("ignore", DeprecationWarning)
        machine = _Machine(load_storage, work_budget(len(data)))
        try:
            return machine.run(data)
        except MemoryError:
            raise UnsafeFileError("the pickle needs more memory than is available") from None
        except RecursionError:
            raise UnsafeFileError("the pickle nests too deeply") from None
        finally:
            machine.release()


class _Machine:
    def __init__(self, load_storage, budget: int):
        self.load_storage = load_storage
        self.budget = budget
        self.work = 0
        self.stack: list = []
        self.marks: list[int] = []  # stack heights at each open MARK
        self.memo: dict[int, object] = {}
        self.storages: dict[str, Storage] = {}
        self.depth: dict[int, tuple[object, int]] = {}  # id -> (tuple kept alive, nesting depth)

    def release(self) -> None:
        self.stack = self.marks = self.memo = self.depth = self.storages = None

    def charge(self, units: int) -> None:
        self.work += units
        if self.work > self.budget:
            raise UnsafeFileError(f"the pickle asks for more work than its size allows ({self.budget} units)")

    def run(self, data: bytes) -> object:
        pos, prev, frame_end = 0, 0, None
        try:
            for count, (op, arg, pos) in enumerate(pickletools.genops(data)):
                if count >= MAX_OPCODES:
                    raise UnsafeFileError(f"pickle runs more than {MAX_OPCODES} opcodes")
                if frame_end is not None and prev < frame_end < pos:
                    raise CorruptFileError(f"pickle opcode at byte {prev} runs past the end of its frame")
                prev = pos
                self.work += 1
                if self.work > self.budget:
                    self.charge(0)
                if op.name == "STOP":
                    break  # genops stops after STOP, or raises ValueError if the bytes end first
                if op.name == "FRAME":
                    if frame_end is not None and pos < frame_end:
                        raise CorruptFileError(f"pickle starts a frame at byte {pos} inside another frame")
                    frame_end = pos + 9 + arg  # opcode byte, 8-byte length, then the frame
                    if frame_end > len(data):
                        raise CorruptFileError(f"pickle frame at byte {pos} claims {arg} bytes, past the end")
                    continue
                handler = _OPS.get(op.name)
                if handler is None:
                    raise UnsafeFileError(f"pickle opcode {op.name} is not allowed (byte {pos})")
                handler(self, arg)
        except (LegacyError, MemoryError, RecursionError):  # RecursionError is a RuntimeError: `loads` types it
            raise
        except (ValueError, TypeError, OverflowError, RuntimeError, UnicodeError) as e:  # genops on bad bytes
            raise CorruptFileError(f"malformed pickle near byte {pos}: {type(e).__name__}: {str(e)[:120]}") from None
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
        self.charge(len(items))
        return items

    def push_value(self, v):
        if isinstance(v, (str, bytes)) and len(v) > MAX_STR_LEN:
            raise UnsafeFileError(f"pickle holds a string of {len(v)} bytes, above the limit of {MAX_STR_LEN}")
        if type(v) is int and v.bit_length() > MAX_INT_BITS:
            raise UnsafeFileError(f"pickle holds an integer of {v.bit_length()} bits")
        self.stack.append(v)

    def push_tuple(self, v: tuple):
        """Push a new tuple whose nesting depth is bounded (see MAX_HASHABLE_DEPTH). Only tuples that hold
        tuples are recorded (a tuple of leaves has depth 1), and each recorded one is kept alive, so that its id
        cannot be reused while it is in the table."""
        if len(v) > MAX_CONTAINER_LEN:
            raise UnsafeFileError(f"pickle makes a tuple longer than {MAX_CONTAINER_LEN}")
        inner = [x for x in v if type(x) is tuple]
        if inner:
            depth = 1 + max(self.depth[id(x)][1] if id(x) in self.depth else 1 for x in inner)
            if depth > MAX_HASHABLE_DEPTH:
                raise UnsafeFileError(f"pickle nests tuples deeper than {MAX_HASHABLE_DEPTH}")
            self.depth[id(v)] = (v, depth)
        self.stack.append(v)

    def key(self, k, role: str):
        """A dict key or set element: only what genuine checkpoints use, charged for its comparison cost."""
        if type(k) is str:
            self.charge(1 + len(k) // _KEY_BYTES_PER_UNIT)
        elif type(k) is int and 0 <= k < MAX_INT_KEY:
            self.charge(1)
        else:
            raise UnsafeFileError(f"pickle uses {describe_value(k)} as a {role}; checkpoints use only strings and "
                                  f"integers 0..{MAX_INT_KEY - 1}")
        return k

    def add_to(self, container: type, items: list):
        target = self.top()
        if not isinstance(target, container):
            raise CorruptFileError(f"pickle adds items to {describe_value(target)}, not a {container.__name__}")
        if len(target) + len(items) // (2 if container is dict else 1) > MAX_CONTAINER_LEN:
            raise UnsafeFileError(f"pickle makes a {container.__name__} longer than {MAX_CONTAINER_LEN}")
        if container is dict:
            if len(items) % 2:
                raise CorruptFileError("malformed pickle: SETITEMS with an odd number of items")
            for k, v in zip(items[::2], items[1::2]):
                target[self.key(k, "dict key")] = v
        elif container is list:
            target.extend(items)
        else:
            target.update(self.key(k, "set element") for k in items)

    def frozenset_(self, items: list):
        if len(items) > MAX_CONTAINER_LEN:
            raise UnsafeFileError(f"pickle makes a frozenset longer than {MAX_CONTAINER_LEN}")
        self.stack.append(frozenset(self.key(k, "set element") for k in items))

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
        if type(module) is not str or type(name) is not str:
            raise CorruptFileError("malformed pickle: STACK_GLOBAL needs two strings")
        full = f"{module}.{name}" if len(module) + len(name) < _LONGEST_GLOBAL else None
        entry = ALLOWED_GLOBALS.get(full) if full else None
        if entry is None:
            cut = len(module) > _QUOTE or len(name) > _QUOTE  # never join two long strings: slice first
            shown = quote(f"{module[:_QUOTE]}.{name[:_QUOTE]}", 2 * _QUOTE + 1) + ("..." if cut else "")
            raise UnsafeFileError(f"pickle refers to global {shown}, which is not allowed")
        self.stack.append(entry[0])

    def reduce(self, _):
        args, func = self.pop(), self.pop()
        if type(args) is not tuple:
            raise CorruptFileError(f"malformed pickle: REDUCE arguments are {describe_value(args)}")
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
        if type(inst) is not collections.OrderedDict or type(state) not in (dict, collections.OrderedDict):
            raise UnsafeFileError(f"pickle BUILD sets state on {describe_value(inst)} from {describe_value(state)}")
        self.charge(len(state))
        for key, value in state.items():
            if type(key) is not str:
                raise UnsafeFileError(f"pickle sets an attribute named by {describe_value(key)} on an OrderedDict")
            if key not in BUILD_ATTRIBUTES:
                raise UnsafeFileError(f"pickle sets attribute {quote(key)} on an OrderedDict "
                                      f"(only {', '.join(sorted(BUILD_ATTRIBUTES))} is allowed)")
            if type(value) not in (dict, collections.OrderedDict):
                raise UnsafeFileError(f"pickle sets {key} of an OrderedDict to {describe_value(value)}, not a dict")
        vars(inst).update(state)

    def persistent_load(self, _):
        pid = self.pop()
        if not (type(pid) is tuple and len(pid) == 5 and type(pid[0]) is str and pid[0] == "storage"
                and isinstance(pid[1], StorageType)):
            raise UnsafeFileError(f"pickle persistent id is {describe_value(pid)}, not a storage reference")
        _, stype, key, location, numel = pid
        if not (type(key) is str and type(location) is str and _is_index(numel)):
            raise CorruptFileError(f"pickle storage reference is malformed (key {describe_value(key)}, location "
                                   f"{describe_value(location)}, size {describe_value(numel)})")
        storage = self.storages.get(key)
        if storage is None:  # location is ignored: everything is read onto the CPU
            storage = self.storages[key] = Storage(stype.dtype, self.load_storage(key, stype.dtype, numel))
        elif storage.dtype != stype.dtype or storage.flat.numel() != numel:
            raise CorruptFileError(f"storage {quote(key, 24)} is referenced with two different dtypes or sizes")
        self.stack.append(storage)


def _pop_n(m: _Machine, n: int) -> list:
    return [m.pop() for _ in range(n)][::-1]


def _check_protocol(version: int) -> None:
    if version > 5:
        raise CorruptFileError(f"pickle protocol {version} is unknown")


# opcode name -> what it does; genops has already decoded each argument. FRAME and STOP are handled in `run`.
_OPS: dict[str, Callable[[_Machine, object], None]] = {
    "PROTO": lambda m, v: _check_protocol(v),
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
    "EMPTY_TUPLE": lambda m, _: m.push_tuple(()),
    "TUPLE": lambda m, _: m.push_tuple(tuple(m.pop_mark())),
    "TUPLE1": lambda m, _: m.push_tuple(tuple(_pop_n(m, 1))),
    "TUPLE2": lambda m, _: m.push_tuple(tuple(_pop_n(m, 2))),
    "TUPLE3": lambda m, _: m.push_tuple(tuple(_pop_n(m, 3))),
    "FROZENSET": lambda m, _: m.frozenset_(m.pop_mark()),
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
