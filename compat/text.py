"""Untrusted text made safe to show: one printable line of bounded length.

File-controlled strings (knob names, metadata, pickle global names, zip entry names, header
identifiers) reach error messages and the CLI's text output. Shown raw they can break a
line (newline, U+2028), rewrite the terminal (ANSI escapes), hide text (bidi overrides, NUL),
flood it (a 16 MiB name) or make printing itself raise (a lone surrogate cannot be encoded).

Rules, for every function here:

* A character is shown as is when `str.isprintable()` says so (letters, digits, marks,
  punctuation, symbols and the ordinary space). Every other character (C0 and C1 controls,
  DEL, line and paragraph separators, format characters such as bidi overrides and zero
  width joiners, lone surrogates, private-use and unassigned code points, non-ASCII spaces)
  is written as a visible escape: ``\\n``, ``\\r``, ``\\t``, else ``\\xNN``, ``\\uNNNN`` or
  ``\\UNNNNNNNN`` (Python's own spelling).
* Backslashes are kept as they are in messages (Windows paths stay readable) and escaped
  only inside `quote`, where the result reads as a literal.
* Work is bounded by the limit, not by the input: only the first and last `limit`
  characters of a longer text are ever looked at, so a 16 MiB line costs what 300
  characters do.
* Text over the limit keeps its start and its end, joined by one "…", so the file name
  (which messages put first) and the final detail both stay visible.
"""

from __future__ import annotations

import sys
from typing import Any, Iterable, List

__all__ = ["MESSAGE_LIMIT", "clip", "describe_value", "one_line", "printable", "quote"]

# The CLI prints "nam-legacy: error: " (19 characters) before a message; 280 keeps the whole
# line within the 300 characters docs/checkpoint-safety.md promises.
MESSAGE_LIMIT = 280
ELLIPSIS = "…"
_TAIL = 60  # characters kept from the end of a clipped message

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(c: str) -> str:
    named = _NAMED.get(c)
    if named is not None:
        return named
    o = ord(c)
    if o < 0x100:
        return f"\\x{o:02x}"
    if o < 0x10000:
        return f"\\u{o:04x}"
    return f"\\U{o:08x}"


def _shown(c: str, literal: bool) -> str:
    if c.isprintable():
        if literal and c in "\\'":
            return "\\" + c
        return c
    return _escape_char(c)


def _fit(chars: Iterable[str], budget: int, literal: bool) -> List[str]:
    """The shown form of each of `chars`, in order, while they fit in `budget` characters."""
    out: List[str] = []
    used = 0
    for c in chars:
        s = _shown(c, literal)
        if used + len(s) > budget:
            break
        out.append(s)
        used += len(s)
    return out


def _render(text: str, limit: int, tail: int, literal: bool) -> str:
    limit = max(limit, 1)
    tail = max(0, min(tail, (limit - 1) // 2))
    if len(text) <= limit:
        if not literal and text.isprintable():
            return text  # the common case, at C speed
        whole = "".join(_shown(c, literal) for c in text)
        if len(whole) <= limit:
            return whole
    # Too long. The kept start and end never overlap: together they hold fewer shown
    # characters than the whole text has. Only `limit` characters at each end are read.
    head = _fit(text[: limit - 1 - tail], limit - 1 - tail, literal)
    end = _fit(reversed(text[-tail:]), tail, literal) if tail else []
    return "".join(head) + ELLIPSIS + "".join(reversed(end))


def printable(text: str) -> str:
    """`text` with every non-printable character escaped, whatever its length (bounded inputs only)."""
    if text.isprintable():
        return text
    return "".join(_shown(c, False) for c in text)


def one_line(text: Any, limit: int = MESSAGE_LIMIT, tail: int = _TAIL) -> str:
    """One printable line of at most `limit` characters; longer text keeps its start and end.

    A value that is not a string is described (`describe_value`), never converted.
    """
    if not isinstance(text, str):
        text = describe_value(text)
    return _render(text, limit, tail, literal=False)


def clip(text: str, limit: int) -> str:
    """`one_line` for names: keeps the start and the last third (where a file's extension is)."""
    return one_line(text, limit, tail=limit // 3)


def quote(value: Any, limit: int = 40) -> str:
    """A short, safe rendering of an untrusted value for a message.

    Strings are quoted ('...', with backslashes, quotes and non-printables escaped) and
    clipped to `limit` characters in all; bytes likewise (b'...'); numbers, booleans and
    None as Python writes them (giant integers by their size); anything else by
    `describe_value`, which never looks inside it.
    """
    inner = max(limit - 2, 3)
    if isinstance(value, str):
        return "'" + _render(value, inner, inner // 3, literal=True) + "'"
    if type(value) in (bytes, bytearray):
        shown, used = [], 0
        for b in bytes(value[:inner]):
            piece = "\\'" if b == 0x27 else repr(bytes([b]))[2:-1]  # Python's spelling of each byte
            if used + len(piece) > inner - 2:
                break
            shown.append(piece)
            used += len(piece)
        more = ELLIPSIS if len(shown) < len(value) else ""
        return "b'" + "".join(shown) + more + "'"
    if value is None or type(value) is bool:
        return repr(value)
    if type(value) is int:
        bits = value.bit_length()
        return str(value) if bits <= 128 else f"<an integer of {bits} bits>"
    if type(value) is float:
        return repr(value)  # 'nan', 'inf' included; always short
    return describe_value(value)


_SIZED = ((str, "characters"), (bytes, "bytes"), (bytearray, "bytes"), (list, "items"), (tuple, "items"),
          (dict, "items"), (set, "items"), (frozenset, "items"))


def describe_value(value: Any) -> str:
    """Type and size of a value, never its contents: safe for objects of unknown origin.

    Nothing of the value's own is called (no str, repr, hash, or an overridden len), so a
    self-referencing or exponentially shared structure costs nothing to describe.
    """
    if value is None:
        return "None"
    name = one_line(type(value).__name__, 40, 0)
    if type(value) is bool:
        return f"a bool ({value})"
    if type(value) is int:
        return f"an int of {value.bit_length()} bits"
    if type(value) is float:
        return "a float"
    for base, unit in _SIZED:
        if isinstance(value, base):
            n = base.__len__(value)  # the builtin len, not an override
            return f"{_article(name)} {name} of {n} {unit[:-1] if n == 1 else unit}"
    for module, cls in (("torch", "Tensor"), ("numpy", "ndarray")):
        mod = sys.modules.get(module)
        if mod is not None and isinstance(value, getattr(mod, cls)):
            return f"{_article(name)} {name} of shape {tuple(int(n) for n in value.shape)}"
    return f"{_article(name)} {name}"


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"
