"""Facts about a loaded parametric model, for `inspect` and for input checks."""

from __future__ import annotations

from typing import Any, Dict

import torch

from .loading import LoadedCheckpoint


def knob_count(model: torch.nn.Module) -> int:
    """How many knob values the model takes per sample (its `params` width)."""
    name = type(model).__name__
    if name == "CatLSTM":
        return model._input_size - 1
    if name == "CatWaveNet":
        return model._net._layers[0]._input_mixer.in_channels - 1
    if name == "HyperConvNet":
        first_linear = next(m for m in model._hyper_net.modules() if isinstance(m, torch.nn.Linear))
        return first_linear.in_features
    raise TypeError(f"{name} is not a parametric model")


def parameter_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def describe(loaded: LoadedCheckpoint) -> Dict[str, Any]:
    model = loaded.model
    return {
        "architecture": loaded.architecture,
        "release_detected": str(loaded.detected),
        "release_evidence": list(loaded.detected.evidence),
        "built_as_release": loaded.release.name,
        "knobs": knob_count(model),
        "receptive_field": model.receptive_field,
        "parameters": parameter_count(model),
        "sample_rate": loaded.sample_rate,
        "lightning_version": loaded.lightning_version,
    }
