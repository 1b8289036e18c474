"""Which upstream release wrote a file, as far as its contents tell.

A checkpoint carries no version of nam, only traces: the learned LSTM state (0.4.0+), the
sample-rate buffers and key (0.7.4+), CatWaveNet itself (0.4.0+). The answer is a range
of releases that would all have written the same file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Tuple

from nam_legacy.releases import RELEASES, ReleaseProfile, get_release


@dataclass(frozen=True)
class ReleaseRange:
    first: ReleaseProfile
    last: ReleaseProfile
    evidence: Tuple[str, ...] = ()

    @property
    def releases(self) -> Tuple[ReleaseProfile, ...]:
        return tuple(r for r in RELEASES if self.first.version <= r.version <= self.last.version)

    def __str__(self) -> str:
        return self.first.name if self.first == self.last else f"{self.first.name}..{self.last.name}"


def checkpoint_releases(architecture: str, checkpoint: Mapping, state_dict: Mapping) -> ReleaseRange:
    """The releases whose Lightning checkpoint of `architecture` looks like this one."""
    first, last = RELEASES[0], RELEASES[-1]
    evidence = []
    if "_has_sample_rate" in state_dict or "sample_rate" in checkpoint:
        first = get_release("0.7.4")
        evidence.append("sample-rate buffers/key (a284650, 0.7.4)")
    else:
        last = get_release("0.7.3")
        evidence.append("no sample-rate buffers (before 0.7.4)")
    if architecture == "CatLSTM":
        if "_initial_hidden" in state_dict:
            first = max(first, get_release("0.4.0"), key=lambda r: r.version)
            evidence.append("learned initial LSTM state (50c247a, 0.4.0)")
        else:
            last = get_release("0.3.0")
            evidence.append("no learned initial LSTM state (0.3.0)")
    elif architecture == "CatWaveNet":
        first = max(first, get_release("0.4.0"), key=lambda r: r.version)
        evidence.append("CatWaveNet exists from 0.4.0")
    return ReleaseRange(first, last, tuple(evidence))
