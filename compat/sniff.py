"""Which legacy format a file is, from its bytes (never from its name).

| result          | what                                                                 |
|-----------------|----------------------------------------------------------------------|
| "ckpt"          | Lightning checkpoint: a zip archive holding `<archive>/data.pkl`     |
| "ckpt-legacy"   | torch < 1.6 serialization (pickle + magic number): not supported     |
| "nam"           | JSON object with top-level "architecture" and "weights"              |
| "parametric_nam"| the same, "architecture" one of the parametric NAM line's (Concat*)  |
| "export_dir"    | folder with config.json + weights.npy (or that config.json itself)   |
| "cpp_header"    | text starting `#pragma once` / `// Automatically-generated model file` |
| "config"        | JSON model / data / learning / param config                          |

Only a bounded prefix (and, for zips, a bounded tail) is read; files over
MAX_FILE_BYTES are refused (`UnsafeFileError`) before anything is read. Anything else is
`UnknownFormatError` with a hint of what is supported.
"""

from __future__ import annotations

import codecs
import json
import os
import stat
from pathlib import Path
from typing import Optional, Set, Union

from .errors import FileAccessError, UnknownFormatError, UnsafeFileError
from .formats.configs import MAX_FILE_BYTES
from .formats.parametric_nam import parametric_family

__all__ = ["FORMATS", "PREFIX_BYTES", "sniff", "sniff_bytes"]

FORMATS = ("ckpt", "ckpt-legacy", "nam", "export_dir", "cpp_header", "config", "parametric_nam")
PREFIX_BYTES = 64 * 1024
_TAIL_BYTES = 64 * 1024

_ZIP_MAGIC = b"PK\x03\x04"
_EMPTY_ZIP = b"PK\x05\x06"
# torch < 1.6: pickle protocol 2, then LONG1 of torch's magic number 0x1950a86a20f9469cfc6c.
_LEGACY_TORCH = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
_NPY_MAGIC = b"\x93NUMPY"
_HEADER_LINES = ("#pragma once", "// Automatically-generated model file")

_HINT = (
    "supported: Lightning .ckpt, .nam (CatLSTM/CatWaveNet, 0.5.0+), export folder (config.json + "
    "weights.npy), C++ model header, JSON configs"
)
_CONFIG_KEYS = {"net", "train", "validation", "train_dataloader", "val_dataloader", "trainer"}


def sniff(path: Union[str, os.PathLike]) -> str:
    """The format of the file or folder at `path` (one of FORMATS)."""
    p = Path(path)
    try:
        if p.is_dir():
            if (p / "config.json").is_file() and (p / "weights.npy").is_file():
                return "export_dir"
            inside = sorted(q.name for q in p.glob("*.nam"))[:3] + sorted(q.name for q in p.glob("*.h"))[:3]
            hint = f"; it holds {', '.join(inside)}: open that" if inside else ""
            raise UnknownFormatError(f"{p.name}: a folder without config.json + weights.npy{hint} ({_HINT})")
        if not stat.S_ISREG(os.stat(p).st_mode):  # checked before open(): a FIFO would block it
            raise FileAccessError(f"{p}: not a regular file")
        with open(p, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > MAX_FILE_BYTES:
                raise UnsafeFileError(f"{p.name}: {size} bytes, above the limit of {MAX_FILE_BYTES}")
            prefix = fh.read(PREFIX_BYTES)
            tail = b""
            if prefix.startswith(_ZIP_MAGIC) and size > PREFIX_BYTES:
                fh.seek(max(size - _TAIL_BYTES, PREFIX_BYTES))
                tail = fh.read(_TAIL_BYTES)
    except (UnknownFormatError, UnsafeFileError, FileAccessError):
        raise
    except OSError as e:
        raise FileAccessError(f"cannot read {p}: {e.strerror or e}") from None
    except ValueError:  # e.g. a NUL in the path
        raise FileAccessError(f"cannot read {str(path)[:60]!r}: not a valid path") from None
    fmt = sniff_bytes(prefix, size=size, tail=tail, name=p.name)
    if fmt == "export_config":
        if (p.parent / "weights.npy").is_file():
            return "export_dir"
        raise UnknownFormatError(f"{p.name}: an export config.json without weights.npy beside it")
    return fmt


def sniff_bytes(prefix: bytes, size: Optional[int] = None, tail: bytes = b"", name: str = "file") -> str:
    """The format of a file from its first bytes (`size`: the whole file's length, if the
    prefix is not all of it; `tail`: its last bytes, for zips). May also return
    "export_config" for an export's config.json seen on its own."""
    size = len(prefix) if size is None else size
    complete = size <= len(prefix)
    if size == 0:
        raise UnknownFormatError(f"{name}: the file is empty ({_HINT})")
    if prefix.startswith(_ZIP_MAGIC) or prefix.startswith(_EMPTY_ZIP):
        if _zip_has_data_pkl(prefix, tail):
            return "ckpt"
        raise UnknownFormatError(f"{name}: a zip archive, but not a torch checkpoint (no data.pkl) ({_HINT})")
    if prefix.startswith(_LEGACY_TORCH):
        return "ckpt-legacy"
    if prefix.startswith(_NPY_MAGIC):
        raise UnknownFormatError(f"{name}: a bare NumPy array; open the export folder that holds it ({_HINT})")
    text = _text(prefix, complete)
    if text is None:
        raise UnknownFormatError(f"{name}: binary data of no known format ({_HINT})")
    stripped = text.lstrip()
    if stripped.startswith("#pragma once"):
        lines = [line.strip() for line in stripped.splitlines()[:3]]
        if lines[:2] == list(_HEADER_LINES):
            return "cpp_header"
        raise UnknownFormatError(f"{name}: a C/C++ header, but not one written by the model exporters ({_HINT})")
    if stripped.startswith("{"):
        keys = _top_level_keys(stripped, complete)
        if keys is None:
            raise UnknownFormatError(f"{name}: starts like JSON but is not a JSON object ({_HINT})")
        if "architecture" in keys and parametric_family(stripped):
            return "parametric_nam"
        if {"architecture", "weights"} <= keys:
            return "nam"
        if not complete and keys & {"weights", "architecture"}:
            # A long JSON object cut short: only a .nam's weight list makes one this big
            # (an export's config.json is a few hundred bytes); the reader will check.
            return "nam"
        if {"architecture", "config"} <= keys:
            return "export_config"
        if keys & _CONFIG_KEYS:
            return "config"
        if keys and _looks_like_param_config(stripped, complete):
            return "config"
        raise UnknownFormatError(f"{name}: a JSON object of no known kind ({_HINT})")
    raise UnknownFormatError(f"{name}: text of no known format ({_HINT})")


def _text(prefix: bytes, complete: bool) -> Optional[str]:
    if prefix.startswith(codecs.BOM_UTF8):
        prefix = prefix[len(codecs.BOM_UTF8):]
    if b"\x00" in prefix:
        return None
    try:
        return prefix.decode("utf-8")
    except UnicodeDecodeError as e:
        if not complete and e.start >= len(prefix) - 3:  # a character cut at the prefix's end
            try:
                return prefix[: e.start].decode("utf-8")
            except UnicodeDecodeError:
                return None
        return None


def _zip_has_data_pkl(prefix: bytes, tail: bytes) -> bool:
    """torch writes `<archive>/data.pkl` as the first entry; re-zipped archives may not, so
    the central directory (in the tail) is searched too."""
    if len(prefix) >= 30 and prefix.startswith(_ZIP_MAGIC):
        n = int.from_bytes(prefix[26:28], "little")
        first = prefix[30:30 + n]
        if first.endswith(b"/data.pkl") or first == b"data.pkl":
            return True
    return b"/data.pkl" in tail or b"/data.pkl" in prefix


def _top_level_keys(text: str, complete: bool) -> Optional[Set[str]]:
    """Keys of the top-level JSON object, as far as `text` (maybe cut short) shows them.

    Values are skipped with the JSON decoder; the first value that runs past the end of a
    truncated prefix stops the scan (the keys seen so far are kept). None if the text is
    not the start of a JSON object.
    """
    decoder = json.JSONDecoder()
    keys: Set[str] = set()
    pos = 1  # after "{"
    n = len(text)

    def skip_ws(i: int) -> int:
        while i < n and text[i] in " \t\r\n":
            i += 1
        return i

    pos = skip_ws(pos)
    if pos < n and text[pos] == "}":
        return keys
    while pos < n:
        if text[pos] != '"':
            return None
        try:
            key, pos = json.decoder.scanstring(text, pos + 1)
        except (ValueError, IndexError):
            return keys if not complete else None
        pos = skip_ws(pos)
        if pos >= n:
            break
        if text[pos] != ":":
            return None
        keys.add(key)
        pos = skip_ws(pos + 1)
        try:
            _, pos = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError):
            return keys if not complete or keys else None
        pos = skip_ws(pos)
        if pos >= n:
            break
        if text[pos] == "}":
            return keys
        if text[pos] != ",":
            return None
        pos = skip_ws(pos + 1)
    return keys if not complete else None


def _looks_like_param_config(text: str, complete: bool) -> bool:
    if not complete:
        return False
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return False
    return isinstance(value, dict) and bool(value) and all(
        isinstance(v, dict) and "type" in v for k, v in value.items() if not str(k).startswith("_")
    )
