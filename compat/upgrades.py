"""State-dict migrations between releases: pure `dict -> dict` steps in release order.

A payload is `{"architecture": str, "state_dict": {key: tensor}, "sample_rate": float|None}`
with the net's keys (Lightning's `_net.` prefix already removed). Each step names the
upstream commit whose change it mirrors; `migrate` walks the table up or down between two
releases. Steps never modify their input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Tuple

import torch
from packaging.version import Version

from nam_legacy.releases import ReleaseProfile

from .errors import UnsupportedReleaseError

Payload = Dict[str, object]


def _with_state(payload: Payload, state_dict) -> Payload:
    return {**payload, "state_dict": state_dict}


def add_learned_lstm_state(payload: Payload) -> Payload:
    """50c247a (0.4.0): CatLSTM gained trainable `_initial_cell`/`_initial_hidden`.

    0.3.0 started every sequence from zeros, so zeros reproduce it exactly.
    """
    sd = payload["state_dict"]
    if payload["architecture"] != "CatLSTM" or "_initial_hidden" in sd:
        return payload
    layers = sum(1 for k in sd if k.startswith("_core.weight_hh_l"))
    hidden = sd["_core.weight_hh_l0"].shape[1]
    zeros = torch.zeros((layers, hidden))
    return _with_state(payload, {"_initial_cell": zeros, "_initial_hidden": zeros.clone(), **sd})


def drop_learned_lstm_state(payload: Payload) -> Payload:
    """Back to 0.3.0: only possible while the learned state is still all zeros."""
    sd = payload["state_dict"]
    if payload["architecture"] != "CatLSTM" or "_initial_hidden" not in sd:
        return payload
    if sd["_initial_hidden"].any() or sd["_initial_cell"].any():
        raise UnsupportedReleaseError("this CatLSTM learned its initial state; 0.3.0 cannot represent it")
    return _with_state(payload, {k: v for k, v in sd.items() if k not in ("_initial_cell", "_initial_hidden")})


def add_sample_rate_buffers(payload: Payload) -> Payload:
    """a284650 (0.7.4): every net stores its sample rate in two buffers."""
    sd = payload["state_dict"]
    if "_has_sample_rate" in sd:
        return payload
    rate = payload.get("sample_rate")
    buffers = {
        "_has_sample_rate": torch.tensor(rate is not None, dtype=torch.bool),
        "_sample_rate": torch.tensor(0.0 if rate is None else float(rate)),
    }
    return _with_state(payload, {**buffers, **sd})


def drop_sample_rate_buffers(payload: Payload) -> Payload:
    """Before 0.7.4 the rate lived nowhere in a checkpoint; keep it in the payload only."""
    sd = payload["state_dict"]
    if "_has_sample_rate" not in sd:
        return payload
    rate = sd["_sample_rate"].item() if bool(sd["_has_sample_rate"]) else None
    kept = {k: v for k, v in sd.items() if k not in ("_has_sample_rate", "_sample_rate")}
    return {**_with_state(payload, kept), "sample_rate": rate}


@dataclass(frozen=True)
class Step:
    version: Version  # the first release with the new layout
    commit: str
    up: Callable[[Payload], Payload]
    down: Callable[[Payload], Payload]


STEPS: Tuple[Step, ...] = (
    Step(Version("0.4.0"), "50c247a", add_learned_lstm_state, drop_learned_lstm_state),
    Step(Version("0.7.4"), "a284650", add_sample_rate_buffers, drop_sample_rate_buffers),
)


def migrate(payload: Payload, source: ReleaseProfile, target: ReleaseProfile) -> Payload:
    """The payload as `target` would have stored it, from one stored by `source`."""
    if target.version >= source.version:
        for step in STEPS:
            if source.version < step.version <= target.version:
                payload = step.up(payload)
    else:
        for step in reversed(STEPS):
            if target.version < step.version <= source.version:
                payload = step.down(payload)
    return payload
