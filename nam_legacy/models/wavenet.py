"""The WaveNet of nam/models/wavenet.py (0.4.0+), the body that CatWaveNet builds on.

Structure: `WaveNet._net` is a `_WaveNet`, a stack of layer arrays (`_Layers`), each a
1x1 "rechannel" conv, dilated gated `_Layer`s and a 1x1 conv into the head; an optional
`_Head` follows. Attribute names and creation order are upstream's: they fix the
state_dict keys, the flat weight order and how much of the RNG each init consumes.
Floating-point results depend on the order of operations, so the forward passes use the
same torch ops in the same order as upstream.

Release differences (profile fields):
- `has_catwavenet` (50c247a, 0.4.0): wavenet.py arrived with CatWaveNet; 0.3.0 had none.
- `export_container`: which file `export_cpp_header` reads back (config.json +
  weights.npy in 0.4.0, `model.nam` from 148ca8f/0.5.0); the header text is the same.
- `import_weights_api` (00cf582, 0.6.0): `WaveNet.import_weights`.
- sample rate (f743c03, 0.7.0 / a284650, 0.7.4): handled by `_Base`.
The forward pass and the flat weight layout never changed.
"""

from copy import deepcopy
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

from ._activations import get_activation
from ._base import BaseNet
from ._names import ACTIVATION_NAME, CONV_NAME
from .recurrent import _read_back_export


class Conv1d(nn.Conv1d):
    """nn.Conv1d that reads and writes its parameters as one flat vector (weight, bias)."""

    def export_weights(self) -> torch.Tensor:
        parts = [p.data.flatten() for p in (self.weight, self.bias) if p is not None]
        return torch.cat(parts) if parts else torch.zeros((0,))

    def import_weights(self, weights: torch.Tensor, i: int) -> int:
        """Take weight (then bias) from `weights` starting at i; return the next index.

        Like upstream, the parameters' `.data` become views of `weights` (no copy), cast
        to nothing: the model then shares memory and dtype with the vector given.
        """
        if self.weight is not None:
            n = self.weight.numel()
            self.weight.data = weights[i : i + n].reshape(self.weight.shape).to(self.weight.device)
            i += n
        if self.bias is not None:
            n = self.bias.numel()
            self.bias.data = weights[i : i + n].reshape(self.bias.shape).to(self.bias.device)
            i += n
        return i


class _Layer(nn.Module):
    """One dilated layer: conv(x) + mix(condition) → (gated) activation → residual + head term."""

    def __init__(
        self,
        condition_size: int,
        channels: int,
        kernel_size: int,
        dilation: int,
        activation: str,
        gated: bool,
    ):
        super().__init__()
        # Gating needs twice the channels: one half is activated, the other gates it.
        mid_channels = 2 * channels if gated else channels
        self._conv = Conv1d(channels, mid_channels, kernel_size, dilation=dilation)
        # No bias here: the dilated conv already has one.
        self._input_mixer = Conv1d(condition_size, mid_channels, 1, bias=False)
        self._activation = get_activation(activation)
        self._activation_name = activation
        self._1x1 = Conv1d(channels, channels, 1)
        self._gated = gated

    @property
    def activation_name(self) -> str:
        return self._activation_name

    @property
    def conv(self) -> Conv1d:
        return self._conv

    @property
    def gated(self) -> bool:
        return self._gated

    @property
    def kernel_size(self) -> int:
        return self._conv.kernel_size[0]

    def export_weights(self) -> torch.Tensor:
        return torch.cat(
            [self.conv.export_weights(), self._input_mixer.export_weights(), self._1x1.export_weights()]
        )

    def import_weights(self, weights: torch.Tensor, i: int) -> int:
        for conv in (self.conv, self._input_mixer, self._1x1):
            i = conv.import_weights(weights, i)
        return i

    def forward(
        self, x: torch.Tensor, h: Optional[torch.Tensor], out_length: int
    ) -> Tuple[Optional[torch.Tensor], torch.Tensor]:
        """
        :param x: (B, C, L1), the previous layer's output.
        :param h: (B, DC, L2), the condition (L2 >= the conv's output length).
        :param out_length: how many trailing samples the head term keeps.
        :return: (B, C, L1 - d) for the next layer; (B, C, out_length) for the head.
        """
        zconv = self.conv(x)
        # The condition is longer than the valid conv output: keep its last samples.
        z1 = zconv + self._input_mixer(h)[:, :, -zconv.shape[2] :]
        if self._gated:
            post_activation = self._activation(z1[:, : self._channels]) * torch.sigmoid(
                z1[:, self._channels :]
            )
        else:
            post_activation = self._activation(z1)
        residual = x[:, :, -post_activation.shape[2] :] + self._1x1(post_activation)
        return residual, post_activation[:, :, -out_length:]

    @property
    def _channels(self) -> int:
        return self._1x1.in_channels


class _Layers(nn.Module):
    """A layer array: rechannel the input, run the dilated layers, sum their head terms.

    The head sum arriving from a previous array (already `head_size` wide) is added to
    this array's terms, so arrays can be stacked with changing channel counts.
    """

    def __init__(
        self,
        input_size: int,
        condition_size: int,
        head_size,
        channels: int,
        kernel_size: int,
        dilations: Sequence[int],
        activation: str = "Tanh",
        gated: bool = True,
        head_bias: bool = True,
    ):
        super().__init__()
        self._rechannel = Conv1d(input_size, channels, 1, bias=False)
        self._layers = nn.ModuleList(
            [
                _Layer(condition_size, channels, kernel_size, dilation, activation, gated)
                for dilation in dilations
            ]
        )
        self._head_rechannel = Conv1d(channels, head_size, 1, bias=head_bias)
        # Key order is the order of the exported JSON config.
        self._config = {
            "input_size": input_size,
            "condition_size": condition_size,
            "head_size": head_size,
            "channels": channels,
            "kernel_size": kernel_size,
            "dilations": dilations,
            "activation": activation,
            "gated": gated,
            "head_bias": head_bias,
        }

    @property
    def receptive_field(self) -> int:
        return 1 + (self._kernel_size - 1) * sum(self._dilations)

    def export_config(self):
        return deepcopy(self._config)

    def export_weights(self) -> torch.Tensor:
        return torch.cat(
            [self._rechannel.export_weights()]
            + [layer.export_weights() for layer in self._layers]
            + [self._head_rechannel.export_weights()]
        )

    def import_weights(self, weights: torch.Tensor, i: int) -> int:
        i = self._rechannel.import_weights(weights, i)
        for layer in self._layers:
            i = layer.import_weights(weights, i)
        return self._head_rechannel.import_weights(weights, i)

    def forward(
        self,
        x: torch.Tensor,
        c: torch.Tensor,
        head_input: Optional[torch.Tensor] = None,
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """
        :param x: (B, DX, L) input of the array.
        :param c: (B, DC, L) condition.
        :param head_input: head sum from the previous array, if any.
        :return: head sum (B, head_size, L - R + 1), output (B, C, L - R + 1).
        """
        out_length = x.shape[2] - (self.receptive_field - 1)
        x = self._rechannel(x)
        for layer in self._layers:
            x, head_term = layer(x, c, out_length)
            if head_input is None:
                head_input = head_term
            else:
                head_input = head_input[:, :, -out_length:] + head_term
        return self._head_rechannel(head_input), x

    @property
    def _dilations(self) -> Sequence[int]:
        return self._config["dilations"]

    @property
    def _kernel_size(self) -> int:
        return self._layers[0].kernel_size


class _Head(nn.Module):
    """Optional post-processing: num_layers × (activation, 1x1 conv)."""

    def __init__(
        self,
        in_channels: int,
        channels: int,
        activation: str,
        num_layers: int,
        out_channels: int,
    ):
        super().__init__()
        assert num_layers > 0
        self._layers = nn.Sequential()
        widths = [in_channels] + [channels] * (num_layers - 1) + [out_channels]
        for i, (cx, cy) in enumerate(zip(widths[:-1], widths[1:])):
            block = nn.Sequential()
            # Module names give the keys `_layers.layer_{i}.activation` / `.conv`.
            block.add_module(ACTIVATION_NAME, get_activation(activation))
            block.add_module(CONV_NAME, Conv1d(cx, cy, 1))
            self._layers.add_module(f"layer_{i}", block)
        self._config = {
            "channels": channels,
            "activation": activation,
            "num_layers": num_layers,
            "out_channels": out_channels,
        }

    def export_config(self):
        return deepcopy(self._config)

    def export_weights(self) -> torch.Tensor:
        return torch.cat([block[1].export_weights() for block in self._layers])

    def forward(self, *args, **kwargs):
        return self._layers(*args, **kwargs)

    def import_weights(self, weights: torch.Tensor, i: int) -> int:
        for block in self._layers:
            i = block[1].import_weights(weights, i)
        return i


class _WaveNet(nn.Module):
    """Layer arrays fed the original input as condition, then head_scale, then the head."""

    def __init__(
        self,
        layers_configs: Sequence[Dict],
        head_config: Optional[Dict] = None,
        head_scale: float = 1.0,
    ):
        super().__init__()
        self._layers = nn.ModuleList([_Layers(**lc) for lc in layers_configs])
        self._head = None if head_config is None else _Head(**head_config)
        self._head_scale = head_scale

    @property
    def receptive_field(self) -> int:
        return 1 + sum([(layer.receptive_field - 1) for layer in self._layers])

    def export_config(self):
        return {
            "layers": [layers.export_config() for layers in self._layers],
            "head": None if self._head is None else self._head.export_config(),
            "head_scale": self._head_scale,
        }

    def export_weights(self) -> np.ndarray:
        """Arrays, then the head (if any), then head_scale (as float32), as one 1-D array."""
        weights = torch.cat([layer.export_weights() for layer in self._layers])
        if self._head is not None:
            weights = torch.cat([weights, self._head.export_weights()])
        weights = torch.cat([weights, torch.Tensor([self._head_scale])])
        return weights.detach().cpu().numpy()

    def import_weights(self, weights: torch.Tensor):
        # Upstream reads the layer arrays only: a head and the trailing head_scale in
        # `weights` are ignored (docs: upstream-facts §5 item 19).
        i = 0
        for layer in self._layers:
            i = layer.import_weights(weights, i)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, CX, L) → (B, CY, L - R + 1)."""
        y, head_input = x, None
        for layer in self._layers:
            head_input, y = layer(y, x, head_input=head_input)
        head_input = self._head_scale * head_input
        return head_input if self._head is None else self._head(head_input)


class WaveNet(BaseNet):
    def __init__(self, *args, sample_rate: Optional[float] = None, **kwargs):
        """Arguments are `_WaveNet`'s: layers_configs, head_config=None, head_scale=1.0."""
        super().__init__(sample_rate=sample_rate)
        if not self._release.has_catwavenet:
            # wavenet.py and CatWaveNet both arrived in 50c247a (0.4.0).
            raise NotImplementedError(f"WaveNet does not exist in {self._release.name} (added in 0.4.0)")
        self._net = _WaveNet(*args, **kwargs)

    @property
    def pad_start_default(self) -> bool:
        return True

    @property
    def receptive_field(self) -> int:
        return self._net.receptive_field

    def export_cpp_header(self, filename: Path):
        with TemporaryDirectory() as tmpdir:
            # Class-qualified like upstream, so CatWaveNet's export(outdir, parametric_config)
            # is bypassed; the header then carries exactly what the export file carried.
            WaveNet.export(self, Path(tmpdir))
            version, config, weights = _read_back_export(Path(tmpdir))
        if config["head"] is not None:
            raise NotImplementedError("No heads yet")
        lines = (
            "#pragma once\n",
            "// Automatically-generated model file\n",
            "#include <vector>\n",
            '#include "json.hpp"\n',
            '#include "wavenet.h"\n',
            f'#define PYTHON_MODEL_VERSION "{version}"\n',
        )
        lines += _layer_array_params_lines(config["layers"])
        lines += (
            f'const float HEAD_SCALE = {config["head_scale"]};\n',
            "const bool WITH_HEAD = false;\n",
        )
        lines += self._export_cpp_header_parametric(config.get("parametric"))
        lines += ("std::vector<float> PARAMS{" + ", ".join(f"{w:.16f}f" for w in weights) + "};\n",)
        with open(filename, "w") as f:
            f.writelines(lines)

    def import_weights(self, weights: Sequence[float]):
        """Load a flat vector as `export_weights` lays it out (0.6.0+; head/head_scale ignored)."""
        if not self._release.import_weights_api:
            return super().import_weights(weights)
        if not isinstance(weights, torch.Tensor):
            weights = torch.Tensor(weights)
        self._net.import_weights(weights)

    def _export_config(self):
        return self._net.export_config()

    def _export_cpp_header_parametric(self, config):
        if config is not None:
            raise ValueError("Got non-None parametric config")
        return ("nlohmann::json PARAMETRIC {};\n",)

    def _export_weights(self) -> np.ndarray:
        return self._net.export_weights()

    def _forward(self, x):
        if x.ndim == 2:
            x = x[:, None, :]  # mono audio: one input channel
        y = self._net(x)
        assert y.shape[1] == 1
        return y[:, 0, :]


def _layer_array_params_lines(layers_configs) -> Tuple[str, ...]:
    """The C++ initializer list of `wavenet::LayerArrayParams`, one line per array."""

    def cpp_bool(value) -> str:
        return str(value).lower()

    entries = []
    for lc in layers_configs:
        dilations = ", ".join(str(d) for d in lc["dilations"])
        entries.append(
            f'  wavenet::LayerArrayParams({lc["input_size"]}, {lc["condition_size"]}, '
            f'{lc["head_size"]}, {lc["channels"]}, {lc["kernel_size"]}, '
            f"std::vector<int> {{{dilations}}}, "
            f'"{lc["activation"]}", {cpp_bool(lc["gated"])}, {cpp_bool(lc["head_bias"])})'
        )
    body = tuple(entry + ("," if i < len(entries) - 1 else "") + "\n" for i, entry in enumerate(entries))
    return ("const std::vector<wavenet::LayerArrayParams> LAYER_ARRAY_PARAMS{\n",) + body + ("};\n",)
