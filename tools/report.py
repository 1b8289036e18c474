"""How the CLI shows things to people: aligned facts, knob settings, progress bars.

JSON output needs little of this (tools.output.json_text): `knobs_json` and
`knobs_report` (one shape for knob settings everywhere), `inspect_facts` (the inspect
shape, for `inspect --json` and the demo), `user_format` (format names as
`--format` spells them) and the warning log (`warnings_said`: the "warnings" list every
verb's JSON carries). docs/formats.md ("JSON output") describes the shapes.

Values come from files: each is escaped and clipped on its own
(tools.output.shown) before it is laid out, so a knob name or a metadata value can
neither start a line nor flood one.
"""

from __future__ import annotations

import math
import sys
from contextlib import contextmanager
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


def inspect_facts(facts: Dict[str, Any]) -> Dict[str, Any]:
    """describe()'s facts as inspect shows them (`inspect --json`, and the demo's "inspect"):
    the format as --format spells it, `knob_names_known` after `knobs` (false: the file
    holds knob values but not their names, so `knobs` is [] while `knob_count` counts
    them), and in `warnings` the file's notes and any warning shown while reading it."""
    out = {}
    for key, value in facts.items():
        out[key] = user_format(value) if key == "format" else value
        if key == "knobs":
            out["knob_names_known"] = len(value) == facts["knob_count"]
    out["warnings"] = warnings_said(*facts.get("warnings", []))
    return out


def format_inspect(facts: Dict[str, Any]) -> List[str]:
    """The text form of `compat.describe.describe(...)`: facts, then knobs, then metadata.
    A model whose knob names are unknown says so where the count stands, and how to
    give its knobs anyway."""
    facts = dict(facts)
    knobs = facts.pop("knobs", [])
    metadata = facts.pop("metadata", {}) or {}
    if _is_number(facts.get("sample_rate")):
        facts["sample_rate"] = f"{number(facts['sample_rate'])} Hz"
    if facts.get("format") is not None:
        facts["format"] = user_format(facts["format"])
    if not facts.pop("knob_names_known", True):  # in the knob count's place
        facts = {("knobs" if k == "knob_count" else k): (f"{v}, names unknown ({UNKNOWN_NAMES_FIX})" if k == "knob_count" else v)
                 for k, v in facts.items()}
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


UNKNOWN_NAMES_FIX = "pass --param-config, or give --params in sorted-name order"

# compat's format names (LegacyModel.format, manifests) → the names users type (`export --format`).
# A checkpoint has no --format (nothing writes one), so it keeps its name.
USER_FORMATS = {"ckpt": "ckpt", "nam": "nam", "export_dir": "dir", "cpp_header": "header", "parametric_nam": "parametric-nam"}


def user_format(name: Optional[str]) -> Optional[str]:
    """A file format as the CLI shows it: the `export --format` name (`dir`, `header`,
    `parametric-nam`), never compat's internal one (`export_dir`, ...)."""
    return USER_FORMATS.get(name, name) if name is not None else None


def knobs_report(values: Sequence[float], names: Optional[Sequence[str]] = None,
                 automated: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """The knob part of a verb's JSON: `knobs` (knobs_json) holds the knobs that stay
    constant; `automation` each automated knob's points {name: {"times": [s], "values":
    [...]}} ({} when none moves). An automated knob is never reported at one value."""
    automated = dict(automated or {})
    names = list(names or [])
    if names and len(names) == len(values):
        kept = [(n, v) for n, v in zip(names, values) if n not in automated]
        constant = knobs_json([v for _, v in kept], [n for n, _ in kept]) if kept else {}
    else:
        constant = knobs_json(values, None)
    return {"knobs": constant, "automation": automated}


# Warnings shown during one CLI run (cli.main opens a log per run), for the "warnings" list
# every verb's JSON carries.
_LOGS: List[List[str]] = []


@contextmanager
def warning_log():
    """Collect the warnings shown while the block runs (nested logs: the innermost)."""
    _LOGS.append([])
    try:
        yield _LOGS[-1]
    finally:
        _LOGS.pop()


def note_warning(message: Any) -> bool:
    """Record a warning line shown to the user (cli's one-line warning printer calls this);
    False when this run has already shown the same line (it is not shown again)."""
    if _LOGS:
        text = shown(str(message), 1000)
        if text in _LOGS[-1]:
            return False
        _LOGS[-1].append(text)
    return True


def warnings_said(*earlier: str) -> List[str]:
    """The warnings shown so far in this run (after `earlier` ones), each once: a JSON
    report's "warnings" list, [] when there were none."""
    out: List[str] = []
    for text in [*earlier, *(_LOGS[-1] if _LOGS else [])]:
        if text not in out:
            out.append(text)
    return out


def show_progress(json_output: bool = False) -> bool:
    """Progress bars go to stderr, and only when a person is watching it."""
    if json_output:
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
