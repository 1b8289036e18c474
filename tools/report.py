"""How the CLI shows things to people: aligned facts, knob settings, progress bars.

JSON output needs none of this (tools.output.json_text), except `knobs_json` (one shape
for knob settings). Values come from files: each is escaped and clipped on its own
(tools.output.shown) before it is laid out, so a knob name or a metadata value can
neither start a line nor flood one.
"""

from __future__ import annotations

import math
import sys
from typing import Any, Dict, List, Optional, Sequence, Union

from .output import shown


def _value(value: Any) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, list):
        return "; ".join(shown(v) for v in value)
    return shown(value)


def format_facts(facts: dict, indent: str = "") -> List[str]:
    """Aligned `key  value` lines; list values are joined with "; ", None is "unknown"."""
    width = max(len(k) for k in facts)
    return [f"{indent}{shown(key).replace('_', ' '):<{width}}  {_value(value)}" for key, value in facts.items()]


def format_inspect(facts: Dict[str, Any]) -> List[str]:
    """The text form of `compat.describe.describe(...)`: facts, then knobs, then metadata."""
    facts = dict(facts)
    knobs = facts.pop("knobs", [])
    metadata = facts.pop("metadata", {}) or {}
    if _is_number(facts.get("sample_rate")):
        facts["sample_rate"] = f"{number(facts['sample_rate'])} Hz"
    lines = format_facts({k: v for k, v in facts.items() if not isinstance(v, dict) and v != []})
    if knobs:
        lines.append("knobs (model input order):")
        names = [shown(k["name"]) for k in knobs]
        width = max(len(n) for n in names)
        for name, k in zip(names, knobs):
            span = "" if k["minval"] is None else f", range {number(k['minval'])} to {number(k['maxval'])}"
            lines.append(f"  {name:<{width}}  {shown(k['type'])}, default {number(k['default'])}{span}")
    for key, value in metadata.items():
        text = _date(value) if key == "date" else None
        lines.append(f"metadata {shown(key)}: {text or shown(value, as_json=True)}")
    return lines


_DATE_FIELDS = ("year", "month", "day", "hour", "minute", "second")


def _date(value: Any) -> Optional[str]:
    """A .nam metadata date ({year, month, day, hour, minute, second}) as ISO
    `2024-01-12 10:41:03`; None for anything else (shown as JSON then)."""
    if not (isinstance(value, dict) and set(value) == set(_DATE_FIELDS)
            and all(type(value[k]) is int and 0 <= value[k] <= 9999 for k in _DATE_FIELDS)):
        return None
    y, mo, d, h, mi, s = (value[k] for k in _DATE_FIELDS)
    return f"{y:04d}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}:{s:02d}"


def _is_number(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


def number(v: float) -> str:
    """A knob value as people write it: 0, 1, 0.3, -0.25, 1e-07 (shortest round-trip)."""
    v = float(v)
    if not math.isfinite(v):
        return repr(v)  # nan, inf, -inf (int() of them would raise)
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def format_knobs(values: Sequence[float], names: Optional[Sequence[str]] = None) -> str:
    """`bright=0 drive=0.3 tone=0.5`; without names, the values as --params takes them
    (`0,0.3,0.5`, sorted-name order); `none` for a model without knobs."""
    if not values:
        return "none"
    if names and len(names) == len(values):
        return " ".join(f"{shown(n)}={number(v)}" for n, v in zip(names, values))
    return ",".join(number(v) for v in values)


def knobs_json(values: Sequence[float], names: Optional[Sequence[str]] = None) -> Union[Dict[str, float], List[float]]:
    """Knob settings in JSON: {name: value} when the names are known, else a list."""
    values = [float(v) for v in values]
    if names and len(names) == len(values):
        return dict(zip(names, values))
    return values


def show_progress(json_output: bool = False) -> bool:
    """Progress bars go to stderr, and only when a person is watching it."""
    if json_output:
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
