"""One JSON object read as a stream: its top-level keys in order, each small value captured
as text (bounded) for the ordinary parser, and the one long array of numbers handed to
`number_text` as it streams by.

Values are skipped structurally (strings and brackets only), so skipping a value costs
time linear in its length and no memory; nothing is parsed before its size is known.
"""

from __future__ import annotations

import json
import re
from typing import Iterator, List, Optional

from ..errors import CorruptFileError, UnsafeFileError
from .configs import MAX_JSON_DEPTH, show
from .text_stream import Cursor, possessive

__all__ = ["MAX_CONTAINERS", "MAX_KEY_CHARS", "JsonStream"]

MAX_KEY_CHARS = 1 << 16
MAX_CONTAINERS = 1_000_000  # arrays and objects skipped or captured, per stream

_SPACE = re.compile(r"[ \t\r\n]*")
# Outside strings: a run of anything but brackets and quotes, or whole strings.
_PLAIN = possessive(r'(?:[^"\[\]{}]++|"[^"\\]*+(?:\\.[^"\\]*+)*+")*+', re.S)
# Inside a string (after its opening quote): up to the closing quote, or up to the end of
# the window without cutting an escape.
_STRING_BODY = possessive(r'[^"\\]*+(?:\\.[^"\\]*+)*+', re.S)
_SCALAR = re.compile(r'[^ \t\r\n,:\[\]{}"]*')


class JsonStream:
    """Scanner over a `Cursor`; errors are `CorruptFileError`s about `what`."""

    def __init__(self, cursor: Cursor, what: str, capture_limit: int = 0):
        self.cur = cursor
        self.what = what
        self.containers = 0
        self.capture_limit = capture_limit  # characters of keys and captured values, in all
        self.captured = 0

    def _count(self, size: int) -> None:
        self.captured += size
        if self.captured > self.capture_limit:
            raise UnsafeFileError(f"{self.what}: its keys and values besides the weights exceed "
                                  f"{self.capture_limit:,} characters")

    def fail(self, message: str) -> CorruptFileError:
        return CorruptFileError(f"{self.what} is not valid JSON: {message} (line {self.cur.line()})")

    def space(self) -> bool:
        """Skip whitespace; True if it held a line break."""
        cur = self.cur
        newline = False
        while True:
            m = _SPACE.match(cur.buf, cur.pos)
            if m.end() > cur.pos:
                newline = newline or "\n" in cur.buf[cur.pos:m.end()]
                cur.pos = m.end()
            if cur.pos < len(cur.buf) or not cur.more():
                return newline

    def take(self, char: str, expected: str) -> None:
        found = self.cur.peek()
        if found != char:
            raise self.fail(f"expected {expected}, found {show(found, 10) if found else 'the end of the file'}")
        self.cur.pos += 1

    def string(self) -> str:
        """A string (a key): at most MAX_KEY_CHARS."""
        cur = self.cur
        if cur.peek() != '"':
            found = cur.peek()
            raise self.fail(f"expected a quoted key, found {show(found, 10) if found else 'the end of the file'}")
        while True:
            try:
                value, end = json.decoder.scanstring(cur.buf, cur.pos + 1)
            except json.JSONDecodeError as e:
                if len(cur.buf) - cur.pos > MAX_KEY_CHARS + 8 or not cur.more():
                    if len(cur.buf) - cur.pos > MAX_KEY_CHARS:
                        raise UnsafeFileError(f"{self.what}: a key longer than {MAX_KEY_CHARS} characters") from None
                    raise self.fail(e.msg) from None
                continue
            cur.pos = end
            if self.capture_limit:
                self._count(len(value))
            return value

    def value(self, capture: bool) -> Optional[str]:
        """Skip one value; with `capture`, return its text (counted against the limit)."""
        parts: List[str] = []
        for part in self._value_parts():
            if capture:
                self._count(len(part))
                parts.append(part)
        return "".join(parts) if capture else None

    def _value_parts(self) -> Iterator[str]:
        cur = self.cur
        first = cur.peek()
        if first == "":
            raise self.fail("the file ends where a value should be")
        if first not in '[{"':
            while True:
                m = _SCALAR.match(cur.buf, cur.pos)
                if m.end() > cur.pos:
                    yield cur.buf[cur.pos:m.end()]
                    cur.pos = m.end()
                if cur.pos < len(cur.buf) or not cur.more():
                    break
            return
        depth = 0
        in_string = False
        while True:
            buf, start = cur.buf, cur.pos
            pos = start
            done = False
            while pos < len(buf):
                if in_string:
                    pos = _STRING_BODY.match(buf, pos).end()
                    if pos < len(buf) and buf[pos] == '"':
                        pos += 1
                        in_string = False
                        if depth == 0:
                            done = True
                            break
                    else:
                        break  # the window ends inside the string (maybe inside an escape)
                    continue
                pos = _PLAIN.match(buf, pos).end() if depth else pos
                if pos >= len(buf):
                    break
                char = buf[pos]
                pos += 1
                if char == '"':
                    in_string = True
                elif char in "[{":
                    depth += 1
                    self.containers += 1
                    if depth >= MAX_JSON_DEPTH:
                        cur.pos = pos
                        raise CorruptFileError(f"{self.what} nests JSON deeper than {MAX_JSON_DEPTH} levels")
                    if self.containers > MAX_CONTAINERS:
                        raise UnsafeFileError(f"{self.what} holds more than {MAX_CONTAINERS:,} arrays and objects")
                else:
                    depth -= 1
                    if depth <= 0:
                        done = True
                        break
            if pos > start:
                yield buf[start:pos]
            cur.pos = pos
            if done:
                return
            if not cur.more():
                raise self.fail("the file ends inside a value")

    def array_body(self) -> Iterator[str]:
        """The text of an array of numbers after its "[", up to (not including) its "]",
        in pieces as they stream by; the "]" is consumed."""
        cur = self.cur
        while True:
            end = cur.buf.find("]", cur.pos)
            if end >= 0:
                piece = cur.buf[cur.pos:end]
                cur.pos = end + 1
                if piece:
                    yield piece
                return
            if cur.pos < len(cur.buf):
                yield cur.buf[cur.pos:]
            cur.pos = len(cur.buf)
            if not cur.more():
                raise self.fail("the file ends inside the weights")
