""""Cat nets": parametric models that append the knob values to every input sample.

CatLSTM feeds `[audio, knob_1 … knob_D]` as the LSTM's input features; CatWaveNet feeds
the same vector as input channels and as the condition. Knobs are ordered by sorted name
wherever upstream built a knob vector itself (`_sidedoor_params_to_tensor`, the data).

Method resolution is upstream's on purpose: `CatLSTM → _CatMixin → ParametricBaseNet →
LSTM → BaseNet → _Base`, so `forward(params, x, pad_start)` comes from ParametricBaseNet
while metadata and nominal settings fall through to BaseNet unless overridden.
"""

import abc
import logging
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Dict, Tuple

import torch

from ...releases import current_release
from .._base import ParametricBaseNet
from ..recurrent import LSTM
from ..wavenet import WaveNet
from .params import Param

logger = logging.getLogger(__name__)


class _ShapeType(Enum):
    CONV = "conv"  # (B, C, L)
    RNN = "rnn"  # (B, L, D)


class _CatMixin(ParametricBaseNet):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The param config is only known while exporting; export() sets it here.
        self._sidedoor_parametric_config = None

    @property
    @abc.abstractmethod
    def _shape_type(self) -> _ShapeType:
        pass

    @property
    @abc.abstractmethod
    def _single_class(self):
        """The non-parametric class whose `_forward` runs on the augmented input."""

    def export(self, outdir: Path, parametric_config: Dict[str, Param], **kwargs):
        with self._use_parametric_config(parametric_config):
            return super().export(outdir, **kwargs)

    def export_cpp_header(self, filename: Path, parametric_config: Dict[str, Param]):
        with self._use_parametric_config(parametric_config):
            return super().export_cpp_header(filename)

    def _export_config(self):
        config = super()._export_config()
        if not isinstance(config, dict):
            raise TypeError(f"Parameteric models' base configs must be a dict; got {type(config)}")
        if "parametric" in config:
            raise ValueError('Already found parametric key "parametric" in base config dict.')
        # In the caller's order, not sorted: loaders must sort to get the input order.
        config["parametric"] = {k: v.to_json() for k, v in self._sidedoor_parametric_config.items()}
        return config

    def _export_cpp_header_parametric(self, config):
        if config is None:
            # Upstream misspelt the fallback's name ("head" for "header"), so this branch
            # raised AttributeError; it cannot be reached through export_cpp_header.
            return getattr(self._single_class, "_export_cpp_head_parametric")(self, config)
        lines = ['nlohmann::json PARAMETRIC = nlohmann::json::parse(R"(\n', "  {\n"]
        for i, (name, fields) in enumerate(config.items(), 1):
            lines.append(f'    "{name}": ' + "{\n")
            for j, (key, value) in enumerate(fields.items(), 1):
                # str() of Python values: booleans print True/False, None prints None.
                text = f'"{value}"' if isinstance(value, str) else str(value)
                lines.append(f'      "{key}": {text}' + (",\n" if j < len(fields) else "\n"))
            lines.append("    }" + ("," if i < len(config) else "") + "\n")
        lines += ["  }\n", ')");\n']
        return tuple(lines)

    def _export_input_output_args(self) -> Tuple[torch.Tensor]:
        return (self._sidedoor_params_to_tensor(),)

    def _forward(self, params, x):
        """params (N, D), x (N, L) → the single class's output on [x, params] per sample."""
        length = x.shape[1]
        if self._shape_type == _ShapeType.RNN:
            augmented = torch.cat([x[..., None], torch.tile(params[:, None, :], (1, length, 1))], dim=2)
        else:
            augmented = torch.cat([x[:, None, :], torch.tile(params[..., None], (1, 1, length))], dim=1)
        return self._single_class._forward(self, augmented)

    def _sidedoor_params_to_tensor(self) -> torch.Tensor:
        config = self._sidedoor_parametric_config
        return torch.Tensor([config[name].default_value for name in sorted(config.keys())])

    @contextmanager
    def _use_parametric_config(self, c):
        try:
            self._sidedoor_parametric_config = c
            yield None
        finally:
            self._sidedoor_parametric_config = None


class CatLSTM(_CatMixin, LSTM):
    @property
    def _shape_type(self) -> _ShapeType:
        return _ShapeType.RNN

    @property
    def _single_class(self):
        return LSTM

    def _append_default_params(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L) audio → (B, L, 1 + D) with the exported knob defaults appended."""
        assert x.ndim == 2
        params = self._sidedoor_params_to_tensor()
        return torch.cat([x[:, :, None], torch.tile(params[None, None, :], (1, x.shape[1], 1))], dim=2)

    def _at_nominal_settings(self, x: torch.Tensor) -> torch.Tensor:
        if self._input_size != 1:
            # Upstream's value: the input itself, so a CatLSTM's loudness and gain
            # metadata are the same for every model.
            logger.warning("Nominal settings aren't defined for parametric models; outputting unity")
            return x
        # Zero knobs. Upstream passed a 0-d tensor here and crashed (docs/quirks.md).
        return self(torch.zeros((0,), device=x.device), x)

    def _get_initial_state(self) -> Tuple[torch.Tensor, torch.Tensor]:
        # Always 48,000 samples of silence with the default knobs, from the zero state.
        return super()._get_initial_state(inputs=self._append_default_params(torch.zeros((1, 48_000))))

    def _export_input_output(self, *args, **kwargs):
        if self._release.snapshot_signal == "noise":  # 0.3.0
            x = self._append_default_params(self._export_input_signal()[None])
            return self._export_input_output_lstm_030(x=x)
        return super()._export_input_output(*args, **kwargs)


class CatWaveNet(_CatMixin, WaveNet):
    def __init__(self, *args, **kwargs):
        if not current_release().has_catwavenet:
            raise NotImplementedError(f"CatWaveNet does not exist in {current_release().name}")
        super().__init__(*args, **kwargs)

    @property
    def _shape_type(self) -> _ShapeType:
        return _ShapeType.CONV

    @property
    def _single_class(self):
        return WaveNet

    def _at_nominal_settings(self, x: torch.Tensor) -> torch.Tensor:
        # Upstream fell through to BaseNet's `self(x)`, which misses the knobs, so every
        # .nam export and C++ header of 0.5.1+ crashed. We use CatLSTM's answer
        # (identity) so the export works; docs/quirks.md.
        logger.warning("Nominal settings aren't defined for parametric models; outputting unity")
        return x
