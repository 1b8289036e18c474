"""Building hostile checkpoints: pickle opcodes by hand, torch-shaped zips, and structure-aware mutation of
genuine checkpoints (their pickle as an opcode list, their zip headers as fields).

Nothing here loads a pickle: `pickletools.genops` only parses genuine data.pkl files into (opcode, argument)
pairs, which `encode` writes back.
"""

from __future__ import annotations

import io
import pickle as P  # opcode constants only
import pickletools
import struct
import zipfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

FIXTURES = Path(__file__).parent / "fixtures"

# -- pickle assembly ------------------------------------------------------------------------------------------------


def g(module: str, name: str) -> bytes:
    return P.GLOBAL + f"{module}\n{name}\n".encode()


def u(text: str) -> bytes:
    raw = text.encode("utf-8", "surrogatepass")
    return P.BINUNICODE + struct.pack("<I", len(raw)) + raw


def i(n: int) -> bytes:
    if 0 <= n < 256:
        return P.BININT1 + bytes([n])
    if -2**31 <= n < 2**31:
        return P.BININT + struct.pack("<i", n)
    raw = P.encode_long(n)
    return P.LONG1 + bytes([len(raw)]) + raw if len(raw) < 256 else P.LONG4 + struct.pack("<i", len(raw)) + raw


def f(x: float) -> bytes:
    return P.BINFLOAT + struct.pack(">d", x)


def tup(*items: bytes) -> bytes:
    return P.MARK + b"".join(items) + P.TUPLE


def call(func: bytes, *args: bytes) -> bytes:
    return func + tup(*args) + P.REDUCE


def pkl(*parts: bytes, proto: int = 2) -> bytes:
    return P.PROTO + bytes([proto]) + b"".join(parts) + P.STOP


def put(n: int) -> bytes:
    return P.BINPUT + bytes([n]) if n < 256 else P.LONG_BINPUT + struct.pack("<I", n)


def get(n: int) -> bytes:
    return P.BINGET + bytes([n]) if n < 256 else P.LONG_BINGET + struct.pack("<I", n)


def in_dict(*items: bytes) -> bytes:
    return P.EMPTY_DICT + P.MARK + b"".join(items) + P.SETITEMS if items else P.EMPTY_DICT


def in_list(*items: bytes) -> bytes:
    return P.EMPTY_LIST + P.MARK + b"".join(items) + P.APPENDS if items else P.EMPTY_LIST


ODICT = call(g("collections", "OrderedDict"))


def sget(key: str = "0", numel: int = 4, stype: str = "FloatStorage") -> bytes:
    """A storage reference as torch writes it: BINPERSID of ('storage', type, key, location, numel)."""
    return tup(u("storage"), g("torch", stype), u(key), u("cpu"), i(numel)) + P.BINPERSID


def tensor(storage: Optional[bytes] = None, offset: int = 0, size: Sequence[int] = (4,), stride: Sequence[int] = (1,),
           grad: bytes = P.NEWFALSE, hooks: bytes = ODICT, *extra: bytes) -> bytes:
    """torch's _rebuild_tensor_v2 call (storage defaults to `sget()`); `extra` arguments after the hooks."""
    return call(g("torch._utils", "_rebuild_tensor_v2"), sget() if storage is None else storage, i(offset),
                tup(*map(i, size)), tup(*map(i, stride)), grad, hooks, *extra)


def memo_dag(depth: int, slot: int = 0, leaf: bytes = P.EMPTY_TUPLE, pair: bytes = P.TUPLE2) -> bytes:
    """Push a tuple DAG of `depth` levels, each level two references to the one below: 2**depth leaves when
    walked, 5 opcodes per level in the file."""
    out = leaf + put(slot) + P.POP
    for _ in range(depth):
        out += get(slot) + get(slot) + pair + put(slot) + P.POP
    return out + get(slot)


def list_dag(depth: int, slot: int = 0) -> bytes:
    """Push a list DAG: each level a list holding the level below twice."""
    out = P.EMPTY_LIST + put(slot) + P.POP
    for _ in range(depth):
        out += P.EMPTY_LIST + P.MARK + get(slot) + get(slot) + P.APPENDS + put(slot) + P.POP
    return out + get(slot)


# -- torch-shaped zips ----------------------------------------------------------------------------------------------


def torch_zip(path: Path, data_pkl: bytes, storages: Dict[str, bytes], prefix: str = "archive",
              compression: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as z:
        z.writestr(f"{prefix}/data.pkl", data_pkl)
        z.writestr(f"{prefix}/byteorder", b"little")
        for key, data in storages.items():
            z.writestr(f"{prefix}/data/{key}", data)
        z.writestr(f"{prefix}/version", b"3\n")
    return path


def fast_zip(path: Path, found: Dict[str, bytes], deflate: bool = True, level: int = 9) -> Path:
    """Like `rezip`, but each distinct content is deflated (level 9) once: thousands of equal entries are quick.
    No zip64 records, so at most 65 535 entries under 4 GiB."""
    import zlib
    cache: Dict[int, Tuple[bytes, int]] = {}
    local, central = io.BytesIO(), io.BytesIO()
    for name, data in found.items():
        if id(data) not in cache:
            if deflate:
                c = zlib.compressobj(level, zlib.DEFLATED, -15)
                cache[id(data)] = (c.compress(data) + c.flush(), zlib.crc32(data))
            else:
                cache[id(data)] = (data, zlib.crc32(data))
        packed, crc = cache[id(data)]
        raw = name.encode()
        method = 8 if deflate else 0
        offset = local.tell()
        local.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0x21, crc, len(packed), len(data),
                                len(raw), 0) + raw + packed)
        central.write(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0x21, crc, len(packed),
                                  len(data), len(raw), 0, 0, 0, 0, 0, offset) + raw)
    n = len(found)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, n, n, central.tell(), local.tell(), 0)
    path.write_bytes(local.getvalue() + central.getvalue() + end)
    return path


def entries(path: Path) -> Tuple[str, Dict[str, bytes]]:
    """(prefix, {name: bytes}) of a torch archive."""
    with zipfile.ZipFile(path) as z:
        found = {info.filename: z.read(info) for info in z.infolist()}
    prefix = next(iter(found)).split("/", 1)[0]
    return prefix, found


def rezip(path: Path, found: Dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression, compresslevel=1) as z:
        for name, data in found.items():
            z.writestr(name, data)
    return path


# -- a genuine pickle as an opcode list -----------------------------------------------------------------------------

Op = Tuple[str, object]
_BY_NAME = {op.name: op for op in pickletools.opcodes}


def ops_of(data: bytes) -> List[Op]:
    return [(op.name, arg) for op, arg, _ in pickletools.genops(data)]


def int_op(n: int) -> Op:
    """The opcode torch's pickler would use for the int n."""
    if 0 <= n < 256:
        return ("BININT1", n)
    if 0 <= n < 65536:
        return ("BININT2", n)
    if -2**31 <= n < 2**31:
        return ("BININT", n)
    return ("LONG1", n) if len(P.encode_long(n)) < 256 else ("LONG4", n)


def encode(ops: Sequence[Op]) -> bytes:
    out = io.BytesIO()
    for name, arg in ops:
        out.write(_BY_NAME[name].code.encode("latin-1"))
        if arg is None:
            continue
        if name in ("PROTO", "BININT1", "BINPUT", "BINGET"):
            out.write(bytes([arg]))
        elif name == "BININT2":
            out.write(struct.pack("<H", arg))
        elif name == "BININT":
            out.write(struct.pack("<i", arg))
        elif name in ("LONG_BINPUT", "LONG_BINGET"):
            out.write(struct.pack("<I", arg))
        elif name == "BINFLOAT":
            out.write(struct.pack(">d", arg))
        elif name == "LONG1":
            raw = P.encode_long(arg)
            out.write(bytes([len(raw)]) + raw)
        elif name == "LONG4":
            raw = P.encode_long(arg)
            out.write(struct.pack("<i", len(raw)) + raw)
        elif name in ("BINUNICODE", "SHORT_BINUNICODE"):
            raw = arg.encode("utf-8", "surrogatepass")
            out.write((struct.pack("<I", len(raw)) if name == "BINUNICODE" else bytes([len(raw)])) + raw)
        elif name == "GLOBAL":
            module, attr = arg.split(" ", 1)
            out.write(f"{module}\n{attr}\n".encode())
        elif name == "FRAME":
            out.write(struct.pack("<Q", arg))
        else:
            raise ValueError(f"no encoder for {name}")
    return out.getvalue()


# -- zip headers as fields ------------------------------------------------------------------------------------------

# (signature, [(field name, offset, struct format)]) per record of the zip format.
_RECORDS = {
    b"PK\x03\x04": [("version", 4, "<H"), ("flags", 6, "<H"), ("method", 8, "<H"), ("crc", 14, "<I"),
                    ("compressed", 18, "<I"), ("size", 22, "<I"), ("name_len", 26, "<H"), ("extra_len", 28, "<H")],
    b"PK\x01\x02": [("flags", 8, "<H"), ("method", 10, "<H"), ("crc", 16, "<I"), ("compressed", 20, "<I"),
                    ("size", 24, "<I"), ("name_len", 28, "<H"), ("extra_len", 30, "<H"), ("comment_len", 32, "<H"),
                    ("disk", 34, "<H"), ("offset", 42, "<I")],
    b"PK\x06\x06": [("disk", 16, "<I"), ("disk_entries", 24, "<Q"), ("entries", 32, "<Q"), ("cd_size", 40, "<Q"),
                    ("cd_offset", 48, "<Q")],
    b"PK\x06\x07": [("disk", 4, "<I"), ("eocd64_offset", 8, "<Q"), ("disks", 16, "<I")],
    b"PK\x05\x06": [("disk_entries", 8, "<H"), ("entries", 10, "<H"), ("cd_size", 12, "<I"), ("cd_offset", 16, "<I"),
                    ("comment_len", 20, "<H")],
}


def zip_fields(data: bytes) -> List[Tuple[str, int, str]]:
    """Every header field of a zip made by torch or zipfile: (record:field, absolute offset, struct format).

    Records are found from the central directory (which names each local header), so file contents that happen
    to contain a signature are not mistaken for headers."""
    fields: List[Tuple[str, int, str]] = []
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        starts = [(b"PK\x03\x04", info.header_offset) for info in z.infolist()]
        cd = z.start_dir
    pos = cd
    while data[pos:pos + 4] == b"PK\x01\x02":
        starts.append((b"PK\x01\x02", pos))
        n, e, c = struct.unpack_from("<3H", data, pos + 28)
        pos += 46 + n + e + c
    for sig in (b"PK\x06\x06", b"PK\x06\x07", b"PK\x05\x06"):
        at = data.rfind(sig, pos)
        if at >= 0:
            starts.append((sig, at))
    for sig, at in starts:
        for name, offset, fmt in _RECORDS[sig]:
            fields.append((f"{sig[2:].hex()}@{at}:{name}", at + offset, fmt))
    return fields


def central_records(data: bytes) -> Dict[str, int]:
    """Offset of each entry's central directory record, by name."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        pos = z.start_dir
    out = {}
    while data[pos:pos + 4] == b"PK\x01\x02":
        n, e, c = struct.unpack_from("<3H", data, pos + 28)
        out[data[pos + 46:pos + 46 + n].decode("utf-8", "replace")] = pos
        pos += 46 + n + e + c
    return out


def genuine_checkpoints(release: Optional[str] = None) -> List[Path]:
    return sorted(FIXTURES.glob(f"{release or '*'}/*/model.ckpt"))
