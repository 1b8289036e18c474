"""Flat weight vectors → modules: the exact inverse of each release's `_export_weights()`.

The `.nam` files, export directories (`weights.npy`) and C++ headers of every release carry
a model as one flat float vector. `import_weights(model, weights)` writes such a vector
into a model built from the file's config (compat.formats.configs.translate_export_config), so that the model
exports the same vector again and computes what the release's model computed.

Layouts (the exporters in `nam_legacy` are byte-identical to the releases'):

* LSTM / CatLSTM, per layer k: `[W_ih | W_hh]` (4H × (in_k + H), row-major), `b_ih + b_hh`
  (4H), the burn-in hidden state h_k (H), cell state c_k (H); then head weight (H), head
  bias (1).
* WaveNet / CatWaveNet, per layer array: rechannel W; per layer conv W, b, input mixer
  W, 1x1 W, b; head rechannel W [, b]. Then the optional head's convs (W, b each), then
  head_scale (1 value).
* HyperConvNet: per hypernet block Linear W, b [, BatchNorm running_mean, running_var,
  weight, bias, eps]; head Linear W, b; affine weight, bias; then per main-net
  BatchNorm running_mean, running_var, eps.

What the import does where the vector holds less than the model:

* LSTM biases: the file has only `b_ih + b_hh`. We set `bias_ih := sum`, `bias_hh := 0`.
  On the CPU with oneDNN (torch's default), the LSTM adds the two biases before using
  them, so the forward is bit-identical to the original model's (tests prove it). On
  other paths (`torch.backends.mkldnn.enabled = False`, CUDA) it can differ in the last
  bit.
* LSTM state: the file has the *burn-in* state (48,000 samples of silence with the
  default knobs, from zeros), not the learned `_initial_hidden/_initial_cell` the
  release's forward started from. The burn-in state becomes the learned state, so the
  imported model starts where a plugin playing the file starts. Models built under 0.3.0
  have no learned state and cannot hold it: `UnsupportedReleaseError` (build under 0.4.0
  or later; the layout is the same).
* Training settings (`train_burn_in`, `train_truncate`), HyperConvNet's main-net conv
  weights (the hypernet generates the ones used) and BatchNorm `num_batches_tracked` are
  not exported; those tensors/attributes keep whatever the model had.

Scalars the vector repeats from the model (CatWaveNet head_scale, BatchNorm eps) are
checked, not written: the value in the vector must be what the exporter would write for
the model (`torch.Tensor([value])`, i.e. float32), else `WeightsMismatchError`. A file
whose config and weights disagree is refused rather than silently picking one side; the
model keeps its own Python float, so its config re-exports unchanged.

The vector is cast to float32 (round to nearest). Every vector a release wrote into a
`.npy` or `.nam` was float32 to begin with, so the cast is exact; `ImportedWeights.rounded`
counts the values it changed (C++ headers print 16 decimals, which can lose bits of tiny
values). NaN and infinities are kept as they are. The caller's array is never modified
nor aliased, and on any error the model is left untouched.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Tuple

import numpy as np
import torch

from nam_legacy.models.parametric.hyper_net import HyperConvNet, _BatchNorm
from nam_legacy.models.recurrent import LSTM
from nam_legacy.models.wavenet import WaveNet

from .errors import ConfigError, UnsupportedReleaseError, WeightsMismatchError

__all__ = ["ImportedWeights", "expected_length", "import_weights"]


@dataclass(frozen=True)
class ImportedWeights:
    architecture: str  # class name of the model written into
    length: int  # number of values consumed (= expected_length(model))
    rounded: int  # values the float32 cast changed (0 for float32-origin data)


# --- plans: the export order as a list of slots ----------------------------------------

# Staged writes: id(target) → (target tensor, new value). Applied only once every slot
# has been read and checked, so a failing import leaves the model as it was.
_Stage = Dict[int, Tuple[torch.Tensor, torch.Tensor]]


class _Disagree(Exception):
    """A scalar in the vector is not the model's; the executor words the error."""


@dataclass(frozen=True)
class _Slot:
    label: str
    size: int
    take: Callable[[torch.Tensor, _Stage], None]  # values (size,) float32 → staged writes


def _put(stage: _Stage, target: torch.Tensor, value: torch.Tensor) -> None:
    stage[id(target)] = (target, value)


def _whole(label: str, target: torch.Tensor) -> _Slot:
    """The tensor flattened row-major, as `.flatten()` exports it."""
    shape = tuple(target.shape)
    return _Slot(label, target.numel(), lambda v, stage: _put(stage, target, v.reshape(shape)))


def _row(label: str, target: torch.Tensor, k: int) -> _Slot:
    """Row k of a 2-D tensor whose rows are exported one by one."""

    def take(v: torch.Tensor, stage: _Stage) -> None:
        if id(target) not in stage:
            _put(stage, target, target.detach().to("cpu", torch.float32, copy=True))
        stage[id(target)][1][k] = v

    return _Slot(label, target.shape[1], take)


def _same_float(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def _agrees(label: str, model_value: float) -> _Slot:
    """One value the exporter wrote as `torch.Tensor([model_value])`: checked, not written."""
    exported = torch.Tensor([model_value]).item()

    def take(v: torch.Tensor, stage: _Stage) -> None:
        got = v.item()
        if not _same_float(got, exported):
            raise _Disagree(f"{label} is {got!r} in the weights but {model_value!r} in the model")

    return _Slot(label, 1, take)


def _conv_slots(label: str, conv: torch.nn.Module) -> List[_Slot]:
    slots = [_whole(f"{label}.weight", conv.weight)]
    if conv.bias is not None:
        slots.append(_whole(f"{label}.bias", conv.bias))
    return slots


def _lstm_plan(model: LSTM) -> List[_Slot]:
    core = model._core
    if not core.bias or core.bidirectional or getattr(core, "proj_size", 0):
        raise ConfigError(
            f"{type(model).__name__} with bias={core.bias}, bidirectional={core.bidirectional}, "
            f"proj_size={getattr(core, 'proj_size', 0)} has no flat weight format (the export needs biases, "
            "one direction, no projection)"
        )
    hidden = core.hidden_size
    learned = model._release.lstm_learned_initial_state
    slots = []
    for k in range(core.num_layers):
        w_ih, w_hh = getattr(core, f"weight_ih_l{k}"), getattr(core, f"weight_hh_l{k}")
        b_ih, b_hh = getattr(core, f"bias_ih_l{k}"), getattr(core, f"bias_hh_l{k}")
        n_in = w_ih.shape[1]

        def take_w(v, stage, w_ih=w_ih, w_hh=w_hh, n_in=n_in):
            both = v.reshape((4 * hidden, n_in + hidden))
            _put(stage, w_ih, both[:, :n_in])
            _put(stage, w_hh, both[:, n_in:])

        def take_b(v, stage, b_ih=b_ih, b_hh=b_hh):
            _put(stage, b_ih, v)
            _put(stage, b_hh, torch.zeros_like(v))

        slots.append(_Slot(f"layer {k} [W_ih|W_hh]", 4 * hidden * (n_in + hidden), take_w))
        slots.append(_Slot(f"layer {k} b_ih+b_hh", 4 * hidden, take_b))
        if learned:
            slots.append(_row(f"layer {k} burn-in hidden state", model._initial_hidden, k))
            slots.append(_row(f"layer {k} burn-in cell state", model._initial_cell, k))
        else:  # 0.3.0: only the length is known; import_weights refuses before using these
            slots.append(_Slot(f"layer {k} burn-in hidden state", hidden, None))
            slots.append(_Slot(f"layer {k} burn-in cell state", hidden, None))
    slots.append(_whole("head.weight", model._head.weight))
    slots.append(_whole("head.bias", model._head.bias))
    return slots


def _wavenet_plan(model: WaveNet) -> List[_Slot]:
    net = model._net
    slots = []
    for a, array in enumerate(net._layers):
        slots += _conv_slots(f"array {a} rechannel", array._rechannel)
        for j, layer in enumerate(array._layers):
            slots += _conv_slots(f"array {a} layer {j} conv", layer._conv)
            slots += _conv_slots(f"array {a} layer {j} input_mixer", layer._input_mixer)
            slots += _conv_slots(f"array {a} layer {j} 1x1", layer._1x1)
        slots += _conv_slots(f"array {a} head_rechannel", array._head_rechannel)
    if net._head is not None:
        for i, block in enumerate(net._head._layers):
            slots += _conv_slots(f"head layer {i} conv", block[1])
    slots.append(_agrees("head_scale", net._head_scale))
    return slots


def _hyper_conv_net_plan(model: HyperConvNet) -> List[_Slot]:
    hyper = model._hyper_net
    batchnorm = hyper.batchnorm
    slots = []
    for b, block in enumerate(hyper._net[:-1]):
        slots.append(_whole(f"hypernet block {b} linear.weight", block[0].weight))
        slots.append(_whole(f"hypernet block {b} linear.bias", block[0].bias))
        if batchnorm:
            bn = block[1]
            for name in ("running_mean", "running_var", "weight", "bias"):
                slots.append(_whole(f"hypernet block {b} batchnorm.{name}", getattr(bn, name)))
            slots.append(_agrees(f"hypernet block {b} batchnorm eps", bn.eps))
    head = hyper._net[-1]
    slots.append(_whole("hypernet head.weight", head.weight))
    slots.append(_whole("hypernet head.bias", head.bias))
    slots.append(_whole("hypernet affine.weight", hyper._affine.weight))
    slots.append(_whole("hypernet affine.bias", hyper._affine.bias))
    for i, module in enumerate(model._net_no_head):
        if isinstance(module, _BatchNorm):
            slots.append(_whole(f"net {i} batchnorm.running_mean", module.running_mean))
            slots.append(_whole(f"net {i} batchnorm.running_var", module.running_var))
            slots.append(_agrees(f"net {i} batchnorm eps", module.eps))
    return slots


def _plan(model: torch.nn.Module) -> List[_Slot]:
    if isinstance(model, HyperConvNet):
        return _hyper_conv_net_plan(model)
    if isinstance(model, LSTM):
        return _lstm_plan(model)
    if isinstance(model, WaveNet):
        return _wavenet_plan(model)
    raise TypeError(f"no flat weight format for {type(model).__name__}")


# --- public API -------------------------------------------------------------------------


def expected_length(model: torch.nn.Module) -> int:
    """Length of the flat vector `model._export_weights()` returns (computed, not exported)."""
    return sum(slot.size for slot in _plan(model))


def _float32_vector(weights: Any, architecture: str, expected: int) -> Tuple[torch.Tensor, int]:
    array = weights if isinstance(weights, np.ndarray) else np.asarray(weights)
    if array.dtype.kind != "f":
        raise WeightsMismatchError(
            f"{architecture} weights must be floating-point numbers, got dtype {array.dtype}"
        )
    if array.ndim != 1:
        raise WeightsMismatchError(f"{architecture} weights must be a flat vector, got shape {array.shape}")
    if len(array) != expected:
        raise WeightsMismatchError(
            f"{architecture} weights have {len(array)} values, the config implies {expected}"
        )
    with np.errstate(over="ignore"):  # beyond float32's range → ±inf, as torch would cast
        single = array.astype(np.float32)
    back = single.astype(array.dtype)
    rounded = int(np.count_nonzero((back != array) & ~(np.isnan(back) & np.isnan(array))))
    return torch.from_numpy(single), rounded


def import_weights(model: torch.nn.Module, weights: Any) -> ImportedWeights:
    """Write a flat export vector into `model` (in place); see the module docstring.

    :param model: a CatLSTM/LSTM (built under 0.4.0 or later), CatWaveNet/WaveNet or
        HyperConvNet whose config is the file's (translate_export_config).
    :param weights: 1-D float array (float32 from `.npy`, float64 from JSON or a float64
        `.npy`), or a list of floats.
    :raises WeightsMismatchError: wrong length, shape or dtype, or a scalar (head_scale,
        BatchNorm eps) that differs from the model's.
    :raises UnsupportedReleaseError: an LSTM built under 0.3.0 (no learned state).
    """
    architecture = type(model).__name__
    if isinstance(model, LSTM) and not model._release.lstm_learned_initial_state:
        raise UnsupportedReleaseError(
            f"a {architecture} built as release {model._release.name} has no learned initial state to hold "
            "the burn-in state of flat weights; build it as release 0.4.0 or later (same weight layout)"
        )
    plan = _plan(model)
    expected = sum(slot.size for slot in plan)
    vector, rounded = _float32_vector(weights, architecture, expected)
    stage: _Stage = {}
    i = 0
    for slot in plan:
        try:
            slot.take(vector[i : i + slot.size], stage)
        except _Disagree as e:
            raise WeightsMismatchError(f"{architecture} weights disagree with the model at index {i}: {e}") from None
        i += slot.size
    with torch.no_grad():
        for target, value in stage.values():
            target.copy_(value)
    return ImportedWeights(architecture=architecture, length=expected, rounded=rounded)
