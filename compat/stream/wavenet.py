"""CatWaveNet as a stream: each dilated conv keeps the last (k-1)·d inputs it needs.

Per block of n samples every layer convolves [its history ‖ its n new inputs] into n
outputs (the ops of `_Layer.forward`, in its order, written as matrix products: ops.py) and
keeps the tail as the next history. Everything else in a WaveNet (1x1 convs, input mixer,
gates, head sums, head) acts sample by sample and needs no state.

Start state, as the offline forward with pad_start=True: there the audio gets receptive
field − 1 leading zeros *before* the knob rows are appended, so the pad is `[0; knobs]`,
held constant. Every layer's input over the pad is then constant too, and the histories
start filled with it: the stream "primes" itself with one sample of `[0; knobs(0)]` in which
each layer's history is its own current input, tiled. With automation the pad carries the
first sample's knob values (docs/streaming.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

import torch

from .knobs import KnobBlock
from .ops import History, dilated, pointwise, weight2d
from .processor import StreamProcessor

_Affine = Tuple[torch.Tensor, Optional[torch.Tensor]]  # (C_out, C_in·k) weight, (C_out, 1) bias or None


def _affine(conv) -> _Affine:
    bias = None if conv.bias is None else conv.bias.detach()[:, None]
    return weight2d(conv.weight.detach()), bias


@dataclass
class _Layer:
    conv: torch.Tensor  # (C', C·k); its bias is folded into the mixer product
    kernel: int
    dilation: int
    rows: slice  # this layer's rows of the all-layers mixer product
    out: _Affine  # the 1x1 into the residual
    activation: torch.nn.Module
    gated: bool
    channels: int

    @property
    def span(self) -> int:
        return (self.kernel - 1) * self.dilation


@dataclass
class _Array:
    rechannel: _Affine
    layers: List[_Layer]
    head_rechannel: _Affine


def _plan(net):
    """Per array and layer, the weights as matrices; every layer's input mixer (and its
    dilated conv's bias) stacked into one matrix, since all of them read the same input."""
    arrays, mixers, biases, row = [], [], [], 0
    for array in net._layers:
        layers = []
        for layer in array._layers:
            conv = layer._conv
            width = conv.out_channels
            mixers.append(weight2d(layer._input_mixer.weight.detach()))
            biases.append(torch.zeros(width) if conv.bias is None else conv.bias.detach())
            layers.append(_Layer(weight2d(conv.weight.detach()), conv.kernel_size[0], conv.dilation[0], slice(row, row + width),
                                 _affine(layer._1x1), layer._activation, layer._gated, layer._channels))
            row += width
        arrays.append(_Array(_affine(array._rechannel), layers, _affine(array._head_rechannel)))
    head = [] if net._head is None else [(block[0], _affine(block[1])) for block in net._head._layers]
    return arrays, (torch.cat(mixers), torch.cat(biases)[:, None]), head


def _into(history: Optional[History], n: int, op, *args) -> torch.Tensor:
    """op(*args), written straight into the history's next slot when there is one."""
    if history is None:
        return op(*args)
    return op(*args, out=history.slot(n))


class WaveNetStream(StreamProcessor):
    architecture = "CatWaveNet"

    def __init__(self, model, **kwargs):
        self._arrays, self._mixer, self._head = _plan(model._net)
        self._head_scale = model._net._head_scale
        super().__init__(model, **kwargs)

    def _reset_state(self) -> None:
        self._history: Optional[List[Optional[History]]] = None  # primed by the first sample's knobs

    def _run(self, x: torch.Tensor, knobs: KnobBlock) -> torch.Tensor:
        if self._history is None:
            self._prime(knobs.first())
        augmented = torch.empty((1 + self.knob_count, x.shape[0]))
        augmented[0] = x
        if knobs.curves is None:
            augmented[1:] = torch.from_numpy(knobs.constant)[:, None]
        else:
            augmented[1:] = torch.from_numpy(knobs.curves.T)
        return self._layers(augmented, prime=False)[0]

    def _prime(self, knobs) -> None:
        self._history = [None] * sum(len(a.layers) for a in self._arrays)
        pad = torch.zeros((1 + self.knob_count, 1))
        pad[1:, 0] = torch.from_numpy(knobs)
        self._layers(pad, prime=True)

    def _layers(self, condition: torch.Tensor, *, prime: bool) -> torch.Tensor:
        """The WaveNet on one block of augmented input (1+D, n), reading and extending the
        histories (priming: each history starts as its layer's input, tiled)."""
        history = self._history
        n = condition.shape[1]
        # z of every layer starts as conv bias + input mixer: one product for all layers.
        mixed = pointwise(*self._mixer, condition)
        y, head, k = condition, None, 0
        for array in self._arrays:
            y = _into(history[k] if not prime else None, n, pointwise, *array.rechannel, y)
            for i, layer in enumerate(array.layers):
                if prime:
                    history[k] = History(y.expand(-1, layer.span)) if layer.span else None
                    full = history[k].extend(y) if layer.span else y
                else:  # y was computed into this layer's history already
                    full = history[k].commit(n) if layer.span else y
                z = dilated(layer.conv, mixed[layer.rows], full, layer.kernel, layer.dilation, n)
                if layer.gated:
                    post = layer.activation(z[: layer.channels]) * torch.sigmoid(z[layer.channels :])
                else:
                    post = layer.activation(z)
                after = None if prime or i + 1 == len(array.layers) else history[k + 1]
                y = _into(after, n, torch.add, y, pointwise(*layer.out, post))  # the residual
                head = post if head is None else head + post
                k += 1
            head = pointwise(*array.head_rechannel, head)
        head = self._head_scale * head
        for activation, conv in self._head:
            head = pointwise(*conv, activation(head))
        return head
