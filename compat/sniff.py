"""Which legacy format a file is, from its bytes (never from its name).

| result          | what                                                                 |
|-----------------|----------------------------------------------------------------------|
| "ckpt"          | Lightning checkpoint: a zip archive holding `<archive>/data.pkl`     |
| "ckpt-legacy"   | torch < 1.6 serialization (pickle + magic number): not supported     |
| "nam"           | JSON object with top-level "architecture" and "weights"              |
| "parametric_nam"| the same, "architecture" one of the parametric NAM line's (Concat*)  |
| "export_dir"    | folder with config.json + weights.npy (or that config.json itself)   |
| "cpp_header"    | C++ text whose leading directives define PYTHON_MODEL_VERSION        |
| "config"        | JSON model / data / learning / param config                          |

A bounded prefix (and, for zips, a bounded tail) decides most files. A JSON object's
top-level keys are found by skipping values structurally (never parsing them), in any
order, over at most SCAN_BYTES: a .nam whose "weights" come after a long "metadata" is
still a .nam, and a 5000-digit number costs nothing. Files over MAX_FILE_BYTES are
refused (`UnsafeFileError`) before anything is read. Anything else is
`UnknownFormatError` with a hint of what is supported.
"""

from __future__ import annotations

import codecs
import os
import stat
from pathlib import Path
from typing import Callable, Iterator, Optional, Set, Tuple, Union

from .errors import FileAccessError, LegacyError, UnknownFormatError, UnsafeFileError
from .formats.configs import MAX_CONFIG_BYTES, MAX_FILE_BYTES, load_json
from .formats.cpp_tokens import Lexer
from .formats.json_stream import JsonStream
from .formats.parametric_nam import FAMILY as PARAMETRIC_FAMILY
from .formats.text_stream import Cursor, TextSource

__all__ = ["FORMATS", "PREFIX_BYTES", "sniff", "sniff_bytes"]

FORMATS = ("ckpt", "ckpt-legacy", "nam", "export_dir", "cpp_header", "config", "parametric_nam")
PREFIX_BYTES = 64 * 1024
_TAIL_BYTES = 64 * 1024

_ZIP_MAGIC = b"PK\x03\x04"
_EMPTY_ZIP = b"PK\x05\x06"
# torch < 1.6: pickle protocol 2, then LONG1 of torch's magic number 0x1950a86a20f9469cfc6c.
_LEGACY_TORCH = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
_NPY_MAGIC = b"\x93NUMPY"
# JSON keys are looked for in at most this much text: no config is larger, so an object
# that goes on beyond it can only be a .nam's weight list.
SCAN_BYTES = MAX_CONFIG_BYTES + PREFIX_BYTES
_NAM_KEYS = {"version", "metadata", "architecture", "config", "weights", "sample_rate"}

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

    def rest() -> Iterator[str]:  # the text beyond the prefix, for JSON keys that come late
        return TextSource(p, "file", MAX_FILE_BYTES).chunks(max_bytes=SCAN_BYTES)

    fmt = _classify(prefix, size, tail, p.name, rest)
    if fmt == "export_config":
        if (p.parent / "weights.npy").is_file():
            return "export_dir"
        raise UnknownFormatError(f"{p.name}: an export config.json without weights.npy beside it")
    return fmt


def sniff_bytes(prefix: bytes, size: Optional[int] = None, tail: bytes = b"", name: str = "file") -> str:
    """The format of a file from its first bytes (`size`: the whole file's length, if the
    prefix is not all of it; `tail`: its last bytes, for zips). May also return
    "export_config" for an export's config.json seen on its own."""
    return _classify(prefix, len(prefix) if size is None else size, tail, name, None)


def _classify(prefix: bytes, size: int, tail: bytes, name: str, rest: Optional[Callable[[], Iterator[str]]]) -> str:
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
    if stripped.startswith(("#", "//", "/*")):
        verdict = _header_verdict(text)
        if verdict == "cpp_header":
            return verdict
        if verdict == "c++":
            raise UnknownFormatError(f"{name}: a C/C++ header, but not one written by the model exporters ({_HINT})")
        raise UnknownFormatError(f"{name}: text of no known format ({_HINT})")
    if stripped.startswith("{"):
        whole = complete or rest is None
        keys, closed, ok, architecture = _top_level_keys(iter([text]) if whole else rest())
        closed = closed and (complete or rest is not None)
        if not ok and not keys:
            raise UnknownFormatError(f"{name}: starts like JSON but is not a JSON object ({_HINT})")
        if architecture in PARAMETRIC_FAMILY:
            return "parametric_nam"
        if {"architecture", "weights"} <= keys:
            return "nam"
        if not closed and keys & {"weights", "architecture"}:
            # A JSON object too long to scan (or cut short): only a .nam's weight list makes
            # one this big (configs are at most MAX_CONFIG_BYTES); the reader will check.
            return "nam"
        if not closed:
            if ok and size > SCAN_BYTES and keys <= _NAM_KEYS and keys:
                return "nam"
            raise UnknownFormatError(f"{name}: a JSON object of no known kind ({_HINT})")
        if {"architecture", "config"} <= keys:
            return "export_config"
        if keys & _CONFIG_KEYS:
            return "config"
        if keys and _looks_like_param_config(text if complete else None, rest):
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


def _top_level_keys(chunks: Iterator[str]) -> Tuple[Set[str], bool, bool, Optional[str]]:
    """(keys, closed, well-formed so far, the "architecture" if it is a short string) of the
    top-level JSON object in `chunks`.

    Values are skipped structurally, never parsed (a 5000-digit number costs nothing), so
    key order does not matter and the work is linear in the text scanned (at most
    SCAN_BYTES, 4096 keys, and json_stream's bound on containers). The scan stops at the
    first defect or at the end of the text given; what was seen so far is kept.
    """
    js = JsonStream(Cursor(chunks), "file", capture_limit=1024)
    keys: Set[str] = set()
    architecture: Optional[str] = None
    try:
        js.space()
        js.take("{", "'{'")
        js.space()
        if js.cur.peek() == "}":
            return keys, True, True, None
        while len(keys) < 4096:
            key = js.string()
            keys.add(key)
            js.space()
            js.take(":", "':'")
            js.space()
            if key == "architecture" and js.cur.peek() == '"':
                value = load_json(js.value(True), "file")
                architecture = value if isinstance(value, str) else None
            elif {"architecture", "weights"} <= keys:
                return keys, False, True, architecture
            else:
                js.value(False)
            if {"architecture", "weights"} <= keys:
                return keys, False, True, architecture
            js.space()
            found = js.cur.peek()
            if found == "}":
                return keys, True, True, architecture
            if found == "":
                return keys, False, True, architecture
            js.take(",", "','")
            js.space()
        return keys, False, True, architecture
    except LegacyError:
        return keys, False, js.cur.eof and bool(keys), architecture


def _header_verdict(text: str) -> str:
    """"cpp_header" if the leading directives (comments and blank lines aside) define
    PYTHON_MODEL_VERSION, as every exporter's header did; "c++" for other C/C++ text."""
    lexer = Lexer(Cursor(iter([text])), "file")
    directives = 0
    try:
        token = lexer.next()
        while token.kind == "pp" and directives < 64:
            directives += 1
            lexer.in_directive = True
            name = lexer.next()
            if name.text == "define" and lexer.next().text == "PYTHON_MODEL_VERSION":
                return "cpp_header"
            while token.kind != "eol":
                token = lexer.next()
            lexer.in_directive = False
            token = lexer.next()
    except LegacyError:
        pass
    return "c++" if directives or text.lstrip().startswith("#") else "text"


def _looks_like_param_config(text: Optional[str], rest: Optional[Callable[[], Iterator[str]]]) -> bool:
    if text is None:
        if rest is None:
            return False
        parts, size = [], 0
        for chunk in rest():
            parts.append(chunk)
            size += len(chunk)
            if size > MAX_CONFIG_BYTES:
                return False
        text = "".join(parts)
    try:
        value = load_json(text, "file")
    except LegacyError:
        return False
    return isinstance(value, dict) and bool(value) and all(
        isinstance(v, dict) and "type" in v for k, v in value.items() if not str(k).startswith("_")
    )
