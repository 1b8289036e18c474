"""HyperConvNet: a small convolutional net whose weights come from a hypernetwork.

Rebuild of `nam.models.parametric.hyper_net` (0.3.0 … ae86979). The knob vector goes
through an MLP (the hypernet); its output is cut into the weight/bias tensors of a
kernel-2 dilated conv net, which then processes the audio. A batch of N knob settings
therefore means N different conv nets, run together as one grouped convolution.

Everything numeric here follows upstream op for op (same torch calls, same order), so
that outputs, exports and even freshly initialised state_dicts (under the same seed) are
bit-identical to the genuine releases. Where that forces an odd choice, a comment says so.
Only `export` differs between releases (the `include_snapshot` flag of 0.5.0, a1ad297).
"""

import abc
import json
import math
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any, Callable, List, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.init import _calculate_correct_fan, _calculate_fan_in_and_fan_out, calculate_gain

from .._base import ParametricBaseNet

__all__ = [
    "SpecialLayers",
    "LayerSpec",
    "HyperNet",
    "HyperConvNet",
]


class SpecialLayers(Enum):
    CONV = "conv"
    BATCHNORM = "batchnorm"


@dataclass
class LayerSpec:
    """What a main-net layer needs from the hypernet: one entry per tensor it consumes.

    `norms` is the target scale of each generated tensor and `biases` its offset; the
    hypernet's output affine is initialised from them.
    """

    special_type: Optional[str]
    shapes: Tuple[Tuple[int]]
    norms: Tuple[float]
    biases: Tuple[float]


class _NetLayer(nn.Module, abc.ABC):
    """A main-net layer: called as `layer(tensors, inputs)` with hypernet-made tensors."""

    @property
    @abc.abstractmethod
    def num_tensors(self) -> int:
        pass

    @abc.abstractmethod
    def get_spec(self) -> LayerSpec:
        pass


class _Conv(nn.Conv1d, _NetLayer):
    """Conv1d whose own weight/bias only fix the shapes (and the init scale); the values
    used in `forward` come from the hypernet. The module's parameters stay registered
    (and randomly initialised, consuming RNG) because upstream's state_dicts hold them."""

    @property
    def num_tensors(self):
        return 1 if self.bias is None else 2

    def forward(self, params, inputs):
        # N knob settings = N conv nets. Stack them along the channel axis of a single
        # "sample" and let groups=N keep them apart.
        cout, cin, kernel_size = self.weight.shape
        n = len(params[0])
        weight = params[0].reshape((n * cout, cin, kernel_size))
        bias = None if self.bias is None else params[1].flatten()
        return F.conv1d(
            inputs.reshape((1, n * cin, -1)),
            weight,
            bias=bias,
            stride=self.stride,
            padding=self.padding,
            dilation=self.dilation,
            groups=n,
        ).reshape((n, cout, -1))

    def get_spec(self):
        if self.bias is None:
            shapes = (self.weight.shape,)
            norms = (self._weight_norm(),)
            biases = (0,)
        else:
            shapes = (self.weight.shape, self.bias.shape)
            norms = (self._weight_norm(), self._bias_norm())
            biases = (0, 0)
        return LayerSpec(SpecialLayers("conv"), shapes, norms, biases)

    def _bias_norm(self):
        # Std of U(-b, b) with b = 1/sqrt(fan_in): PyTorch's default Conv1d bias init.
        fan_in = _calculate_fan_in_and_fan_out(self.weight.data)[0]
        bound = 1.0 / math.sqrt(fan_in)
        return math.sqrt(1.0 / 12.0) * (2 * bound)

    def _weight_norm(self):
        # Meant as the std of PyTorch's default weight init (kaiming-uniform, a=sqrt(5)),
        # but upstream passed a=5.0, i.e. gain sqrt(2/26). Kept: it sets the initial
        # affine scale, hence every freshly built model.
        fan_in = _calculate_correct_fan(self.weight.data, "fan_in")
        gain = calculate_gain("leaky_relu", 5.0)
        return gain / math.sqrt(fan_in)


class _BatchNorm(nn.BatchNorm1d, _NetLayer):
    """BatchNorm1d with its scale and shift supplied per sample by the hypernet.

    The parent runs without affine parameters (it only normalises and tracks running
    statistics); `affine` must stay True, meaning "the hypernet provides it".
    """

    def __init__(self, num_features, *args, affine=True, **kwargs):
        super().__init__(num_features, *args, affine=False, **kwargs)
        self._num_features = num_features
        assert affine
        self._affine = affine

    @property
    def num_tensors(self) -> int:
        return 2

    def get_spec(self) -> LayerSpec:
        # Scale starts at 1, shift at 0, both with a tiny spread.
        return LayerSpec(
            SpecialLayers.BATCHNORM,
            ((self._num_features,), (self._num_features,)),
            (1.0e-5, 1.0e-5),
            (1.0, 0.0),
        )

    def forward(self, params, inputs):
        # (N, C) tensors → (N, C, 1) so each sample gets its own scale/shift.
        weight, bias = [t[:, :, None] for t in params]
        pre_affine = super().forward(inputs)
        return weight * pre_affine + bias


class _Affine(nn.Module):
    """Elementwise `scale * x + shift` on the hypernet output (both trainable)."""

    def __init__(self, scale: torch.Tensor, bias: torch.Tensor):
        super().__init__()
        self._weight = nn.Parameter(scale)
        self._bias = nn.Parameter(bias)

    @property
    def bias(self) -> nn.Parameter:
        return self._bias

    @property
    def weight(self) -> nn.Parameter:
        return self._weight

    def forward(self, inputs):
        return self._weight * inputs + self._bias


class HyperNet(nn.Module):
    """MLP from knobs to the flat vector of main-net tensors, followed by an affine that
    brings each tensor to its intended scale (`norms`) and offset (`biases`)."""

    def __init__(self, d_in, net, numels, norms, biases):
        super().__init__()
        self._net = net
        # Typical output spread of the freshly initialised MLP, estimated from random
        # inputs. Side effects kept from upstream: it draws from the global RNG and, the
        # module being in train mode, updates any BatchNorm running stats once.
        norm0 = net(torch.randn((10_000, d_in))).std(dim=0).mean().item()
        # Tensor boundaries in the flat output (a plain attribute, not a buffer).
        self._cum_numel = torch.cat(
            [torch.LongTensor([0]), torch.cumsum(torch.LongTensor(numels), dim=0)]
        )
        # The same bounds as Python ints: slicing with them skips a tensor-to-index
        # conversion per tensor per forward.
        self._bounds = self._cum_numel.tolist()
        scale = torch.cat(
            [torch.full((numel,), norm / norm0) for numel, norm in zip(numels, norms)]
        )
        # dtype given because the conv offsets are the int 0.
        shift = torch.cat(
            [torch.full((numel,), bias, dtype=torch.float) for numel, bias in zip(numels, biases)]
        )
        self._affine = _Affine(scale, shift)

    @property
    def batchnorm(self) -> bool:
        """Whether the MLP's blocks contain BatchNorm1d layers."""
        return any(isinstance(m, nn.BatchNorm1d) for m in self.modules())

    @property
    def input_dim(self) -> int:
        return self._net[0][0].weight.shape[1]

    @property
    def num_layers(self) -> int:
        return len([m for m in self._net if isinstance(m, _HyperNetBlock)])

    @property
    def num_units(self) -> int:
        return self._net[0][0].weight.shape[0]

    def forward(self, x) -> Tuple[torch.Tensor]:
        """(N, D) knobs → tuple of (N, numel_t) slices, one per main-net tensor."""
        y = self._affine(self._net(x))
        bounds = self._bounds
        return tuple(y[:, i:j] for i, j in zip(bounds[:-1], bounds[1:]))

    def get_export_params(self) -> np.ndarray:
        """Flat float32 vector: per block Linear W, b [+ BN running_mean, running_var,
        weight, bias, eps]; then head W, b; then affine scale, shift."""
        chunks = []
        for block in self._net[:-1]:
            linear = block[0]
            chunks.append(linear.weight.flatten())
            chunks.append(linear.bias.flatten())
            if self.batchnorm:
                bn = block[1]
                chunks.append(bn.running_mean.flatten())
                chunks.append(bn.running_var.flatten())
                chunks.append(bn.weight.flatten())
                chunks.append(bn.bias.flatten())
                chunks.append(torch.Tensor([bn.eps]).to(bn.weight.device))
            # The C++ side assumes this block layout.
            assert len(block) <= 3, "Linear-(BN)-activation"
            assert len(list(block[-1].parameters())) == 0, "No params in activation"
        head = self._net[-1]
        chunks.append(head.weight.flatten())
        chunks.append(head.bias.flatten())
        chunks.append(self._affine.weight.flatten())
        chunks.append(self._affine.bias.flatten())
        return torch.cat(chunks).detach().cpu().numpy()


class _Activation(abc.ABC):
    """Marks main-net activations; `name` is how the config spells them."""

    @property
    @abc.abstractmethod
    def name(self) -> str:
        pass


def _extend_activation(C, name: str) -> _Activation:
    """Wrap a parameter-free torch module so it fits the main net's calling convention."""

    # Every wrapper is a local class called `Activation`, as upstream (so whole-model
    # pickling fails the same way).
    class Activation(C, _NetLayer, _Activation):
        @property
        def name(self):
            return name

        @property
        def num_tensors(self) -> int:
            return 0

        def get_spec(self) -> LayerSpec:
            return LayerSpec(None, (), (), ())

        def forward(self, params, inputs):
            return super().forward(inputs)

    return Activation


_Tanh = _extend_activation(nn.Tanh, "Tanh")
_ReLU = _extend_activation(nn.ReLU, "ReLU")
# Not an activation, but it has the same shape of interface (and the name "Flatten").
_Flatten = _extend_activation(nn.Flatten, "Flatten")


def _get_activation(name):
    return {"Tanh": _Tanh, "ReLU": _ReLU}[name]()


class _HyperNetBlock(nn.Sequential):
    """Linear-(BatchNorm1d)-ReLU; a distinct type so blocks can be counted."""


class _SnapshotDefault:
    # Default of `include_snapshot`, distinguishable from an explicit False so that
    # releases whose `export` had no such parameter can reject it like upstream did.
    def __bool__(self):
        return False

    def __repr__(self):
        return "False"


_SNAPSHOT_DEFAULT = _SnapshotDefault()


class HyperConvNet(ParametricBaseNet):
    """Parametric model: knobs → hypernet → weights of a dilated conv net → audio."""

    def __init__(self, hyper_net: HyperNet, net: Callable[[Any, torch.Tensor], torch.Tensor]):
        super().__init__()
        self._hyper_net = hyper_net
        self._net = net

    @classmethod
    def parse_config(cls, config):
        config = super().parse_config(config)
        # Main net first: its layers consume RNG before the hypernet's, and their specs
        # size the hypernet.
        net, specs = cls._get_net(config["net"])
        hyper_net = cls._get_hyper_net(config["hyper_net"], specs)
        return {"hyper_net": hyper_net, "net": net}

    @property
    def pad_start_default(self) -> bool:
        return True

    @property
    def receptive_field(self) -> int:
        # Kernel-2 convs add their dilation each; the 1x1 head conv counts 1 too, which
        # cancels the usual "+1" of a receptive field.
        return sum([m.dilation[0] for m in self._net if isinstance(m, _Conv)]) + 1 - 1

    def export(self, outdir: Path, include_snapshot: bool = _SNAPSHOT_DEFAULT):
        """Write a directory export (every release; never a .nam file).

        * config.json: {"version", "architecture", "config"}, indent 4.
        * weights.npy: `_export_weights()` — hypernet parameters (see
          `HyperNet.get_export_params`), then for each main-net BatchNorm its
          running_mean, running_var and eps. The main-net conv weights are not
          exported: the hypernet generates them.
        * test_signal_{params,input,output}.npy: random knobs, input and the model's
          output. Always written up to 0.4.0; from 0.5.0 only with include_snapshot.
        """
        if self._release.export_include_snapshot_flag:
            snapshot = bool(include_snapshot)
        elif include_snapshot is not _SNAPSHOT_DEFAULT:
            raise TypeError(
                f"export() got an unexpected keyword argument 'include_snapshot' "
                f"(HyperConvNet of {self._release.name})"
            )
        else:
            snapshot = True
        was_training = self.training
        self.eval()
        with open(Path(outdir, "config.json"), "w") as fp:
            json.dump(self._export_config(), fp, indent=4)
        np.save(Path(outdir, "weights.npy"), self._export_weights())
        if snapshot:
            params, x, y = self._export_input_output()
            np.save(Path(outdir, "test_signal_params.npy"), params.detach().cpu().numpy())
            np.save(Path(outdir, "test_signal_input.npy"), x.detach().cpu().numpy())
            np.save(Path(outdir, "test_signal_output.npy"), y.detach().cpu().numpy())
        self.train(was_training)

    def export_cpp_header(self, filename: Path):
        # Goes through a full export in a scratch directory, as upstream did (so up to
        # 0.4.0 the snapshot is computed too, drawing from the global RNG).
        with TemporaryDirectory() as tmpdir:
            self.export(Path(tmpdir))
            with open(Path(tmpdir, "config.json"), "r") as fp:
                document = json.load(fp)
            params = np.load(Path(tmpdir, "weights.npy"))
        version = document["version"]
        hyper = document["config"]["hyper_net"]
        net = document["config"]["net"]

        def cpp_bool(flag):
            return "true" if flag else "false"

        lines = [
            "#pragma once\n",
            "// Automatically-generated model file\n",
            "// HyperConvNet model\n",
            "#include <vector>\n",
            f'#define PYTHON_MODEL_VERSION "{version}"\n',
            f"const int HYPER_NET_INPUT_DIM = {hyper['input_dim']};\n",
            f"const int HYPER_NET_NUM_LAYERS = {hyper['num_layers']};\n",
            f"const int HYPER_NET_NUM_UNITS = {hyper['num_units']};\n",
            # Declared int although the value is a bool literal: as upstream.
            f"const int HYPER_NET_BATCHNORM = {cpp_bool(hyper['batchnorm'])};\n",
            f"const int CHANNELS = {net['channels']};\n",
            f"const bool BATCHNORM = {cpp_bool(net['batchnorm'])};\n",
            "std::vector<int> DILATIONS{" + ",".join(str(d) for d in net["dilations"]) + "};\n",
            f'const std::string ACTIVATION = "{net["activation"]}";\n',
            # No "f" suffix on the literals (unlike the LSTM/WaveNet headers).
            "std::vector<float> PARAMS{" + ",".join(f"{w:.16f}" for w in params) + "};\n",
        ]
        with open(filename, "w") as f:
            f.writelines(lines)

    @classmethod
    def _get_net(cls, config):
        """Main net: per dilation Conv(k=2)-[BatchNorm]-activation, then a 1x1 conv head
        and Flatten. Returns the ModuleList and the per-layer specs, in module order."""
        channels = config["channels"]
        dilations = config["dilations"]
        batchnorm = config["batchnorm"]
        activation = config["activation"]

        layers = []
        cin = 1
        for dilation in dilations:
            # With BatchNorm after it, a conv bias would be redundant.
            layers.append(_Conv(cin, channels, 2, dilation=dilation, bias=not batchnorm))
            if batchnorm:
                # Running stats move slowly: the main net's activations vary a lot
                # between knob settings.
                layers.append(_BatchNorm(channels, momentum=0.01))
            layers.append(_get_activation(activation))
            cin = channels
        layers.append(_Conv(cin, 1, 1))
        layers.append(_Flatten())
        specs = [layer.get_spec() for layer in layers]
        return nn.ModuleList(layers), specs

    @classmethod
    def _get_hyper_net(cls, config, specs) -> HyperNet:
        """MLP: `num_layers` Linear-[BN]-ReLU blocks, then a Linear to all main-net
        tensors, wrapped in a HyperNet."""

        def block(dx, dy, batchnorm) -> _HyperNetBlock:
            modules = [nn.Linear(dx, dy)]
            if batchnorm:
                modules.append(nn.BatchNorm1d(dy))
            modules.append(nn.ReLU())
            return _HyperNetBlock(*modules)

        num_inputs = config["num_inputs"]
        num_layers = config["num_layers"]
        num_units = config["num_units"]
        batchnorm = config["batchnorm"]
        numels = [np.prod(np.array(shape)) for spec in specs for shape in spec.shapes]
        norms = [norm for spec in specs for norm in spec.norms]
        biases = [bias for spec in specs for bias in spec.biases]
        num_outputs = sum(numels)

        din, modules = num_inputs, []
        for _ in range(num_layers):
            modules.append(block(din, num_units, batchnorm))
            din = num_units
        modules.append(nn.Linear(din, num_outputs))
        net = nn.Sequential(*modules)

        return HyperNet(num_inputs, net, numels, norms, biases)

    @property
    def _activation(self) -> str:
        """Config name of the main net's activation (first one found)."""
        for m in self._net.modules():
            if isinstance(m, _Activation):
                return m.name

    @property
    def _batchnorm(self) -> bool:
        return any(isinstance(m, _BatchNorm) for m in self._net)

    @property
    def _channels(self) -> int:
        return self._net[0].weight.shape[0]

    @property
    def _net_no_head(self):
        # Drops the 1x1 head conv and the Flatten.
        return self._net[:-2]

    def _forward(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        tensors = self._hyper_net(params)
        i = 0
        for m in self._net:
            j = i + m.num_tensors
            x = m(tensors[i:j], x)
            i = j
        assert j == len(tensors)
        return x

    def _get_dilations(self) -> List[int]:
        return [m.dilation[0] for m in self._net_no_head if isinstance(m, _Conv)]

    def _export_config(self):
        # The whole config.json document (not only its "config" part).
        return {
            "version": self._release.package_version,
            "architecture": "HyperConvNet",
            "config": {
                "hyper_net": {
                    "input_dim": self._hyper_net.input_dim,
                    "num_layers": self._hyper_net.num_layers,
                    "num_units": self._hyper_net.num_units,
                    "batchnorm": self._hyper_net.batchnorm,
                },
                "net": {
                    "channels": self._channels,
                    "dilations": self._get_dilations(),
                    "batchnorm": self._batchnorm,
                    "activation": self._activation,
                },
            },
        }

    def _export_weights(self) -> np.ndarray:
        # Without main-net BatchNorm the second part is numpy's default float64 empty
        # array, which promotes the whole vector to float64 (as in upstream files).
        return np.concatenate([self._hyper_net.get_export_params(), self._export_net_weights()])

    def _export_net_weights(self) -> np.ndarray:
        """Main-net BatchNorm buffers; everything else comes from the hypernet."""
        chunks = []
        for bn in self._net_no_head:
            if isinstance(bn, _BatchNorm):
                chunks.append(bn.running_mean.flatten())
                chunks.append(bn.running_var.flatten())
                chunks.append(torch.Tensor([bn.eps]).to(bn.running_mean.device))
        if len(chunks) == 0:
            return np.array([])
        return torch.cat(chunks).detach().cpu().numpy()

    def _export_input_output(self) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        # Unseeded, as upstream: random knobs and a random input peaking at 0.5.
        params = torch.randn((self._hyper_net.input_dim,))
        x = torch.randn((2 * self.receptive_field,))
        x = 0.5 * x / x.abs().max()
        y = self(params, x)
        return params, x, y
