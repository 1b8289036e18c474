"""Model foundations of nam/models/_base.py: `_Base`, `BaseNet`, `ParametricBaseNet`.

Everything that differs between releases (sample-rate handling, export snapshot signal,
metadata) is read from the release profile the model was built under.
"""

import abc
import math
from typing import Any, Dict, Optional, Tuple, Union

import numpy as np
import torch
import torch.nn as nn

from .._core import InitializableFromConfig
from ..data import REQUIRED_RATE, wav_to_tensor
from ..releases import current_release
from ._exportable import Exportable
from ._resources import loudness_input_path


def _sine_snapshot_input() -> torch.Tensor:
    # 1 s silence, 1 s of a 220 Hz sine at 0.5, 1 s silence (0.4.0+ snapshots and
    # the LSTM export signal of 0.3.0).
    rate = REQUIRED_RATE
    t = torch.linspace(0.0, 1.0, rate + 1)[:-1]
    return torch.cat(
        [torch.zeros((rate,)), 0.5 * torch.sin(2.0 * math.pi * 220.0 * t), torch.zeros((rate,))]
    )


def _left_pad(x: torch.Tensor, width: int) -> torch.Tensor:
    # Upstream built the zeros on the CPU until e61ebb5 (0.7.3), which broke pad_start on
    # GPUs; building them next to x gives the same numbers everywhere (docs/quirks.md).
    return torch.cat((torch.zeros((len(x), width), device=x.device), x), dim=1)


class _Base(nn.Module, InitializableFromConfig, Exportable):
    def __init__(self, sample_rate: Optional[float] = None):
        super().__init__()
        self._release = current_release()
        if self._release.sample_rate_buffers:
            self._set_sample_rate_buffers(sample_rate)
        elif self._release.sample_rate_attribute:
            self._sample_rate_value = sample_rate
        elif sample_rate is not None:
            raise TypeError(f"sample_rate is not an argument in {self._release.name}")

    @property
    @abc.abstractmethod
    def pad_start_default(self) -> bool:
        pass

    @property
    @abc.abstractmethod
    def receptive_field(self) -> int:
        pass

    @abc.abstractmethod
    def forward(self, *args, **kwargs) -> torch.Tensor:
        pass

    @abc.abstractmethod
    def _forward(self, *args) -> torch.Tensor:
        """(N, L1) in, (N, L1 - receptive_field + 1) out."""

    # --- sample rate (0.7.0: attribute; 0.7.4: two buffers so checkpoints keep it) ---

    def _set_sample_rate_buffers(self, value: Optional[float]):
        self.register_buffer("_has_sample_rate", torch.tensor(value is not None, dtype=torch.bool))
        self.register_buffer("_sample_rate", torch.tensor(0.0 if value is None else value))

    @property
    def sample_rate(self) -> Optional[float]:
        if self._release.sample_rate_buffers:
            return self._sample_rate.item() if self._has_sample_rate else None
        if self._release.sample_rate_attribute:
            return self._sample_rate_value
        raise AttributeError(f"models have no sample_rate in {self._release.name}")

    @sample_rate.setter
    def sample_rate(self, value: Optional[float]):
        if self._release.sample_rate_buffers:
            self._has_sample_rate = torch.tensor(value is not None, dtype=torch.bool)
            self._sample_rate = torch.tensor(0.0 if value is None else value)
        elif self._release.sample_rate_attribute:
            self._sample_rate_value = value
        else:
            raise AttributeError(f"models have no sample_rate in {self._release.name}")

    # --- export support ---

    def _get_export_dict(self):
        d = super()._get_export_dict()
        if self._release.nam_sample_rate_key:
            if "sample_rate" in d:
                raise RuntimeError("the export dict already has a 'sample_rate' key")
            d["sample_rate"] = self.sample_rate
        return d

    @classmethod
    def _metadata_loudness_x(cls) -> torch.Tensor:
        return wav_to_tensor(loudness_input_path())

    def _metadata_loudness(self, gain: float = 1.0, db: bool = True) -> float:
        """RMS of the output for the standard recording times `gain` (dB unless db=False)."""
        y = self._at_nominal_settings(gain * self._metadata_loudness_x())
        loudness = torch.sqrt(torch.mean(torch.square(y)))
        if db:
            loudness = 20.0 * torch.log10(loudness)
        return loudness.item()

    def _metadata_gain(self) -> float:
        """0 (no compression) … 1 (output level independent of input level)."""
        gains = np.linspace(0.0, 1.0, 11)
        levels = np.array([self._metadata_loudness(gain=g, db=False) for g in gains])
        # A fully compressed model keeps the top level at every gain ("square"); a linear
        # one ramps up to it ("triangle", half the area).
        square = levels[-1] * len(gains)
        triangle = 0.5 * square
        return np.clip((levels.sum() - triangle) / (square - triangle), 0.0, 1.0)

    def _at_nominal_settings(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError()

    def _export_input_output_args(self) -> Tuple[Any, ...]:
        return ()

    def _export_input_output(self):
        # 0.3.0's `(self, seed=0, extra_length=13)` is kept by the hook below; callers
        # never passed arguments (docs/quirks.md).
        if self._release.snapshot_signal == "noise":
            return self._export_input_output_030()
        x = _sine_snapshot_input()
        y = self(*self._export_input_output_args(), x, pad_start=True)
        return x.detach().cpu().numpy(), y.detach().cpu().numpy()

    def _export_input_output_030(self, seed=0, extra_length=13):
        # 0.3.0: seeded N(0, 1) noise just longer than the receptive field, no padding.
        rng = np.random.default_rng(seed)
        x = torch.Tensor(rng.normal(size=(self.receptive_field + extra_length,)))
        return x, self(x, pad_start=False)


class BaseNet(_Base):
    def forward(self, x: torch.Tensor, pad_start: Optional[bool] = None, **kwargs):
        if kwargs and not self._release.forward_kwargs:
            raise TypeError(f"forward() takes no extra keyword arguments in {self._release.name}")
        pad_start = self.pad_start_default if pad_start is None else pad_start
        unbatched = x.ndim == 1
        if unbatched:
            x = x[None]
        if pad_start:
            x = _left_pad(x, self.receptive_field - 1)
        y = self._forward(x, **kwargs)
        return y[0] if unbatched else y

    def _at_nominal_settings(self, x: torch.Tensor) -> torch.Tensor:
        return self(x)

    @abc.abstractmethod
    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        pass

    def _get_non_user_metadata(self) -> Dict[str, Union[str, int, float]]:
        d = super()._get_non_user_metadata()
        d["loudness"] = self._metadata_loudness()
        d["gain"] = self._metadata_gain()
        return d


class ParametricBaseNet(_Base):
    """Models that take a knob vector `params` (N, D) alongside the audio."""

    def forward(
        self, params: torch.Tensor, x: torch.Tensor, pad_start: Optional[bool] = None, **kwargs
    ):
        if kwargs and not self._release.parametric_forward_kwargs:
            raise TypeError(f"forward() takes no extra keyword arguments in {self._release.name}")
        pad_start = self.pad_start_default if pad_start is None else pad_start
        unbatched = x.ndim == 1
        if unbatched:
            x, params = x[None], params[None]
        if pad_start:
            # Only the audio is padded; the knobs hold for the padded samples too.
            x = _left_pad(x, self.receptive_field - 1)
        y = self._forward(params, x, **kwargs)
        return y[0] if unbatched else y

    @abc.abstractmethod
    def _forward(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """params (N, D), x (N, L1) → (N, L1 - receptive_field + 1)."""
