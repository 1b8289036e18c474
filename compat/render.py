"""Running a parametric model on audio at one knob setting."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .describe import knob_count
from .errors import ConfigError
from .knobs import check_knob_values


def render(model: torch.nn.Module, knobs: Sequence[float], x: np.ndarray, *, pad_start: bool = True) -> np.ndarray:
    """The model's output for mono float audio `x` with knob values in sorted-name order.

    With pad_start (the default) the output has the input's length; without, it is
    shorter by receptive_field - 1. Empty audio and non-finite knob values are input
    errors (ConfigError / KnobError), whatever the model class would do with them.
    """
    expected = knob_count(model)
    if len(knobs) != expected:
        raise ConfigError(f"{type(model).__name__} takes {expected} knob values, got {len(knobs)}")
    knobs = check_knob_values((), knobs)  # finiteness; ranges need the specs (compat.knobs.knob_vector)
    if len(x) == 0:
        raise ConfigError("the input audio has no samples")
    if not pad_start and len(x) < model.receptive_field:
        raise ConfigError(f"input has {len(x)} samples; without padding it needs {model.receptive_field}")
    params = torch.tensor(np.asarray(knobs, dtype=np.float32))
    with torch.no_grad():
        y = model(params, torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), pad_start=pad_start)
    return y.numpy()
