"""Knob specs: what a model's `params` vector means, in the order the model consumes it.

Upstream models take knob values sorted by name (plain string order), whatever order the
param config lists them in. A spec comes from a param config entry
`{"type": "continuous"|"boolean", "default_value": v, ["minval": a, "maxval": b]}`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from .errors import ConfigError


class KnobError(ConfigError):
    """A knob value the model cannot take: not finite, out of range, a boolean not 0/1.

    An out-of-range continuous value has `hint == "extrapolate"`: pass
    `allow_out_of_range=True` to run it anyway (the CLI's --extrapolate)."""


class SwitchWord(float):
    """A knob value written as true or false (1.0 / 0.0): fine for a boolean knob, refused
    for a continuous one, where it is almost certainly a mistake."""

    def __repr__(self) -> str:
        return "true" if self else "false"


class OutOfRangeWarning(UserWarning):
    """A continuous knob outside its param-config range, allowed on request (extrapolation)."""


@dataclass(frozen=True)
class KnobSpec:
    name: str
    type: str  # "continuous" | "boolean"
    default: float
    minval: Optional[float] = None
    maxval: Optional[float] = None

    def to_json(self) -> Dict[str, Any]:
        return {"name": self.name, "type": self.type, "default": self.default, "minval": self.minval, "maxval": self.maxval}

    @property
    def allowed(self) -> str:
        """The values this knob takes, for messages."""
        if self.type == "boolean":
            return "0 or 1 (false/true)"
        if self.minval is None or self.maxval is None:
            return "any finite number"
        return f"{_num(self.minval)} to {_num(self.maxval)}"

    def check(self, value: float, *, allow_out_of_range: bool = False) -> float:
        """`value` as a float, or KnobError. Out-of-range continuous values warn instead
        (OutOfRangeWarning) when `allow_out_of_range`; booleans must always be 0 or 1."""
        value = float(value)
        if not math.isfinite(value):
            raise KnobError(f"knob {self.name} is {value}; knob values must be finite")
        if self.type == "boolean":
            if value not in (0.0, 1.0):
                raise KnobError(f"knob {self.name} is boolean and takes 0 or 1 (false/true), got {_num(value)}")
        elif self.minval is not None and self.maxval is not None and not self.minval <= value <= self.maxval:
            text = f"knob {self.name} = {_num(value)} is outside its range {self.allowed}"
            if not allow_out_of_range:
                raise KnobError(text, hint="extrapolate")
            warnings.warn(f"{text}: extrapolating", OutOfRangeWarning, stacklevel=3)
        return value


def _num(v: float) -> str:
    """Knob values as people write them, and never rounded: 1 not 1.0, 0.25, 1e-06, and
    1.0000000001 (the shortest text that reads back as the same float), so a value just
    outside a range never prints as its bound."""
    v = float(v)
    if not math.isfinite(v):
        return str(v)
    if v == int(v) and abs(v) < 1e16:
        return str(int(v))
    return repr(v)


def check_switch_words(specs: Sequence[KnobSpec], named: Mapping[str, float], where: str = "--knob") -> None:
    """Refuse true/false (SwitchWord) for continuous knobs."""
    by_name = {s.name: s for s in specs}
    for name, value in named.items():
        spec = by_name.get(name)
        if isinstance(value, SwitchWord) and spec is not None and spec.type != "boolean":
            raise KnobError(f"{where} {name}={value!r}: knob {name} is continuous and takes a number "
                            f"({spec.allowed}); true/false are for switches")


def check_knob_values(specs: Sequence[KnobSpec], values: Sequence[float], *, allow_out_of_range: bool = False) -> List[float]:
    """Validate a knob vector (model input order) against its specs, before any audio runs.

    Without specs (knob names unknown) only finiteness can be checked.
    """
    out = [float(v) for v in values]
    if specs and len(specs) == len(out):
        return [spec.check(v, allow_out_of_range=allow_out_of_range) for spec, v in zip(specs, out)]
    for i, v in enumerate(out):
        if not math.isfinite(v):
            raise KnobError(f"knob value {i + 1} is {v}; knob values must be finite")
    return out


def specs_from_param_config(param_config: Mapping[str, Mapping[str, Any]]) -> Tuple[KnobSpec, ...]:
    """Knob specs in model input order (sorted names)."""
    specs = []
    for name in sorted(param_config):
        entry = param_config[name]
        kind = entry.get("type")
        try:
            default = float(entry["default_value"])
        except (KeyError, TypeError, ValueError):
            raise ConfigError(f"param config {name}.default_value must be a number or boolean") from None
        lo, hi = entry.get("minval"), entry.get("maxval")
        specs.append(KnobSpec(name, str(kind), default, None if lo is None else float(lo), None if hi is None else float(hi)))
    return tuple(specs)


def knob_vector(
    specs: Sequence[KnobSpec],
    count: int,
    *,
    values: Optional[Sequence[float]] = None,
    named: Optional[Mapping[str, float]] = None,
    allow_out_of_range: bool = False,
) -> List[float]:
    """The model's knob vector from positional values (sorted-name order) or name=value pairs,
    validated (`check_knob_values`).

    Named knobs that are not given take their defaults; positional values must be complete.
    """
    check_switch_words(specs, named or {})
    return check_knob_values(specs, _knob_vector(specs, count, values, named), allow_out_of_range=allow_out_of_range)


def _knob_vector(specs, count, values, named) -> List[float]:
    if values is not None and named:
        raise ConfigError("give knob values either positionally (--params) or by name (--knob), not both")
    if values is not None:
        if len(values) != count:
            raise ConfigError(f"the model takes {count} knob values, got {len(values)}")
        return [float(v) for v in values]
    if not specs:
        if named:
            raise ConfigError("knob names are unknown for this file: pass --param-config, or use --params")
        if count:
            raise ConfigError(f"the model takes {count} knob values: pass --params (sorted-name order)")
        return []
    if len(specs) != count:
        raise ConfigError(f"the param config names {len(specs)} knob{'' if len(specs) == 1 else 's'} but the model takes {count}")
    named = dict(named or {})
    unknown = sorted(set(named) - {s.name for s in specs})
    if unknown:
        raise ConfigError(f"unknown knob {unknown[0]!r}; this model's knobs: {', '.join(s.name for s in specs)}")
    return [float(named.get(s.name, s.default)) for s in specs]


def parse_positional(text: Optional[str]) -> Optional[List[float]]:
    """`"0.5,1,0.2"` (knob values in model input order, as --params takes them) → floats;
    None stays None (not given)."""
    if text is None:
        return None
    try:
        return [float(v) for v in text.split(",") if v.strip() != ""]
    except ValueError:
        raise ConfigError(f"--params must be comma-separated numbers, got {text!r}") from None


def parse_named(pairs: Sequence[str]) -> Dict[str, float]:
    """`["drive=0.5", "bright=true"]` → {"drive": 0.5, "bright": 1.0}; true/false become
    SwitchWord values, which knob_vector refuses for continuous knobs."""
    out: Dict[str, float] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"--knob takes NAME=VALUE, got {pair!r}")
        if name.strip() in out:
            raise ConfigError(f"--knob {name.strip()} is given twice")
        value = value.strip().lower()
        if value in ("true", "false"):  # boolean knobs
            out[name.strip()] = SwitchWord(value == "true")
            continue
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"--knob {name.strip()}: {value!r} is neither a number nor true/false") from None
    return out


# -- knob settings as text: one format for the CLI's lines, plot titles and legends ------------


def knob_text(value: float, digits: Optional[int] = None) -> str:
    """A knob value as people write it: 0, 1, 0.3, -0.25, 1e-07 (the shortest text that
    reads back as the same float). With `digits`, rounded to that many significant digits
    first, whole digits never dropped: 0.0526, 0.111, 1235 (for labels; not exact)."""
    v = float(value)
    if not math.isfinite(v):
        return repr(v)  # nan, inf, -inf
    if digits is not None:
        whole = len(str(int(abs(v)))) if abs(v) < 1e15 else digits
        v = float(f"{v:.{max(digits, whole)}g}")
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def format_knobs(
    values: Any,
    names: Optional[Sequence[str]] = None,
    *,
    digits: Optional[int] = None,
    name_limit: int = 80,
) -> str:
    """Knob settings as one line: `bright=0 drive=0.3 tone=0.5` (`values` a list with its
    `names`, or a {name: value} mapping). Without names, the values as --params takes them
    (`0,0.3,0.5`, sorted-name order); `none` for no knobs. Names come from files: each is
    escaped and clipped to `name_limit` characters (compat.text.clip)."""
    from .text import clip

    if isinstance(values, Mapping):
        names, values = list(values), list(values.values())
    values = list(values)
    if not values:
        return "none"
    if names and len(names) == len(values):
        return " ".join(f"{clip(str(n), name_limit)}={knob_text(v, digits)}" for n, v in zip(names, values))
    return ",".join(knob_text(v, digits) for v in values)
