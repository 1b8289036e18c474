"""The zip container of a torch (>= 1.6) checkpoint: member names, size limits, and storages read on demand.

Nothing is ever extracted to disk, but member names are still checked so that a hostile archive is refused as a
whole. The entry count and central-directory size are checked from the end-of-central-directory record before
the directory is parsed; declared sizes are checked before anything is read; entries may not overlap; and every
read is charged, before it allocates, to one budget of inflated bytes for the whole archive (by default
MAX_TOTAL_BYTES; `compat.loading` passes a smaller one derived from the model the config describes). A read never
goes past what was declared, and inflating streams in chunks into the one preallocated buffer.
"""

from __future__ import annotations

import re
import struct
import zipfile
from pathlib import Path
from typing import BinaryIO

import torch

from .errors import CorruptFileError, UnknownFormatError, UnsafeFileError, UnsupportedReleaseError, quote

MAX_TOTAL_BYTES = 2**30  # uncompressed, all entries together (and all reads together)
MAX_ENTRY_BYTES = 2**30
MAX_ENTRIES = 20_000  # a genuine checkpoint has 2 entries per tensor at most, plus 5
MAX_CENTRAL_DIR_BYTES = 4 * 2**20  # a genuine one is under 100 bytes per entry
MAX_PICKLE_BYTES = 64 * 2**20  # a genuine data.pkl is a few KB
MAX_COMPRESSION_RATIO = 100  # torch stores entries uncompressed; this only matters for re-zipped files
_RATIO_EXEMPT_BYTES = 2**20  # small entries of zeros legitimately deflate better than that
_CHUNK = 2**20

_ZIP_MAGIC = b"PK\x03\x04"
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # signature ... name length, extra length
# torch < 1.6 (or `_use_new_zipfile_serialization=False`) starts with pickle protocol 2 and LONG1 of its magic number.
_LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
_STORAGE_KEY = re.compile(r"[0-9]{1,20}")  # torch numbers its storages


class TorchArchive:
    """An open, validated checkpoint archive. Use as a context manager; storages stay valid after closing."""

    def __init__(self, path: str | Path, max_bytes: int | None = None):
        """`max_bytes`: the most all reads together may inflate to (capped at MAX_TOTAL_BYTES)."""
        self._budget = MAX_TOTAL_BYTES if max_bytes is None else min(max_bytes, MAX_TOTAL_BYTES)
        self._inflated = 0
        self._file: BinaryIO = open(path, "rb")
        try:
            self._zip = _open_zip(self._file)
            self._entries, self.prefix = _validate(self._zip.infolist())
            _check_layout(self._file, self._zip)
            self._check_version_files()
        except BaseException:
            self._file.close()
            raise

    def __enter__(self) -> TorchArchive:
        return self

    def __exit__(self, *exc) -> None:
        self._zip.close()
        self._file.close()

    def pickle_bytes(self) -> bytes:
        info = self._entries.get(f"{self.prefix}/data.pkl")
        if info is None:
            raise CorruptFileError(f"archive has no {self.prefix}/data.pkl")
        if info.file_size > MAX_PICKLE_BYTES:
            raise UnsafeFileError(f"{info.filename} is {info.file_size} bytes, above the limit of {MAX_PICKLE_BYTES}")
        return bytes(self._read(info))

    def storage(self, key: str, dtype: torch.dtype, numel: int) -> torch.Tensor:
        """Storage `key` as a flat tensor of `numel` elements of `dtype`, in memory of its own."""
        if not _STORAGE_KEY.fullmatch(key):
            raise CorruptFileError(f"storage key {quote(key, 40)} is malformed")
        nbytes = numel * dtype.itemsize
        if nbytes > MAX_ENTRY_BYTES:  # before looking at, let alone allocating, anything
            raise UnsafeFileError(f"storage {key} claims {nbytes} bytes, above the limit of {MAX_ENTRY_BYTES}")
        info = self._entries.get(f"{self.prefix}/data/{key}")
        if info is None:
            raise CorruptFileError(f"archive has no {self.prefix}/data/{key}")
        if info.file_size != nbytes:
            raise CorruptFileError(f"storage {key} holds {info.file_size} bytes, not {numel} x {dtype} = {nbytes}")
        buf = self._read(info)
        if dtype == torch.bool and buf.translate(None, b"\x00\x01"):
            raise CorruptFileError(f"bool storage {key} holds bytes other than 0 and 1")
        if not buf:
            return torch.empty(0, dtype=dtype)
        return torch.frombuffer(buf, dtype=dtype)  # the tensor keeps `buf` alive; little-endian was checked

    def _check_version_files(self) -> None:
        byteorder = self._small(f"{self.prefix}/byteorder")
        if byteorder == b"big":
            raise UnknownFormatError("checkpoint was written on a big-endian machine, which is not supported")
        if byteorder not in (None, b"little"):
            raise CorruptFileError(f"{self.prefix}/byteorder holds {byteorder[:20]!r}")
        version = self._small(f"{self.prefix}/.format_version")
        if version not in (None, b"1"):
            raise UnknownFormatError(f"torch serialization format version {version[:20]!r} is not supported")

    def _small(self, name: str) -> bytes | None:
        info = self._entries.get(name)
        if info is None:
            return None
        if info.file_size > 64:
            raise CorruptFileError(f"{name} is {info.file_size} bytes long")
        return bytes(self._read(info)).strip()

    def _read(self, info: zipfile.ZipInfo) -> bytearray:
        """Exactly the declared bytes, into one writable buffer; the zip module checks the CRC at the end."""
        if self._inflated + info.file_size > self._budget:  # before allocating anything
            raise UnsafeFileError(f"the archive's entries inflate to more than {self._budget} bytes, the most "
                                  f"{'a checkpoint of this model holds' if self._budget < MAX_TOTAL_BYTES else 'allowed'}")
        self._inflated += info.file_size
        buf = bytearray(info.file_size)
        view, pos = memoryview(buf), 0
        try:
            with self._zip.open(info) as fh:
                while pos < len(buf):
                    chunk = fh.read(min(_CHUNK, len(buf) - pos))
                    if not chunk:
                        break
                    view[pos:pos + len(chunk)] = chunk
                    pos += len(chunk)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, RuntimeError) as e:
            raise CorruptFileError(f"cannot read zip entry {quote(info.filename)}: {str(e)[:120]}") from None
        finally:
            view.release()
        if pos != len(buf):
            raise CorruptFileError(f"zip entry {quote(info.filename)} is truncated ({pos} of {len(buf)} bytes)")
        return buf


def _open_zip(fh: BinaryIO) -> zipfile.ZipFile:
    head = fh.read(len(_LEGACY_MAGIC))
    fh.seek(0)
    if head == _LEGACY_MAGIC:
        raise UnsupportedReleaseError("it uses torch's pre-1.6 (non-zip) checkpoint format, which is not supported; "
                                      "re-save it with torch >= 1.6 in a trusted environment")
    if not head.startswith(_ZIP_MAGIC):
        raise UnknownFormatError(f"not a torch checkpoint (a zip archive); it starts with {head[:8].hex()!r}")
    try:
        declared = _check_directory_claims(fh)
        zf = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, OverflowError,
            NotImplementedError, struct.error) as e:  # what the zip module raises on damaged central directories
        raise CorruptFileError(f"damaged or truncated zip archive: {str(e)[:120]}") from None
    if len(zf.infolist()) != declared:
        zf.close()
        raise CorruptFileError(f"the zip directory holds {len(zf.infolist())} entries, its end record says {declared}")
    return zf


def _check_directory_claims(fh: BinaryIO) -> int:
    """The entry count the end-of-central-directory record declares, refused if it or the directory's size is
    over the limits, so that a hostile directory is never parsed. The record is found by the zip module's own
    search (`zipfile._EndRecData`, zip64 included), so this checks exactly the record `ZipFile` then uses."""
    endrec = zipfile._EndRecData(fh)
    fh.seek(0)
    if not endrec:
        raise zipfile.BadZipFile("no end-of-central-directory record")
    count, size = endrec[zipfile._ECD_ENTRIES_TOTAL], endrec[zipfile._ECD_SIZE]
    if count > MAX_ENTRIES:
        raise UnsafeFileError(f"archive declares {count} entries, above the limit of {MAX_ENTRIES}")
    if size > MAX_CENTRAL_DIR_BYTES:
        raise UnsafeFileError(f"archive's central directory is {size} bytes, above the limit of {MAX_CENTRAL_DIR_BYTES}")
    return count


def _validate(infos: list[zipfile.ZipInfo]) -> tuple[dict[str, zipfile.ZipInfo], str]:
    """Entries by name, and the single top-level directory they all live in."""
    if len(infos) > MAX_ENTRIES:
        raise UnsafeFileError(f"archive has {len(infos)} entries, above the limit of {MAX_ENTRIES}")
    entries: dict[str, zipfile.ZipInfo] = {}
    prefixes: set[str] = set()
    total = 0
    for info in infos:
        name = info.filename
        parts = name.split("/")
        if name.startswith("/") or "\\" in name or "\0" in name or ":" in parts[0] or ".." in parts:
            raise UnsafeFileError(f"zip entry name {quote(name)} is absolute or leaves the archive")
        if len(parts) < 2 or "" in parts or "." in parts:
            raise UnsafeFileError(f"zip entry name {quote(name)} is not <archive>/<file>")
        if name in entries:
            raise UnsafeFileError(f"zip entry {quote(name)} appears twice")
        if info.flag_bits & 0x1:
            raise UnsafeFileError(f"zip entry {quote(name)} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise UnknownFormatError(f"zip entry {quote(name)} uses compression method {info.compress_type}")
        _check_size(info)
        total += info.file_size
        if total > MAX_TOTAL_BYTES:
            raise UnsafeFileError(f"archive unpacks to more than {MAX_TOTAL_BYTES} bytes")
        entries[name] = info
        prefixes.add(parts[0])
    if len(prefixes) != 1:
        raise UnsafeFileError(f"archive has {len(prefixes)} top-level directories, not one")
    return entries, prefixes.pop()


def _check_layout(fh: BinaryIO, zf: zipfile.ZipFile) -> None:
    """Entries may not overlap one another or the central directory: a genuine archive stores each once, and
    overlapping entries are how a small zip claims to hold many large ones. Reads each local header's lengths."""
    end = 0
    for info in sorted(zf.infolist(), key=lambda i: i.header_offset):
        if info.header_offset < end:
            raise UnsafeFileError(f"zip entry {quote(info.filename)} overlaps another entry")
        fh.seek(info.header_offset)
        header = fh.read(_LOCAL_HEADER.size)
        if len(header) != _LOCAL_HEADER.size or header[:4] != _ZIP_MAGIC:
            raise CorruptFileError(f"zip entry {quote(info.filename)} has no local header")
        name_len, extra_len = _LOCAL_HEADER.unpack(header)[-2:]
        end = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len + info.compress_size
        end += 12 if info.flag_bits & 0x08 else 0  # the data descriptor after the data, without its signature
    if end > zf.start_dir:
        raise UnsafeFileError("zip entries overlap the central directory")
    fh.seek(0)


def _check_size(info: zipfile.ZipInfo) -> None:
    name = quote(info.filename)
    if info.file_size > MAX_ENTRY_BYTES:
        raise UnsafeFileError(f"zip entry {name} unpacks to {info.file_size} bytes, above the limit")
    if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
        raise CorruptFileError(f"stored zip entry {name} declares two different sizes")
    if info.file_size > max(_RATIO_EXEMPT_BYTES, MAX_COMPRESSION_RATIO * info.compress_size):
        raise UnsafeFileError(f"zip entry {name} claims a compression ratio above {MAX_COMPRESSION_RATIO}")
