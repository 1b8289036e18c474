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
* When knobs move (automation), a block's whole control periods run as one batch: each
  layer is one batched product over the periods (`torch.baddbmm`, a period per batch entry)
  and one broadcast batch-norm scale and shift, whatever the number of periods. A partial
  period at either end of the block, and blocks with fewer than two whole periods of
  differing weights, are computed per segment.
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
    """One knob vector's main-net tensors: the hypernet's flat output (total,) and, made
    when first needed (the batched path reads `flat` only), per module views of it shaped
    for direct use."""

    __slots__ = ("flat", "_shape", "_per_module")

    def __init__(self, flat: torch.Tensor, shape):
        self.flat = flat
        self._shape = shape  # flat → per-module tensors
        self._per_module: Optional[List[Tuple[torch.Tensor, ...]]] = None

    @property
    def per_module(self) -> List[Tuple[torch.Tensor, ...]]:
        if self._per_module is None:
            self._per_module = self._shape(self.flat)
        return self._per_module


class _Periods:
    """`count` whole control periods of `length` samples from block column `start`, their
    weights stacked: (count, total), one hypernet output per row."""

    __slots__ = ("start", "count", "length", "stacked", "row")

    def __init__(self, start: int, count: int, length: int, stacked: torch.Tensor):
        self.start, self.count, self.length, self.stacked = start, count, length, stacked
        self.row = stacked.stride(0)  # period stride in the stack

    @property
    def end(self) -> int:
        return self.start + self.count * self.length

    def view(self, offset: int, size: Tuple[int, ...], stride: Tuple[int, ...]) -> torch.Tensor:
        """One module tensor of every period, as a strided view of the stack (`row` is the
        period stride; `offset` where the module's tensor starts in a row)."""
        return self.stacked.as_strided(size, stride, offset)


class HyperConvStream(StreamProcessor):
    architecture = "HyperConvNet"

    def __init__(self, model, *, control_period: int = 32, **kwargs):
        if isinstance(control_period, bool) or not isinstance(control_period, (int, np.integer)) or control_period < 1:
            raise ConfigError(f"control_period must be a whole number of samples >= 1, got {control_period!r}")
        self.control_period = int(control_period)
        self._modules = list(model._net)
        self._kinds = [_kind(m) for m in self._modules]
        self._layout = _layout(self._modules, self._kinds, model._hyper_net._bounds)
        self._shape = _shaper(self._kinds, self._layout)
        self._mlp = _mlp_plan(model._hyper_net)
        self._into = _outputs_into_history(self._modules, self._kinds)
        # per batch norm, its running statistics (buffers: taken once, a module attribute
        # lookup per use costs more than the op; loading a state dict copies into them)
        self._statistics = [
            (m.running_mean, m.running_var, m.eps) if kind == "batchnorm" and m.running_mean is not None else None
            for m, kind in zip(self._modules, self._kinds)
        ]
        self._offsets = [[a for a, _, _ in pieces] for pieces in self._layout]
        self.batch_periods = True  # False: every block per segment (the tests' second path)
        self._cache: "OrderedDict[bytes, _Weights]" = OrderedDict()
        self.hypernet_runs = 0  # knob vectors sent through the hypernet (cache misses)
        super().__init__(model, **kwargs)

    def _reset_state(self) -> None:
        self._history: Optional[List[Optional[History]]] = None  # per module; made by the first sample
        self._current: Optional[_Weights] = None  # the weights of the period in progress

    # --- weights ---

    def _weights(self, rows: Sequence[np.ndarray]) -> List[_Weights]:
        """Main-net weights for each knob row (float32, (D,)); the hypernet runs once per
        knob vector not cached, unbatched like the model's own forward. (A batched matmul
        rounds differently in the last place, which the main net amplifies: measured
        2026-11-29, running a block's new vectors through it as one batch moved the stream
        up to 6.0e-7 from `forward_control_rate` on the genuine no-batchnorm fixtures,
        against 3.6e-7 unbatched: too close to the 1e-6 the tests hold it to.)"""
        found = {}
        for row in rows:
            key = row.tobytes()
            if key in found:
                continue
            weights = self._cache.get(key)
            if weights is None:
                tensor = torch.from_numpy(np.array(row, dtype=np.float32))
                weights = _Weights(self._hypernet(tensor[None])[0], self._shape)
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
        blocks, (head_weight, head_bias), scale, shift = self._mlp
        y = knobs
        for weight, bias, norm in blocks:
            y = F.linear(y, weight, bias)
            if norm is not None:  # what F.batch_norm calls, in eval mode
                gamma, beta, mean, var, eps = norm
                y = torch.batch_norm(y, gamma, beta, mean, var, False, 0.0, eps, False)
            y = torch.relu_(y)  # y is this pass's own temporary
        return scale * F.linear(y, head_weight, head_bias) + shift

    # --- audio ---

    def _segments(self, n: int, knobs: KnobBlock) -> list:
        """The block's plan: [(start, end, weights)] segments and at most one `_Periods`,
        covering the block in order. A new period starts wherever the stream position is a
        multiple of the control period; runs of equal weights merge into one segment, unless
        two or more whole periods with differing weights run as one batch."""
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
        distinct = self._weights(list(rows[change]))
        previous, self._current = self._current, distinct[-1]
        whole = (n - first) // period  # whole periods in the block
        if self.batch_periods and whole >= 2 and change[1:whole].any():  # their weights differ
            plan = [(0, first, previous)] if first else []
            which = np.cumsum(change[:whole]) - 1
            plan.append(_Periods(first, whole, period, torch.stack([distinct[i].flat for i in which])))
            if first + whole * period < n:
                plan.append((first + whole * period, n, distinct[-1]))
            return plan
        segments: List[List] = [[0, first, previous]] if first else []
        for s, w in zip(starts[change].tolist(), distinct):
            if segments and segments[-1][2] is w:
                continue
            if segments:
                segments[-1][1] = s
            segments.append([s, n, w])
        segments[-1][1] = n
        return [tuple(s) for s in segments]

    def _run(self, x: torch.Tensor, knobs: KnobBlock) -> torch.Tensor:
        if self._history is None:
            self._current = self._weights([knobs.first()])[0]
            self._history = [None] * len(self._modules)
            self._net(torch.zeros((1,)), [(0, 1, self._current)], prime=True)
        segments = self._segments(x.shape[0], knobs)
        return self._net(x, segments, prime=False)

    def _net(self, x: torch.Tensor, plan, *, prime: bool) -> torch.Tensor:
        """The main net on (n,) audio, layer by layer, each part of the plan with its weights.
        Activations are (channels, n), or (periods, channels, length) while the plan is one
        `_Periods` (a batch entry per period: no reshaping between layers)."""
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
                    full = history[k].commit(n) if written else history[k].extend(_time_major(y))
                else:
                    full = y
                written = False
                pieces = [self._conv(k, m, part, full, span) for part in plan]
                y = pieces[0] if len(pieces) == 1 else torch.cat([_time_major(p) for p in pieces], dim=1)
            elif kind == "batchnorm":
                # The model's own eval-mode batch norm (running statistics), then the
                # hypernet's scale and shift of each part.
                if y.dim() == 3:  # (P, C, L): channels on dim 1 as the module expects
                    (part,) = plan
                    channels = y.shape[1]
                    scale, shift = (part.view(o, (part.count, channels, 1), (part.row, 1, 1)) for o in self._offsets[k])
                    y = scale * self._normalise(k, m, y) + shift
                    continue
                normed = self._normalise(k, m, y[None])[0]
                pieces = [self._affine(k, part, normed) for part in plan]
                y = pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim=1)
            elif kind == "flatten":
                y = _time_major(y).reshape(-1)
            else:
                into = None if prime else self._into[k]
                if into is None:
                    y = m((), y)
                else:  # the same op as the module, written straight into the next conv's history
                    op, target = into
                    slot = history[target].slot(n)
                    if y.dim() == 3:  # (P, C, L) into the (C, P·L) slot, in the same op
                        op(y.transpose(0, 1), out=slot.view(slot.shape[0], y.shape[0], y.shape[2]))
                    else:
                        op(y, out=slot)
                    written = True
        return y

    def _conv(self, k: int, m, part, full: torch.Tensor, span: int) -> torch.Tensor:
        """Module k's conv over one part of the plan. full: (C_in, span + n), or the
        (P, C_in, L) activations themselves for a 1x1 conv of a batched block. A segment
        gives (C_out, b - a); a `_Periods` gives (P, C_out, L): one batched product."""
        kernel, dilation = m.kernel_size[0], m.dilation[0]
        if not isinstance(part, _Periods):
            a, b, weights = part
            return dilated(*weights.per_module[k], full[:, a : b + span], kernel, dilation, b - a)
        count, length = part.count, part.length
        if full.dim() == 3:
            columns = full
        else:
            # (P, C_in, k, L) view: tap j of period p's output l is full[c, start + p·L + j·d + l]
            channels = full.shape[0]
            s0, s1 = full.stride()
            taps = full.as_strided(
                (count, channels, kernel, length), (length * s1, s0, dilation * s1, s1), full.storage_offset() + part.start * s1
            )
            columns = taps.reshape(count, channels * kernel, length)
        c_out, c_in_k = self._layout[k][0][2]
        offsets = self._offsets[k]
        weight = part.view(offsets[0], (count, c_out, c_in_k), (part.row, c_in_k, 1))
        if len(offsets) == 1:  # no bias (batch norm follows)
            return torch.bmm(weight, columns)
        return torch.baddbmm(part.view(offsets[1], (count, c_out, 1), (part.row, 1, 1)), weight, columns)

    def _normalise(self, k: int, m: nn.BatchNorm1d, y: torch.Tensor) -> torch.Tensor:
        """Module k's own batch norm of (N, C, L) y: in eval mode with running statistics,
        the op its forward calls (no affine: the hypernet's scale and shift follow), without
        the module-call overhead; else its forward."""
        statistics = self._statistics[k]
        if m.training or statistics is None:
            return torch.nn.BatchNorm1d.forward(m, y)
        mean, var, eps = statistics
        return torch.batch_norm(y, None, None, mean, var, False, 0.0, eps, False)

    def _affine(self, k: int, part, normed: torch.Tensor) -> torch.Tensor:
        """The batch norm's scale and shift over one part of (C, n) normalised activations."""
        if not isinstance(part, _Periods):
            a, b, weights = part
            scale, shift = weights.per_module[k]
            return scale * normed[:, a:b] + shift
        channels, count = normed.shape[0], part.count
        scale, shift = (part.view(o, (channels, count, 1), (1, part.row, 1)) for o in self._offsets[k])
        columns = normed[:, part.start : part.end].reshape(channels, count, part.length)
        return (scale * columns + shift).reshape(channels, -1)


def _time_major(y: torch.Tensor) -> torch.Tensor:
    """Activations as (C, n): batched (P, C, L) ones in time order (a copy)."""
    return y if y.dim() == 2 else y.transpose(0, 1).reshape(y.shape[1], -1)


def _shaper(kinds, layout):
    """flat (total,) → per module: conv (weight (C_out, C_in·k), bias (C_out, 1) or None),
    batch norm (scale, shift) (C, 1). One split into (numel, 1) columns (views, made in one
    call), then the conv weights viewed as (C_out, C_in·k): a few ops per knob vector."""
    sizes = [b - a for pieces in layout for a, b, _ in pieces]

    def shape(flat: torch.Tensor) -> List[Tuple[torch.Tensor, ...]]:
        columns = flat[:, None].split(sizes)
        per_module, i = [], 0
        for kind, pieces in zip(kinds, layout):
            tensors = columns[i : i + len(pieces)]
            i += len(pieces)
            if kind == "conv":
                weight = tensors[0].view(pieces[0][2])
                tensors = (weight, tensors[1] if len(tensors) > 1 else None)  # no bias before batch norm
            per_module.append(tensors)
        return per_module

    return shape


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
    modules are called). Tensors are taken once here (a module attribute lookup per use
    costs more than the op at this size); loading a state dict copies into them in place."""
    net = hyper._net
    blocks = []
    for block in net[:-1]:
        kinds = [type(m) for m in block]
        if kinds == [nn.Linear, nn.ReLU]:
            blocks.append((block[0].weight, block[0].bias, None))
        elif kinds == [nn.Linear, nn.BatchNorm1d, nn.ReLU] and not block[1].training and block[1].track_running_stats:
            norm = block[1]
            blocks.append((block[0].weight, block[0].bias, (norm.weight, norm.bias, norm.running_mean, norm.running_var, norm.eps)))
        else:
            return None
        if block[-1].inplace:
            return None
    if type(net[-1]) is not nn.Linear:
        return None
    return blocks, (net[-1].weight, net[-1].bias), hyper._affine.weight, hyper._affine.bias


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
