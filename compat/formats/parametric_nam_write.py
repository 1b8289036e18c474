"""Writing a legacy CatLSTM / CatWaveNet as a `.nam` of the parametric NAM line (ConcatLSTM /
ConcatWaveNet, version "1.0.0"), for real-time plugins with live knobs.

The file is the one that line's own exporter (082ce26) writes for the equivalent model:
the ConcatLSTM / ConcatWaveNet whose first-layer input weights and biases are the legacy
ones refolded for the encoded knobs (parametric_nam.refold_*), whose `params` list is the
param config in the legacy input order (sorted names; booleans as [off, on] switches),
whose starting LSTM state is the legacy model's own, and which is exported with
`other_metadata={"nam_legacy": <provenance>}` (and the legacy file's user metadata, if
any). docs/formats.md ("Parametric NAM files") lists the facts used.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F

from ..atomic import atomic_write_bytes
from ..describe import knob_count
from ..errors import ConfigError, FileAccessError, UnsupportedReleaseError
from ..knobs import knob_vector
from .parametric_nam import (
    FAMILY_NAME,
    FILE_VERSION,
    LEGACY_TO_FILE,
    encoding,
    params_from_knobs,
    refold_lstm,
    refold_wavenet,
)
from .parametric_nam import ArrayShape, WaveNetShape

__all__ = ["BURN_IN_SAMPLES", "DEFAULT_SAMPLE_RATE", "encoded_defaults", "parametric_document", "write_parametric_nam"]

BURN_IN_SAMPLES = 48_000  # ConcatLSTM._get_initial_state_burn_in
# Every legacy release trained at 48 kHz; the runtime needs the rate for its LSTM prewarm.
DEFAULT_SAMPLE_RATE = 48_000.0
LOUDNESS_GAINS = tuple(float(g) for g in np.linspace(0.0, 1.0, 11))  # BaseNet._metadata_gain's probes
_FILM_KEYS = ("conv_pre_film", "conv_post_film", "input_mixin_pre_film", "input_mixin_post_film",
              "activation_pre_film", "activation_post_film", "layer1x1_post_film", "head1x1_post_film")
# nam.models.metadata.UserMetadata (field order of model_dump) and its enums.
_USER_FIELDS = ("name", "modeled_by", "gear_type", "gear_make", "gear_model", "tone_type",
                "input_level_dbu", "output_level_dbu")
_GEAR_TYPES = ("amp", "pedal", "pedal_amp", "amp_cab", "amp_pedal_cab", "preamp", "studio")
_TONE_TYPES = ("clean", "overdrive", "crunch", "hi_gain", "fuzz")

# Short enough to survive a clipped file name before it (compat.text.MESSAGE_LIMIT):
# tests/test_message_templates.py builds it.
HYPER_REFUSAL = (
    "a HyperConvNet has no parametric-nam form (its knobs generate its weights): use "
    "`nam-legacy pack` for a file per knob setting, or `nam-legacy render --automate` to hear the knobs move"
)


def parametric_document(legacy, *, date: Optional[datetime] = None) -> Dict[str, Any]:
    """The `.nam` document (a dict, keys in the exporter's order) of a `compat.LegacyModel`."""
    module, arch = legacy.model, legacy.architecture
    if arch == "HyperConvNet":
        raise UnsupportedReleaseError(HYPER_REFUSAL)
    if arch not in LEGACY_TO_FILE:
        raise UnsupportedReleaseError(f"{arch} has no counterpart in {FAMILY_NAME}")
    knobs = tuple(legacy.knobs or ())
    count = knob_count(module)
    if count == 0:
        raise ConfigError(f"this {arch} takes no knobs; export it for current NAM with `nam-legacy migrate`")
    if not knobs:
        raise ConfigError(  # the CLI adds its flag; API callers pass param_config= to compat.load
            "a parametric-nam export needs the knob names, types, ranges and defaults, which this file does not carry",
            hint="param-config",
        )
    if len(knobs) != count:
        raise ConfigError(f"the param config names {len(knobs)} knob{'' if len(knobs) == 1 else 's'} but the {arch} takes {count}")
    params = params_from_knobs(knobs)
    enc = encoding(params, [k.name for k in knobs])
    if arch == "CatLSTM":
        config, weights, rms = _concat_lstm(module, params, enc)
    else:
        config, weights = _concat_wavenet(module, params, enc)
        rms = _legacy_rms(module, knob_vector(knobs, count))
    config["params"] = [p.to_json() for p in params]
    sample_rate = legacy.sample_rate
    metadata = _metadata(legacy.metadata or {}, rms, date)
    block: Dict[str, Any] = {
        "version": _our_version(),
        "source_architecture": arch,
        "source_format": legacy.format,
        "source_releases": str(legacy.detected),
    }
    if sample_rate is None:
        block["sample_rate_assumed"] = True
    metadata["nam_legacy"] = block
    weights = np.asarray(weights, dtype=np.float32)
    if not np.isfinite(weights).all():
        raise ConfigError("the model has NaN or infinite weights; a .nam file cannot hold them")
    return {
        "version": FILE_VERSION,
        "metadata": metadata,
        "architecture": LEGACY_TO_FILE[arch],
        "config": config,
        "weights": weights.tolist(),
        "sample_rate": float(sample_rate if sample_rate is not None else DEFAULT_SAMPLE_RATE),
    }


def write_parametric_nam(legacy, output: Union[str, Path], *, date: Optional[datetime] = None) -> Path:
    """Write the document atomically (`json.dump`'s default text, as the fork writes it)."""
    output = Path(output)
    document = parametric_document(legacy, date=date)
    atomic_write_bytes(output, json.dumps(document).encode("utf-8"))
    return output


def _our_version() -> str:
    from nam_legacy import __version__

    return __version__


def _f64(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().to(torch.float64).numpy()


# --------------------------------------------------------------------------------------
# ConcatLSTM
# --------------------------------------------------------------------------------------


def _concat_lstm(module, params, enc) -> Tuple[Dict[str, Any], np.ndarray, List[float]]:
    """(config, weights, loudness RMS at LOUDNESS_GAINS) of the equivalent ConcatLSTM."""
    core = module._core
    hidden, layers, n_in = core.hidden_size, core.num_layers, core.input_size
    parts: List[np.ndarray] = []
    for k in range(layers):
        w = np.concatenate([_f64(getattr(core, f"weight_ih_l{k}")), _f64(getattr(core, f"weight_hh_l{k}"))], axis=1)
        if core.bias:
            bias = _f64(getattr(core, f"bias_ih_l{k}")) + _f64(getattr(core, f"bias_hh_l{k}"))
        else:
            bias = np.zeros(4 * hidden)
        parts += [w.reshape(-1), bias, np.zeros(hidden), np.zeros(hidden)]  # state: filled below
    parts += [_f64(module._head.weight).reshape(-1), _f64(module._head.bias).reshape(-1)]
    weights = refold_lstm(np.concatenate(parts), hidden, layers, n_in, enc.c, enc.A).astype(np.float32)
    width = 1 + enc.width
    folded = _folded_core(weights, hidden, layers, width)
    defaults = encoded_defaults(params)
    h, c = _burn_in(folded, defaults)
    i = 0
    for k in range(layers):
        i += 4 * hidden * ((width if k == 0 else hidden) + hidden) + 4 * hidden
        weights[i : i + hidden] = h[k]
        weights[i + hidden : i + 2 * hidden] = c[k]
        i += 2 * hidden
    config = {
        "hidden_size": hidden,
        "num_layers": layers,
        "train_burn_in": _positive_or_none(getattr(module, "_train_burn_in", None)),
        "train_truncate": _positive_or_none(getattr(module, "_train_truncate", None)),
    }
    head = weights[i:]
    rms = _folded_lstm_rms(folded, defaults, _start_state(module, layers, hidden), head[:hidden], head[hidden:])
    return config, weights, rms


def _start_state(module, layers: int, hidden: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Where the legacy CatLSTM's forward starts: its learned (or imported) state; zeros
    for a 0.3.0-built model, which has none."""
    if hasattr(module, "_initial_hidden"):
        return module._initial_hidden.detach().clone(), module._initial_cell.detach().clone()
    return torch.zeros((layers, hidden)), torch.zeros((layers, hidden))


def _positive_or_none(value) -> Optional[int]:
    # The fork refuses anything else (training settings only; inference ignores them).
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def encoded_defaults(params) -> torch.Tensor:
    """The encoded default knobs, float32, computed with the fork's torch ops (its
    `_encode_params(nominal_params)`), so the burn-in input is the same bits."""
    parts = []
    for p in params:
        if p.type == "switch":
            parts.append(F.one_hot(torch.tensor(int(p.default)), num_classes=p.width).to(torch.float32))
            continue
        value = torch.tensor([float(p.default)], dtype=torch.float32)
        lo, hi = torch.tensor(float(p.min), dtype=torch.float32), torch.tensor(float(p.max), dtype=torch.float32)
        frac = (value - lo) / (hi - lo)
        parts.append(-1.0 + frac * (1.0 - (-1.0)))
    return torch.cat(parts)


def _folded_core(weights: np.ndarray, hidden: int, layers: int, width: int) -> torch.nn.LSTM:
    """The ConcatLSTM core as the fork's import leaves it: the summed bias in bias_ih, zero
    bias_hh, parameters requiring grad (torch's CPU LSTM picks its kernel by autograd)."""
    with torch.random.fork_rng(devices=[]):  # building a module draws random init weights
        core = torch.nn.LSTM(width, hidden, num_layers=layers, batch_first=True)
    i = 0
    with torch.no_grad():
        for k in range(layers):
            d = width if k == 0 else hidden
            mat = torch.from_numpy(weights[i : i + 4 * hidden * (d + hidden)].reshape(4 * hidden, d + hidden).copy())
            i += mat.numel()
            getattr(core, f"weight_ih_l{k}").copy_(mat[:, :d])
            getattr(core, f"weight_hh_l{k}").copy_(mat[:, d:])
            getattr(core, f"bias_ih_l{k}").copy_(torch.from_numpy(weights[i : i + 4 * hidden].copy()))
            getattr(core, f"bias_hh_l{k}").zero_()
            i += 4 * hidden + 2 * hidden
    return core


def _conditioned(x: torch.Tensor, enc: torch.Tensor) -> torch.Tensor:
    """(1, L, 1 + E): audio x (L,) with the encoded knobs on every sample."""
    return torch.cat([x[None, :, None], enc[None, None, :].expand(1, x.shape[0], -1)], dim=-1)


def _burn_in(core: torch.nn.LSTM, enc_default: torch.Tensor):
    """The state ConcatLSTM's exporter stores: the core run once on 48,000 samples of
    [0, encoded defaults] from the zero state, autograd on, as the fork's export runs it."""
    with torch.enable_grad():
        _, (h, c) = core(_conditioned(torch.zeros(BURN_IN_SAMPLES), enc_default))
    return h[:, 0, :].detach().numpy(), c[:, 0, :].detach().numpy()


def _folded_lstm_rms(core, enc_default, state, head_w: np.ndarray, head_b: np.ndarray) -> List[float]:
    """The output RMS at each of LOUDNESS_GAINS, as the fork's `_metadata_loudness` measures
    it: one forward per gain (batch 1, autograd on) from the model's starting state at the
    nominal (default) knobs, the head applied, sqrt(mean(y^2)) in float32."""
    x = _loudness_input()
    h0, c0 = state[0][:, None, :].contiguous(), state[1][:, None, :].contiguous()
    head = torch.nn.Linear(head_w.shape[0], 1)
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(head_w.copy())[None, :])
        head.bias.copy_(torch.from_numpy(head_b.copy()))
    rms = []
    with torch.enable_grad():
        for g in LOUDNESS_GAINS:
            features, _ = core(_conditioned(g * x, enc_default), (h0, c0))
            y = head(features)[0, :, 0]
            rms.append(torch.sqrt(torch.mean(torch.square(y))).item())
    return rms


# --------------------------------------------------------------------------------------
# ConcatWaveNet
# --------------------------------------------------------------------------------------


def _activation(module: torch.nn.Module) -> Dict[str, Any]:
    """An activation as the fork exports a plain torch activation."""
    if isinstance(module, torch.nn.PReLU):
        raise UnsupportedReleaseError("PReLU activations carry weights no legacy export held; no parametric-nam export")
    if isinstance(module, torch.nn.LeakyReLU):
        return {"type": "LeakyReLU", "negative_slope": module.negative_slope}
    if isinstance(module, torch.nn.Hardtanh):  # ReLU6 too, as the fork writes it
        return {"type": "Hardtanh", "min_val": module.min_val, "max_val": module.max_val}
    return {"type": type(module).__name__.lstrip("_")}


def _concat_wavenet(module, params, enc) -> Tuple[Dict[str, Any], np.ndarray]:
    net = module._net
    shapes, arrays = [], []
    for a, array in enumerate(net._layers):
        layers = list(array._layers)
        channels = int(array._rechannel.out_channels)
        head = array._head_rechannel
        shapes.append(ArrayShape(
            int(array._rechannel.in_channels), int(layers[0]._input_mixer.in_channels), channels,
            tuple(int(layer._conv.out_channels) for layer in layers), tuple(int(layer._conv.kernel_size[0]) for layer in layers),
            int(head.out_channels), head.bias is not None))
        for layer in layers:
            if layer._conv.bias is None:  # cannot happen in any release; the fold needs it
                raise UnsupportedReleaseError("a dilated conv without bias: the knob constant has nowhere to go")
        arrays.append({
            "input_size": 1 + enc.width if a == 0 else int(array._rechannel.in_channels),
            "condition_size": 1 + enc.width,
            "head": {"out_channels": int(head.out_channels), "kernel_size": int(head.kernel_size[0]), "bias": head.bias is not None},
            "channels": channels,
            "kernel_sizes": [int(layer._conv.kernel_size[0]) for layer in layers],
            "dilations": [int(layer._conv.dilation[0]) for layer in layers],
            "activation": [_activation(layer._activation) for layer in layers],
            "bottleneck": channels,
            "head1x1": {"active": False, "out_channels": 1, "groups": 1},
            "layer1x1": {"active": True, "groups": 1},
            "groups_input": 1,
            "groups_input_mixin": 1,
            **{key: {"active": False, "shift": True, "groups": 1} for key in _FILM_KEYS},
            "gating_mode": ["gated" if layer._gated else "none" for layer in layers],
            "secondary_activation": [{"type": "Sigmoid"} if layer._gated else None for layer in layers],
            "slimmable": None,
        })
    flat = net.export_weights().astype(np.float64)  # the legacy layout, which is the fork's
    weights = refold_wavenet(flat, WaveNetShape(tuple(shapes)), enc.c, enc.A).astype(np.float32)
    head_config = None
    if net._head is not None:
        old = net._head.export_config()
        head_config = {"channels": old["channels"], "activation": old["activation"], "out_channels": old["out_channels"],
                       "kernel_sizes": [1] * old["num_layers"]}
    return {"layers": arrays, "head": head_config, "head_scale": net._head_scale}, weights


# --------------------------------------------------------------------------------------
# metadata
# --------------------------------------------------------------------------------------


def _metadata(source: Dict[str, Any], rms: List[float], date: Optional[datetime]) -> Dict[str, Any]:
    """{date, loudness, gain} as the fork's BaseNet writes them, then the legacy file's user
    metadata, if any."""
    from ..migrate.metadata import loudness_and_gain

    t = date if date is not None else datetime.now()
    meta: Dict[str, Any] = {"date": {"year": t.year, "month": t.month, "day": t.day,
                                     "hour": t.hour, "minute": t.minute, "second": t.second}}
    meta["loudness"], meta["gain"] = loudness_and_gain(rms)
    user = _user_metadata(source)
    if user is not None:
        meta.update(user)
    return meta


def _loudness_input() -> torch.Tensor:
    from nam_legacy.models._resources import LoudnessInputMissing

    from ..migrate.metadata import loudness_input

    try:
        return loudness_input()
    except LoudnessInputMissing as e:
        raise FileAccessError(str(e)) from None


def _legacy_rms(module, defaults) -> List[float]:
    """The output RMS at each of LOUDNESS_GAINS of the legacy model itself at its default
    knobs (pad_start, as the fork's nominal-settings forward): the fold is exact, so this
    is the equivalent model's, to float32 rounding (the oracle test finds it identical)."""
    x = _loudness_input()
    inputs = torch.stack([g * x for g in LOUDNESS_GAINS])
    params = torch.tensor(defaults, dtype=torch.float32)[None, :].expand(len(LOUDNESS_GAINS), -1).contiguous()
    with torch.no_grad():
        y = module(params, inputs, pad_start=True)
    return [torch.sqrt(torch.mean(torch.square(row))).item() for row in y]


def _user_metadata(source: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The fork's `user_metadata=UserMetadata(...)` output for the user fields a legacy .nam
    carried (all eight keys, None for the unset; values the fork would refuse are left out)."""
    fields = {}
    for key in _USER_FIELDS:
        value = source.get(key)
        if value is None:
            continue
        if key in ("gear_type", "tone_type"):
            if value in (_GEAR_TYPES if key == "gear_type" else _TONE_TYPES):
                fields[key] = value
        elif key.endswith("_dbu"):
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                fields[key] = float(value)
        elif isinstance(value, str):
            fields[key] = value
    if not fields:
        return None
    return {key: fields.get(key) for key in _USER_FIELDS}
