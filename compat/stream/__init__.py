"""Streaming: run a legacy parametric model block by block, with live knobs and automation.

    proc = compat.stream.open(compat.load("amp.nam"), 48_000)
    y = proc.process(block)                         # any size, state carried over
    proc.set_knobs(drive=0.8)                       # ramps over 10 ms, no click
    y = proc.process(block, knobs={"drive": curve}) # a per-sample automation curve

Semantics (exactness, pads, ramps, control rate): docs/streaming.md.
"""

from __future__ import annotations

from typing import Optional

import torch

from nam_legacy.models.parametric.catnets import CatLSTM, CatWaveNet
from nam_legacy.models.parametric.hyper_net import HyperConvNet

from ..describe import knob_count
from ..errors import ConfigError
from ..knobs import KnobError, OutOfRangeWarning
from .automation import Automation, Curve, automation_from_args, parse_automate, parse_automation_csv, read_automation_csv
from .files import RenderedFile, stream_file
from .hyperconv import HyperConvStream
from .knobs import KnobResolver
from .lstm import LSTMStream
from .offline import forward_augmented, forward_control_rate
from .processor import MAX_CHUNK, StreamProcessor
from .wavenet import WaveNetStream

DEFAULT_SAMPLE_RATE = 48_000  # what every legacy release trained at

__all__ = [
    "Automation",
    "Curve",
    "HyperConvStream",
    "KnobError",
    "LSTMStream",
    "MAX_CHUNK",
    "OutOfRangeWarning",
    "RenderedFile",
    "StreamProcessor",
    "WaveNetStream",
    "automation_from_args",
    "forward_augmented",
    "forward_control_rate",
    "open",
    "parse_automate",
    "parse_automation_csv",
    "read_automation_csv",
    "stream_file",
]


def open(  # noqa: A001 - the issue's name for it: compat.stream.open
    legacy,
    sample_rate: Optional[float] = None,
    *,
    knobs=None,
    ramp_seconds: float = 0.010,
    control_period: int = 32,
    allow_out_of_range: bool = False,
) -> StreamProcessor:
    """A stream processor for a `compat.LegacyModel` (or a bare nam_legacy CatLSTM,
    CatWaveNet or HyperConvNet module, which is put in eval mode).

    :param sample_rate: of the audio; only sets how many samples a ramp takes. Default:
        the model's own, else 48 kHz.
    :param knobs: starting values, by name (others take their defaults) or as a full
        model-order vector. Required when the file names no knobs.
    :param ramp_seconds: how long `set_knobs` takes to move a continuous knob (0: at once).
    :param control_period: HyperConvNet only: samples per weight update.
    :param allow_out_of_range: let continuous knobs leave their param-config range (an
        OutOfRangeWarning instead of a KnobError).
    """
    model = getattr(legacy, "model", legacy)
    if not isinstance(model, (CatLSTM, CatWaveNet, HyperConvNet)):
        raise ConfigError(f"cannot stream a {type(model).__name__}: expected a CatLSTM, CatWaveNet or HyperConvNet")
    if model.training:
        model.eval()  # streaming is inference: BatchNorm uses its running statistics
    specs = tuple(getattr(legacy, "knobs", ()) or ())
    count = knob_count(model)
    rate = _sample_rate(legacy, model, sample_rate)
    resolver = KnobResolver(specs, count, allow_out_of_range)
    if knobs is None and count and not resolver.specs:
        raise KnobError(f"the model takes {count} knob values and its file names none: pass knobs=[...] in sorted-name "
                        "order (or a param config when loading)")
    initial = [s.default for s in resolver.specs] if resolver.specs else [0.0] * count
    if resolver.specs:
        # Defaults come from the param config; a bad one is as bad as a bad setting.
        for i, v in resolver.resolve(list(initial), length=None).items():
            initial[i] = float(v)
    for i, v in resolver.resolve(knobs, length=None).items():
        initial[i] = float(v)
    common = dict(specs=specs, count=count, initial=initial, sample_rate=rate, ramp_seconds=ramp_seconds,
                  allow_out_of_range=allow_out_of_range)
    if isinstance(model, CatLSTM):
        return LSTMStream(model, **common)
    if isinstance(model, CatWaveNet):
        return WaveNetStream(model, **common)
    return HyperConvStream(model, control_period=control_period, **common)


def _sample_rate(legacy, model, given) -> float:
    if given is not None:
        rate = given
    else:
        rate = getattr(legacy, "sample_rate", None) if legacy is not model else None
        if rate is None:
            try:
                rate = model.sample_rate
            except AttributeError:  # releases before 0.7.0 had none
                rate = None
    rate = DEFAULT_SAMPLE_RATE if rate is None else rate
    if isinstance(rate, torch.Tensor):
        rate = rate.item()
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0 or rate == float("inf"):
        raise ConfigError(f"sample_rate must be a positive number, got {rate!r}")
    return float(rate)
