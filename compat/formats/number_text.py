"""Long lists of numbers in text (a .nam's "weights", a header's PARAMS), parsed in bulk.

`parse_run("0.1, -2e-3, 5", dialect)` turns a run of comma-separated numbers into a
float64 array without making a Python object per number: the run is checked for the
characters its dialect allows, numpy parses it (`np.fromstring(..., sep=",")`, whose
decimal conversion is CPython's own, so every value is exactly `float(token)`), and the
spelling rules numpy does not enforce are checked on the whole run at once. On any
failure the run is re-read token by token to name the first bad one (`BadNumber`).

Dialects:

* "json": JSON numbers, plus `NaN`, `Infinity`, `-Infinity` (Python's json reads and
  writes them). An integer too large for a float is an error, as in Python.
* "cpp": C++ decimal floating and integer literals, an optional sign (spaces after it
  allowed), an optional `f`/`F` suffix, and `nan`/`inf`/`-inf` (what the exporters
  printed for non-finite weights). Refused: hexadecimal, octal (a leading 0), binary,
  digit separators and other suffixes.

`NumberSink` is the destination: one float32 array, preallocated to the count the
declared model needs (or grown up to a limit when the count is not known yet), that
refuses the first value too many.
"""

from __future__ import annotations

import math
import re
import warnings
from typing import Callable, Iterable, List, Optional

import numpy as np

from ..errors import UnsafeFileError, WeightsMismatchError

__all__ = ["BadNumber", "ListStats", "NumberSink", "parse_run", "read_number_list"]

_JSON_WS = b" \t\r\n"
_WS = _JSON_WS + b"\f\v"  # C++ whitespace (JSON's is the first four; the others fail its check)
_ALLOWED = {"json": b"0123456789.eE+-," + _JSON_WS, "cpp": b"0123456789.eE+-,fF" + _WS}
_DIGIT = np.zeros(256, dtype=bool)
_DIGIT[ord("0"):ord("9") + 1] = True
_SPACE = np.zeros(256, dtype=bool)
_SPACE[list(_WS)] = True
_COMMA, _DOT, _PLUS, _MINUS, _ZERO, _LOWER_F, _UPPER_F = (ord(c) for c in ",.+-0fF")
_SIGN_SPACE = re.compile(rb"([-+])[ \t\r\n\f\v]+")

_TOKEN = {
    "json": re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?|NaN|-?Infinity"),
    "cpp": re.compile(
        r"[-+]?\s*(?:(?:(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+)[fF]?"
        r"|0|[1-9][0-9]*)|-?(?:nan|inf)f?"
    ),
}


class BadNumber(Exception):
    """Token `index` of a run (0-based) is not a number of the dialect."""

    def __init__(self, index: int, token: str, reason: str = ""):
        super().__init__(index, token, reason)
        self.index, self.token, self.reason = index, token, reason

    def describe(self) -> str:
        """What the token is, for "expected a number, got ..."."""
        if self.reason:
            return self.reason
        t = self.token.strip()
        if not t:
            return "nothing"
        kind = {"true": "a boolean", "false": "a boolean", "null": "null", "True": "a Python boolean",
                "False": "a Python boolean", "None": "None"}.get(t, "")
        kind = kind or {'"': "a string", "[": "an array", "{": "an object"}.get(t[0], "")
        return f"{kind} {_short(t)}" if kind else _short(t)


def _short(token: str, limit: int = 30) -> str:
    text = repr(token)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_run(text: str, dialect: str) -> np.ndarray:
    """float64 values of `text` = "tok, tok, ..., tok" (at least one token, no trailing
    comma); `BadNumber` for the first token that is not a number of `dialect`."""
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        raise _diagnose(text, dialect) from None
    check = raw
    words = False
    if dialect == "json":
        if b"N" in raw or b"I" in raw:
            check = raw.replace(b"Infinity", b"9").replace(b"NaN", b"9")
            words = True
    elif b"n" in raw:
        check = raw.replace(b"inf", b"9").replace(b"nan", b"9")
        words = True
    if check.translate(None, _ALLOWED[dialect]):
        raise _diagnose(text, dialect)
    conv = raw
    if dialect == "cpp":
        chars = np.frombuffer(raw + b",", dtype=np.uint8)
        suffix = np.flatnonzero((chars == _LOWER_F) | (chars == _UPPER_F))
        if suffix.size:
            if suffix[0] == 0 or np.any(_SPACE[chars[suffix - 1]]):
                raise _diagnose(text, dialect)  # a suffix apart from its number
            if words:
                conv = conv.replace(b"inf", b"I").replace(b"nan", b"N")
            conv = conv.replace(b"f", b"").replace(b"F", b"")
            if words:
                conv = conv.replace(b"I", b"inf").replace(b"N", b"nan")
        signs = np.flatnonzero((chars == _MINUS) | (chars == _PLUS))
        if signs.size and np.any(_SPACE[chars[signs + 1]]):  # "- 0.5f": a unary minus, then the literal
            conv = _SIGN_SPACE.sub(rb"\1", conv)
    elif words and b"-NaN" in raw:
        raise _diagnose(text, dialect)
    count = raw.count(b",") + 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            values = np.fromstring(conv, dtype=np.float64, sep=",")
        except (DeprecationWarning, ValueError):
            raise _diagnose(text, dialect) from None
    if len(values) != count:
        raise _diagnose(text, dialect)
    if not _spelling_ok(check, values, count, dialect, words and b"-nan" in raw):
        raise _diagnose(text, dialect)
    return values


def _spelling_ok(check: bytes, values: np.ndarray, count: int, dialect: str, negative_nan: bool) -> bool:
    """The rules numpy's parser does not enforce, on the whole run at once (`check`: the
    run with nan/inf words replaced by a digit)."""
    arr = np.frombuffer(b"," + check.translate(None, _WS) + b",,,,", dtype=np.uint8)
    commas = np.flatnonzero(arr == _COMMA)
    starts = commas[:count] + 1
    ends = commas[1:count + 1] - 1
    if np.any(starts > ends):
        return False
    first = arr[starts]
    signed = (first == _MINUS) | (first == _PLUS)
    lead = starts + signed
    # A leading zero before more digits: invalid JSON; an octal integer in C++.
    if np.any((arr[lead] == _ZERO) & _DIGIT[arr[lead + 1]]):
        return False
    if dialect == "json":
        if np.any(first == _PLUS) or not np.all(_DIGIT[arr[lead]]) or not np.all(_DIGIT[arr[ends]]):
            return False
        dots = np.flatnonzero(arr == _DOT)
        if not (np.all(_DIGIT[arr[dots - 1]]) and np.all(_DIGIT[arr[dots + 1]])):
            return False
        exps = np.flatnonzero((arr == ord("e")) | (arr == ord("E")))
        if not np.all(_DIGIT[arr[exps - 1]]):
            return False
    else:
        suffixes = check.count(b"f") + check.count(b"F")
        if suffixes:  # a suffix ends its token
            tail = arr.tobytes()
            if tail.count(b"f,") + tail.count(b"F,") != suffixes:
                return False
    infinite = np.isinf(values)
    negative_zero = bool(np.any((values == 0) & np.signbit(values)))
    if infinite.any() or negative_zero:
        fractional = np.zeros(count + 1, dtype=bool)
        marks = np.flatnonzero((arr == _DOT) | (arr == ord("e")) | (arr == ord("E")))
        fractional[np.searchsorted(commas, marks) - 1] = True
        integer = ~fractional[:count]
        # An integer literal beyond the float range (Python: OverflowError; C++: ill-formed).
        if np.any(infinite & integer & (ends - starts + 1 > 300)):  # (nan/inf words are short)
            return False
        if negative_zero:  # "-0" is the integer 0 (Python's json; C++), so +0.0
            values[integer & (values == 0)] = 0.0
    if negative_nan:  # float("-nan") keeps the sign; numpy's parser drops it
        values[np.isnan(values) & (first == _MINUS)] = -np.nan
    return True


def _diagnose(text: str, dialect: str) -> BadNumber:
    """The first bad token of a run that failed the bulk checks (token by token)."""
    pattern = _TOKEN[dialect]
    for i, token in enumerate(text.split(",")):
        t = token.strip(" \t\r\n")
        if pattern.fullmatch(t) is None:
            if dialect == "cpp" and re.fullmatch(r"[-+]?0[0-9]+", t):
                return BadNumber(i, t, f"{_short(t)} (a leading 0 makes an octal literal in C++; not supported)")
            if dialect == "cpp" and re.fullmatch(r"[-+]?(?:0[xXbB]|[0-9.]+')[0-9A-Za-z.'+-]*", t):
                return BadNumber(i, t, f"{_short(t)} (hexadecimal, binary and digit-separated literals are not supported)")
            return BadNumber(i, t)
        digits = t.lstrip("+- \t\r\n")
        if digits.isdigit() and math.isinf(float(digits)):  # float(int) would overflow
            return BadNumber(i, t, f"{_short(t)} (an integer too large for a float)")
    return BadNumber(-1, text[:30], "malformed numbers")


class NumberSink:
    """One float32 array that numbers are streamed into (`dtype=np.float64` keeps them exact).

    With `expected` (the count the declared model needs) it is allocated once and the
    first value beyond it is refused (`WeightsMismatchError`); without, it grows up to
    `limit` (`UnsafeFileError` beyond). `track_rounding` counts values that are not
    float32 numbers (the cast rounds them).
    """

    def __init__(self, where: str, limit: int, expected: Optional[int] = None, needs: str = "",
                 track_rounding: bool = False, dtype=np.float32):
        self.where = where
        self.limit = limit
        self.expected = expected
        self.needs = needs  # "this CatLSTM config needs 1001", for the message
        self.track_rounding = track_rounding
        self.array = np.empty(expected if expected is not None else min(limit, 1 << 16), dtype=dtype)
        self.count = 0
        self.rounded = 0

    def add(self, values: np.ndarray) -> None:
        end = self.count + len(values)
        if end > len(self.array):
            if self.expected is not None:
                raise WeightsMismatchError(f"{self.where}: more than {self.expected} values, but {self.needs}")
            if end > self.limit:
                raise UnsafeFileError(f"{self.where}: more than {self.limit} values, above the limit of {self.limit}")
            grown = np.empty(min(self.limit, max(end, 2 * len(self.array))), dtype=self.array.dtype)
            grown[: self.count] = self.array[: self.count]
            self.array = grown
        part = self.array[self.count:end]
        with np.errstate(over="ignore", invalid="ignore"):
            part[...] = values
            if self.track_rounding:
                back = part.astype(np.float64)
                self.rounded += int(np.count_nonzero(~((back == values) | (np.isnan(back) & np.isnan(values)))))
        self.count = end

    def result(self) -> np.ndarray:
        return self.array if self.count == len(self.array) else self.array[: self.count].copy()


MAX_TOKEN_CHARS = 1 << 16  # one number's text (genuine: ~20)
_BATCH_CHARS = 1 << 18


class ListStats:
    """What a number list looked like: how many numbers, and the spelling facts the
    exporters' layout is recognised by (suffixes, ", " joins, line breaks)."""

    def __init__(self):
        self.count = 0
        self.commas = 0
        self.spaced_commas = 0  # ", "
        self.suffixes = 0  # f / F
        self.newlines = 0


def read_number_list(pieces: Iterable[str], sink: NumberSink, dialect: str,
                     bad: Callable[[int, str], Exception], trailing_comma: bool) -> ListStats:
    """Parse the body of a list (`pieces`: its text, in order, up to the closing bracket)
    into `sink`, a batch of runs at a time. `bad(index, description)` makes the error for
    the first value that is not a number; a trailing comma is allowed if `trailing_comma`."""
    stats = ListStats()
    pending = ""  # text after the last comma seen: the start of the next number
    batch: List[str] = []
    size = 0

    def parse(run: str) -> None:
        try:
            values = parse_run(run, dialect)
        except BadNumber as e:
            raise bad(stats.count + max(e.index, 0), e.describe()) from None
        sink.add(values)
        stats.count += len(values)
        stats.commas += run.count(",")
        stats.newlines += run.count("\n")
        if dialect == "cpp":
            stats.spaced_commas += run.count(", ")
            stats.suffixes += run.count("f") + run.count("F")

    for piece in pieces:
        batch.append(piece)
        size += len(piece)
        if size < _BATCH_CHARS:
            continue
        text = pending + "".join(batch)
        batch.clear()
        size = 0
        cut = text.rfind(",")
        if cut < 0:
            pending = _compact(text, bad, stats.count)
            continue
        parse(text[:cut])
        stats.commas += 1
        stats.newlines += text.count("\n", cut)
        if dialect == "cpp":
            stats.spaced_commas += text.startswith(" ", cut + 1)
        pending = _compact(text[cut + 1:], bad, stats.count)
    text = pending + "".join(batch)
    if not text.strip(" \t\r\n"):
        stats.newlines += text.count("\n")
    text = text.strip(" \t\r\n")
    if not text:
        if stats.commas and not trailing_comma:
            raise bad(stats.count, "nothing (a trailing ',')")
        return stats
    if trailing_comma and text.endswith(","):
        text = text[:-1]
        stats.commas += 1
    parse(text)
    return stats


def _compact(text: str, bad, index: int) -> str:
    """The unfinished start of the next number, without the whitespace that cannot matter
    (so a run of blank space costs nothing); refused when longer than any number."""
    if len(text) <= MAX_TOKEN_CHARS:
        return text
    start = text.lstrip(" \t\r\n")
    if start and start[-1] in " \t\r\n":
        start = start.rstrip(" \t\r\n") + " "
    if len(start) > MAX_TOKEN_CHARS:
        raise bad(index, f"{len(start)} characters without a ',' (no number is that long)")
    return start
