"""Knob automation from the command line or a CSV file, as pure functions.

* `--automate NAME=T0:V0,T1:V1,...`: points (seconds, value), strictly increasing in time.
  Continuous knobs move piecewise linearly between points; boolean knobs switch at each
  point's time (a linear move would pass through invalid values). Before the first point
  and after the last the value is held.
* `--automation FILE.csv`: header `time,<knob>,<knob>,...`, one row per point time; an
  empty cell means "no point for this knob at this time". Same curve semantics.

Sample i of a stream at rate r sits at time i / r. Validating the points validates the
whole curve: between two valid points every value is valid (continuous ranges are
intervals; booleans only take point values).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ..errors import ConfigError, FileAccessError
from ..knobs import KnobError, KnobSpec, OutOfRangeWarning, _num
from ..text import quote
from .knobs import first_bad

MAX_CSV_BYTES = 64 << 20  # an automation file is text; this is generous
# What a spreadsheet in a comma-decimal locale writes: `;` or tab between columns, `0,2`.
CSV_LAYOUT = "columns are separated by commas and decimals use a point"
_DECIMAL_COMMA = re.compile(r"\s*[+-]?(\d+,\d*|,\d+)\s*")


@dataclass(frozen=True)
class Curve:
    """One knob's automation: point times (seconds, strictly increasing) and values.

    `origin` says where it was written ("--automate drive", "moves.csv") and `rows` the CSV
    line of each point, for messages; `words` marks the values written as true/false,
    which only switches (boolean knobs) take."""

    name: str
    times: np.ndarray
    values: np.ndarray
    step: bool = False  # hold each value until the next point (boolean knobs)
    origin: str = ""
    rows: Optional[Tuple[int, ...]] = None
    words: Tuple[bool, ...] = ()

    def point(self, i: int) -> str:
        """Point i (0-based) as a message names it: `--automate drive point 2 (1 s: 2)`,
        `moves.csv row 3 (drive at 4 s: 0.9)`."""
        value = ("true" if self.values[i] else "false") if i < len(self.words) and self.words[i] else _num(self.values[i])
        if self.rows is not None:
            return f"{self.origin} row {self.rows[i]} ({self.name} at {_num(self.times[i])} s: {value})"
        origin = self.origin or f"automation of knob {self.name},"
        return f"{origin} point {i + 1} ({_num(self.times[i])} s: {value})"

    def unreached(self, end: float) -> np.ndarray:
        """Indices of the points after `end` seconds (a stream's end): never played. (One
        exactly at the end is as good as reached: the last sample is within a sample of it.)"""
        return np.flatnonzero(self.times > end)

    def evaluate(self, start: int, n: int, sample_rate: float) -> np.ndarray:
        """Values (float64) at samples start … start + n − 1 of a stream at `sample_rate`."""
        t = (start + np.arange(n, dtype=np.float64)) / float(sample_rate)
        if self.step:
            index = np.searchsorted(self.times, t, side="right") - 1
            return self.values[np.clip(index, 0, None)]
        # np.interp holds the end values outside the points; the clip guards against a
        # last-place rounding past a point value (which could leave a knob's range).
        return np.clip(np.interp(t, self.times, self.values), self.values.min(), self.values.max())


def _is_word(text: str) -> bool:
    return text.strip().lower() in ("true", "false")


def _number(text: str, what: str, *, words: bool = True) -> float:
    value = text.strip().lower()
    if words and value in ("true", "false"):
        return 1.0 if value == "true" else 0.0
    try:
        number = float(value)
    except ValueError:
        kind = "neither a number nor true/false" if words else "not a number"
        raise ConfigError(f"{what}: {text.strip()!r} is {kind}") from None
    if not math.isfinite(number):
        raise ConfigError(f"{what}: {text.strip()!r} is not a finite number")
    return number


def _curve(name: str, times: Sequence[float], values: Sequence[float], where: str, *, rows=None, words=()) -> Curve:
    if not times:
        raise ConfigError(f"{where}: knob {name} has no automation points")
    t = np.asarray(times, dtype=np.float64)
    if np.any(np.diff(t) <= 0):
        i = int(np.argmax(np.diff(t) <= 0))
        raise ConfigError(f"{where}: the times of knob {name} must increase strictly "
                          f"({_num(t[i])} is followed by {_num(t[i + 1])})")
    return Curve(name, t, np.asarray(values, dtype=np.float64), origin=where, rows=None if rows is None else tuple(rows),
                 words=tuple(words))


def parse_automate(text: str) -> Curve:
    """`"drive=0:0.2,2.5:0.9"` → Curve("drive", [0, 2.5], [0.2, 0.9])."""
    name, sep, points = text.partition("=")
    name = name.strip()
    if not sep or not name or not points.strip():
        raise ConfigError(f"--automate takes NAME=T0:V0,T1:V1,... (seconds:value), got {text!r}")
    times, values, words = [], [], []
    for k, point in enumerate(points.split(","), start=1):
        t, sep, v = point.partition(":")
        if not sep:
            raise ConfigError(f"--automate {name}: each point is SECONDS:VALUE, got {point.strip()!r}")
        times.append(_number(t, f"--automate {name} point {k} time", words=False))
        values.append(_number(v, f"--automate {name} point {k} value"))
        words.append(_is_word(v))
    return _curve(name, times, values, f"--automate {name}", words=words)


def parse_automation_csv(text: str, source: str = "automation CSV", specs: Optional[Sequence[KnobSpec]] = None) -> List[Curve]:
    """Curves from CSV text with header `time,<knob>,...` (see the module docstring). With
    `specs` (the model's knobs; empty when their names are unknown), every column's header
    is checked against them before any cell is read: a wrong header is the mistake, not
    its cells."""
    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    if not rows:
        raise ConfigError(f"{source} is empty; expected a header time,<knob>,...")
    header = [cell.strip() for cell in rows[0]]
    if len(header) < 2 or header[0].lower() != "time":
        layout = f"{CSV_LAYOUT}; " if len(header) == 1 and re.search("[;\t]", header[0]) else ""
        raise ConfigError(f"{source}: {layout}the header must be time,<knob>,<knob>,... (got {quote(','.join(header), 60)})")
    names = header[1:]
    if any(not n for n in names) or len(set(names)) != len(names):
        raise ConfigError(f"{source}: knob names in the header must be present and distinct")
    if specs is not None:
        for column, name in enumerate(names, start=2):
            _check_name(name, specs, f"{source} column {column}")
    points: Dict[str, List[list]] = {n: [[], [], [], []] for n in names}  # times, values, rows, words
    for line, row in enumerate(rows[1:], start=2):
        if len(row) > len(header):
            raise ConfigError(f"{source} row {line}: {len(row)} cells but the header has {len(header)}")
        time = _cell(row[0], f"{source} row {line} time", words=False)
        for name, cell in zip(names, row[1:]):
            if cell.strip():
                for column, value in zip(points[name], (time, _cell(cell, f"{source} row {line} {name}"), line,
                                                         _is_word(cell))):
                    column.append(value)
    return [_curve(n, t, v, source, rows=r, words=w) for n, (t, v, r, w) in points.items()]


def _cell(text: str, what: str, *, words: bool = True) -> float:
    """A CSV cell's number; a decimal comma (`0,2`, a quoted cell) is refused with its cause."""
    try:
        return _number(text, what, words=words)
    except ConfigError as e:
        if _DECIMAL_COMMA.fullmatch(text):
            raise ConfigError(f"{e} ({CSV_LAYOUT})") from None
        raise


def _check_name(name: str, specs: Sequence[KnobSpec], where: str) -> None:
    """KnobError unless `name` is one of the model's knobs (`where` prefixes the message)."""
    known = [s.name for s in specs]
    if name in known:
        return
    prefix = f"{where}: " if where else ""
    if not known:
        raise KnobError(f"{prefix}cannot automate {name}: this model's knob names are unknown", hint="param-config")
    raise KnobError(f"{prefix}cannot automate unknown knob {name!r}; this model's knobs: {', '.join(known)}")


def read_automation_csv(path: Union[str, Path], specs: Optional[Sequence[KnobSpec]] = None) -> List[Curve]:
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = f.read(MAX_CSV_BYTES + 1)
    except OSError as e:
        raise FileAccessError(f"cannot read {path}: {e.strerror or e}") from None
    if len(data) > MAX_CSV_BYTES:
        raise ConfigError(f"{path} is larger than {MAX_CSV_BYTES >> 20} MB; an automation file is a short table")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text") from None
    return parse_automation_csv(text, str(path), specs)


class Automation:
    """Validated curves for a model's knobs; `block()` gives a stream's per-sample values."""

    def __init__(self, curves: Iterable[Curve], specs: Sequence[KnobSpec], *, allow_out_of_range: bool = False):
        by_name = {s.name: s for s in specs}
        self.curves: Dict[str, Curve] = {}
        for curve in curves:
            if curve.name in self.curves:
                raise ConfigError(f"knob {curve.name} is automated twice")
            spec = by_name.get(curve.name)
            if spec is None:  # a CSV's curve names its file
                _check_name(curve.name, specs, curve.origin if curve.rows is not None else "")
            _check_points(spec, curve, allow_out_of_range)
            if spec.type == "boolean" and not curve.step:
                curve = dataclasses.replace(curve, step=True)
            self.curves[curve.name] = curve

    @property
    def names(self) -> List[str]:
        return list(self.curves)

    def unreached(self, end: float) -> List[str]:
        """One warning line per curve with points after `end` seconds (where the stream
        ends), which are never played."""
        lines = []
        for curve in self.curves.values():
            late = curve.unreached(end)
            if late.size:
                which = ", ".join(f"{_num(t)} s" for t in curve.times[late][:3]) + (", …" if late.size > 3 else "")
                origin = curve.origin or f"automation of knob {curve.name}"
                if curve.rows is not None:
                    origin += f" (knob {curve.name})"
                lines.append(f"{origin}: points after {_num(round(end, 6))} s (the input's end) are never reached "
                             f"({late.size} of {curve.times.size}: {which})")
        return lines

    def block(self, start: int, n: int, sample_rate: float) -> Dict[str, np.ndarray]:
        """{knob: values of samples start … start + n − 1}, for `StreamProcessor.process(knobs=...)`."""
        return {name: c.evaluate(start, n, sample_rate) for name, c in self.curves.items()}


def _check_points(spec: KnobSpec, curve: Curve, allow_out_of_range: bool) -> None:
    """Every point's value against the knob (which validates the whole curve); a bad one
    is named by its point (Curve.point). true/false only for switches."""
    if spec.type != "boolean" and any(curve.words):
        i = curve.words.index(True)
        raise KnobError(f"{curve.point(i)}: knob {spec.name} is continuous and takes a number ({spec.allowed}); "
                        "true/false are for switches")
    i = first_bad(spec, curve.values)
    if i is None:
        return
    if allow_out_of_range and spec.type != "boolean" and math.isfinite(curve.values[i]):
        # only out-of-range values are left (first_bad names a never-allowed one first): one
        # warning for the whole curve, with the span it covers
        low, high = _num(curve.values.min()), _num(curve.values.max())
        warnings.warn(f"knob {spec.name} moves between {low} and {high}, outside its range {spec.allowed}: extrapolating",
                      OutOfRangeWarning, stacklevel=4)
        return
    try:
        spec.check(float(curve.values[i]), allow_out_of_range=allow_out_of_range)
    except KnobError as e:
        raise KnobError(f"{curve.point(i)}: {e}", hint=e.hint) from None


def automation_from_args(
    automate: Sequence[str] = (),
    csv_path: Optional[Union[str, Path]] = None,
    specs: Sequence[KnobSpec] = (),
    *,
    fixed: Mapping[str, float] = None,
    allow_out_of_range: bool = False,
) -> Optional[Automation]:
    """The CLI's `--automate` (repeatable) and `--automation FILE.csv` as one Automation
    (None when neither is given). A knob automated twice, or also fixed with --knob
    (`fixed`), is an error."""
    curves = [parse_automate(a) for a in automate]
    if csv_path is not None:
        curves += read_automation_csv(csv_path, specs)
    if not curves:
        return None
    for curve in curves:
        if fixed and curve.name in fixed:
            raise ConfigError(f"knob {curve.name} is both set (--knob) and automated; give one")
    return Automation(curves, specs, allow_out_of_range=allow_out_of_range)
