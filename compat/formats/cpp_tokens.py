"""A small C++ lexer for model headers, streaming and bounded.

It knows what a compiler's first phases know and no more: line splices (backslash +
newline), comments (`//`, `/* */`; each is a space), identifiers, pp-numbers (`1.5f`,
`1e-5`, `0x1F`), punctuation (`::` is one token), string literals (with the simple
escapes), raw string literals (`R"(...)"`, `R"delim(...)delim"`) with an optional
ud-suffix (`_json`), and preprocessor lines (a `#` first on its line starts one; its
tokens end at the next unspliced newline, reported as an "eol" token).

Work and memory are bounded whatever the file holds: whitespace and long comments are
skipped without being kept, a raw string may be at most MAX_RAW_CHARS, other tokens at
most MAX_TOKEN_CHARS, and a file may hold at most MAX_TOKENS tokens and MAX_COMMENTS
comments. The long PARAMS list is not tokenised here: `number_list` hands its text,
comments and splices removed, to `number_text` in bulk.
"""

from __future__ import annotations

import re
from typing import Iterator, List, NamedTuple

from ..errors import CorruptFileError, UnsafeFileError
from .configs import MAX_CONFIG_BYTES, show
from .text_stream import Cursor, possessive

__all__ = ["Lexer", "Token", "MAX_COMMENTS", "MAX_RAW_CHARS", "MAX_TOKENS"]

MAX_TOKENS = 200_000  # genuine headers: ~100 outside PARAMS (at most ~40,000 for 1024 layer arrays)
MAX_COMMENTS = 1_000_000
MAX_TOKEN_CHARS = 4096
MAX_RAW_CHARS = MAX_CONFIG_BYTES  # the PARAMETRIC block

_BLANK = re.compile(r"[ \t\f\v\r\n]*")
_BLANK_IN_LINE = re.compile(r"[ \t\f\v\r]*")  # inside a directive a newline ends it
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PP_NUMBER = possessive(r"\.?[0-9](?:[eEpP][-+]|[0-9A-Za-z_.'])*+")
_PUNCT = re.compile(r"::|[{}()\[\];,=<>+\-*&#.:!~?%^|/]")
_STRING_BODY = possessive(r'[^"\\\n]*+(?:\\[^\n][^"\\\n]*+)*+')
_RAW_DELIM = re.compile(r'[^ ()\\\t\v\f\r\n]{0,16}\(')
_LIST_SPECIAL = re.compile(r"[/\\}]")
_RAW_PREFIXES = ("R", "LR", "uR", "UR", "u8R")
_STRING_PREFIXES = ("L", "u", "U", "u8")
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'", "?": "?", "r": "\r", "0": "\0"}


class Token(NamedTuple):
    kind: str  # "id" | "num" | "str" | "punct" | "pp" (a directive's '#') | "eol" | "eof"
    text: str  # spelling; for "str" the value (raw strings: the raw characters)
    line: int
    suffix: str = ""  # a string's ud-suffix ("_json")
    raw: bool = False  # a raw string literal

    def show(self) -> str:
        if self.kind == "eof":
            return "the end of the file"
        if self.kind == "eol":
            return "the end of the line"
        if self.kind == "str":
            return "a string " + show(self.text, 30)
        return show(self.text, 40)


class Lexer:
    def __init__(self, cursor: Cursor, what: str = "the header"):
        self.cur = cursor
        self.what = what
        self.tokens = 0
        self.comments = 0
        self.at_line_start = True
        self.in_directive = False

    def fail(self, message: str, line: int = 0) -> CorruptFileError:
        return CorruptFileError(f"line {line or self.cur.line()}: {message}")

    # --- whitespace, splices and comments ---------------------------------------------------

    def _skip(self) -> None:
        cur = self.cur
        blank = _BLANK_IN_LINE if self.in_directive else _BLANK
        while True:
            end = blank.match(cur.buf, cur.pos).end()
            if end > cur.pos:
                if not self.in_directive and "\n" in cur.buf[cur.pos:end]:
                    self.at_line_start = True
                cur.pos = end
            if cur.pos >= len(cur.buf):
                if not cur.more():
                    return
                continue
            char = cur.buf[cur.pos]
            if char not in "\\/":
                return
            cur.ensure(3)
            following = cur.buf[cur.pos + 1:cur.pos + 3]
            if char == "\\":
                if following.startswith("\n"):
                    cur.pos += 2
                elif following == "\r\n":
                    cur.pos += 3
                else:
                    return
            elif following.startswith("/"):
                self._comment()
                self._line_comment()
            elif following.startswith("*"):
                self._comment()
                self._block_comment()
            else:
                return

    def _comment(self) -> None:
        self.comments += 1
        if self.comments > MAX_COMMENTS:
            raise UnsafeFileError(f"{self.what} holds more than {MAX_COMMENTS:,} comments")

    def _line_comment(self) -> None:
        """From `//` to (not including) the next newline that is not spliced."""
        cur = self.cur
        cur.pos += 2
        while True:
            end = cur.buf.find("\n", cur.pos)
            if end < 0:
                cur.pos = max(cur.pos, len(cur.buf) - 2)  # a splice may be cut here
                if not cur.more():
                    cur.pos = len(cur.buf)
                    return
                continue
            before = cur.buf[max(cur.pos, end - 2):end]
            if before.endswith("\\") or before.endswith("\\\r"):
                cur.pos = end + 1
                continue
            cur.pos = end
            return

    def _block_comment(self) -> None:
        cur = self.cur
        line = cur.line()
        cur.pos += 2
        while True:
            end = cur.buf.find("*/", cur.pos)
            if end >= 0:
                if not self.in_directive and "\n" in cur.buf[cur.pos:end]:
                    self.at_line_start = True
                cur.pos = end + 2
                return
            if not self.in_directive and "\n" in cur.buf[cur.pos:]:
                self.at_line_start = True
            cur.pos = max(cur.pos, len(cur.buf) - 1)  # a "*" may end the window
            if not cur.more():
                raise self.fail("a /* comment is not closed", line)

    # --- tokens ------------------------------------------------------------------------------

    def next(self) -> Token:
        self._skip()
        cur = self.cur
        if len(cur.buf) - cur.pos < MAX_TOKEN_CHARS + 2 and not cur.eof:
            cur.ensure(MAX_TOKEN_CHARS + 2)  # a whole token is in the window
        buf, pos = cur.buf, cur.pos
        line = cur.line()
        if pos >= len(buf):
            return Token("eol" if self.in_directive else "eof", "", line)
        if self.in_directive and buf[pos] == "\n":
            cur.pos += 1
            self.at_line_start = True
            return Token("eol", "\n", line)
        self.tokens += 1
        if self.tokens > MAX_TOKENS:
            raise UnsafeFileError(f"{self.what} holds more than {MAX_TOKENS:,} tokens besides the weights")
        first_on_line = self.at_line_start
        self.at_line_start = False
        m = _IDENT.match(buf, pos, pos + MAX_TOKEN_CHARS + 1)
        if m:
            if m.end() - pos > MAX_TOKEN_CHARS:
                raise self.fail(f"a name longer than {MAX_TOKEN_CHARS} characters")
            word = m.group()
            cur.pos = m.end()
            if cur.pos < len(buf) and buf[cur.pos] == '"':
                if word in _RAW_PREFIXES:
                    return self._raw_string(line)
                if word in _STRING_PREFIXES:
                    return self._string(line)
            return Token("id", word, line)
        m = _PP_NUMBER.match(buf, pos, pos + MAX_TOKEN_CHARS + 1)
        if m:
            if m.end() - pos > MAX_TOKEN_CHARS:
                raise self.fail(f"a number longer than {MAX_TOKEN_CHARS} characters")
            cur.pos = m.end()
            return Token("num", m.group(), line)
        if buf[pos] == '"':
            return self._string(line)
        m = _PUNCT.match(buf, pos)
        if m:
            cur.pos = m.end()
            if m.group() == "#" and first_on_line and not self.in_directive:
                return Token("pp", "#", line)
            return Token("punct", m.group(), line)
        raise self.fail(f"unexpected character {show(buf[pos], 10)}")

    def _suffix(self) -> str:
        m = _IDENT.match(self.cur.buf, self.cur.pos)
        if m is None:
            return ""
        self.cur.pos = m.end()
        return m.group()

    def _string(self, line: int) -> Token:
        cur = self.cur
        cur.pos += 1  # the opening quote
        m = _STRING_BODY.match(cur.buf, cur.pos, cur.pos + MAX_TOKEN_CHARS + 1)
        end = m.end()
        if end - cur.pos > MAX_TOKEN_CHARS:
            raise self.fail(f"a string longer than {MAX_TOKEN_CHARS} characters", line)
        if end >= len(cur.buf) or cur.buf[end] != '"':
            raise self.fail("a string is not closed on its line", line)
        body = cur.buf[cur.pos:end]
        cur.pos = end + 1
        if "\\" in body:
            body = self._unescape(body, line)
        return Token("str", body, line, self._suffix())

    def _unescape(self, body: str, line: int) -> str:
        out: List[str] = []
        i = 0
        while i < len(body):
            j = body.find("\\", i)
            if j < 0:
                out.append(body[i:])
                break
            out.append(body[i:j])
            code = body[j + 1:j + 2]
            if code not in _ESCAPES or (code == "0" and body[j + 2:j + 3].isdigit()):
                raise self.fail(f"escape \\{show(code, 5)} in a string is not supported (only simple escapes)", line)
            out.append(_ESCAPES[code])
            i = j + 2
        return "".join(out)

    def _raw_string(self, line: int) -> Token:
        cur = self.cur
        cur.pos += 1  # the quote
        m = _RAW_DELIM.match(cur.buf, cur.pos)
        if m is None:
            raise self.fail("a raw string literal with a bad delimiter", line)
        terminator = ")" + m.group()[:-1] + '"'
        cur.pos = m.end()
        parts: List[str] = []
        size = 0
        while True:
            end = cur.buf.find(terminator, cur.pos)
            stop = end if end >= 0 else max(cur.pos, len(cur.buf) - len(terminator) + 1)
            size += stop - cur.pos
            if size > MAX_RAW_CHARS:
                raise UnsafeFileError(f"line {line}: a raw string longer than {MAX_RAW_CHARS} characters")
            parts.append(cur.buf[cur.pos:stop])
            cur.pos = stop
            if end >= 0:
                cur.pos += len(terminator)
                return Token("str", "".join(parts), line, self._suffix(), raw=True)
            if not cur.more():
                raise self.fail("a raw string literal is not closed", line)

    # --- the long list -----------------------------------------------------------------------

    def number_list(self) -> Iterator[str]:
        """After a "{": the list's text up to its "}" (consumed), with comments turned into
        spaces and splices removed, in pieces as they stream by."""
        cur = self.cur
        line = cur.line()
        while True:
            m = _LIST_SPECIAL.search(cur.buf, cur.pos)
            if m is None:
                if cur.pos < len(cur.buf):
                    yield cur.buf[cur.pos:]
                    cur.pos = len(cur.buf)
                if not cur.more():
                    raise self.fail("the list opened here is not closed", line)
                continue
            if m.start() > cur.pos:
                yield cur.buf[cur.pos:m.start()]
            cur.pos = m.start()
            char = cur.buf[cur.pos]
            if char == "}":
                cur.pos += 1
                return
            cur.ensure(3)
            following = cur.buf[cur.pos + 1:cur.pos + 3]
            if char == "\\" and following.startswith("\n"):
                cur.pos += 2
            elif char == "\\" and following == "\r\n":
                cur.pos += 3
            elif char == "/" and following.startswith("/"):
                self._comment()
                self._line_comment()
                yield " "
            elif char == "/" and following.startswith("*"):
                self._comment()
                self._block_comment()
                yield " "
            else:
                yield char  # not part of a number: the number parser names it
                cur.pos += 1
