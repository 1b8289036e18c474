"""`StreamProcessor`: what every class's streaming engine shares — audio in and out, knob
input (validated before any audio runs), live knob ramps, position and reset.

A subclass keeps the model's running state and implements `_reset_state()` and
`_run(x, knobs)`: float32 audio (n,) and the block's knob values → output (n,).
"""

from __future__ import annotations

import abc
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
import torch

from ..errors import ConfigError
from ..knobs import KnobSpec
from .knobs import KnobBlock, KnobResolver, KnobState, ramp_samples

# Blocks longer than this run in pieces of this size, so memory stays bounded whatever the caller passes.
MAX_CHUNK = 65_536


class StreamProcessor(abc.ABC):
    """A model run as a stream: `process(block)` returns the output of `block`, continuing
    from everything processed since the last `reset()`."""

    architecture: str = ""

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        specs: Sequence[KnobSpec],
        count: int,
        initial: Sequence[float],
        sample_rate: float,
        ramp_seconds: float,
        allow_out_of_range: bool,
    ):
        self.model = model
        self.sample_rate = float(sample_rate)
        self._resolver = KnobResolver(specs, count, allow_out_of_range)
        booleans = [s.type == "boolean" for s in self._resolver.specs] or [False] * count
        self._knobs = KnobState(initial, booleans, ramp_samples(ramp_seconds, self.sample_rate))
        self.position = 0  # samples processed since the last reset
        self.reset()

    # --- knobs ---

    @property
    def knob_specs(self) -> Tuple[KnobSpec, ...]:
        """Model input order; empty when the knob names are unknown."""
        return self._resolver.specs

    @property
    def knob_count(self) -> int:
        return self._resolver.count

    @property
    def ramp_samples(self) -> int:
        return self._knobs.ramp_samples

    @property
    def knobs(self) -> Dict[str, float]:
        """Where every knob is heading (set values; a ramp's target), by name, or by
        1-based position when names are unknown."""
        return self._named(self._knobs.targets())

    @property
    def knobs_now(self) -> Dict[str, float]:
        """Every knob's value at the last sample played (mid-ramp values included)."""
        return self._named(self._knobs.current())

    def _named(self, values: List[float]) -> Dict[str, float]:
        names = self._resolver.names() or [str(i + 1) for i in range(self.knob_count)]
        return dict(zip(names, values))

    def set_knobs(self, knobs=None, /, **named: float) -> None:
        """Set knob values: a mapping or keywords by name (others keep theirs), or a full
        vector in model (sorted-name) order. Continuous knobs ramp linearly to the new value
        over `ramp_seconds`; booleans switch at once; before any audio since the last reset
        every change is immediate. Raises KnobError (nothing changes) on bad input."""
        values = self._resolver.resolve(knobs, length=None)
        values.update(self._resolver.resolve(named, length=None))
        self._knobs.set({i: float(v) for i, v in values.items()}, ramp=self.position > 0)

    # --- audio ---

    def process(self, block, knobs=None):
        """Output for the next `block` of mono audio (1-D float numpy array or torch tensor;
        the result has the same type and length, float32).

        :param knobs: values for this block only, by name (mapping) or as a model-order
            vector; per knob a number (held over the block) or an array of the block's
            length (an automation curve), applied as given — no ramp. Afterwards the knob
            holds its last value. Knobs not given follow `set_knobs` (and its ramps).
            Everything is validated before any audio is processed (KnobError).
        """
        x, as_output = _audio_in(block)
        n = x.shape[0]
        given = self._resolver.resolve(knobs, length=n)
        values = self._knobs.block(n, given)
        pieces = []
        with torch.no_grad():
            for a in range(0, n, MAX_CHUNK):
                b = min(n, a + MAX_CHUNK)
                pieces.append(self._run(x[a:b], values.slice(a, b)))
                self.position += b - a
        y = pieces[0] if len(pieces) == 1 else torch.cat(pieces) if pieces else torch.zeros(0)
        return as_output(y)

    def reset(self) -> None:
        """Back to the model's initial state (as at the start of an offline forward with
        pad_start=True). Knobs keep their settings; ramps in progress finish at once."""
        self._knobs.settle()
        self.position = 0
        self._reset_state()

    @abc.abstractmethod
    def _reset_state(self) -> None:
        """Forget the audio history."""

    @abc.abstractmethod
    def _run(self, x: torch.Tensor, knobs: KnobBlock) -> torch.Tensor:
        """float32 (n,) audio and its knob values → float32 (n,) output; n >= 1."""


def _audio_in(block) -> Tuple[torch.Tensor, Any]:
    """The block as a float32 CPU tensor, and how to hand the output back in the caller's type."""
    if isinstance(block, torch.Tensor):
        if not block.is_floating_point():
            raise ConfigError(f"audio blocks must be floating point, got {block.dtype}")
        device = block.device
        x = block.detach().to(device="cpu", dtype=torch.float32)
        as_output = (lambda y: y) if device.type == "cpu" else (lambda y: y.to(device))
    else:
        array = np.asarray(block)
        if array.dtype.kind not in "f":
            raise ConfigError(f"audio blocks must be floating point, got {array.dtype}")
        x = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
        as_output = lambda y: y.numpy()  # noqa: E731
    if x.ndim != 1:
        raise ConfigError(f"audio blocks are mono 1-D arrays, got shape {tuple(x.shape)}")
    return x, as_output
