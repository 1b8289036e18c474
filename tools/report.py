"""How the CLI shows things to people: aligned facts, knob settings, progress bars.

JSON output needs none of this, except `knobs_json` (one shape for knob settings).
"""

from __future__ import annotations

import sys
from typing import Dict, List, Optional, Sequence, Union


def format_facts(facts: dict, indent: str = "") -> List[str]:
    """Aligned `key  value` lines; list values are joined with "; ", None is "unknown"."""
    width = max(len(k) for k in facts)
    lines = []
    for key, value in facts.items():
        if isinstance(value, list):
            value = "; ".join(map(str, value))
        elif value is None:
            value = "unknown"
        lines.append(f"{indent}{key.replace('_', ' '):<{width}}  {value}")
    return lines


def number(v: float) -> str:
    """A knob value as people write it: 0, 1, 0.3, -0.25, 1e-07 (shortest round-trip)."""
    v = float(v)
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def format_knobs(values: Sequence[float], names: Optional[Sequence[str]] = None) -> str:
    """`bright=0 drive=0.3 tone=0.5`; without names, the values as --params takes them
    (`0,0.3,0.5`, sorted-name order); `none` for a model without knobs."""
    if not values:
        return "none"
    if names and len(names) == len(values):
        return " ".join(f"{n}={number(v)}" for n, v in zip(names, values))
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
