"""Untrusted text read in bounded pieces: strict UTF-8, a size limit, never held whole.

`TextSource` turns a path, bytes or a str into decoded chunks of at most CHUNK_CHARS
characters (a byte-order mark is dropped, bad UTF-8 is a `CorruptFileError` naming the
byte offset). `Cursor` is the reading position of a scanner over those chunks: a window
of text that only ever holds the current chunk plus the unfinished token carried over,
with line numbers counted as text is consumed.

The text readers (.nam, C++ headers) and sniffing use these, so the memory a file can
make us use is a few chunks plus what its declared model needs, whatever its size.
"""

from __future__ import annotations

import codecs
import os
import re
import stat
from pathlib import Path
from typing import Iterator, Optional, Union

from ..errors import CorruptFileError, FileAccessError, UnsafeFileError
from .configs import show

__all__ = ["CHUNK_CHARS", "Cursor", "TextSource", "possessive"]

CHUNK_CHARS = 1 << 20

Source = Union[str, os.PathLike, bytes, bytearray, memoryview]


def possessive(pattern: str, flags: int = 0) -> "re.Pattern[str]":
    """Compile a pattern whose repeated groups are written possessive (`*+`): the regex
    engine then keeps no backtracking state per repetition (a plain `(?:a|b)*` over a
    million repetitions holds hundreds of MB). Python 3.10 lacks them: plain there."""
    try:
        return re.compile(pattern, flags)
    except re.error:  # pragma: no cover - Python 3.10
        return re.compile(pattern.replace("*+", "*").replace("++", "+"), flags)


class TextSource:
    """The text of a file, of bytes, or of a str, as a stream of chunks.

    `name` is the file's base name (None for in-memory sources). A path is checked
    (regular file, size within `limit`) when the source is made; chunks are decoded as
    they are read, so a file is never held whole.
    """

    def __init__(self, source: Source, what: str, limit: int, *, text: Optional[str] = None):
        self.what = what
        self.limit = limit
        self.name: Optional[str] = None
        self._text = text
        self._data: Optional[memoryview] = None
        self._path: Optional[Path] = None
        if text is not None:
            return
        if isinstance(source, str) and ("\n" in source or source.lstrip("\ufeff \t\r").startswith("#")):
            self._text = source  # header text handed over directly
            return
        if isinstance(source, (bytes, bytearray, memoryview)):
            self._data = memoryview(source).cast("B")
            if len(self._data) > limit:
                raise UnsafeFileError(f"{what} is {len(self._data)} bytes, above the limit of {limit}")
            return
        if not isinstance(source, (str, os.PathLike)):
            raise TypeError(f"expected a path or bytes, got {type(source).__name__}")
        self._path = Path(source)
        self.name = os.path.basename(os.fspath(source))
        self.size  # checks access and the limit now, before anything is read

    @property
    def size(self) -> Optional[int]:
        """Bytes in the file or buffer (None for a str)."""
        if self._data is not None:
            return len(self._data)
        if self._path is None:
            return None
        p = self._path
        try:
            st = os.stat(p)
        except OSError as e:
            raise FileAccessError(f"cannot read {p}: {e.strerror or e}") from None
        except ValueError:  # e.g. a NUL in the path
            raise FileAccessError(f"cannot read {show(str(p), 60)}: not a valid path") from None
        if not stat.S_ISREG(st.st_mode):  # before open(): a FIFO would block it
            kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            raise FileAccessError(f"{p}: {kind}, not a {self.what}")
        if st.st_size > self.limit:
            raise UnsafeFileError(f"{p.name}: {self.what} is {st.st_size} bytes, above the limit of {self.limit}")
        return st.st_size

    def chunks(self, max_bytes: Optional[int] = None) -> Iterator[str]:
        """Decoded chunks from the start (each call starts over). `max_bytes` stops early,
        dropping a character cut at that point."""
        if self._text is not None:
            text = self._text[1:] if self._text.startswith("\ufeff") else self._text
            if max_bytes is not None:
                text = text[:max_bytes]
            for i in range(0, len(text), CHUNK_CHARS):
                yield text[i:i + CHUNK_CHARS]
            return
        if self._data is not None:
            yield from self._decode(_slices(self._data, max_bytes), partial_ok=max_bytes is not None)
            return
        yield from self._decode(self._file_blocks(max_bytes), partial_ok=max_bytes is not None)

    def _file_blocks(self, max_bytes: Optional[int]) -> Iterator[bytes]:
        p = self._path
        try:
            fh = open(p, "rb")
        except OSError as e:
            raise FileAccessError(f"cannot read {p}: {e.strerror or e}") from None
        with fh:
            total = 0
            while True:
                want = CHUNK_CHARS if max_bytes is None else min(CHUNK_CHARS, max_bytes - total)
                if want <= 0:
                    return
                try:
                    block = fh.read(want)
                except OSError as e:
                    raise FileAccessError(f"cannot read {p}: {e.strerror or e}") from None
                if not block:
                    return
                total += len(block)
                if total > self.limit:  # grew while we read it
                    raise UnsafeFileError(f"{p.name}: {self.what} is larger than the limit of {self.limit} bytes")
                yield block

    def _decode(self, blocks: Iterator[bytes], partial_ok: bool) -> Iterator[str]:
        decoder = codecs.getincrementaldecoder("utf-8")("strict")
        offset = 0
        for block in _without_bom(blocks):
            if isinstance(block, int):  # the byte-order mark was dropped
                offset = block
                continue
            carried = decoder.getstate()[0]  # bytes of a character cut by the previous block
            try:
                text = decoder.decode(block)
            except UnicodeDecodeError as e:
                # The text before the bad byte is handed over first, so what a reader finds
                # wrong before that point is reported, however the file was chunked.
                good = (carried + bytes(block))[:e.start].decode("utf-8")
                if good:
                    yield good
                raise CorruptFileError(
                    f"{self.what} is not UTF-8 text (bad byte at offset {offset - len(carried) + e.start})"
                ) from None
            offset += len(block)
            if text:
                yield text
        carried = decoder.getstate()[0]
        try:
            tail = decoder.decode(b"", final=True)
        except UnicodeDecodeError as e:
            if partial_ok:  # a character cut by max_bytes
                return
            raise CorruptFileError(
                f"{self.what} is not UTF-8 text (bad byte at offset {offset - len(carried) + e.start})"
            ) from None
        if tail:
            yield tail


def _without_bom(blocks: Iterator[bytes]) -> Iterator[Union[bytes, int]]:
    """The blocks without a leading UTF-8 byte-order mark (then 3 is yielded first), even
    when the mark is split across blocks."""
    head = b""
    for block in blocks:
        if len(head) < 3:
            head += bytes(block)
            if len(head) < 3:
                continue
            if head.startswith(codecs.BOM_UTF8):
                yield 3
                head = head[3:]
            if head:
                yield head
            head = b"xxx"  # decided
            continue
        yield block
    if len(head) < 3 and head:  # a file shorter than the mark
        yield head[3:] if head.startswith(codecs.BOM_UTF8) else head


def _slices(data: memoryview, max_bytes: Optional[int]) -> Iterator[bytes]:
    end = len(data) if max_bytes is None else min(len(data), max_bytes)
    for i in range(0, end, CHUNK_CHARS):
        yield bytes(data[i:min(i + CHUNK_CHARS, end)])


class Cursor:
    """A reading position over a stream of text chunks.

    `buf[pos:]` is the text not yet consumed; `more()` appends the next chunk and drops
    what was consumed, so the window holds one chunk plus an unfinished token. Line
    numbers are counted over consumed text only when asked for (`line()`).
    """

    def __init__(self, chunks: Iterator[str]):
        self._chunks = chunks
        self.buf = ""
        self.pos = 0
        self.eof = False
        self._line = 1
        self._counted = 0  # newlines in buf[:_counted] are included in _line

    def more(self) -> bool:
        """Append the next chunk (False at the end of the text)."""
        if self.eof:
            return False
        chunk = next(self._chunks, None)
        if chunk is None:
            self.eof = True
            return False
        self.line()
        self.buf = self.buf[self.pos:] + chunk
        self.pos = 0
        self._counted = 0
        return True

    def ensure(self, n: int) -> bool:
        """At least `n` characters ahead of `pos` (False if the text ends first)."""
        while len(self.buf) - self.pos < n:
            if not self.more():
                return False
        return True

    def peek(self) -> str:
        """The next character, or "" at the end."""
        if self.pos >= len(self.buf) and not self.ensure(1):
            return ""
        return self.buf[self.pos]

    def line(self) -> int:
        """Line number (1-based) at `pos`."""
        if self.pos > self._counted:
            self._line += self.buf.count("\n", self._counted, self.pos)
            self._counted = self.pos
        return self._line

    def drop(self) -> None:
        """Forget consumed text now (before a long scan)."""
        self.line()
        self.buf = self.buf[self.pos:]
        self.pos = 0
        self._counted = 0
