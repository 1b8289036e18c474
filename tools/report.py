"""Text rendering of facts for humans (JSON output needs none)."""

from typing import List


def format_facts(facts: dict, indent: str = "") -> List[str]:
    """Aligned `key  value` lines; list values are joined with "; "."""
    width = max(len(k) for k in facts)
    lines = []
    for key, value in facts.items():
        if isinstance(value, list):
            value = "; ".join(map(str, value))
        lines.append(f"{indent}{key.replace('_', ' '):<{width}}  {value}")
    return lines
