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
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Union

import numpy as np

from ..errors import ConfigError, FileAccessError
from ..knobs import KnobError, KnobSpec
from .knobs import check_curve

MAX_CSV_BYTES = 64 << 20  # an automation file is text; this is generous


@dataclass(frozen=True)
class Curve:
    """One knob's automation: point times (seconds, strictly increasing) and values."""

    name: str
    times: np.ndarray
    values: np.ndarray
    step: bool = False  # hold each value until the next point (boolean knobs)

    def evaluate(self, start: int, n: int, sample_rate: float) -> np.ndarray:
        """Values (float64) at samples start … start + n − 1 of a stream at `sample_rate`."""
        t = (start + np.arange(n, dtype=np.float64)) / float(sample_rate)
        if self.step:
            index = np.searchsorted(self.times, t, side="right") - 1
            return self.values[np.clip(index, 0, None)]
        # np.interp holds the end values outside the points; the clip guards against a
        # last-place rounding past a point value (which could leave a knob's range).
        return np.clip(np.interp(t, self.times, self.values), self.values.min(), self.values.max())


def _number(text: str, what: str) -> float:
    value = text.strip().lower()
    if value in ("true", "false"):
        return 1.0 if value == "true" else 0.0
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{what}: {text.strip()!r} is not a number") from None
    if not math.isfinite(number):
        raise ConfigError(f"{what}: {text.strip()!r} is not a finite number")
    return number


def _curve(name: str, times: Sequence[float], values: Sequence[float], where: str) -> Curve:
    if not times:
        raise ConfigError(f"{where}: knob {name} has no automation points")
    t = np.asarray(times, dtype=np.float64)
    if np.any(np.diff(t) <= 0):
        i = int(np.argmax(np.diff(t) <= 0))
        raise ConfigError(f"{where}: the times of knob {name} must increase strictly ({t[i]:g} is followed by {t[i + 1]:g})")
    return Curve(name, t, np.asarray(values, dtype=np.float64))


def parse_automate(text: str) -> Curve:
    """`"drive=0:0.2,2.5:0.9"` → Curve("drive", [0, 2.5], [0.2, 0.9])."""
    name, sep, points = text.partition("=")
    name = name.strip()
    if not sep or not name or not points.strip():
        raise ConfigError(f"--automate takes NAME=T0:V0,T1:V1,... (seconds:value), got {text!r}")
    times, values = [], []
    for point in points.split(","):
        t, sep, v = point.partition(":")
        if not sep:
            raise ConfigError(f"--automate {name}: each point is SECONDS:VALUE, got {point.strip()!r}")
        times.append(_number(t, f"--automate {name} time"))
        values.append(_number(v, f"--automate {name} value"))
    return _curve(name, times, values, f"--automate {name}")


def parse_automation_csv(text: str, source: str = "automation CSV") -> List[Curve]:
    """Curves from CSV text with header `time,<knob>,...` (see the module docstring)."""
    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    if not rows:
        raise ConfigError(f"{source} is empty; expected a header time,<knob>,...")
    header = [cell.strip() for cell in rows[0]]
    if len(header) < 2 or header[0].lower() != "time":
        raise ConfigError(f"{source}: the header must be time,<knob>,<knob>,... (got {','.join(header)!r})")
    names = header[1:]
    if any(not n for n in names) or len(set(names)) != len(names):
        raise ConfigError(f"{source}: knob names in the header must be present and distinct")
    points: Dict[str, List[List[float]]] = {n: [[], []] for n in names}
    for line, row in enumerate(rows[1:], start=2):
        if len(row) > len(header):
            raise ConfigError(f"{source} row {line}: {len(row)} cells but the header has {len(header)}")
        time = _number(row[0], f"{source} row {line} time")
        for name, cell in zip(names, row[1:]):
            if cell.strip():
                points[name][0].append(time)
                points[name][1].append(_number(cell, f"{source} row {line} {name}"))
    return [_curve(n, t, v, source) for n, (t, v) in points.items()]


def read_automation_csv(path: Union[str, Path]) -> List[Curve]:
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
    return parse_automation_csv(text, str(path))


class Automation:
    """Validated curves for a model's knobs; `block()` gives a stream's per-sample values."""

    def __init__(self, curves: Iterable[Curve], specs: Sequence[KnobSpec], *, allow_out_of_range: bool = False):
        by_name = {s.name: s for s in specs}
        self.curves: Dict[str, Curve] = {}
        for curve in curves:
            if curve.name in self.curves:
                raise ConfigError(f"knob {curve.name} is automated twice")
            spec = by_name.get(curve.name)
            if spec is None:
                if not specs:
                    raise KnobError(f"cannot automate {curve.name}: this model's knob names are unknown (pass a param config)")
                raise KnobError(f"cannot automate unknown knob {curve.name!r}; this model's knobs: {', '.join(by_name)}")
            check_curve(spec, 0, curve.values, allow_out_of_range=allow_out_of_range, where=" (automation point)")
            if spec.type == "boolean":
                curve = Curve(curve.name, curve.times, curve.values, step=True)
            self.curves[curve.name] = curve

    @property
    def names(self) -> List[str]:
        return list(self.curves)

    def block(self, start: int, n: int, sample_rate: float) -> Dict[str, np.ndarray]:
        """{knob: values of samples start … start + n − 1}, for `StreamProcessor.process(knobs=...)`."""
        return {name: c.evaluate(start, n, sample_rate) for name, c in self.curves.items()}


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
        curves += read_automation_csv(csv_path)
    if not curves:
        return None
    for curve in curves:
        if fixed and curve.name in fixed:
            raise ConfigError(f"knob {curve.name} is both set (--knob) and automated; give one")
    return Automation(curves, specs, allow_out_of_range=allow_out_of_range)
