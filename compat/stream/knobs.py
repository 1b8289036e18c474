"""Knob values of a stream: parsing what callers pass, validating it before any audio runs,
and the live state (held values and linear ramps) that turns it into per-sample values.

Values are float64 while they are held or ramped and become float32 only as model input,
so that a constant knob reaches the model as exactly `float32(value)`, the number the
offline forward (`torch.tensor(np.float32(...))`) would use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch

from ..knobs import KnobError, KnobSpec

# A knob's value over one block: a number (held over the block) or a curve (one per sample).
KnobInput = Any


def _as_array(value: KnobInput, label: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise KnobError(f"{label}: expected a number or an array of numbers, got {type(value).__name__}") from None
    if array.ndim > 1:
        raise KnobError(f"{label}: expected a number or a 1-D curve, got an array of shape {array.shape}")
    return array


def first_bad(spec: Optional[KnobSpec], values: np.ndarray) -> Optional[int]:
    """Index of the value `KnobSpec.check` should see first (vectorised): the first that is
    never allowed (not finite; a boolean not 0/1), else the first out of range (refused,
    or one warning per curve when extrapolating), else None."""
    values = np.atleast_1d(values)
    bad = ~np.isfinite(values)
    if spec is not None and spec.type == "boolean":
        bad |= (values != 0.0) & (values != 1.0)
    if bad.any():
        return int(np.argmax(bad))
    if spec is None or spec.type == "boolean" or spec.minval is None or spec.maxval is None or values.size == 0:
        return None
    out = (values < spec.minval) | (values > spec.maxval)
    return int(np.argmax(out)) if out.any() else None


def check_curve(spec: Optional[KnobSpec], index: int, values: np.ndarray, *, allow_out_of_range: bool, where: str = "") -> None:
    """Validate every value of a knob curve at once (vectorised); the first bad value is
    reported through `KnobSpec.check`, so messages read as for single values."""
    name = spec.name if spec is not None else f"value {index + 1}"
    values = np.atleast_1d(values)
    i = first_bad(spec, values)
    if i is None:
        return
    if spec is None:
        raise KnobError(f"knob {name} is {values[i]}{_at(i, values, where)}; knob values must be finite")
    _check_one(spec, values[i], allow_out_of_range, _at(i, values, where))


def _at(i: int, values: np.ndarray, where: str) -> str:
    if values.size == 1:
        return where
    return f" at sample {i} of its curve{where}"


def _check_one(spec: KnobSpec, value: float, allow_out_of_range: bool, context: str) -> None:
    try:
        spec.check(float(value), allow_out_of_range=allow_out_of_range)
    except KnobError as e:
        if not context:
            raise
        raise KnobError(f"{e}{context}", hint=e.hint) from None


class KnobResolver:
    """Turns what callers pass (names or a model-order vector; numbers or curves) into
    {model index: float64 array}, validated."""

    def __init__(self, specs: Sequence[KnobSpec], count: int, allow_out_of_range: bool):
        self.specs: Tuple[KnobSpec, ...] = tuple(specs) if len(specs) == count else ()
        self.count = count
        self.allow_out_of_range = allow_out_of_range
        self._index = {s.name: i for i, s in enumerate(self.specs)}

    def names(self) -> List[str]:
        return [s.name for s in self.specs]

    def index(self, name: str) -> int:
        if not isinstance(name, str):
            raise KnobError(f"knob names are strings, got {name!r}")
        if name not in self._index:
            if not self.specs:
                raise KnobError(f"knob {name!r}: this model's knob names are unknown (no param config); "
                                f"pass its {self.count} values as a vector in sorted-name order")
            raise KnobError(f"unknown knob {name!r}; this model's knobs: {', '.join(self.names())}")
        return self._index[name]

    def spec(self, i: int) -> Optional[KnobSpec]:
        return self.specs[i] if self.specs else None

    def resolve(self, knobs, *, length: Optional[int], where: str = "") -> Dict[int, np.ndarray]:
        """{index: values}: a 0-d array per number, or a (length,) array per curve (only
        when `length` is given, i.e. for a block). Raises KnobError before anything runs."""
        if knobs is None:
            return {}
        if isinstance(knobs, Mapping):
            items = [(self.index(name), value) for name, value in knobs.items()]
        else:
            if isinstance(knobs, torch.Tensor):
                knobs = knobs.detach().cpu().numpy()
            if isinstance(knobs, (str, bytes)) or not hasattr(knobs, "__len__"):
                raise KnobError(f"knobs: expected a mapping name -> value or a vector of {self.count} values, got {type(knobs).__name__}")
            if len(knobs) != self.count:
                raise KnobError(f"the model takes {self.count} knob values (sorted-name order), got {len(knobs)}")
            items = list(enumerate(knobs))
        out: Dict[int, np.ndarray] = {}
        for i, value in items:
            spec = self.spec(i)
            label = f"knob {spec.name if spec else i + 1}"
            array = _as_array(value, label)
            if array.ndim == 1:
                if length is None:
                    raise KnobError(f"{label}: set_knobs takes numbers; give automation curves to process()")
                if array.shape[0] != length:
                    raise KnobError(f"{label}: its curve has {array.shape[0]} values but the block has {length} samples")
            check_curve(spec, i, array, allow_out_of_range=self.allow_out_of_range, where=where)
            out[i] = array
        return out


@dataclass
class _Track:
    """One knob's live value: `start` ramping linearly to `target` over `length` samples
    (`done` of them already played); a held value has done >= length."""

    start: float
    target: float
    length: int = 0
    done: int = 0

    def values(self, n: int) -> np.ndarray:
        if self.done >= self.length:
            return np.full(n, self.target)
        # Sample j of the ramp (1-based) sits at j/length of the way: the last one is the target.
        j = np.arange(self.done + 1, self.done + n + 1, dtype=np.float64)
        v = self.start + (self.target - self.start) * (j / self.length)
        v[j >= self.length] = self.target
        return v

    def current(self) -> float:
        """The value of the last sample played."""
        if self.done >= self.length:
            return self.target
        if self.done == 0:
            return self.start
        return self.start + (self.target - self.start) * (self.done / self.length)

    def advance(self, n: int) -> None:
        self.done = min(self.length, self.done + n)

    def hold(self, value: float) -> None:
        self.start = self.target = value
        self.length = self.done = 0


@dataclass
class KnobBlock:
    """Knob values over one block: `constant` (D,) when no knob moves, else `curves` (n, D);
    both float32, the model's input dtype."""

    n: int
    constant: Optional[np.ndarray]
    curves: Optional[np.ndarray]

    def matrix(self) -> np.ndarray:
        """(n, D) float32."""
        if self.curves is not None:
            return self.curves
        return np.broadcast_to(self.constant, (self.n, self.constant.shape[0]))

    def at(self, i: int) -> np.ndarray:
        return self.constant if self.curves is None else self.curves[i]

    def first(self) -> np.ndarray:
        return self.at(0)

    def slice(self, a: int, b: int) -> "KnobBlock":
        return KnobBlock(b - a, self.constant, None if self.curves is None else self.curves[a:b])


class KnobState:
    """Held values and ramps of every knob; `block(n)` yields the next n samples' values."""

    def __init__(self, initial: Sequence[float], booleans: Sequence[bool], ramp_samples: int):
        self.booleans = list(booleans)
        self.ramp_samples = max(0, int(ramp_samples))
        self.tracks = [_Track(float(v), float(v)) for v in initial]

    def targets(self) -> List[float]:
        return [t.target for t in self.tracks]

    def current(self) -> List[float]:
        return [t.current() for t in self.tracks]

    def settle(self) -> None:
        """Finish every ramp at once (reset, or a stream that has played nothing yet)."""
        for t in self.tracks:
            t.hold(t.target)

    def set(self, values: Mapping[int, float], *, ramp: bool) -> None:
        for i, v in values.items():
            track = self.tracks[i]
            if not ramp or self.booleans[i] or self.ramp_samples == 0:
                track.hold(v)  # switches act at once: a ramp would pass through invalid values
            elif v != track.target or track.done < track.length:
                track.start, track.target, track.length, track.done = track.current(), v, self.ramp_samples, 0

    def block(self, n: int, given: Mapping[int, np.ndarray]) -> KnobBlock:
        """The next n samples' values (given curves/numbers as they are, others from their
        tracks), and advance: a given knob then holds its last value."""
        if not given and all(t.done >= t.length for t in self.tracks):  # nothing moves: no arrays
            return KnobBlock(n, np.array(self.targets(), dtype=np.float64).astype(np.float32), None)
        columns = []
        moving = False
        for i, track in enumerate(self.tracks):
            if i in given:
                v = given[i]
                column = np.full(n, float(v)) if v.ndim == 0 else v
            else:
                column = track.values(n)
            moving = moving or (column.size > 1 and bool(np.any(column != column[0])))
            columns.append(column)
        for i, track in enumerate(self.tracks):
            if i in given:
                if n:
                    track.hold(float(columns[i][-1]))
            else:
                track.advance(n)
        if not moving:
            first = np.array([c[0] if c.size else t.target for c, t in zip(columns, self.tracks)], dtype=np.float64)
            return KnobBlock(n, first.astype(np.float32), None)
        curves = np.stack(columns, axis=1).astype(np.float32) if columns else np.zeros((n, 0), np.float32)
        return KnobBlock(n, None, curves)


def ramp_samples(seconds: float, sample_rate: float) -> int:
    if not (isinstance(seconds, (int, float)) and math.isfinite(seconds) and seconds >= 0):
        raise KnobError(f"ramp_seconds must be a finite number >= 0, got {seconds!r}")
    return int(round(seconds * sample_rate))
