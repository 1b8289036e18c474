"""State-dict migrations between releases: pure `dict -> dict` steps in release order.

A payload is `{"architecture": str, "state_dict": {key: tensor}, "sample_rate": float|None}`
with the net's keys (Lightning's `_net.` prefix already removed). Each step names the
upstream commit whose change it mirrors; `migrate` walks the table up or down between two
releases. Steps never modify their input.

The steps own a few keys (`STEP_KEYS`); `step_layout` says which of them a release stores,
with their shapes and dtypes, so that a checkpoint can be checked against the layout of the
release that wrote it before any step runs (compat.net_state). The steps still refuse, with
a typed error, a payload whose keys they need are missing or malformed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Dict, Tuple

import torch
from packaging.version import Version

from nam_legacy.releases import ReleaseProfile

from .errors import CorruptFileError, UnsupportedReleaseError, WeightsMismatchError, describe_value

Payload = Dict[str, object]
Spec = Tuple[Tuple[int, ...], torch.dtype]  # shape, dtype

LEARNED_STATE_KEYS = ("_initial_cell", "_initial_hidden")
SAMPLE_RATE_KEYS = ("_has_sample_rate", "_sample_rate")
STEP_KEYS = frozenset(LEARNED_STATE_KEYS + SAMPLE_RATE_KEYS)
MAX_SAMPLE_RATE = 2**32 - 1  # a WAV header's field; float32 (the buffer) holds it


def step_layout(architecture: str, model: torch.nn.Module, release: ReleaseProfile) -> Dict[str, Spec]:
    """The step-owned keys `release` stores for `model` (built under any release), with shapes and dtypes."""
    out: Dict[str, Spec] = {}
    if architecture == "CatLSTM" and release.lstm_learned_initial_state:
        shape = (model._core.num_layers, model._core.hidden_size)
        out.update({key: (shape, torch.float32) for key in LEARNED_STATE_KEYS})
    if release.sample_rate_buffers:
        out.update({"_has_sample_rate": ((), torch.bool), "_sample_rate": ((), torch.float32)})
    return out


def check_sample_rate(rate: object, where: str = "sample_rate") -> float | None:
    """None, or the rate as a float: a real number (not a bool) in (0, MAX_SAMPLE_RATE]."""
    if rate is None:
        return None
    if type(rate) not in (int, float) or not (math.isfinite(rate) and 0 < rate <= MAX_SAMPLE_RATE):
        shown = repr(rate) if type(rate) in (int, float) and abs(rate) < 1e30 else describe_value(rate)
        raise CorruptFileError(f"{where} must be a positive number up to {MAX_SAMPLE_RATE} or null, not {shown}")
    return float(rate)


def _with_state(payload: Payload, state_dict) -> Payload:
    return {**payload, "state_dict": state_dict}


def _tensor(sd, key: str, rank: int) -> torch.Tensor:
    value = sd.get(key)
    if not isinstance(value, torch.Tensor) or value.dim() != rank:
        raise WeightsMismatchError(f"the state dict has no rank-{rank} tensor {key}")
    return value


def add_learned_lstm_state(payload: Payload) -> Payload:
    """50c247a (0.4.0): CatLSTM gained trainable `_initial_cell`/`_initial_hidden`.

    0.3.0 started every sequence from zeros, so zeros reproduce it exactly.
    """
    sd = payload["state_dict"]
    if payload["architecture"] != "CatLSTM" or "_initial_hidden" in sd:
        return payload
    layers = sum(1 for k in sd if k.startswith("_core.weight_hh_l"))
    hidden = _tensor(sd, "_core.weight_hh_l0", 2).shape[1]
    zeros = torch.zeros((layers, hidden))
    return _with_state(payload, {"_initial_cell": zeros, "_initial_hidden": zeros.clone(), **sd})


def drop_learned_lstm_state(payload: Payload) -> Payload:
    """Back to 0.3.0: only possible while the learned state is still all zeros."""
    sd = payload["state_dict"]
    if payload["architecture"] != "CatLSTM" or "_initial_hidden" not in sd:
        return payload
    if _tensor(sd, "_initial_hidden", 2).any() or _tensor(sd, "_initial_cell", 2).any():
        raise UnsupportedReleaseError("this CatLSTM learned its initial state; 0.3.0 cannot represent it")
    return _with_state(payload, {k: v for k, v in sd.items() if k not in LEARNED_STATE_KEYS})


def add_sample_rate_buffers(payload: Payload) -> Payload:
    """a284650 (0.7.4): every net stores its sample rate in two buffers."""
    sd = payload["state_dict"]
    if "_has_sample_rate" in sd:
        return payload
    rate = check_sample_rate(payload.get("sample_rate"))
    buffers = {
        "_has_sample_rate": torch.tensor(rate is not None, dtype=torch.bool),
        "_sample_rate": torch.tensor(0.0 if rate is None else rate),
    }
    return _with_state(payload, {**buffers, **sd})


def drop_sample_rate_buffers(payload: Payload) -> Payload:
    """Before 0.7.4 the rate lived nowhere in a checkpoint; keep it in the payload only."""
    sd = payload["state_dict"]
    if "_has_sample_rate" not in sd:
        return payload
    has, value = _tensor(sd, "_has_sample_rate", 0), _tensor(sd, "_sample_rate", 0)
    rate = check_sample_rate(value.item(), "_sample_rate") if bool(has) else None
    kept = {k: v for k, v in sd.items() if k not in SAMPLE_RATE_KEYS}
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
