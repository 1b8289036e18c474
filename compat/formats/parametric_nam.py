"""`.nam` files of the living parametric NAM line: ConcatLSTM / ConcatWaveNet, version "1.0.0".

That line (phillipmself/neural-amp-modeler-parametric, 082ce26) plays its files with live
knobs. Its ConcatLSTM / ConcatWaveNet are our CatLSTM / CatWaveNet with one difference:
knobs are *encoded* before they are concatenated to the audio (continuous: min-max to
[-1, 1]; switch: one-hot over its enum names). Both directions of that encoding are affine,
so a model converts exactly (up to float32 rounding) by refolding its first-layer input
columns and biases. docs/formats.md ("Parametric NAM files") states the facts this module
relies on and the algebra.

This module: the file's `params` list, the two affine maps between raw knob values
(legacy order: sorted names) and encoded inputs (the file's `params` order), the refold of
the flat weights (the flat layouts of Cat* and Concat* are the same, only the first-layer
input width differs), the sniffing helper and the reader. The writer is
`parametric_nam_write.py`.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from nam_legacy.releases import DEFAULT

from ..detect import ReleaseRange
from ..errors import ConfigError, CorruptFileError, LegacyError, UnknownFormatError, UnsupportedReleaseError
from ..errors import UnsafeFileError, WeightsMismatchError
from . import RawModel
from .configs import (
    MAX_KNOBS,
    MAX_LAYERS,
    MAX_TEXT_WEIGHTS,
    MAX_WIDTH,
    WAVENET_ACTIVATIONS,
    expected_weight_count,
    is_finite_number,
    is_int,
    json_type,
    jpath,
    show,
    validate_net_config,
)
from .nam_file import Source, named, stream_document, weights_vector
from .number_text import NumberSink

__all__ = [
    "ARCHITECTURES",
    "FAMILY",
    "FAMILY_NAME",
    "FILE_VERSION",
    "Encoding",
    "Param",
    "encoding",
    "parametric_family",
    "parse_params",
    "read_parametric_nam",
    "refold_lstm",
    "refold_wavenet",
    "WaveNetShape",
]

FILE_VERSION = "1.0.0"  # nam/models/parametric/_constants.py PARAMETRIC_MODEL_VERSION
# Ours ↔ theirs.
ARCHITECTURES = {"ConcatLSTM": "CatLSTM", "ConcatWaveNet": "CatWaveNet"}
LEGACY_TO_FILE = {v: k for k, v in ARCHITECTURES.items()}
# Every architecture that line writes with its own version scheme (main and branches).
FAMILY = ("ConcatLSTM", "ConcatWaveNet", "HyperWaveNet", "FiLMWaveNet")
FAMILY_NAME = "the parametric NAM line (neural-amp-modeler-parametric)"
BOOLEAN_SWITCH = ("off", "on")  # a legacy boolean knob becomes this two-position switch
_TOP_KEYS = ("version", "metadata", "architecture", "config", "weights", "sample_rate")


# --------------------------------------------------------------------------------------
# knobs: the `params` list
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """One entry of `config["params"]` (the fork's ParamSpec.to_dict)."""

    name: str
    type: str  # "continuous" | "switch"
    min: float  # int for switches (index bounds 0 .. len(enum_names) - 1)
    max: float
    default: float
    enum_names: Optional[Tuple[str, ...]] = None
    step: Optional[float] = None
    avoid_zero: bool = False

    @property
    def width(self) -> int:
        """How many encoded input channels the knob takes."""
        return 1 if self.type == "continuous" else len(self.enum_names or ())

    def to_json(self) -> Dict[str, Any]:
        # Key order and value types are the fork's to_dict: floats for continuous
        # knobs, integer indices for switches, enum_names/step null when unset.
        return {
            "name": self.name,
            "min": self.min,
            "max": self.max,
            "default": self.default,
            "type": self.type,
            "enum_names": None if self.enum_names is None else list(self.enum_names),
            "step": self.step,
            "avoid_zero": self.avoid_zero,
        }


def params_from_knobs(knobs) -> Tuple[Param, ...]:
    """The `params` list of a legacy model's knob specs (compat.knobs.KnobSpec, model order):
    continuous knobs keep their range and default, booleans become [off, on] switches."""
    out = []
    for k in knobs:
        if k.type == "boolean":
            if k.default not in (0.0, 1.0):
                raise ConfigError(f"knob {k.name}: a boolean default must be false or true, got {k.default:g}")
            out.append(Param(k.name, "switch", 0, 1, int(k.default), BOOLEAN_SWITCH))
            continue
        if k.type != "continuous":
            raise ConfigError(f"knob {k.name}: unknown knob type {k.type!r}")
        if k.minval is None or k.maxval is None:
            raise ConfigError(
                f"knob {k.name} has no minval/maxval: the parametric-nam format maps every continuous knob's "
                "range to [-1, 1], so the param config (--param-config) must give both"
            )
        lo, hi, default = float(k.minval), float(k.maxval), float(k.default)
        if not all(math.isfinite(v) for v in (lo, hi, default)):
            raise ConfigError(f"knob {k.name}: minval, maxval and default must be finite")
        if not lo < hi:
            raise ConfigError(f"knob {k.name}: the parametric-nam format needs minval < maxval, got [{lo:g}, {hi:g}]")
        if not lo <= default <= hi:
            raise ConfigError(
                f"knob {k.name}: the parametric-nam format needs the default inside [minval, maxval]; "
                f"{default:g} is outside [{lo:g}, {hi:g}]"
            )
        out.append(Param(k.name, "continuous", lo, hi, default))
    return tuple(out)


def parse_params(value: Any, path: str, warnings: List[str]) -> Tuple[Param, ...]:
    """Validate a file's `params` list as the fork's ParamSpec does (refusing what it refuses)."""
    if type(value) is not list:
        raise ConfigError(f"{path}: expected an array of knob descriptions, got {json_type(value)}")
    if not 1 <= len(value) <= MAX_KNOBS:
        raise ConfigError(f"{path}: needs 1 to {MAX_KNOBS} knobs, has {len(value)}")
    out: List[Param] = []
    for i, entry in enumerate(value):
        p = jpath(path, i)
        if not isinstance(entry, dict):
            raise ConfigError(f"{p}: expected an object, got {json_type(entry)}")
        for key in ("name", "min", "max", "default"):
            if key not in entry:
                raise ConfigError(f"{p}: no {key!r}")
        extra = [k for k in entry if k not in ("name", "min", "max", "default", "type", "enum_names", "step", "avoid_zero")]
        if extra:
            warnings.append(f"{p}: ignored unknown key(s) {', '.join(show(k, 30) for k in extra[:5])}")
        name = entry["name"]
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{jpath(p, 'name')}: expected a non-empty name, got {show(name, 30)}")
        kind = entry.get("type", "continuous")
        if kind not in ("continuous", "switch"):
            raise ConfigError(f"{jpath(p, 'type')}: expected \"continuous\" or \"switch\", got {show(kind, 30)}")
        lo, hi, default = entry["min"], entry["max"], entry["default"]
        for key, v in (("min", lo), ("max", hi), ("default", default)):
            if isinstance(v, bool) or not is_finite_number(v):
                raise ConfigError(f"{jpath(p, key)}: expected a finite number, got {show(v, 30)}")
        if not lo < hi:
            raise ConfigError(f"{p}: min must be below max, got [{lo}, {hi}]")
        if not lo <= default <= hi:
            raise ConfigError(f"{jpath(p, 'default')}: {default} is outside [{lo}, {hi}]")
        step, avoid_zero = entry.get("step"), entry.get("avoid_zero")
        if avoid_zero is not None and not isinstance(avoid_zero, bool):
            raise ConfigError(f"{jpath(p, 'avoid_zero')}: expected true or false, got {show(avoid_zero, 30)}")
        if kind == "continuous":
            if entry.get("enum_names") is not None:
                raise ConfigError(f"{jpath(p, 'enum_names')}: a continuous knob has no enum_names")
            if step is not None and (isinstance(step, bool) or not is_finite_number(step) or step <= 0):
                raise ConfigError(f"{jpath(p, 'step')}: expected a positive number or null, got {show(step, 30)}")
            if step is not None and float(step) > float(hi) - float(lo):
                raise ConfigError(f"{jpath(p, 'step')}: {step} is wider than the range [{lo}, {hi}]")
            out.append(Param(name, kind, float(lo), float(hi), float(default),
                             step=None if step is None else float(step), avoid_zero=bool(avoid_zero)))
            continue
        if step is not None or avoid_zero:  # the fork refuses both on a switch
            key = "step" if step is not None else "avoid_zero"
            raise ConfigError(f"{jpath(p, key)}: a switch has no {key}, got {show(entry[key], 30)}")
        names = entry.get("enum_names")
        if type(names) is list and len(names) > MAX_KNOBS:
            raise ConfigError(f"{jpath(p, 'enum_names')}: {len(names)} positions, above the limit of {MAX_KNOBS}")
        if type(names) is not list or not all(isinstance(n, str) and n for n in names):
            raise ConfigError(f"{jpath(p, 'enum_names')}: a switch needs a list of non-empty names, got {show(names, 40)}")
        if len(names) < 2 or len(set(names)) != len(names):
            raise ConfigError(f"{jpath(p, 'enum_names')}: a switch needs at least two unique names")
        if not all(float(v).is_integer() for v in (lo, hi, default)) or lo != 0 or hi != len(names) - 1:
            raise ConfigError(f"{p}: a switch's min/max/default are positions 0..{len(names) - 1}")
        out.append(Param(name, kind, int(lo), int(hi), int(default), tuple(names)))
    seen = set()
    for prm in out:
        if prm.name in seen:
            raise ConfigError(f"{path}: knob name {show(prm.name, 30)} appears twice")
        seen.add(prm.name)
    return tuple(out)


def legacy_param_config(params: Sequence[Param], warnings: List[str]) -> Dict[str, Dict[str, Any]]:
    """The legacy param config of a file's knobs (the file's order kept). Two-position
    switches become boolean knobs (position 1 = true); wider switches have no legacy form."""
    config: Dict[str, Dict[str, Any]] = {}
    for p in params:
        if p.type == "continuous":
            config[p.name] = {"type": "continuous", "default_value": p.default, "minval": p.min, "maxval": p.max}
            continue
        if p.width != 2:
            raise UnsupportedReleaseError(
                f"knob {p.name} is a {p.width}-position switch ({', '.join(p.enum_names or ())}); legacy models take "
                "continuous knobs and booleans, so only two-position switches load"
            )
        if tuple(p.enum_names or ()) != BOOLEAN_SWITCH:
            warnings.append(f"switch {p.name} [{', '.join(p.enum_names or ())}] loads as a boolean: "
                            f"false = {p.enum_names[0]}, true = {p.enum_names[1]}")
        config[p.name] = {"type": "boolean", "default_value": bool(p.default)}
    return config


# --------------------------------------------------------------------------------------
# the encoding and its inverse (both affine)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Encoding:
    """raw knob values r (n, legacy order = sorted names) ↔ encoded inputs e (E, file order).

    r = c + A e  and  e = d + B r, in float64 (the second only for valid switch inputs:
    one-hot vectors, and booleans 0/1)."""

    c: np.ndarray  # (n,)
    A: np.ndarray  # (n, E)
    d: np.ndarray  # (E,)
    B: np.ndarray  # (E, n)

    @property
    def width(self) -> int:
        return self.A.shape[1]


def encoding(params: Sequence[Param], raw_names: Sequence[str]) -> Encoding:
    """The maps between raw values ordered as `raw_names` and the encoding of `params`."""
    index = {name: i for i, name in enumerate(raw_names)}
    if sorted(index) != sorted(p.name for p in params) or len(index) != len(params):
        raise ConfigError("the knob names of the model and of its params list differ")
    n, width = len(params), sum(p.width for p in params)
    c, A = np.zeros(n), np.zeros((n, width))
    d, B = np.zeros(width), np.zeros((width, n))
    o = 0
    for p in params:
        r = index[p.name]
        if p.type == "continuous":
            # e = -1 + 2 (r - min) / (max - min)  <=>  r = (min + max) / 2 + e (max - min) / 2
            half = (float(p.max) - float(p.min)) / 2.0
            A[r, o], c[r] = half, float(p.min) + half
            B[o, r], d[o] = 1.0 / half, -1.0 - float(p.min) / half
        elif p.width == 2:
            # one-hot [1 - r, r] for a boolean r  <=>  r = e[1]
            A[r, o + 1] = 1.0
            d[o], B[o, r], B[o + 1, r] = 1.0, -1.0, 1.0
        else:
            raise UnsupportedReleaseError(f"knob {p.name}: a {p.width}-position switch has no legacy form")
        o += p.width
    return Encoding(c, A, d, B)


# --------------------------------------------------------------------------------------
# refolding the first layer (flat layouts; float64 in, float64 out)
# --------------------------------------------------------------------------------------


def refold_lstm(flat: np.ndarray, hidden: int, layers: int, n_in: int, const: np.ndarray, M: np.ndarray) -> np.ndarray:
    """An LSTM's flat weights (per layer [W_ih | W_hh], summed bias, h, c; then head) whose
    knob inputs k (columns 1.. of layer 0's W_ih) are replaced by k' with k = const + M k':
    W_k → W_k M, bias → bias + W_k const. Everything else is copied."""
    w0 = 4 * hidden * (n_in + hidden)
    mat = flat[:w0].reshape(4 * hidden, n_in + hidden)
    bias = flat[w0 : w0 + 4 * hidden]
    knob = mat[:, 1:n_in]
    new_mat = np.concatenate([mat[:, :1], knob @ M, mat[:, n_in:]], axis=1)
    new_bias = bias + knob @ const
    return np.concatenate([new_mat.reshape(-1), new_bias, flat[w0 + 4 * hidden :]])


@dataclass(frozen=True)
class ArrayShape:
    input_size: int
    condition_size: int
    channels: int
    mids: Tuple[int, ...]  # dilated conv output channels per layer (2 x channels when gated)
    kernel_sizes: Tuple[int, ...]
    head_size: int
    head_bias: bool


@dataclass(frozen=True)
class WaveNetShape:
    arrays: Tuple[ArrayShape, ...]


def refold_wavenet(flat: np.ndarray, shape: WaveNetShape, const: np.ndarray, M: np.ndarray) -> np.ndarray:
    """A WaveNet's flat weights (per array: rechannel W; per layer conv W, b, input mixer W,
    1x1 W, b; head rechannel W [, b]; then head and head_scale) whose knob input channels k
    (channels 1.. of the input and of the condition) become k' with k = const + M k'.

    The knob columns of array 0's rechannel and of every input mixer become W_k M. The
    constants have no bias to go to there, so they are carried to the biases that follow:
    the mixers' W_k const is added to their layer's dilated-conv output, i.e. its bias;
    array a's rechannel leaves a constant K_a in its residual stream, which passes through
    every layer unchanged (x + 1x1(z)), so each dilated conv of the array sees it as
    sum_taps(W) K_a more bias; the stream then enters array a+1's bias-free rechannel,
    K_{a+1} = R_{a+1} K_a. The head path sees only activations, never the stream.
    """
    out: List[np.ndarray] = []
    i = 0
    stream_const = None

    def take(n: int) -> np.ndarray:
        nonlocal i
        part = flat[i : i + n]
        i += n
        return part

    for a, arr in enumerate(shape.arrays):
        R = take(arr.channels * arr.input_size).reshape(arr.channels, arr.input_size)
        if a == 0:
            stream_const = R[:, 1:] @ const
            R = np.concatenate([R[:, :1], R[:, 1:] @ M], axis=1)
        else:
            stream_const = R @ stream_const
        out.append(R.reshape(-1))
        for mid, k in zip(arr.mids, arr.kernel_sizes):
            W = take(mid * arr.channels * k).reshape(mid, arr.channels, k)
            b = take(mid)
            mixer = take(mid * arr.condition_size).reshape(mid, arr.condition_size)
            b = b + W.sum(axis=2) @ stream_const + mixer[:, 1:] @ const
            mixer = np.concatenate([mixer[:, :1], mixer[:, 1:] @ M], axis=1)
            out += [W.reshape(-1), b, mixer.reshape(-1), take(arr.channels * arr.channels + arr.channels)]
        out.append(take(arr.head_size * arr.channels + (arr.head_size if arr.head_bias else 0)))
    out.append(flat[i:])  # head convs and head_scale
    return np.concatenate(out)


def wavenet_shape(net_config: Mapping[str, Any]) -> WaveNetShape:
    """The shape of a legacy CatWaveNet from its (validated) constructor config."""
    arrays = []
    for lc in net_config["layers_configs"]:
        c = lc["channels"]
        mid = 2 * c if lc.get("gated", True) else c
        n = len(lc["dilations"])
        arrays.append(ArrayShape(lc["input_size"], lc["condition_size"], c, (mid,) * n, (lc["kernel_size"],) * n,
                                 lc["head_size"], lc.get("head_bias", True)))
    return WaveNetShape(tuple(arrays))


# --------------------------------------------------------------------------------------
# sniffing
# --------------------------------------------------------------------------------------


def parametric_family(text: str) -> Optional[str]:
    """The top-level "architecture" of a JSON text (maybe cut short) if it names an
    architecture of the parametric NAM line, else None. Only the top level is looked at."""
    decoder = json.JSONDecoder()
    n, pos = len(text), 0

    def ws(j: int) -> int:
        while j < n and text[j] in " \t\r\n":
            j += 1
        return j

    pos = ws(pos)
    if pos >= n or text[pos] != "{":
        return None
    pos = ws(pos + 1)
    while pos < n and text[pos] == '"':
        try:
            key, pos = json.decoder.scanstring(text, pos + 1)
            pos = ws(pos)
            if pos >= n or text[pos] != ":":
                return None
            value, pos = decoder.raw_decode(text, ws(pos + 1))
        except (ValueError, IndexError, RecursionError):
            return None
        if key == "architecture":
            return value if isinstance(value, str) and value in FAMILY else None
        pos = ws(pos)
        if pos >= n or text[pos] != ",":
            return None
        pos = ws(pos + 1)
    return None


# --------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------


def read_parametric_nam(source: Source) -> RawModel:
    """Read a ConcatLSTM / ConcatWaveNet `.nam` (a path, or its bytes) into the `RawModel` of
    the equivalent CatLSTM / CatWaveNet (legacy flat layout, legacy param config).

    The file is streamed (`nam_file.stream_document`), as every text model is: the small
    values are captured and parsed within MAX_CONFIG_BYTES / MAX_JSON_VALUES, and the
    weights go into one float64 array (the refold works on the file's exact values, as it
    always did) sized from the config that precedes them: the count its params and net
    need, refused above MAX_TEXT_WEIGHTS before anything is allocated. A file can never
    make us hold more than the model it describes.

    Errors are `LegacyError`s: `UnsupportedReleaseError` for the line's other architectures
    and for structures a Cat* model cannot express (wider switches, FiLM, head 1x1, ...),
    `ConfigError`, `CorruptFileError`, `WeightsMismatchError`, `UnsafeFileError`.
    """
    doc, _ = stream_document(source, _weights_sink)
    try:
        return parse_parametric_document(doc)
    except LegacyError as e:
        name = os.path.basename(os.fspath(source)) if isinstance(source, (str, os.PathLike)) else None
        raise named(e, name) from None


@dataclass(frozen=True)
class _Layout:
    """What a file's config says, validated: its knobs, the legacy model, the weights it needs."""

    params: Tuple[Param, ...]
    param_config: Dict[str, Dict[str, Any]]
    enc: Encoding
    net_config: Dict[str, Any]  # the legacy constructor config (1 + knobs inputs)
    shape: Optional[WaveNetShape]  # CatWaveNet: the file's own shape (1 + encoded-width inputs)
    expected: int  # weights in the file


def _layout(architecture: str, config: Any, warnings: List[str]) -> _Layout:
    if not isinstance(config, dict):
        raise ConfigError(f"config: expected an object, got {json_type(config)}")
    if "params" not in config:
        raise ConfigError("config: no \"params\" (the knob list every parametric file carries)")
    params = parse_params(config["params"], "config.params", warnings)
    param_config = legacy_param_config(params, warnings)
    enc = encoding(params, sorted(param_config))
    if ARCHITECTURES[architecture] == "CatLSTM":
        net_config = _lstm_net_config(config, len(params), enc.width, warnings)
        expected = expected_weight_count("CatLSTM", {**net_config, "input_size": 1 + enc.width})
        return _Layout(params, param_config, enc, net_config, None, expected)
    net_config = _wavenet_net_config(config, len(params), enc.width, warnings)
    own = _with_inputs(net_config, 1 + enc.width)
    expected = expected_weight_count("CatWaveNet", own)
    return _Layout(params, param_config, enc, net_config, wavenet_shape(own), expected)


def _with_inputs(net_config: Mapping[str, Any], width: int) -> Dict[str, Any]:
    """The same CatWaveNet fed `width` input channels (the first array's input, every
    array's condition): the file's own net, whose inputs are the encoded knobs."""
    arrays = [{**lc, "condition_size": width, **({"input_size": width} if i == 0 else {})}
              for i, lc in enumerate(net_config["layers_configs"])]
    return {**net_config, "layers_configs": arrays}


def _weights_sink(doc: Dict[str, Any]) -> NumberSink:
    """Where the weights go: preallocated to the count the config needs when it came first
    and is valid (an invalid one is reported by the document check, in its own order; a
    model too large to read is refused now)."""
    expected, needs = None, ""
    architecture = doc.get("architecture")
    if isinstance(architecture, str) and architecture in ARCHITECTURES and "config" in doc:
        try:
            layout = _layout(architecture, doc["config"], [])
        except UnsafeFileError:
            raise
        except LegacyError:
            layout = None
        if layout is not None:
            expected = layout.expected
            needs = f"this {architecture} config needs {expected}"
            if expected > MAX_TEXT_WEIGHTS:
                raise UnsafeFileError(f"weights: {needs}, above the limit of {MAX_TEXT_WEIGHTS} for weights written as text")
    return NumberSink("weights", MAX_TEXT_WEIGHTS, expected, needs, dtype=np.float64)


def parse_parametric_document(doc: Any) -> RawModel:
    """The `RawModel` of a parsed document; its "weights" are a JSON list, or the
    `NumberSink` `read_parametric_nam` streamed them into."""
    if not isinstance(doc, dict):
        raise CorruptFileError(f"a .nam file is a JSON object, this one is {json_type(doc)}")
    for key in ("architecture", "config", "weights"):
        if key not in doc:
            raise CorruptFileError(f'not a .nam model: no "{key}"')
    architecture = doc["architecture"]
    if architecture not in FAMILY:
        raise UnknownFormatError(f"not a model of {FAMILY_NAME}: architecture {show(architecture, 40)}")
    if architecture not in ARCHITECTURES:
        raise UnsupportedReleaseError(
            f"a {architecture} of {FAMILY_NAME}: nam-legacy reads that line's ConcatLSTM and ConcatWaveNet "
            f"files only (the legacy models have no {architecture}); play it with that project's runtime"
        )
    warnings: List[str] = []
    version = doc.get("version")
    if version is None:
        warnings.append(f'no "version"; read as {FILE_VERSION}')
    elif not isinstance(version, str):
        raise CorruptFileError(f"version: expected a string, got {json_type(version)}")
    elif version.split(".")[0] != FILE_VERSION.split(".")[0]:
        raise UnsupportedReleaseError(
            f"{architecture} file version {show(version, 20)}: nam-legacy reads version 1.x of {FAMILY_NAME} (082ce26 writes {FILE_VERSION})"
        )
    elif version != FILE_VERSION:
        warnings.append(f"file version {show(version, 20)}; read as {FILE_VERSION}, the version this reader follows")
    extra = [k for k in doc if k not in _TOP_KEYS]
    if extra:
        warnings.append(f"ignored unknown top-level key(s) {', '.join(show(k, 30) for k in extra[:5])}")
    metadata: Dict[str, Any] = {}
    if isinstance(doc.get("metadata"), dict):
        metadata = dict(doc["metadata"])
    elif doc.get("metadata") is not None:
        warnings.append(f"metadata: expected an object, got {json_type(doc['metadata'])}; ignored")
    sample_rate = doc.get("sample_rate")
    if sample_rate is not None:
        if isinstance(sample_rate, bool) or not (is_finite_number(sample_rate) and sample_rate > 0):
            raise CorruptFileError(f"sample_rate: expected a positive number, got {show(sample_rate, 30)}")
        sample_rate = float(sample_rate)

    layout = _layout(architecture, doc["config"], warnings)
    streamed = doc["weights"]
    if isinstance(streamed, NumberSink):
        _check_count(architecture, streamed.count, layout.expected)
        weights = streamed.result()
    else:
        weights = weights_vector(streamed, "weights")
        _check_count(architecture, len(weights), layout.expected)
    net_config, enc = layout.net_config, layout.enc
    if layout.shape is None:
        flat = refold_lstm(weights, net_config["hidden_size"], net_config.get("num_layers", 1), 1 + enc.width, enc.d, enc.B)
    else:
        weights = _reconcile_head_scale(weights, net_config, warnings)
        flat = refold_wavenet(weights, layout.shape, enc.d, enc.B)
    del weights, streamed
    # The legacy models hold float32: round once, here, so the import reports no rounding.
    flat[...] = flat.astype(np.float32)
    return RawModel(
        format="parametric_nam",
        architecture=ARCHITECTURES[architecture],
        net_config=net_config,
        releases=ReleaseRange(DEFAULT, DEFAULT, (
            f"{architecture} file of {FAMILY_NAME} (version {version or FILE_VERSION}); built as the last "
            f"legacy release, {DEFAULT.name}",
        )),
        weights=flat,
        param_config=layout.param_config,
        sample_rate=sample_rate,
        metadata=metadata,
        file_version=version,
        warnings=warnings,
    )


def _check_count(architecture: str, count: int, expected: int) -> None:
    if count != expected:
        raise WeightsMismatchError(f"weights: {count} values, but this {architecture} config needs {expected}")


def _int_field(cfg: Mapping, key: str, path: str, lo: int = 1, hi: int = MAX_WIDTH, default: Any = None) -> int:
    value = cfg.get(key, default)
    if value is None or isinstance(value, bool) or not is_int(value) or not lo <= value <= hi:
        raise ConfigError(f"{jpath(path, key)}: expected an integer in [{lo}, {hi}], got {show(value, 30)}")
    return int(value)


def _check_input_width(cfg: Mapping, key: str, path: str, width: int) -> None:
    """An input width the file states (it may leave it out): 1 + the params' encoded width."""
    if key in cfg and (not is_int(cfg[key]) or cfg[key] != 1 + width):
        raise ConfigError(f"{jpath(path, key)}: {show(cfg[key], 20)}, but the params make it 1 + {width} = {1 + width}")


def _lstm_net_config(config: Mapping, knobs: int, width: int, warnings: List[str]) -> Dict[str, Any]:
    known = ("hidden_size", "num_layers", "train_burn_in", "train_truncate", "params", "input_size")
    extra = [k for k in config if k not in known]
    if extra:
        warnings.append(f"config: ignored unknown key(s) {', '.join(show(k, 30) for k in extra[:5])}")
    _check_input_width(config, "input_size", "config", width)
    net = {
        "input_size": 1 + knobs,
        "hidden_size": _int_field(config, "hidden_size", "config"),
        "num_layers": _int_field(config, "num_layers", "config", hi=MAX_LAYERS, default=1),
    }
    for key in ("train_burn_in", "train_truncate"):
        value = config.get(key)
        if value is not None:
            net[key] = _int_field(config, key, "config", hi=1 << 40)
    return validate_net_config("CatLSTM", net, "config", warnings)


_FILM_KEYS = ("conv_pre_film", "conv_post_film", "input_mixin_pre_film", "input_mixin_post_film",
              "activation_pre_film", "activation_post_film", "layer1x1_post_film", "head1x1_post_film")
_ARRAY_KEYS = ("input_size", "condition_size", "head", "channels", "kernel_sizes", "kernel_size", "dilations",
               "activation", "bottleneck", "head1x1", "layer1x1", "groups_input", "groups_input_mixin",
               "gating_mode", "secondary_activation", "slimmable", "packing") + _FILM_KEYS


def _refuse(path: str, what: str) -> UnsupportedReleaseError:
    return UnsupportedReleaseError(f"{path}: {what}, which a legacy CatWaveNet cannot express")


def _legacy_activation(value: Any, path: str) -> str:
    """The legacy activation name (a torch.nn class built without arguments) of an exported
    activation, if it has one."""
    if isinstance(value, str):
        kind, kwargs = value, {}
    elif isinstance(value, dict) and isinstance(value.get("type"), str):
        kind, kwargs = value["type"], {k: v for k, v in value.items() if k != "type"}
    else:
        raise ConfigError(f"{path}: expected an activation, got {show(value, 40)}")
    if kind == "Hardtanh" and kwargs in ({"min_val": -1.0, "max_val": 1.0}, {}):
        return "Hardtanh"
    if kind == "Hardtanh" and kwargs == {"min_val": 0.0, "max_val": 6.0}:
        return "ReLU6"  # torch's ReLU6 is Hardtanh(0, 6), exported as such
    if kind == "LeakyReLU" and kwargs in ({"negative_slope": 0.01}, {}):
        return "LeakyReLU"
    if kind in WAVENET_ACTIVATIONS and kind not in ("PReLU", "Hardtanh", "LeakyReLU") and not kwargs:
        return kind
    raise _refuse(path, f"activation {show(value, 60)}")


def _per_layer(value: Any, n: int, path: str) -> list:
    if isinstance(value, list):
        if len(value) != n:
            raise ConfigError(f"{path}: {len(value)} entries for {n} layers")
        return value
    return [value] * n


def _wavenet_net_config(config: Mapping, knobs: int, width: int, warnings: List[str]) -> Dict[str, Any]:
    extra = [k for k in config if k not in ("layers", "head", "head_scale", "params", "condition_dsp")]
    if extra:
        warnings.append(f"config: ignored unknown key(s) {', '.join(show(k, 30) for k in extra[:5])}")
    if config.get("condition_dsp") is not None:
        raise _refuse("config.condition_dsp", "a condition DSP")
    arrays = config.get("layers")
    if type(arrays) is not list or not 1 <= len(arrays) <= MAX_LAYERS:
        raise ConfigError(f"config.layers: expected 1 to {MAX_LAYERS} layer arrays, got {show(arrays, 40)}")
    layers_configs = []
    for i, lc in enumerate(arrays):
        p = jpath("config.layers", i)
        if not isinstance(lc, dict):
            raise ConfigError(f"{p}: expected an object, got {json_type(lc)}")
        unknown = [k for k in lc if k not in _ARRAY_KEYS]
        if unknown:
            raise _refuse(jpath(p, unknown[0]), "an option this reader does not know")
        if i == 0:
            _check_input_width(lc, "input_size", p, width)
        _check_input_width(lc, "condition_size", p, width)
        channels = _int_field(lc, "channels", p)
        if lc.get("bottleneck", channels) != channels:
            raise _refuse(jpath(p, "bottleneck"), "a bottleneck narrower or wider than the channels")
        dilations = lc.get("dilations")
        if type(dilations) is not list or not dilations:
            raise ConfigError(f"{p}.dilations: expected a non-empty array of integers, got {show(dilations, 40)}")
        n = len(dilations)
        kernels = _per_layer(lc.get("kernel_sizes", lc.get("kernel_size")), n, jpath(p, "kernel_sizes"))
        if any(not is_int(k) or isinstance(k, bool) for k in kernels):
            raise ConfigError(f"{p}.kernel_sizes: expected integers, got {show(kernels, 40)}")
        if len(set(kernels)) != 1:
            raise _refuse(jpath(p, "kernel_sizes"), f"different kernel sizes within one array ({kernels})")
        activations = _per_layer(lc.get("activation"), n, jpath(p, "activation"))
        gating = _per_layer(lc.get("gating_mode", "none"), n, jpath(p, "gating_mode"))
        secondary = _per_layer(lc.get("secondary_activation"), n, jpath(p, "secondary_activation"))
        names = {_legacy_activation(a, jpath(p, "activation")) for a in activations}
        if len(names) != 1 or len(set(map(str, gating))) != 1:
            raise _refuse(p, "layers with different activations or gating within one array")
        mode = gating[0]
        if mode == "gated":
            if any(_legacy_activation(s, jpath(p, "secondary_activation")) != "Sigmoid" for s in secondary):
                raise _refuse(jpath(p, "secondary_activation"), "a gate other than a sigmoid")
        elif mode != "none":
            raise _refuse(jpath(p, "gating_mode"), f"gating mode {show(mode, 20)}")
        head1x1 = lc.get("head1x1") or {}
        layer1x1 = lc.get("layer1x1") or {"active": True}
        if not isinstance(head1x1, dict) or head1x1.get("active", False):
            raise _refuse(jpath(p, "head1x1"), "an active head 1x1")
        if not isinstance(layer1x1, dict) or not layer1x1.get("active", True) or layer1x1.get("groups", 1) != 1:
            raise _refuse(jpath(p, "layer1x1"), "an inactive or grouped layer 1x1")
        for key in ("groups_input", "groups_input_mixin"):
            if lc.get(key, 1) != 1:
                raise _refuse(jpath(p, key), "grouped convolutions")
        for key in _FILM_KEYS:
            film = lc.get(key)
            if film is not None and (not isinstance(film, dict) or film.get("active", False)):
                raise _refuse(jpath(p, key), "FiLM")
        for key in ("slimmable", "packing"):
            if lc.get(key):
                raise _refuse(jpath(p, key), f"a {key} layer array")
        head = lc.get("head")
        if not isinstance(head, dict):
            raise ConfigError(f"{p}.head: expected {{out_channels, kernel_size, bias}}, got {show(head, 40)}")
        if head.get("kernel_size", 1) != 1:
            raise _refuse(jpath(p, "head.kernel_size"), "a head rechannel wider than 1x1")
        if not isinstance(head.get("bias", True), bool):
            raise ConfigError(f"{p}.head.bias: expected true or false")
        layers_configs.append({
            "input_size": 1 + knobs if i == 0 else _int_field(lc, "input_size", p),
            "condition_size": 1 + knobs,
            "head_size": _int_field(head, "out_channels", jpath(p, "head")),
            "channels": channels,
            "kernel_size": int(kernels[0]),
            "dilations": dilations,
            "activation": names.pop(),
            "gated": mode == "gated",
            "head_bias": head.get("bias", True),
        })
    head = config.get("head")
    head_config = None
    if head is not None:
        if not isinstance(head, dict):
            raise ConfigError(f"config.head: expected an object or null, got {json_type(head)}")
        ks = head.get("kernel_sizes")
        if type(ks) is not list or not ks:
            raise ConfigError(f"config.head.kernel_sizes: expected a non-empty array, got {show(ks, 40)}")
        if any(k != 1 for k in ks):
            raise _refuse("config.head.kernel_sizes", "a head conv wider than 1x1")
        head_config = {
            "in_channels": layers_configs[-1]["head_size"],
            "channels": _int_field(head, "channels", "config.head"),
            "activation": _legacy_activation(head.get("activation"), "config.head.activation"),
            "num_layers": len(ks),
            "out_channels": _int_field(head, "out_channels", "config.head"),
        }
    head_scale = config.get("head_scale", 1.0)
    if isinstance(head_scale, bool) or not is_finite_number(head_scale):
        raise ConfigError(f"config.head_scale: expected a finite number, got {show(head_scale, 30)}")
    net = {"layers_configs": layers_configs, "head_config": head_config, "head_scale": float(head_scale)}
    return validate_net_config("CatWaveNet", net, "config", warnings,
                               aliases={"layers_configs": "layers", "head_config": "head"})


def _reconcile_head_scale(weights: np.ndarray, net_config: Dict[str, Any], warnings: List[str]) -> np.ndarray:
    """The fork keeps the config's head_scale when the trailing weight is within 1e-5 of
    it, else takes the weight (its output-scale hook rescales both). The legacy model then
    gets that value, and the weight the legacy exporter would write for it."""
    tail, config_value = float(weights[-1]), net_config["head_scale"]
    if abs(tail - config_value) > 1e-5:
        warnings.append(f"head_scale: config says {config_value!r}, the weights {tail!r}; using the weights' (as the fork does)")
        net_config["head_scale"] = tail
    out = weights.copy()
    out[-1] = float(np.float32(net_config["head_scale"]))
    return out
