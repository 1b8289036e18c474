"""Models whose weights hold NaN or infinity: loaded and inspected, never migrated.

A training run that diverged leaves NaN in its weights, and the releases wrote them as they
were (`json.dumps` spells them `NaN`). Such a model outputs NaN whatever it plays. The
policy: `compat.load` still loads it (people want to see what they have) and records a
warning that `inspect` shows; migrate, pack and every export refuse it up front with a
`NonFiniteWeightsError` (exit 2 on the command line) before any output exists; `render`
runs it and warns that its output is not finite.
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch

from .errors import NonFiniteWeightsError


_NOT_WEIGHTS = ("_sample_rate",)  # 0.7.0+ models keep their sample rate as a buffer


def nonfinite_weights(model) -> Tuple[int, int]:
    """(how many are NaN or infinite, how many there are) over the floating-point
    parameters and buffers (BatchNorm statistics, stored LSTM state) of a module, or of a
    compat.LegacyModel's."""
    module = getattr(model, "model", model)
    bad = total = 0
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if name.rsplit(".", 1)[-1] in _NOT_WEIGHTS:
                continue
            if torch.is_tensor(tensor) and tensor.is_floating_point():
                total += tensor.numel()
                bad += int((~torch.isfinite(tensor)).sum())
    return bad, total


def weights_text(bad: int, total: int) -> str:
    return f"{bad} of {total} weights {'is' if bad == 1 else 'are'} NaN or infinite"


def nonfinite_warning(model) -> Optional[str]:
    """The load warning for a model with NaN or infinite weights (None when all are finite)."""
    bad, total = nonfinite_weights(model)
    if not bad:
        return None
    return f"{weights_text(bad, total)}: the model outputs NaN (a diverged training run?)"


def check_finite_weights(model, doing: str) -> None:
    """Raise NonFiniteWeightsError when the weights are not all finite. `doing` names the
    refused action for the message ("migrate", "pack", "export")."""
    bad, total = nonfinite_weights(model)
    if bad:
        raise NonFiniteWeightsError(f"cannot {doing} this model: {weights_text(bad, total)}, so it outputs NaN "
                                    "(a diverged training run?); use a checkpoint from before it diverged")
