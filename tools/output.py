"""What the CLI writes: printable text, valid JSON, and streams that never fail on a character.

Files put arbitrary text in front of the user (knob names, metadata, names inside
pickles). The rules (compat/text.py has the escaping itself):

* Text output: every character that is not printable is shown escaped (``\\x1b``,
  ``\\u2028``, ``\\ud800``), except newline and tab in our own layout; a file-controlled
  value is escaped *before* it is laid out, so a newline inside a knob name shows as
  ``\\n`` and never starts a line of its own, and is clipped to TEXT_VALUE_LIMIT.
* JSON output: strict JSON that any parser accepts. NaN and ±Infinity, which JSON cannot
  spell, are written as null; everything outside ASCII is \\u-escaped, lone surrogates
  included, so the bytes are plain ASCII.
* Messages: one line each, `compat.text.one_line`, at most LINE_LIMIT characters.
* stdout and stderr are switched to ``errors="backslashreplace"``: a character the
  terminal's encoding cannot hold is written escaped instead of raising.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any, Callable

from compat.text import describe_value, one_line, printable, quote

__all__ = ["LINE_LIMIT", "TEXT_VALUE_LIMIT", "exception_text", "install", "internal_error_line", "json_text", "message_line",
           "printable_layout", "shown"]

LINE_LIMIT = 300  # one message line on stderr, prefix included
TEXT_VALUE_LIMIT = 200  # a file-controlled value in text output


def json_text(value: Any, *, indent: int | None = None) -> str:
    """Strict JSON: non-finite floats become null, non-ASCII is escaped."""
    return json.dumps(_finite(value), indent=indent, ensure_ascii=True, allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}  # a float key is spelled as a string anyway
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def shown(value: Any, limit: int = TEXT_VALUE_LIMIT, *, as_json: bool = False) -> str:
    """A value from a file, for one place in a text line: printable, at most `limit` characters.

    Strings as they are (escaped), numbers and booleans as Python writes them (a giant
    integer by its size); with `as_json`, every value as JSON writes it (strings quoted).
    Anything else by its type and size.
    """
    if as_json:
        try:
            text = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError, RecursionError):
            text = describe_value(value)
    elif isinstance(value, str):
        text = value
    elif value is None or type(value) in (bool, int, float):
        text = quote(value)
    else:
        text = describe_value(value)
    return one_line(text, limit, tail=limit // 4)


def message_line(prog: str, kind: str, message: Any) -> str:
    """`PROG: KIND: message` as one printable line of at most LINE_LIMIT characters.

    `message` is text, or an exception (a warning, an error), shown by `exception_text`.
    """
    head = f"{prog}: {kind}: "
    text = message if isinstance(message, str) else exception_text(message) if isinstance(message, BaseException) \
        else describe_value(message)
    return head + one_line(text, LINE_LIMIT - len(head))


def internal_error_line(prog: str, error: BaseException) -> str:
    """The one line for a bug of ours; the exception is shown without trusting its contents."""
    return message_line(prog, "internal error (please report; NAM_LEGACY_DEBUG=1 for details)",
                        f"{type(error).__name__}: {exception_text(error)}")


_SIMPLE = (str, int, float, bool, type(None))


def exception_text(error: BaseException) -> str:
    """What `str(error)` says, when that is safe to compute; else its arguments described."""
    # str() of an exception formats its arguments; only do that when they are plain values
    # (a KeyError holding a shared tuple structure from a file would take forever to repr).
    if all(type(a) in _SIMPLE for a in error.args):
        try:
            return str(error)
        except Exception:  # a digit-limited integer, a broken __str__
            pass
    return ", ".join(one_line(a, 80) for a in error.args)  # strings clipped, anything else described


class PrintableStream:
    """A text stream that shows every non-printable character escaped, except newline and tab."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(printable_layout(text))
        return len(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def printable_layout(text: str) -> str:
    """`text` with non-printable characters escaped, newlines and tabs kept (our own layout)."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if not line.isprintable():
            lines[i] = "\t".join(printable(part) for part in line.split("\t"))
    return "\n".join(lines)


def _backslashreplace(stream) -> None:
    try:
        stream.reconfigure(errors="backslashreplace")
    except (AttributeError, ValueError, OSError):  # not a TextIOWrapper (e.g. a test's StringIO)
        pass


def install() -> Callable[[], None]:
    """Make this process's output safe (see the module docstring); returns the undo."""
    saved_stdout = sys.stdout
    for stream in (sys.stdout, sys.stderr):
        _backslashreplace(stream)
    sys.stdout = PrintableStream(sys.stdout)

    def restore() -> None:
        if isinstance(sys.stdout, PrintableStream):
            sys.stdout = saved_stdout

    return restore
