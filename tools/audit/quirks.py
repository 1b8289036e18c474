"""The machine-readable entries of docs/quirks.md (read only).

An entry is a ``## Q<number> <slug>`` heading followed by ``- key: value`` lines. The audit
uses them to tell a documented divergence from an undocumented drift.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

_HEADING = re.compile(r"^##\s+(Q\d+)\s+(\S+)\s*$")
_FIELD = re.compile(r"^-\s+([A-Za-z_][\w-]*):\s*(.*)$")


@dataclass(frozen=True)
class Quirk:
    id: str
    slug: str
    fields: Dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n".join(self.fields.values())

    def covers_release(self, release: str, order: Sequence[str]) -> bool:
        """Does `releases` ("0.5.1..ae86979" or "0.3.0") include `release`? Unknown names: no."""
        spec = self.fields.get("releases", "").strip()
        if not spec:
            return True  # an entry without a range applies to every release
        lo, _, hi = spec.partition("..")
        hi = hi or lo
        try:
            return order.index(lo) <= order.index(release) <= order.index(hi)
        except ValueError:
            return False

    def names(self, obj: str) -> bool:
        """Is the object named here, by its exact qualified name ("CatWaveNet.export")?

        Members must be written qualified: a bare "export" would match every class's.
        Double-quoted text is left out: it quotes messages (an upstream traceback naming
        `ParametricBaseNet.forward()`), it does not document the object.
        """
        text = re.sub(r'"[^"\n]*"', "", self.text)
        return re.search(rf"(?<![\w.]){re.escape(obj)}(?![\w])", text) is not None


def parse(text: str) -> List[Quirk]:
    out: List[Quirk] = []
    current: Optional[Quirk] = None
    for line in text.splitlines():
        m = _HEADING.match(line)
        if m:
            current = Quirk(m.group(1), m.group(2), {})
            out.append(current)
            continue
        if line.startswith("#"):
            current = None  # any other heading ends the entry
            continue
        m = _FIELD.match(line)
        if m and current is not None:
            current.fields[m.group(1)] = m.group(2)
    return out


def load(path: Path) -> List[Quirk]:
    return parse(Path(path).read_text(encoding="utf-8")) if Path(path).exists() else []
