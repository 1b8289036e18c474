"""Offline references for knob automation: what a stream computes, over a whole signal at once.

* `forward_augmented` (CatLSTM, CatWaveNet): the model's own single-class forward on the
  augmented input `[x(t); k(t)]`, i.e. `forward(params, x)` with the knob rows allowed to
  vary per sample. The pad of pad_start (receptive field − 1 samples) carries zero audio
  and the *first* sample's knob values, so constant curves give exactly `forward(params, x)`.
* `forward_control_rate` (HyperConvNet): every layer computes sample t with the weights of
  the knob values at the first sample of t's control period (periods counted from the
  signal's first sample; the pad belongs to period 0). Computed layer by layer over the
  whole signal, once per distinct knob vector, then selected per sample — no histories,
  no blocks: an independent check of the streaming engine.
"""

from __future__ import annotations

from typing import Dict

import numpy as np
import torch

from nam_legacy.models.parametric.catnets import CatLSTM, CatWaveNet
from nam_legacy.models.parametric.hyper_net import HyperConvNet, _Conv
from nam_legacy.models.recurrent import LSTM
from nam_legacy.models.wavenet import WaveNet

from ..describe import knob_count
from ..errors import ConfigError


def _module(model) -> torch.nn.Module:
    return getattr(model, "model", model)  # a compat.LegacyModel or the module itself


def _audio(x) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(x, dtype=np.float32) if not isinstance(x, torch.Tensor) else x, dtype=torch.float32)
    if x.ndim != 1:
        raise ConfigError(f"audio must be 1-D, got shape {tuple(x.shape)}")
    return x


def _curves(knobs, length: int, count: int) -> torch.Tensor:
    """(length, D) float32 from a (D,) vector (held) or a (length, D) matrix."""
    k = torch.as_tensor(np.asarray(knobs, dtype=np.float32) if not isinstance(knobs, torch.Tensor) else knobs, dtype=torch.float32)
    if k.ndim == 1:
        k = k[None, :].expand(length, -1)
    if k.shape != (length, count):
        raise ConfigError(f"knob curves must have shape ({length}, {count}), got {tuple(k.shape)}")
    return k


def forward_augmented(model, x, knobs, *, pad_start: bool = True) -> torch.Tensor:
    """CatLSTM / CatWaveNet output for audio x (L,) and knob values per sample (L, D)
    (a (D,) vector holds for every sample), as the stream computes them."""
    model = _module(model)
    if not isinstance(model, (CatLSTM, CatWaveNet)):
        raise ConfigError(f"forward_augmented takes a CatLSTM or CatWaveNet, not {type(model).__name__}")
    x = _audio(x)
    k = _curves(knobs, x.shape[0], knob_count(model))
    pad = model.receptive_field - 1 if pad_start else 0
    if pad:
        x = torch.cat([torch.zeros(pad), x])
        k = torch.cat([k[:1].expand(pad, -1), k])
    with torch.no_grad():
        if isinstance(model, CatLSTM):
            augmented = torch.cat([x[None, :, None], k[None]], dim=2)  # (1, L, 1 + D)
            return LSTM._forward(model, augmented)[0]
        augmented = torch.cat([x[None, None, :], k.T[None]], dim=1)  # (1, 1 + D, L)
        return WaveNet._forward(model, augmented)[0]


def forward_control_rate(model, x, knobs, *, control_period: int = 32, pad_start: bool = True) -> torch.Tensor:
    """HyperConvNet output for audio x (L,) and knob values per sample (L, D) (or a held
    (D,) vector) with the main-net weights following the knobs every `control_period`
    samples, as the stream computes it."""
    model = _module(model)
    if not isinstance(model, HyperConvNet):
        raise ConfigError(f"forward_control_rate takes a HyperConvNet, not {type(model).__name__}")
    x = _audio(x)
    length = x.shape[0]
    k = _curves(knobs, length, knob_count(model))
    pad = model.receptive_field - 1 if pad_start else 0
    h = torch.cat([torch.zeros(pad), x])[None]  # (1, pad + L)
    first_time = -pad  # signal time of h's first column
    period_rows = k[::control_period]  # knob values at each period's first sample
    with torch.no_grad():
        # One hypernet call per distinct knob vector, unbatched as the model's own forward.
        distinct: Dict[bytes, int] = {}
        tensors = []
        period_of = []
        for row in period_rows:
            key = row.numpy().tobytes()
            if key not in distinct:
                distinct[key] = len(tensors)
                tensors.append(model._hyper_net(row[None]))
            period_of.append(distinct[key])
        period_of = torch.tensor(period_of)
        i = 0
        for m in model._net:
            j = i + m.num_tensors
            if m.num_tensors == 0:
                h = m((), h)
            else:
                outputs = torch.stack([m(t[i:j], h) for t in tensors])  # (V, 1, C, L')
                if isinstance(m, _Conv):
                    first_time += (m.kernel_size[0] - 1) * m.dilation[0]
                times = torch.arange(first_time, first_time + outputs.shape[-1]).clamp(min=0)
                which = period_of[times // control_period]  # weights version per column
                h = outputs[which, 0, :, torch.arange(outputs.shape[-1])].T[None].contiguous()
            i = j
    return h[0]

