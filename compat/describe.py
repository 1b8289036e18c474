"""Facts about a loaded parametric model, for `inspect` and for input checks."""

from __future__ import annotations

from typing import Any, Dict

import torch


def knob_count(model: torch.nn.Module) -> int:
    """How many knob values the model takes per sample (its `params` width)."""
    name = type(model).__name__
    if name == "CatLSTM":
        return model._input_size - 1
    if name == "CatWaveNet":
        return model._net._layers[0]._layers[0]._input_mixer.in_channels - 1
    if name == "HyperConvNet":
        first_linear = next(m for m in model._hyper_net.modules() if isinstance(m, torch.nn.Linear))
        return first_linear.in_features
    raise TypeError(f"{name} is not a parametric model")


def parameter_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def describe(legacy) -> Dict[str, Any]:
    """JSON-ready facts about a `compat.LegacyModel`."""
    model = legacy.model
    facts = {
        "architecture": legacy.architecture,
        "format": legacy.format,
        "release_detected": str(legacy.detected),
        "release_evidence": list(legacy.detected.evidence),
        "built_as_release": legacy.release.name,
        "knob_count": knob_count(model),
        "knobs": [k.to_json() for k in legacy.knobs],
        "receptive_field": model.receptive_field,
        "parameters": parameter_count(model),
        "sample_rate": legacy.sample_rate,
    }
    if legacy.initial_state is not None:
        facts["initial_state"] = legacy.initial_state
    facts["metadata"] = legacy.metadata
    facts["warnings"] = legacy.warnings
    return facts
