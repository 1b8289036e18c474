"""Knob specs: what a model's `params` vector means, in the order the model consumes it.

Upstream models take knob values sorted by name (plain string order), whatever order the
param config lists them in. A spec comes from a param config entry
`{"type": "continuous"|"boolean", "default_value": v, ["minval": a, "maxval": b]}`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from .errors import ConfigError


@dataclass(frozen=True)
class KnobSpec:
    name: str
    type: str  # "continuous" | "boolean"
    default: float
    minval: Optional[float] = None
    maxval: Optional[float] = None

    def to_json(self) -> Dict[str, Any]:
        return {"name": self.name, "type": self.type, "default": self.default, "minval": self.minval, "maxval": self.maxval}


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
) -> List[float]:
    """The model's knob vector from positional values (sorted-name order) or name=value pairs.

    Named knobs that are not given take their defaults; positional values must be complete.
    """
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
        raise ConfigError(f"the param config names {len(specs)} knobs but the model takes {count}")
    named = dict(named or {})
    unknown = sorted(set(named) - {s.name for s in specs})
    if unknown:
        raise ConfigError(f"unknown knob {unknown[0]!r}; this model's knobs: {', '.join(s.name for s in specs)}")
    return [float(named.get(s.name, s.default)) for s in specs]


def parse_named(pairs: Sequence[str]) -> Dict[str, float]:
    """`["drive=0.5", "bright=1"]` → {"drive": 0.5, "bright": 1.0}."""
    out: Dict[str, float] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"--knob takes NAME=VALUE, got {pair!r}")
        value = value.strip().lower()
        if value in ("true", "false"):  # boolean knobs
            out[name.strip()] = 1.0 if value == "true" else 0.0
            continue
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"--knob {name.strip()}: {value!r} is not a number") from None
    return out
