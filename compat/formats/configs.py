"""Configs: reading untrusted JSON, validating every kind of config, and the size arithmetic
that guards model construction.

Four kinds of JSON config took part in training and exporting a parametric model:

* model config: `{"net": {"name", "config"}, "loss", "optimizer", "lr_scheduler"}`;
* data config: `{"train", "validation", ["common"], "parametric": true | "type": "parametric"}`
  whose splits list `slices` of `{start, stop, params, [delay]}`;
* learning config: `{"train_dataloader", "val_dataloader", "trainer", ["trainer_fit_kwargs"]}`;
* param config: `{name: {"type": "continuous"|"boolean", "default_value", ["minval", "maxval"]}}`.

`read_config` tells them apart and validates them; every problem is a `ConfigError` whose
message starts with the JSON path of the offending value (`train.slices[2].params.drive:
expected a number or a boolean, got string`).

The same module validates the *constructor* config of each architecture (what
`init_from_config` takes), translates the config an export file stores into it, and
computes from it, before anything is built, how many weights the export holds
(`expected_weight_count`) and how many numbers building the model allocates
(`build_element_count`). The file readers compare the first with the file and refuse
configs whose second is absurd, so no file can make us allocate gigabytes.
"""

from __future__ import annotations

import codecs
import json
import math
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from ..errors import ConfigError, CorruptFileError, FileAccessError, UnsafeFileError

__all__ = [
    "ARCHITECTURES",
    "MAX_BUILD_ELEMENTS",
    "MAX_CONFIG_BYTES",
    "MAX_FILE_BYTES",
    "MAX_JSON_VALUES",
    "MAX_TEXT_WEIGHTS",
    "MAX_WEIGHTS",
    "DataConfigInfo",
    "Knob",
    "LearningConfigInfo",
    "ModelConfigInfo",
    "build_element_count",
    "check_knob_count",
    "config_kind",
    "expected_weight_count",
    "load_json",
    "read_config",
    "translate_export_config",
    "validate_data_config",
    "validate_learning_config",
    "validate_model_config",
    "validate_net_config",
    "validate_param_config",
]

# --- limits ---------------------------------------------------------------------------
# Genuine files are tiny next to these: a large CatLSTM (4 layers of 64) has ~100k
# weights, its .nam is ~2 MB, a header ~3 MB.

MAX_FILE_BYTES = 1 << 30  # any model file we read (a 50M-weight .nam is ~1 GB of text)
MAX_CONFIG_BYTES = 16 << 20  # config.json and the JSON configs
MAX_WEIGHTS = 50_000_000  # length of a flat weight vector
# Weights written as text (.nam, C++ header) are parsed at roughly 2-3 million a second on
# one core: this bound keeps the largest text model within the 10 s budget.
MAX_TEXT_WEIGHTS = 10_000_000
# Values (numbers, strings, containers) in one JSON config or in the non-weight parts of a
# .nam, counted on the raw text before parsing: Python objects cost ~50-200 bytes each.
MAX_JSON_VALUES = 1_000_000
MAX_BUILD_ELEMENTS = 1 << 28  # numbers allocated while building a model (1 GiB as float32)
MAX_JSON_DEPTH = 64  # nesting of any JSON document (genuine files: 5)
MAX_KNOBS = 1024
MAX_LAYERS = 1024  # LSTM layers, WaveNet layer arrays, hypernet blocks, head layers
MAX_DILATIONS = 4096  # dilated layers in one model
MAX_DILATION = 1 << 20
MAX_WIDTH = 1 << 20  # any channel / unit / hidden / kernel count
MAX_RECEPTIVE_FIELD = 1 << 24  # samples; pad_start pads this many zeros on every call
HYPER_NET_NORM_BATCH = 10_000  # HyperNet.__init__ runs the hypernet on this many random inputs

ARCHITECTURES = ("CatLSTM", "CatWaveNet", "HyperConvNet")

# `torch.nn` classes a WaveNet config may name as activation: element-wise, built without
# arguments. Upstream did `getattr(torch.nn, name)()`, which would build *any* nn class
# (a "Transformer" allocates 44M parameters); we only accept real activations.
WAVENET_ACTIVATIONS = frozenset(
    {
        "CELU", "ELU", "GELU", "Hardshrink", "Hardsigmoid", "Hardswish", "Hardtanh",
        "Identity", "LeakyReLU", "LogSigmoid", "Mish", "PReLU", "RReLU", "ReLU", "ReLU6",
        "SELU", "SiLU", "Sigmoid", "Softplus", "Softshrink", "Softsign", "Tanh", "Tanhshrink",
    }
)
HYPER_ACTIVATIONS = ("Tanh", "ReLU")  # hyper_net._get_activation


# --- paths and types in messages ----------------------------------------------------------


def jpath(base: str, key: Union[str, int]) -> str:
    """`base.key` or `base[3]`: where a value sits, for messages."""
    if isinstance(key, int) and not isinstance(key, bool):
        return f"{base}[{key}]"
    if not isinstance(key, str):
        key = show(key, 40)
    name = key if key.isidentifier() else json.dumps(key)[:60]
    return f"{base}.{name}" if base else name


def _where(path: str) -> str:
    return f"{path}: " if path else ""


def show(value: Any, limit: int = 60) -> str:
    """A short, printable, one-line rendering of a value from a file."""
    try:
        text = repr(value)
    except ValueError:  # an integer beyond Python's digit limit
        text = "<a number with thousands of digits>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_finite_number(value: Any) -> bool:
    if not is_number(value):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def _expect(ok: bool, path: str, expected: str, value: Any) -> None:
    if not ok:
        raise ConfigError(f"{_where(path)}expected {expected}, got {json_type(value)} {show(value, 40)}")


def _int(cfg: Mapping, key: str, path: str, lo: int = 1, hi: int = MAX_WIDTH, **default) -> int:
    p = jpath(path, key)
    if key not in cfg:
        if "default" in default:
            return default["default"]
        raise ConfigError(f"{p}: missing")
    value = cfg[key]
    _expect(is_int(value), p, "an integer", value)
    if not lo <= value <= hi:
        raise ConfigError(f"{p}: {show(value, 30)} is out of range [{lo}, {hi}]")
    return value


def _bool(cfg: Mapping, key: str, path: str, **default) -> bool:
    p = jpath(path, key)
    if key not in cfg:
        if "default" in default:
            return default["default"]
        raise ConfigError(f"{p}: missing")
    value = cfg[key]
    _expect(isinstance(value, bool), p, "true or false", value)
    return value


def _obj(value: Any, path: str) -> Mapping:
    _expect(isinstance(value, Mapping), path, "an object", value)
    return value


def _required(cfg: Mapping, key: str, path: str) -> Any:
    if key not in cfg:
        raise ConfigError(f"{jpath(path, key)}: missing")
    return cfg[key]


def _unknown_keys(cfg: Mapping, known: Iterable[str], path: str, warnings: Optional[List[str]], what: str) -> None:
    extra = [k for k in cfg if k not in known and not (isinstance(k, str) and k.startswith("_"))]
    if extra and warnings is not None:
        names = ", ".join(show(k, 30) for k in extra[:5])
        warnings.append(f"{_where(path)}ignored unknown key(s) {names}{' ...' if len(extra) > 5 else ''} ({what})")


# --- reading untrusted files and JSON --------------------------------------------------------


def read_file_bytes(path: Union[str, os.PathLike], limit: int, what: str) -> bytes:
    """The whole file, refusing files larger than `limit` before reading them."""
    p = Path(path)
    try:
        if not stat.S_ISREG(os.stat(p).st_mode):  # before open(): a FIFO would block it
            kind = "a directory" if p.is_dir() else "not a regular file"
            raise FileAccessError(f"{p}: {kind}, not a {what}")
        with open(p, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > limit:
                raise UnsafeFileError(f"{p.name}: {what} is {size} bytes, above the limit of {limit}")
            data = fh.read(limit + 1)
    except IsADirectoryError:
        raise FileAccessError(f"{p}: a directory, not a {what}") from None
    except OSError as e:
        raise FileAccessError(f"cannot read {p}: {e.strerror or e}") from None
    except ValueError:  # e.g. a NUL in the path
        raise FileAccessError(f"cannot read {show(str(path), 60)}: not a valid path") from None
    if len(data) > limit:  # grew while we read it, or a device
        raise UnsafeFileError(f"{p.name}: {what} is larger than the limit of {limit} bytes")
    return data


def decode_text(data: bytes, what: str) -> str:
    """Strict UTF-8 (an optional BOM is dropped), as every release wrote."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CorruptFileError(f"{what} is not UTF-8 text (bad byte at offset {e.start})") from None


class _Duplicate(Exception):
    pass


def _pairs(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Duplicate(key)
        out[key] = value
    return out


def load_json(source: Union[bytes, bytearray, str], what: str) -> Any:
    """Parse untrusted JSON: UTF-8 only, no duplicate keys, nesting at most MAX_JSON_DEPTH.

    NaN/Infinity tokens are accepted (Python's json wrote them); giant integers, deep
    nesting and every other defect become `CorruptFileError`.
    """
    text = decode_text(bytes(source), what) if isinstance(source, (bytes, bytearray)) else source
    if text.startswith("\ufeff"):
        text = text[1:]
    values = json_value_count(text)
    if values > MAX_JSON_VALUES:
        raise UnsafeFileError(f"{what} holds about {values:,} JSON values, above the limit of {MAX_JSON_VALUES:,}")
    try:
        value = json.loads(text, object_pairs_hook=_pairs)
    except _Duplicate as e:
        raise CorruptFileError(f"{what} has the key {show(e.args[0], 40)} twice in one object") from None
    except RecursionError:
        raise CorruptFileError(f"{what} nests JSON deeper than {MAX_JSON_DEPTH} levels") from None
    except json.JSONDecodeError as e:
        raise CorruptFileError(f"{what} is not valid JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    except ValueError as e:  # e.g. an integer literal beyond Python's digit limit
        raise CorruptFileError(f"{what} is not valid JSON: {str(e).split(';')[0][:120]}") from None
    _check_depth(value, what)
    return value


def json_value_count(text: str) -> int:
    """An upper bound on the values parsing `text` would build (commas and containers;
    those inside strings count too), counted without building anything."""
    return text.count(",") + text.count("[") + text.count("{") + 1


def _check_depth(value: Any, what: str) -> None:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise CorruptFileError(f"{what} nests JSON deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item if isinstance(v, (dict, list)))


# --- param configs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Knob:
    """One validated param-config entry (file order is kept by the caller)."""

    name: str
    type: str  # "continuous" | "boolean"
    default: Union[float, int, bool]
    minval: Optional[Union[float, int]] = None
    maxval: Optional[Union[float, int]] = None


_PARAM_FIELDS = {"continuous": ("type", "default_value", "minval", "maxval"), "boolean": ("type", "default_value")}


def validate_param_config(
    config: Any, path: str = "", warnings: Optional[List[str]] = None
) -> Tuple[Knob, ...]:
    """Check a param config `{name: {type, default_value, [minval, maxval]}}`; knobs in file order.

    As upstream's `Param.init_from_config`: "type" is "continuous" (needs minval and
    maxval) or "boolean"; other keys are refused (upstream: TypeError). Values must be
    finite numbers; a boolean knob's default is a boolean (0/1 accepted with a warning),
    a continuous one's a number (a boolean accepted with a warning). Defaults outside
    [minval, maxval] and reversed ranges only warn: upstream never checked them.
    """
    config = _obj(config, path or "param config")
    if len(config) > MAX_KNOBS:
        raise ConfigError(f"{_where(path)}{len(config)} knobs, above the limit of {MAX_KNOBS}")
    knobs = []
    for name, entry in config.items():
        p = jpath(path, name)
        entry = _obj(entry, p)
        kind = _required(entry, "type", p)
        _expect(isinstance(kind, str) and kind in _PARAM_FIELDS, jpath(p, "type"), '"continuous" or "boolean"', kind)
        allowed = _PARAM_FIELDS[kind]
        for key in entry:
            if key not in allowed:
                raise ConfigError(f"{jpath(p, key)}: not a field of a {kind} knob (allowed: {', '.join(allowed[1:])})")
        default = _required(entry, "default_value", p)
        dp = jpath(p, "default_value")
        if kind == "boolean":
            if not isinstance(default, bool):
                _expect(is_int(default) and default in (0, 1), dp, "true or false", default)
                if warnings is not None:
                    warnings.append(f"{dp}: {default} used as a boolean")
            knobs.append(Knob(name, kind, default))
            continue
        if isinstance(default, bool):
            if warnings is not None:
                warnings.append(f"{dp}: boolean default of a continuous knob reads as {float(default)}")
        else:
            _expect(is_finite_number(default), dp, "a finite number", default)
        lo, hi = _required(entry, "minval", p), _required(entry, "maxval", p)
        _expect(is_finite_number(lo), jpath(p, "minval"), "a finite number", lo)
        _expect(is_finite_number(hi), jpath(p, "maxval"), "a finite number", hi)
        if warnings is not None:
            if lo > hi:
                warnings.append(f"{p}: minval {lo} is above maxval {hi}")
            elif not lo <= default <= hi:
                warnings.append(f"{p}: default {default} is outside [{lo}, {hi}]")
        knobs.append(Knob(name, kind, default, lo, hi))
    return tuple(knobs)


# --- constructor configs of the three architectures ----------------------------------------


def validate_net_config(
    architecture: str,
    config: Any,
    path: str = "config",
    warnings: Optional[List[str]] = None,
    aliases: Optional[Mapping[str, str]] = None,
) -> Dict[str, Any]:
    """Check a constructor config (what `<architecture>.init_from_config` takes).

    Types and ranges of every field, the shape consistency the forward pass needs, and
    the size limits (`UnsafeFileError` when building it would allocate more than
    MAX_BUILD_ELEMENTS numbers). Returns a cleaned copy holding only keys the
    constructor accepts. `aliases` renames keys in messages (export files call
    `layers_configs` "layers").
    """
    aliases = aliases or {}

    def at(key: str) -> str:
        return jpath(path, aliases.get(key, key))

    if architecture not in ARCHITECTURES:
        raise ConfigError(f"{show(architecture, 40)} is not a parametric architecture ({', '.join(ARCHITECTURES)})")
    config = _obj(config, path or "net config")
    if architecture == "CatLSTM":
        out = _lstm_config(config, path, warnings)
    elif architecture == "CatWaveNet":
        out = _wavenet_config(config, path, at, warnings)
    else:
        out = _hyper_config(config, path, warnings)
    elements = build_element_count(architecture, out)
    if elements > MAX_BUILD_ELEMENTS:
        raise UnsafeFileError(
            f"{_where(path)}building this {architecture} would allocate {elements:,} numbers, "
            f"above the limit of {MAX_BUILD_ELEMENTS:,}"
        )
    return out


_LSTM_OPTIONAL = ("input_size", "num_layers", "train_burn_in", "train_truncate", "sample_rate", "bias", "dropout")


def _lstm_config(cfg: Mapping, path: str, warnings) -> Dict[str, Any]:
    if "batch_first" in cfg:
        raise ConfigError(f"{jpath(path, 'batch_first')}: cannot be set (the LSTM is always batch-first)")
    if "bidirectional" in cfg:
        if _bool(cfg, "bidirectional", path):
            raise ConfigError(f"{jpath(path, 'bidirectional')}: not supported (the head reads hidden_size features)")
    if "proj_size" in cfg:
        if _int(cfg, "proj_size", path, lo=0):
            raise ConfigError(f"{jpath(path, 'proj_size')}: not supported (the head reads hidden_size features)")
    known = ("hidden_size",) + _LSTM_OPTIONAL + ("bidirectional", "proj_size")
    extra = [k for k in cfg if k not in known]
    if extra:
        raise ConfigError(f"{jpath(path, extra[0])}: not an LSTM argument")
    out: Dict[str, Any] = {}
    for key in cfg:  # keep the caller's key order
        p = jpath(path, key)
        value = cfg[key]
        if key in ("hidden_size", "input_size"):
            out[key] = _int(cfg, key, path)
        elif key == "num_layers":
            out[key] = _int(cfg, key, path, hi=MAX_LAYERS)
        elif key in ("train_burn_in", "train_truncate"):
            if value is not None:
                _int(cfg, key, path, hi=1 << 40)
            out[key] = value
        elif key == "sample_rate":
            _expect(value is None or (is_finite_number(value) and value > 0), p, "a positive number or null", value)
            out[key] = value
        elif key == "bias":
            out[key] = _bool(cfg, key, path)
        elif key == "dropout":
            _expect(is_finite_number(value) and 0 <= value <= 1, p, "a number in [0, 1]", value)
            out[key] = value
        else:  # bidirectional false / proj_size 0: the defaults, dropped
            pass
    _required(cfg, "hidden_size", path)
    return out


_LAYER_KEYS = ("input_size", "condition_size", "head_size", "channels", "kernel_size", "dilations")
_LAYER_OPTIONAL = ("activation", "gated", "head_bias")
_HEAD_KEYS = ("in_channels", "channels", "activation", "num_layers", "out_channels")


def _activation(value: Any, path: str, allowed: Iterable[str]) -> str:
    _expect(isinstance(value, str), path, "an activation name", value)
    if value not in allowed:
        raise ConfigError(f"{path}: unknown activation {show(value, 40)} (use one of {', '.join(sorted(allowed))})")
    return value


def _wavenet_config(cfg: Mapping, path: str, at, warnings) -> Dict[str, Any]:
    extra = [k for k in cfg if k not in ("layers_configs", "head_config", "head_scale", "sample_rate")]
    if extra:
        raise ConfigError(f"{at(extra[0])}: not a WaveNet argument")
    arrays = _required(cfg, "layers_configs", path)
    ap = at("layers_configs")
    _expect(isinstance(arrays, list), ap, "an array of layer-array configs", arrays)
    if not 1 <= len(arrays) <= MAX_LAYERS:
        raise ConfigError(f"{ap}: needs 1 to {MAX_LAYERS} layer arrays, has {len(arrays)}")
    layers, total_dilations, rf = [], 0, 1
    for i, lc in enumerate(arrays):
        lp = jpath(ap, i)
        lc = _obj(lc, lp)
        extra = [k for k in lc if k not in _LAYER_KEYS + _LAYER_OPTIONAL]
        if extra:
            raise ConfigError(f"{jpath(lp, extra[0])}: not a layer-array argument")
        out = {k: _int(lc, k, lp) for k in _LAYER_KEYS[:5]}
        dilations = _required(lc, "dilations", lp)
        dp = jpath(lp, "dilations")
        _expect(isinstance(dilations, list) and len(dilations) > 0, dp, "a non-empty array of integers", dilations)
        total_dilations += len(dilations)
        if total_dilations > MAX_DILATIONS:
            raise ConfigError(f"{dp}: more than {MAX_DILATIONS} dilated layers in all")
        for j, d in enumerate(dilations):
            _expect(is_int(d) and 1 <= d <= MAX_DILATION, jpath(dp, j), f"an integer in [1, {MAX_DILATION}]", d)
        out["dilations"] = list(dilations)
        out["activation"] = _activation(lc.get("activation", "Tanh"), jpath(lp, "activation"), WAVENET_ACTIVATIONS)
        out["gated"] = _bool(lc, "gated", lp, default=True)
        out["head_bias"] = _bool(lc, "head_bias", lp, default=True)
        rf += (out["kernel_size"] - 1) * sum(dilations)
        if rf > MAX_RECEPTIVE_FIELD:
            raise ConfigError(f"{lp}: receptive field above {MAX_RECEPTIVE_FIELD} samples")
        layers.append(out)
    # What the forward pass needs (upstream never checked; the model would fail on first use).
    for i in range(1, len(layers)):
        prev, cur, lp = layers[i - 1], layers[i], jpath(ap, i)
        if cur["input_size"] != prev["channels"]:
            raise ConfigError(
                f"{jpath(lp, 'input_size')}: {cur['input_size']} must equal the previous array's channels ({prev['channels']})"
            )
        if prev["head_size"] not in (1, cur["channels"]):
            raise ConfigError(
                f"{jpath(jpath(ap, i - 1), 'head_size')}: {prev['head_size']} must equal the next array's channels "
                f"({cur['channels']})"
            )
    head = cfg.get("head_config")
    hp = at("head_config")
    if head is not None:
        head = _obj(head, hp)
        extra = [k for k in head if k not in _HEAD_KEYS]
        if extra:
            raise ConfigError(f"{jpath(hp, extra[0])}: not a head argument")
        head = {
            "in_channels": _int(head, "in_channels", hp),
            "channels": _int(head, "channels", hp),
            "activation": _activation(_required(head, "activation", hp), jpath(hp, "activation"), WAVENET_ACTIVATIONS),
            "num_layers": _int(head, "num_layers", hp, hi=MAX_LAYERS),
            "out_channels": _int(head, "out_channels", hp),
        }
        if head["in_channels"] != layers[-1]["head_size"]:
            raise ConfigError(
                f"{jpath(hp, 'in_channels')}: {head['in_channels']} must equal the last array's head_size "
                f"({layers[-1]['head_size']})"
            )
        if head["out_channels"] != 1:
            raise ConfigError(f"{jpath(hp, 'out_channels')}: must be 1 (mono output)")
    elif layers[-1]["head_size"] != 1:
        raise ConfigError(f"{jpath(jpath(ap, len(layers) - 1), 'head_size')}: must be 1 without a head (mono output)")
    head_scale = cfg.get("head_scale", 1.0)
    _expect(is_finite_number(head_scale), at("head_scale"), "a finite number", head_scale)
    out_cfg: Dict[str, Any] = {"layers_configs": layers, "head_config": head, "head_scale": head_scale}
    if "sample_rate" in cfg:
        sr = cfg["sample_rate"]
        _expect(sr is None or (is_finite_number(sr) and sr > 0), at("sample_rate"), "a positive number or null", sr)
        out_cfg["sample_rate"] = sr
    return out_cfg


def _hyper_config(cfg: Mapping, path: str, warnings) -> Dict[str, Any]:
    _unknown_keys(cfg, ("hyper_net", "net"), path, warnings, "HyperConvNet reads only hyper_net and net")
    hp, np_ = jpath(path, "hyper_net"), jpath(path, "net")
    hyper = _obj(_required(cfg, "hyper_net", path), hp)
    net = _obj(_required(cfg, "net", path), np_)
    _unknown_keys(hyper, ("num_inputs", "num_layers", "num_units", "batchnorm"), hp, warnings, "not read by HyperConvNet")
    _unknown_keys(net, ("channels", "dilations", "batchnorm", "activation"), np_, warnings, "not read by HyperConvNet")
    out_hyper = {
        "num_inputs": _int(hyper, "num_inputs", hp, hi=MAX_KNOBS),
        "num_layers": _int(hyper, "num_layers", hp, lo=0, hi=MAX_LAYERS),
        "num_units": _int(hyper, "num_units", hp),
        "batchnorm": _bool(hyper, "batchnorm", hp),
    }
    dilations = _required(net, "dilations", np_)
    dp = jpath(np_, "dilations")
    _expect(isinstance(dilations, list), dp, "an array of integers", dilations)
    if len(dilations) > MAX_DILATIONS:
        raise ConfigError(f"{dp}: more than {MAX_DILATIONS} layers")
    for j, d in enumerate(dilations):
        _expect(is_int(d) and 1 <= d <= MAX_DILATION, jpath(dp, j), f"an integer in [1, {MAX_DILATION}]", d)
    if 1 + sum(dilations) > MAX_RECEPTIVE_FIELD:
        raise ConfigError(f"{dp}: receptive field above {MAX_RECEPTIVE_FIELD} samples")
    activation = _required(net, "activation", np_)
    if dilations:
        activation = _activation(activation, jpath(np_, "activation"), HYPER_ACTIVATIONS)
    else:
        # No dilated layer, so no activation is ever built; the export then names the
        # first "activation" it finds, the final Flatten.
        _expect(activation is None or isinstance(activation, str), jpath(np_, "activation"), "a name", activation)
    out_net = {
        "channels": _int(net, "channels", np_),
        "dilations": list(dilations),
        "batchnorm": _bool(net, "batchnorm", np_),
        "activation": activation,
    }
    return {"hyper_net": out_hyper, "net": out_net}


def _hyper_main_numels(net: Mapping) -> Tuple[List[int], int]:
    """Sizes of the hypernet-made tensors (module order) and the main-net BN count."""
    numels, cin, bn = [], 1, 0
    c = net["channels"]
    for _ in net["dilations"]:
        numels.append(c * cin * 2)
        if net["batchnorm"]:
            numels += [c, c]
            bn += 1
        else:
            numels.append(c)
        cin = c
    numels += [cin, 1]  # 1x1 head conv: weight (1, cin, 1), bias
    return numels, bn


def expected_weight_count(architecture: str, net_config: Mapping[str, Any]) -> int:
    """Length of the flat weight vector every release exported for this constructor config.

    Plain integer arithmetic, nothing is built. `net_config` should have passed
    `validate_net_config` (a ConfigError is raised for what the export could not hold).
    """
    if architecture == "CatLSTM":
        if net_config.get("bias", True) is not True:
            raise ConfigError("an LSTM without biases has no export layout")
        h = net_config["hidden_size"]
        n_in = net_config.get("input_size", 1)
        total = 0
        for _ in range(net_config.get("num_layers", 1)):
            total += 4 * h * (n_in + h) + 4 * h + 2 * h  # [W_ih|W_hh], b_ih+b_hh, h0, c0
            n_in = h
        return total + h + 1  # head weight, bias
    if architecture == "CatWaveNet":
        total = 0
        for lc in net_config["layers_configs"]:
            c = lc["channels"]
            mid = 2 * c if lc.get("gated", True) else c
            total += c * lc["input_size"]  # rechannel, no bias
            per_layer = mid * c * lc["kernel_size"] + mid + mid * lc["condition_size"] + c * c + c
            total += per_layer * len(lc["dilations"])
            total += lc["head_size"] * c + (lc["head_size"] if lc.get("head_bias", True) else 0)
        head = net_config.get("head_config")
        if head is not None:
            cin = head["in_channels"]
            for i in range(head["num_layers"]):
                cout = head["out_channels"] if i == head["num_layers"] - 1 else head["channels"]
                total += cout * cin + cout
                cin = head["channels"]
        return total + 1  # head_scale
    if architecture == "HyperConvNet":
        hyper, net = net_config["hyper_net"], net_config["net"]
        numels, bn = _hyper_main_numels(net)
        outputs = sum(numels)
        units, din, total = hyper["num_units"], hyper["num_inputs"], 0
        for _ in range(hyper["num_layers"]):
            total += units * din + units + ((4 * units + 1) if hyper["batchnorm"] else 0)
            din = units
        total += outputs * din + outputs + 2 * outputs  # head Linear, affine weight/bias
        return total + bn * (2 * net["channels"] + 1)  # main-net BN running stats + eps
    raise ConfigError(f"{show(architecture, 40)} is not a parametric architecture")


_BUFFERS = 2  # the sample-rate buffers of 0.7.4+ (BatchNorm step counters are added per layer)


def build_element_count(architecture: str, net_config: Mapping[str, Any]) -> int:
    """Roughly how many numbers `init_from_config` allocates (parameters, buffers, and the
    scratch activations HyperNet's initialisation computes), without building anything."""
    if architecture == "CatLSTM":
        h, layers = net_config["hidden_size"], net_config.get("num_layers", 1)
        n_in, total = net_config.get("input_size", 1), 0
        for _ in range(layers):
            total += 4 * h * (n_in + h) + 8 * h
            n_in = h
        return total + h + 1 + 2 * layers * h + _BUFFERS
    if architecture == "CatWaveNet":
        return expected_weight_count(architecture, net_config) + _BUFFERS
    hyper, net = net_config["hyper_net"], net_config["net"]
    numels, _ = _hyper_main_numels(net)
    outputs = sum(numels)
    main = sum(numels) + 3 * net["channels"] * len(net["dilations"])  # module params + BN stats
    hyper_params = expected_weight_count(architecture, net_config)
    # norm0: the hypernet runs on (10000, num_inputs) random inputs; activations of every
    # block and of the head are alive at once, and std() makes one more of the output.
    scratch = HYPER_NET_NORM_BATCH * (hyper["num_inputs"] + 2 * hyper["num_layers"] * hyper["num_units"] + 3 * outputs)
    return main + hyper_params + scratch + _BUFFERS + hyper["num_layers"] + len(net["dilations"])


def check_knob_count(architecture: str, net_config: Mapping[str, Any], knobs: int, path: str = "config") -> None:
    """Cat* models take 1 + knobs inputs: the first array's input_size and every
    condition_size (CatWaveNet), or input_size (CatLSTM). ConfigError otherwise."""
    want = 1 + knobs
    if architecture == "CatLSTM":
        if net_config.get("input_size", 1) != want:
            raise ConfigError(
                f"{jpath(path, 'input_size')}: {net_config.get('input_size', 1)} must be 1 + the {knobs} knob(s) = {want}"
            )
    elif architecture == "CatWaveNet":
        layers = net_config["layers_configs"]
        if layers[0]["input_size"] != want:
            raise ConfigError(
                f"{path}.layers[0].input_size: {layers[0]['input_size']} must be 1 + the {knobs} knob(s) = {want}"
            )
        for i, lc in enumerate(layers):
            if lc["condition_size"] != want:
                raise ConfigError(
                    f"{path}.layers[{i}].condition_size: {lc['condition_size']} must be 1 + the {knobs} knob(s) = {want}"
                )


# --- export configs → constructor configs ---------------------------------------------------

_EXPORT_KEYS = {
    "CatLSTM": ("input_size", "hidden_size", "num_layers", "parametric"),
    "CatWaveNet": ("layers", "head", "head_scale", "parametric"),
    "HyperConvNet": ("hyper_net", "net"),
}
_EXPORT_LAYER_KEYS = _LAYER_KEYS + _LAYER_OPTIONAL
_EXPORT_HEAD_KEYS = ("channels", "activation", "num_layers", "out_channels")


def translate_export_config(
    architecture: str, config: Any, path: str = "config", warnings: Optional[List[str]] = None
) -> Tuple[Dict[str, Any], Optional[Dict[str, Dict[str, Any]]]]:
    """(constructor config, param config) from the "config" an export stored.

    CatLSTM keeps {input_size, hidden_size, num_layers}; CatWaveNet's layers/head/
    head_scale become layers_configs/head_config/head_scale (the exported head lacks
    in_channels, which is the last array's head_size); HyperConvNet's hyper_net.input_dim
    becomes num_inputs. Cat* configs must carry "parametric" (the param config, file order
    kept) and the knob count must match the input sizes. Everything is validated
    (`validate_net_config`); keys no release wrote only warn and are dropped.
    """
    if architecture not in _EXPORT_KEYS:
        raise ConfigError(f"{show(architecture, 40)} is not a parametric architecture ({', '.join(ARCHITECTURES)})")
    config = _obj(config, path)
    keys = _EXPORT_KEYS[architecture]
    for key in keys:
        _required(config, key, path)
    _unknown_keys(config, keys, path, warnings, "no release wrote it")
    if architecture == "HyperConvNet":
        hp = jpath(path, "hyper_net")
        hyper = _obj(config["hyper_net"], hp)
        known = ("input_dim", "num_layers", "num_units", "batchnorm")
        for key in known:
            _required(hyper, key, hp)
        _unknown_keys(hyper, known, hp, warnings, "no release wrote it")
        _int(hyper, "input_dim", hp, hi=MAX_KNOBS)
        net = _obj(config["net"], jpath(path, "net"))
        known_net = ("channels", "dilations", "batchnorm", "activation")
        for key in known_net:
            _required(net, key, jpath(path, "net"))
        _unknown_keys(net, known_net, jpath(path, "net"), warnings, "no release wrote it")
        translated = {
            "hyper_net": {"num_inputs": hyper["input_dim"], **{k: hyper[k] for k in known[1:]}},
            "net": {k: net[k] for k in known_net},
        }
        return validate_net_config(architecture, translated, path, warnings), None
    param_config = config["parametric"]
    pp = jpath(path, "parametric")
    knobs = validate_param_config(param_config, pp, warnings)
    if architecture == "CatLSTM":
        net_config = {k: config[k] for k in ("input_size", "hidden_size", "num_layers")}
        net_config = validate_net_config(architecture, net_config, path, warnings)
    else:
        layers = config["layers"]
        _expect(isinstance(layers, list), jpath(path, "layers"), "an array of layer-array configs", layers)
        cleaned = []
        for i, lc in enumerate(layers):
            lp = jpath(jpath(path, "layers"), i)
            lc = _obj(lc, lp)
            for key in _EXPORT_LAYER_KEYS:
                _required(lc, key, lp)
            _unknown_keys(lc, _EXPORT_LAYER_KEYS, lp, warnings, "no release wrote it")
            cleaned.append({k: lc[k] for k in _EXPORT_LAYER_KEYS})
        head = config["head"]
        if head is not None:
            hp = jpath(path, "head")
            head = _obj(head, hp)
            _unknown_keys(head, _EXPORT_HEAD_KEYS + ("in_channels",), hp, warnings, "no release wrote it")
            last = cleaned[-1]["head_size"] if cleaned else None
            head = {"in_channels": head.get("in_channels", last), **{k: head[k] for k in _EXPORT_HEAD_KEYS if k in head}}
        net_config = {"layers_configs": cleaned, "head_config": head, "head_scale": config["head_scale"]}
        net_config = validate_net_config(
            architecture, net_config, path, warnings, aliases={"layers_configs": "layers", "head_config": "head"}
        )
    check_knob_count(architecture, net_config, len(knobs), path)
    return net_config, dict(param_config)


# --- model, data and learning configs ------------------------------------------------------


@dataclass
class ModelConfigInfo:
    architecture: str
    net_config: Dict[str, Any]  # validated constructor config
    config: Dict[str, Any]  # the whole model config as given
    warnings: List[str] = field(default_factory=list)


def validate_model_config(config: Any, warnings: Optional[List[str]] = None) -> ModelConfigInfo:
    """`{"net": {"name", "config"}, "loss", "optimizer", "lr_scheduler"}` of a parametric model.

    `optimizer` and `lr_scheduler` are required (upstream: KeyError), `loss` is optional.
    The net config is validated as a constructor config (sizes included).
    """
    warnings = [] if warnings is None else warnings
    config = _obj(config, "model config")
    net = _obj(_required(config, "net", ""), "net")
    name = _required(net, "name", "net")
    _expect(isinstance(name, str), "net.name", "an architecture name", name)
    if name not in ARCHITECTURES:
        raise ConfigError(f"net.name: {show(name, 40)} is not a parametric model ({', '.join(ARCHITECTURES)})")
    net_config = validate_net_config(name, _required(net, "config", "net"), "net.config", warnings)
    if "loss" in config:
        loss = _obj(config["loss"], "loss")
        for key in ("mask_first",):
            if key in loss:
                _expect(is_int(loss[key]) and loss[key] >= 0, jpath("loss", key), "a non-negative integer", loss[key])
        if "val_loss" in loss:
            _expect(isinstance(loss["val_loss"], str), "loss.val_loss", "a string", loss["val_loss"])
        for key, value in loss.items():
            if key not in ("mask_first", "val_loss", "fourier") and not key.startswith("_") and value is not None:
                _expect(is_finite_number(value), jpath("loss", key), "a finite number or null", value)
    optimizer = _obj(_required(config, "optimizer", ""), "optimizer")
    if "lr" in optimizer:
        _expect(is_finite_number(optimizer["lr"]) and optimizer["lr"] > 0, "optimizer.lr", "a positive number", optimizer["lr"])
    scheduler = _obj(_required(config, "lr_scheduler", ""), "lr_scheduler")
    _expect(isinstance(_required(scheduler, "class", "lr_scheduler"), str), "lr_scheduler.class", "a class name", scheduler["class"])
    if "kwargs" in scheduler:
        _obj(scheduler["kwargs"], "lr_scheduler.kwargs")
    if "checkpoint_path" in config:
        _expect(isinstance(config["checkpoint_path"], str), "checkpoint_path", "a path", config["checkpoint_path"])
    _unknown_keys(config, ("net", "loss", "optimizer", "lr_scheduler", "checkpoint_path"), "", warnings, "not read by Model")
    return ModelConfigInfo(name, net_config, dict(config), warnings)


@dataclass
class DataConfigInfo:
    parametric: bool
    knob_names: Tuple[str, ...]  # sorted (the model's input order); () if not parametric
    slices: Dict[str, int]  # split → number of slices
    config: Dict[str, Any]
    notes: List[str] = field(default_factory=list)  # release facts (keys that came or went)
    warnings: List[str] = field(default_factory=list)


_DATASET_KEYS = {
    "x_path", "y_path", "nx", "ny", "start", "stop", "delay", "delay_interpolation_method", "y_scale",
    "y_preroll", "input_gain", "rate", "sample_rate", "require_input_pre_silence", "slices",
}
_SLICE_KEYS = ("start", "stop", "params", "delay")


def _dataset(cfg: Mapping, path: str, parametric: bool, names: List, warnings: List[str]) -> int:
    for key in ("x_path", "y_path"):
        _expect(isinstance(_required(cfg, key, path), str), jpath(path, key), "a file path", cfg[key])
    if "ny" not in cfg:
        raise ConfigError(f"{jpath(path, 'ny')}: missing")
    for key in ("nx", "ny"):
        if key in cfg and not (key == "ny" and cfg[key] is None):
            _int(cfg, key, path, hi=1 << 40)
    for key in ("start", "stop", "y_preroll"):
        if cfg.get(key) is not None:
            _expect(is_int(cfg[key]), jpath(path, key), "an integer or null", cfg[key])
    for key in ("delay", "y_scale", "input_gain", "rate", "sample_rate", "require_input_pre_silence"):
        if cfg.get(key) is not None:
            _expect(is_finite_number(cfg[key]), jpath(path, key), "a finite number or null", cfg[key])
    if "delay_interpolation_method" in cfg:
        _expect(cfg["delay_interpolation_method"] in ("linear", "cubic"), jpath(path, "delay_interpolation_method"),
                '"linear" or "cubic"', cfg["delay_interpolation_method"])
    _unknown_keys(cfg, _DATASET_KEYS, path, warnings, "not read by Dataset")
    if not parametric:
        if "slices" in cfg:
            warnings.append(f"{jpath(path, 'slices')}: ignored, the data config is not parametric")
        return 0
    slices = _required(cfg, "slices", path)  # the form without slices never worked (TypeError)
    sp = jpath(path, "slices")
    _expect(isinstance(slices, list) and len(slices) > 0, sp, "a non-empty array of slices", slices)
    for i, s in enumerate(slices):
        p = jpath(sp, i)
        s = _obj(s, p)
        for key in ("start", "stop"):
            value = _required(s, key, p)
            _expect(value is None or is_int(value), jpath(p, key), "an integer", value)
        if "delay" in s:
            _expect(is_finite_number(s["delay"]), jpath(p, "delay"), "a finite number", s["delay"])
        _unknown_keys(s, _SLICE_KEYS, p, warnings, "slices only read start, stop, params, delay")
        params = _obj(_required(s, "params", p), jpath(p, "params"))
        for name, value in params.items():
            vp = jpath(jpath(p, "params"), name)
            _expect(isinstance(value, bool) or is_finite_number(value), vp, "a number or a boolean", value)
        keys = tuple(sorted(params))
        if not names:
            names.append((keys, p))
        elif keys != names[0][0]:
            first, where = names[0]
            missing = sorted(set(first) - set(keys))
            extra = sorted(set(keys) - set(first))
            detail = "; ".join(
                x for x in (f"lacks {', '.join(map(show, missing))}" if missing else "",
                            f"adds {', '.join(map(show, extra))}" if extra else "") if x
            )
            raise ConfigError(f"{jpath(p, 'params')}: knob names differ from {where}.params ({detail})")
    return len(slices)


def validate_data_config(config: Any, warnings: Optional[List[str]] = None) -> DataConfigInfo:
    """`{"train", "validation", ["common"], "parametric": true | "type": "parametric"}`.

    Each split is a dataset config or a list of them, merged over `common`. A parametric
    one must use `slices` (the only form that ever loaded), and every slice of every split
    must name the same knobs (what ConcatDataset enforced within a split, and what one
    model needs across splits).
    """
    warnings = [] if warnings is None else warnings
    notes: List[str] = []
    config = _obj(config, "data config")
    if "parametric" in config:
        flag = config["parametric"]
        _expect(isinstance(flag, bool), "parametric", "true or false", flag)
        parametric = flag
        notes.append('"parametric" key: 0.3.0-0.7.3 (deprecated in 0.7.4, still read)')
        if "type" in config:
            warnings.append('"type" is ignored when "parametric" is present')
    else:
        kind = config.get("type", "dataset")
        _expect(isinstance(kind, str), "type", "a dataset type name", kind)
        if kind not in ("dataset", "parametric"):
            raise ConfigError(f'type: unknown dataset type {show(kind, 40)} ("dataset" or "parametric")')
        parametric = kind == "parametric"
        if "type" in config:
            notes.append('"type" key: 0.7.4 and ae86979 only')
    common = config.get("common", {})
    _obj(common, "common")
    names: List = []
    counts: Dict[str, int] = {}
    for split in ("train", "validation"):
        value = _required(config, split, "")
        members = value if isinstance(value, list) else [value]
        _expect(isinstance(value, (list, Mapping)), split, "a dataset config or an array of them", value)
        count = 0
        for i, member in enumerate(members):
            p = jpath(split, i) if isinstance(value, list) else split
            member = _obj(member, p)
            count += _dataset({**common, **member}, p, parametric, names, warnings)
        counts[split] = count
    _unknown_keys(config, ("train", "validation", "common", "parametric", "type"), "", warnings, "not read by init_dataset")
    if parametric and any(
        "delay" in s
        for split in ("train", "validation")
        for member in (config[split] if isinstance(config[split], list) else [config[split]])
        for s in {**common, **member}["slices"]
    ):
        notes.append("per-slice delay: 0.5.0+ (ignored before)")
    knob_names = names[0][0] if names else ()
    return DataConfigInfo(parametric, knob_names, counts, dict(config), notes, warnings)


@dataclass
class LearningConfigInfo:
    config: Dict[str, Any]
    notes: List[str] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)


def validate_learning_config(config: Any, warnings: Optional[List[str]] = None) -> LearningConfigInfo:
    """`{"train_dataloader", "val_dataloader", "trainer", ["trainer_fit_kwargs"]}` (all objects)."""
    warnings = [] if warnings is None else warnings
    notes: List[str] = []
    config = _obj(config, "learning config")
    for key in ("train_dataloader", "val_dataloader", "trainer"):
        _obj(_required(config, key, ""), key)
    if "trainer_fit_kwargs" in config:
        _obj(config["trainer_fit_kwargs"], "trainer_fit_kwargs")
    for loader in ("train_dataloader", "val_dataloader"):
        dl = config[loader]
        if "batch_size" in dl:
            _int(dl, "batch_size", loader, hi=1 << 30)
        if "num_workers" in dl:
            _int(dl, "num_workers", loader, lo=0, hi=1024)
        for key in ("shuffle", "pin_memory", "drop_last"):
            if key in dl:
                _bool(dl, key, loader)
    trainer = config["trainer"]
    for key in ("max_epochs", "max_steps"):
        if key in trainer and trainer[key] is not None:
            _int(trainer, key, "trainer", lo=-1, hi=1 << 40)
    if "val_check_interval" in trainer:
        v = trainer["val_check_interval"]
        _expect(is_finite_number(v) and v > 0, "trainer.val_check_interval", "a positive number", v)
    if "gpus" in trainer:
        notes.append('trainer.gpus: PyTorch Lightning < 2.0 only (the configs of 0.3.0-0.6.0)')
    if "accelerator" in trainer:
        notes.append("trainer.accelerator/devices: the configs of 0.7.0+")
    _unknown_keys(config, ("train_dataloader", "val_dataloader", "trainer", "trainer_fit_kwargs"), "", warnings,
                  "not read by bin/train")
    return LearningConfigInfo(dict(config), notes, warnings)


# --- which config is it ------------------------------------------------------------------------


def config_kind(config: Any) -> str:
    """"model", "data", "learning" or "param", from the keys alone (ConfigError if none fits)."""
    if not isinstance(config, Mapping):
        raise ConfigError(f"a config is a JSON object, this is {json_type(config)}")
    keys = {k for k in config if not (isinstance(k, str) and k.startswith("_"))}
    if "net" in keys:
        return "model"
    if keys & {"train", "validation"}:
        return "data"
    if keys & {"train_dataloader", "val_dataloader", "trainer"}:
        return "learning"
    if {"weights", "architecture"} <= keys:
        raise ConfigError("this is a .nam model file, not a config")
    if {"version", "architecture", "config"} <= keys:
        raise ConfigError("this is the config.json of an export folder: open the folder instead")
    if keys and all(isinstance(config[k], Mapping) and "type" in config[k] for k in keys):
        return "param"
    raise ConfigError(
        "cannot tell which config this is: expected a model config (net), data config (train/validation), "
        "learning config (trainer) or param config ({name: {type, default_value}})"
    )


def read_config(source: Union[str, os.PathLike, Mapping[str, Any]]) -> Tuple[str, Dict[str, Any]]:
    """(kind, config) of a config given as a dict or a JSON file, validated for its kind.

    kind is "model", "data", "learning" or "param"; config is the JSON object itself (a
    private copy of a dict argument). Problems raise `ConfigError` (JSON path first),
    unreadable files `FileAccessError`/`UnsafeFileError`, broken JSON `CorruptFileError`.
    """
    if isinstance(source, Mapping):
        try:
            config = load_json(json.dumps(source, allow_nan=True), "config")
        except (TypeError, ValueError, RecursionError):
            raise ConfigError("the config is not JSON-serialisable data") from None
    elif isinstance(source, (str, os.PathLike)):
        name = Path(source).name
        config = load_json(read_file_bytes(source, MAX_CONFIG_BYTES, "config"), name)
    else:
        raise ConfigError(f"a config is a JSON object or the path of one, not {json_type(source)}")
    kind = config_kind(config)
    if kind == "model":
        validate_model_config(config)
    elif kind == "data":
        validate_data_config(config)
    elif kind == "learning":
        validate_learning_config(config)
    else:
        validate_param_config(config)
    return kind, config
