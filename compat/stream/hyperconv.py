"""HyperConvNet as a stream: main-net weights follow the knobs at a control rate.

The hypernet turns a knob vector into every weight of the main net (kernel-2 dilated convs,
optional BatchNorm, activation, 1x1 head). Streaming semantics (docs/streaming.md):

* Time is cut into control periods of `control_period` samples, counted from the stream's
  start (or last reset), not per block. Every layer computes sample t with the weights made
  from the knob values at the first sample of t's period. The history a conv reads was
  computed when those samples passed, with their own period's weights — what any streaming
  implementation with time-varying weights computes. `offline.forward_control_rate` is the
  same thing computed independently over a whole signal.
* Hypernet outputs are cached by knob vector, so while knobs don't move the hypernet does
  not run; periods whose weights are equal are convolved in one call.
* Start state (pad_start=True): the pad is zero audio seen with the first period's weights;
  each conv's history starts as its (constant) input over the pad.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from nam_legacy.models.parametric.hyper_net import _BatchNorm, _Conv, _Flatten

from ..errors import ConfigError
from .knobs import KnobBlock
from .ops import History, dilated
from .processor import StreamProcessor

_CACHE_SIZE = 256  # knob vectors whose main-net weights are kept


class _Weights:
    """One knob vector's main-net tensors, per module, shaped for direct use."""

    __slots__ = ("per_module",)

    def __init__(self, per_module: List[Tuple[torch.Tensor, ...]]):
        self.per_module = per_module


class HyperConvStream(StreamProcessor):
    architecture = "HyperConvNet"

    def __init__(self, model, *, control_period: int = 32, **kwargs):
        if isinstance(control_period, bool) or not isinstance(control_period, (int, np.integer)) or control_period < 1:
            raise ConfigError(f"control_period must be a whole number of samples >= 1, got {control_period!r}")
        self.control_period = int(control_period)
        self._modules = list(model._net)
        self._kinds = [_kind(m) for m in self._modules]
        self._layout = _layout(self._modules, self._kinds, model._hyper_net._bounds)
        self._sizes = [b - a for pieces in self._layout for a, b, _ in pieces]
        self._mlp = _mlp_plan(model._hyper_net)
        self._into = _outputs_into_history(self._modules, self._kinds)
        self._cache: "OrderedDict[bytes, _Weights]" = OrderedDict()
        self.hypernet_runs = 0  # knob vectors sent through the hypernet (cache misses)
        super().__init__(model, **kwargs)

    def _reset_state(self) -> None:
        self._history: Optional[List[Optional[History]]] = None  # per module; made by the first sample
        self._current: Optional[_Weights] = None  # the weights of the period in progress

    # --- weights ---

    def _weights(self, rows: Sequence[np.ndarray]) -> List[_Weights]:
        """Main-net weights for each knob row (float32, (D,)); the hypernet runs once per
        knob vector not cached, unbatched like the model's own forward (a batched matmul
        rounds differently in the last place, which the main net would amplify)."""
        found = {}
        for row in rows:
            key = row.tobytes()
            if key in found:
                continue
            weights = self._cache.get(key)
            if weights is None:
                tensor = torch.from_numpy(np.array(row, dtype=np.float32))
                weights = self._shape(self._hypernet(tensor[None])[0])
                self.hypernet_runs += 1
            found[key] = weights
        for key, weights in found.items():  # most recent last
            self._cache[key] = weights
            self._cache.move_to_end(key)
        while len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return [found[row.tobytes()] for row in rows]

    def _hypernet(self, knobs: torch.Tensor) -> torch.Tensor:
        """The hypernet's flat output (1, total): `HyperNet.forward` before it cuts the
        vector into one tensor per target (we cut it straight into the shapes we use).
        The same functional calls its modules make, in their order (bit-identical), without
        the module-call overhead, which is most of a pass at this size."""
        if self._mlp is None:
            hyper = self.model._hyper_net
            return hyper._affine(hyper._net(knobs))
        blocks, head, scale, shift = self._mlp
        y = knobs
        for weight, bias, norm in blocks:
            y = F.linear(y, weight, bias)
            if norm is not None:
                y = F.batch_norm(y, norm.running_mean, norm.running_var, norm.weight, norm.bias, False, 0.0, norm.eps)
            y = F.relu(y)
        return scale * F.linear(y, head.weight, head.bias) + shift

    def _shape(self, flat: torch.Tensor) -> _Weights:
        # One split into (numel, 1) columns (views, made in one call), then the conv
        # weights viewed as (C_out, C_in·k): a few ops per knob vector, not one per tensor.
        columns = flat[:, None].split(self._sizes)
        per_module, i = [], 0
        for kind, pieces in zip(self._kinds, self._layout):
            tensors = columns[i : i + len(pieces)]
            i += len(pieces)
            if kind == "conv":
                weight = tensors[0].view(pieces[0][2])
                tensors = (weight, tensors[1] if len(tensors) > 1 else None)  # no bias before batch norm
            per_module.append(tensors)
        return _Weights(per_module)

    # --- audio ---

    def _segments(self, n: int, knobs: KnobBlock) -> List[Tuple[int, int, _Weights]]:
        """[(start, end, weights)] covering the block: a new period starts wherever the
        stream position is a multiple of the control period; runs of equal weights merge."""
        period = self.control_period
        first = (-self.position) % period  # offset of the first period start in the block
        if first >= n:  # the whole block lies in the period in progress
            return [(0, n, self._current)]
        if knobs.curves is None:  # no knob moves in this block: one vector for every period
            (weights,) = self._weights([knobs.constant])
            segments = [[0, first, self._current]] if first and weights is not self._current else []
            segments.append([first if segments else 0, n, weights])
            self._current = weights
            return [tuple(s) for s in segments]
        starts = np.arange(first, n, period)
        rows = knobs.curves[starts]
        # only where the knob vector differs from the previous period start's
        change = np.ones(len(starts), dtype=bool)
        change[1:] = np.any(rows[1:] != rows[:-1], axis=1)
        weights = self._weights(list(rows[change]))
        segments: List[List] = [[0, first, self._current]] if first else []
        for s, w in zip(starts[change].tolist(), weights):
            if segments and segments[-1][2] is w:
                continue
            if segments:
                segments[-1][1] = s
            segments.append([s, n, w])
        segments[-1][1] = n
        self._current = weights[-1]
        return [tuple(s) for s in segments]

    def _run(self, x: torch.Tensor, knobs: KnobBlock) -> torch.Tensor:
        if self._history is None:
            self._current = self._weights([knobs.first()])[0]
            self._history = [None] * len(self._modules)
            self._net(torch.zeros((1,)), [(0, 1, self._current)], prime=True)
        segments = self._segments(x.shape[0], knobs)
        return self._net(x, segments, prime=False)

    def _net(self, x: torch.Tensor, segments, *, prime: bool) -> torch.Tensor:
        """The main net on (n,) audio, layer by layer, each segment with its weights."""
        n = x.shape[0]
        history = self._history
        y = x[None]  # (channels, n)
        written = False  # y already sits in the next conv's history
        for k, (m, kind) in enumerate(zip(self._modules, self._kinds)):
            if kind == "conv":
                kernel, dilation = m.kernel_size[0], m.dilation[0]
                span = (kernel - 1) * dilation
                if prime:
                    history[k] = History(y.expand(-1, span)) if span else None
                if span:
                    full = history[k].commit(n) if written else history[k].extend(y)
                else:
                    full = y
                written = False
                pieces = [dilated(*w.per_module[k], full[:, a : b + span], kernel, dilation, b - a) for a, b, w in segments]
                y = pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim=1)
            elif kind == "batchnorm":
                # The model's own eval-mode batch norm (running statistics), then the
                # hypernet's scale and shift of each segment.
                normed = torch.nn.BatchNorm1d.forward(m, y[None])[0]
                pieces = [w.per_module[k][0] * normed[:, a:b] + w.per_module[k][1] for a, b, w in segments]
                y = pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim=1)
            elif kind == "flatten":
                y = y.reshape(-1)
            else:
                into = None if prime else self._into[k]
                if into is None:
                    y = m((), y)
                else:  # the same op as the module, written straight into the next conv's history
                    op, target = into
                    y = op(y, out=history[target].slot(n))
                    written = True
        return y


def _outputs_into_history(modules, kinds):
    """Per module: for a Tanh/ReLU followed by a conv that keeps a history, (op, conv index),
    op being the module's own torch op with an `out` (relu is clamp_min(x, 0) in torch)."""
    into = [None] * len(modules)
    for k, (m, kind) in enumerate(zip(modules, kinds)):
        if kind != "activation" or k + 1 >= len(modules) or kinds[k + 1] != "conv":
            continue
        following = modules[k + 1]
        if (following.kernel_size[0] - 1) * following.dilation[0] == 0:
            continue
        if isinstance(m, nn.Tanh):
            into[k] = (torch.tanh, k + 1)
        elif isinstance(m, nn.ReLU) and not m.inplace:
            into[k] = (lambda y, out: torch.clamp_min(y, 0.0, out=out), k + 1)
    return into


def _mlp_plan(hyper):
    """The hypernet as (blocks, head, scale, shift) for `_hypernet`, when it has upstream's
    structure (Linear-[BatchNorm1d]-ReLU blocks, a Linear, the affine); else None (then the
    modules are called)."""
    net = hyper._net
    blocks = []
    for block in net[:-1]:
        kinds = [type(m) for m in block]
        if kinds == [nn.Linear, nn.ReLU]:
            blocks.append((block[0].weight, block[0].bias, None))
        elif kinds == [nn.Linear, nn.BatchNorm1d, nn.ReLU] and not block[1].training and block[1].track_running_stats:
            blocks.append((block[0].weight, block[0].bias, block[1]))
        else:
            return None
        if block[-1].inplace:
            return None
    if type(net[-1]) is not nn.Linear:
        return None
    return blocks, net[-1], hyper._affine.weight, hyper._affine.bias


def _layout(modules, kinds, bounds) -> List[List[Tuple[int, int, Tuple[int, int]]]]:
    """Per main-net module, where its tensors sit in the hypernet's flat output and the
    shape we use them in: conv weight (C_out, C_in·k) (ops.dilated's layout), conv bias and
    batch-norm scale/shift as columns (C, 1)."""
    layout, i = [], 0
    for m, kind in zip(modules, kinds):
        spans = [(bounds[q], bounds[q + 1]) for q in range(i, i + m.num_tensors)]
        i += m.num_tensors
        if kind == "conv":
            shapes = [(m.weight.shape[0], m.weight.shape[1] * m.weight.shape[2]), (m.weight.shape[0], 1)]
        else:
            shapes = [(b - a, 1) for a, b in spans]
        layout.append([(a, b, shape) for (a, b), shape in zip(spans, shapes)])
    return layout


def _kind(module) -> str:
    if isinstance(module, _Conv):
        return "conv"
    if isinstance(module, _BatchNorm):
        return "batchnorm"
    if isinstance(module, _Flatten):
        return "flatten"
    return "activation"
