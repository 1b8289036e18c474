"""How the CLI shows things to people: aligned facts, knob settings, progress bars.

JSON output needs none of this (tools.output.json_text), except `knobs_json` (one shape
for knob settings). Values come from files: each is escaped and clipped on its own
(tools.output.shown) before it is laid out, so a knob name or a metadata value can
neither start a line nor flood one.
"""

from __future__ import annotations

import sys
from typing import Any, Dict, List, Optional, Sequence, Union

from compat.knobs import format_knobs as _format_knobs, knob_text

from .output import TEXT_VALUE_LIMIT, shown


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
    lines = format_facts({k: v for k, v in facts.items() if not isinstance(v, dict) and v != []})
    if knobs:
        lines.append("knobs (model input order):")
        names = [shown(k["name"]) for k in knobs]
        width = max(len(n) for n in names)
        for name, k in zip(names, knobs):
            span = "" if k["minval"] is None else f", range {number(k['minval'])} to {number(k['maxval'])}"
            lines.append(f"  {name:<{width}}  {shown(k['type'])}, default {number(k['default'])}{span}")
    for key, value in metadata.items():
        lines.append(f"metadata {shown(key)}: {shown(value, as_json=True)}")
    return lines


def number(v: float) -> str:
    """A knob value as people write it: 0, 1, 0.3, -0.25, 1e-07 (compat.knobs.knob_text)."""
    return knob_text(v)


def format_knobs(values: Sequence[float], names: Optional[Sequence[str]] = None) -> str:
    """`bright=0 drive=0.3 tone=0.5`; without names, the values as --params takes them
    (`0,0.3,0.5`, sorted-name order); `none` for a model without knobs. The one format
    of knob settings, in text output and in plots (compat.knobs.format_knobs)."""
    return _format_knobs(values, names, name_limit=TEXT_VALUE_LIMIT)


def knobs_json(values: Sequence[float], names: Optional[Sequence[str]] = None) -> Union[Dict[str, float], List[float]]:
    """Knob settings in JSON, the one shape every verb uses: {name: value} when the names
    are known, else a list in model input order (sorted-name order, as --params takes them)."""
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
