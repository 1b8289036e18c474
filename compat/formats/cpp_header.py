"""C++ headers (`export_cpp_header`) of CatLSTM (0.4.0+), CatWaveNet (0.4.0+) and HyperConvNet.

Three fixed line layouts (upstream-facts §3.3); every line must be one the releases wrote
(blank lines and trailing whitespace aside), else `CorruptFileError` names the line:

    #pragma once
    // Automatically-generated model file
    #include <vector>                         | // HyperConvNet model
    #include "json.hpp"                       | #include <vector>
    #include "lstm.h"   | #include "wavenet.h" | #define PYTHON_MODEL_VERSION "0.7.4"
    #define PYTHON_MODEL_VERSION "0.5.2"       | const int HYPER_NET_INPUT_DIM = 3;  (… NUM_LAYERS,
    const int NUM_LAYERS = 2;  | LAYER_ARRAY_PARAMS{ … };   NUM_UNITS, BATCHNORM, CHANNELS,
    const int INPUT_SIZE = 4;  | const float HEAD_SCALE = x; BATCHNORM, DILATIONS{1,2,4},
    const int HIDDEN_SIZE = 8; | const bool WITH_HEAD = false; ACTIVATION)
    nlohmann::json PARAMETRIC = nlohmann::json::parse(R"( … )");
    std::vector<float> PARAMS{0.1234567890123456f, …};  | PARAMS{0.1234567890123456,…};

The PARAMETRIC body is the param config printed with Python's `str()` for non-strings
(`True`/`False`/`None`, `0.5`, `inf`) and unescaped double quotes around strings: it is
parsed by the small tokenizer below (two fixed levels, scalars only), never evaluated.
Weights are `%.16f` text: parsed as float64, then rounded to float32 (what the releases
held; values below ~1e-9 may differ in their last bits, since 16 decimals cannot hold
them).

The version string is the .nam/export version of the model: "0.4.0" (0.4.0), "0.5.0",
"0.5.1" (0.5.1..0.6.0), "0.5.2" (0.7.0..ae86979); HyperConvNet headers carry the
package version (the exact release; "0.7.4" also covers ae86979).
"""

from __future__ import annotations

import os
import re
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

from nam_legacy.releases import RELEASES

from ..detect import ReleaseRange
from ..errors import CorruptFileError, LegacyError, UnknownFormatError, UnsafeFileError
from . import RawModel
from .configs import MAX_WEIGHTS, check_knob_count, decode_text, show, validate_net_config, validate_param_config
from .nam_file import check_count, header_version_releases, named, package_version_releases, source_bytes, span

__all__ = ["parse_cpp_header", "parse_parametric_block", "read_cpp_header"]

Source = Union[str, os.PathLike, bytes, bytearray, memoryview]

_INT = r"(-?\d{1,19})"
_NUM = r"(-?(?:\d{1,400}(?:\.\d{0,400})?(?:[eE][+-]?\d{1,5})?|inf)|nan)"
_BOOL = r"(true|false)"
_STR = r'"([^"\n]*)"'
_WEIGHT = r"-?(?:\d+\.\d+|inf|nan)"


def read_cpp_header(source: Source) -> RawModel:
    """Read a model header (a path, its bytes, or its text) into a `RawModel`.

    A `str` is taken as the header text when it starts with "#" (after whitespace), as a
    path otherwise. Errors are `LegacyError` subclasses with one-line messages.
    """
    name = None
    try:
        if isinstance(source, str) and source.lstrip("\ufeff \t\r\n").startswith("#"):
            text = source
        else:
            data, name = source_bytes(source, "C++ header")
            text = decode_text(data, "the header")
        return parse_cpp_header(text)
    except LegacyError as e:
        raise named(e, name) from None


class _Lines:
    """Non-blank lines with their 1-based numbers; trailing whitespace (and \\r) dropped."""

    def __init__(self, text: str):
        if text.startswith("\ufeff"):
            text = text[1:]
        self._items = [(i, line.rstrip()) for i, line in enumerate(text.split("\n"), 1)]
        self._items = [(i, line) for i, line in self._items if line]
        self._pos = 0

    def peek(self) -> Tuple[int, Optional[str]]:
        if self._pos < len(self._items):
            return self._items[self._pos]
        return (self._items[-1][0] + 1 if self._items else 1), None

    def next(self, what: str) -> Tuple[int, str]:
        number, line = self.peek()
        if line is None:
            raise CorruptFileError(f"line {number}: the header ends early, expected {what}")
        self._pos += 1
        return number, line

    def match(self, pattern: str, what: str) -> Tuple[int, Tuple[str, ...]]:
        number, line = self.next(what)
        m = re.fullmatch(pattern, line, re.ASCII)
        if m is None:
            raise CorruptFileError(f"line {number}: expected {what}, found {show(line, 60)}")
        return number, m.groups()

    def literal(self, text: str) -> int:
        return self.match(re.escape(text), text)[0]


def _int(value: str, number: int) -> int:
    return int(value)  # at most 19 digits by the patterns


def _bool(value: str) -> bool:
    return value == "true"


def _number(text: str, number: int) -> Union[int, float]:
    if re.fullmatch(r"-?[0-9]+", text):
        if len(text) > 4000:
            raise CorruptFileError(f"line {number}: number too long")
        return int(text)
    try:
        return float(text)
    except (ValueError, OverflowError):
        raise CorruptFileError(f"line {number}: {show(text, 30)} is not a number") from None


def parse_cpp_header(text: str) -> RawModel:
    """The `RawModel` of a header's text."""
    lines = _Lines(text)
    if lines.peek()[1] is None:
        raise CorruptFileError("the header is empty")
    lines.literal("#pragma once")
    lines.literal("// Automatically-generated model file")
    _, line = lines.peek()
    if line == "// HyperConvNet model":
        return _hyper(lines)
    lines.literal("#include <vector>")
    lines.literal('#include "json.hpp"')
    number, (include,) = lines.match(r'#include "(lstm|wavenet)\.h"', '#include "lstm.h" or "wavenet.h"')
    _, (version,) = lines.match(r"#define PYTHON_MODEL_VERSION " + _STR, "#define PYTHON_MODEL_VERSION")
    warnings: List[str] = []
    if include == "lstm":
        architecture = "CatLSTM"
        _, (n_layers,) = lines.match(r"const int NUM_LAYERS = " + _INT + ";", "const int NUM_LAYERS = n;")
        _, (n_in,) = lines.match(r"const int INPUT_SIZE = " + _INT + ";", "const int INPUT_SIZE = n;")
        _, (n_hidden,) = lines.match(r"const int HIDDEN_SIZE = " + _INT + ";", "const int HIDDEN_SIZE = n;")
        net_config = {"input_size": int(n_in), "hidden_size": int(n_hidden), "num_layers": int(n_layers)}
        aliases = None
    else:
        architecture = "CatWaveNet"
        net_config = {"layers_configs": _layer_arrays(lines)}
        number, (head_scale,) = lines.match(r"const float HEAD_SCALE = " + _NUM + ";", "const float HEAD_SCALE = x;")
        net_config["head_config"] = None
        net_config["head_scale"] = _number(head_scale, number)
        number, (with_head,) = lines.match(r"const bool WITH_HEAD = " + _BOOL + ";", "const bool WITH_HEAD = false;")
        if with_head == "true":
            raise CorruptFileError(f"line {number}: WITH_HEAD = true, which no release wrote (heads were not exportable)")
        aliases = {"layers_configs": "LAYER_ARRAY_PARAMS", "head_scale": "HEAD_SCALE"}
    param_config = _parametric(lines, include)
    knobs = validate_param_config(param_config, "PARAMETRIC", warnings)
    net_config = validate_net_config(architecture, net_config, "header" if aliases is None else "", warnings, aliases)
    check_knob_count(architecture, net_config, len(knobs), "header")
    weights = _params(lines, suffix="f", separator=", ")
    check_count(architecture, net_config, len(weights), "PARAMS")
    _end(lines)

    evidence = []
    known = header_version_releases(version)
    writers = [r for r in RELEASES if r.lstm_cpp_header and (architecture != "CatWaveNet" or r.has_catwavenet)]
    if known is not None:
        first_r, last_r = known
        evidence.append(f'PYTHON_MODEL_VERSION "{version}" ({span(known)})')
    else:
        first_r, last_r = writers[0], writers[-1]
        why = "0.3.0 could not write this header" if version == "0.3.0" else f"unknown version {show(version, 30)}"
        warnings.append(f"PYTHON_MODEL_VERSION: {why}; assuming {span((first_r, last_r))}")
    if architecture == "CatWaveNet" and first_r.metadata_in_export:
        evidence.append("CatWaveNet header export crashed in 0.5.1+ unless patched (upstream bug)")
    return _raw(architecture, net_config, first_r, last_r, evidence, weights, param_config, version, warnings)


def _raw(architecture, net_config, first, last, evidence, weights, param_config, version, warnings) -> RawModel:
    tiny = int(np.count_nonzero((weights != 0) & (np.abs(weights) < 1e-9)))
    if tiny:
        warnings.append(f"{tiny} weight(s) below 1e-9 may differ in their last bits (the header prints 16 decimals)")
    return RawModel(
        format="cpp_header",
        architecture=architecture,
        net_config=net_config,
        releases=ReleaseRange(first, last, tuple(evidence)),
        weights=weights,
        param_config=param_config,
        file_version=version,
        warnings=warnings,
    )


_LAYER_LINE = (
    r"\s*wavenet::LayerArrayParams\(\s*" + r",\s*".join([_INT] * 5)
    + r",\s*std::vector<int>\s*\{([-\d,\s]*)\},\s*" + _STR + r",\s*" + _BOOL + r",\s*" + _BOOL + r"\s*\)(,?)"
)


def _layer_arrays(lines: _Lines) -> List[Dict[str, Any]]:
    lines.literal("const std::vector<wavenet::LayerArrayParams> LAYER_ARRAY_PARAMS{")
    layers: List[Dict[str, Any]] = []
    comma = True
    while True:
        number, line = lines.peek()
        if line == "};":
            lines.next("};")
            break
        if not comma:
            raise CorruptFileError(f"line {number}: the previous layer array has no trailing ','")
        number, groups = lines.match(_LAYER_LINE, "a wavenet::LayerArrayParams(...) line or '};'")
        *sizes, dilations, activation, gated, head_bias, comma_text = groups
        items = [d.strip() for d in dilations.split(",")] if dilations.strip() else []
        if not all(re.fullmatch(r"-?[0-9]{1,19}", d) for d in items):
            raise CorruptFileError(f"line {number}: dilations {{{show(dilations, 40)}}} are not integers")
        keys = ("input_size", "condition_size", "head_size", "channels", "kernel_size")
        layers.append(
            {
                **{k: int(v) for k, v in zip(keys, sizes)},
                "dilations": [int(d) for d in items],
                "activation": activation,
                "gated": _bool(gated),
                "head_bias": _bool(head_bias),
            }
        )
        comma = comma_text == ","
        if len(layers) > 1024:
            raise CorruptFileError(f"line {number}: more than 1024 layer arrays")
    return layers


def _parametric(lines: _Lines, include: str) -> Dict[str, Dict[str, Any]]:
    number, line = lines.next("the PARAMETRIC block")
    if line == "nlohmann::json PARAMETRIC {};":
        plain = "LSTM" if include == "lstm" else "WaveNet"
        raise UnknownFormatError(f"not a parametric model: a plain {plain} header (PARAMETRIC {{}}) — use current NAM for it")
    if line != 'nlohmann::json PARAMETRIC = nlohmann::json::parse(R"(':
        raise CorruptFileError(f"line {number}: expected the PARAMETRIC block, found {show(line, 60)}")
    body: List[Tuple[int, str]] = []
    while True:
        n, text = lines.next('the end of the PARAMETRIC block, ")");"')
        if text == ')");':
            break
        body.append((n, text))
    return parse_parametric_block(body, number)


# --- the PARAMETRIC body: {"name": {"key": value, ...}, ...} in Python's str() spelling ----------

_TOKEN = re.compile(
    r'\s*(?:(?P<punct>[{}:,])|"(?P<str>[^"\n]*)"|(?P<num>-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|-?inf|nan)'
    r"|(?P<name>True|False|None)|(?P<bad>\S))",
    re.ASCII,
)
_NAMES = {"True": True, "False": False, "None": None}


def _tokens(body: List[Tuple[int, str]]):
    for number, text in body:
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None:  # only trailing whitespace left
                break
            pos = m.end()
            if m.lastgroup == "bad":
                raise CorruptFileError(f"line {number}: unexpected {show(text[m.start('bad'):m.start('bad') + 20], 30)} "
                                       "in PARAMETRIC (only strings, numbers, True/False/None)")
            if m.lastgroup == "num" and len(m.group("num")) > 400:
                raise CorruptFileError(f"line {number}: number too long in PARAMETRIC")
            yield number, m.lastgroup, m.group(m.lastgroup)


def parse_parametric_block(body: List[Tuple[int, str]], start_line: int = 0) -> Dict[str, Dict[str, Any]]:
    """The param config of a PARAMETRIC block's body lines ((line number, text) pairs)."""
    tokens = list(_tokens(body))
    pos = 0
    end_line = body[-1][0] if body else start_line

    def take(kind: str, value: Optional[str] = None) -> Tuple[int, str]:
        nonlocal pos
        if pos >= len(tokens):
            raise CorruptFileError(f"line {end_line}: the PARAMETRIC block ends early")
        number, k, v = tokens[pos]
        if k != kind or (value is not None and v != value):
            want = repr(value) if value is not None else {"str": "a quoted name", "punct": "punctuation"}.get(kind, kind)
            raise CorruptFileError(f"line {number}: expected {want} in PARAMETRIC, found {show(v, 30)}")
        pos += 1
        return number, v

    def at(kind: str, value: str) -> bool:
        return pos < len(tokens) and tokens[pos][1] == kind and tokens[pos][2] == value

    def scalar() -> Any:
        nonlocal pos
        if pos >= len(tokens):
            raise CorruptFileError(f"line {end_line}: the PARAMETRIC block ends early")
        number, kind, value = tokens[pos]
        pos += 1
        if kind == "str":
            return value
        if kind == "name":
            return _NAMES[value]
        if kind == "num":
            return _number(value, number)
        raise CorruptFileError(f"line {number}: expected a value in PARAMETRIC, found {show(value, 30)}")

    def obj(inner: bool) -> Dict[str, Any]:
        take("punct", "{")
        out: Dict[str, Any] = {}
        if at("punct", "}"):
            take("punct", "}")
            return out
        while True:
            number, key = take("str")
            if key in out:
                raise CorruptFileError(f"line {number}: {show(key, 30)} appears twice in PARAMETRIC")
            take("punct", ":")
            out[key] = scalar() if inner else obj(True)
            if len(out) > 4096:
                raise CorruptFileError(f"line {number}: too many entries in PARAMETRIC")
            if at("punct", ","):
                take("punct", ",")
                continue
            take("punct", "}")
            return out

    config = obj(False)
    if pos != len(tokens):
        number, _, value = tokens[pos]
        raise CorruptFileError(f"line {number}: unexpected {show(value, 30)} after the PARAMETRIC object")
    return config


# --- PARAMS ------------------------------------------------------------------------------------


def _params(lines: _Lines, suffix: str, separator: str) -> np.ndarray:
    number, line = lines.next("std::vector<float> PARAMS{...};")
    prefix = "std::vector<float> PARAMS{"
    if not line.startswith(prefix) or not line.endswith("};"):
        raise CorruptFileError(f"line {number}: expected std::vector<float> PARAMS{{...}}; on one line, found {show(line, 60)}")
    body = line[len(prefix):-2]
    if not body.strip():
        return np.zeros(0, dtype=np.float64)
    count = body.count(",") + 1
    if count > MAX_WEIGHTS:
        raise UnsafeFileError(f"line {number}: {count} weights, above the limit of {MAX_WEIGHTS}")
    item = _WEIGHT + re.escape(suffix)
    if re.fullmatch(rf"\s*{item}(?:\s*,\s*{item})*\s*", body, re.ASCII) is None:
        for i, text in enumerate(body.split(",")):
            if re.fullmatch(rf"\s*{item}\s*", text, re.ASCII) is None:
                what = f"a %.16f{suffix} number" if suffix else "a %.16f number"
                raise CorruptFileError(f"line {number}: weight {i} is {show(text.strip(), 30)}, expected {what}")
        raise CorruptFileError(f"line {number}: malformed PARAMS")  # pragma: no cover
    items = body.split(",")
    if suffix:
        items = [t.strip()[: -len(suffix)] for t in items]
    values = np.array(items, dtype=np.float64)
    with np.errstate(over="ignore"):
        return values.astype(np.float32).astype(np.float64)


def _end(lines: _Lines) -> None:
    number, line = lines.peek()
    if line is not None:
        raise CorruptFileError(f"line {number}: unexpected text after PARAMS: {show(line, 60)}")


# --- HyperConvNet ------------------------------------------------------------------------------


def _hyper(lines: _Lines) -> RawModel:
    lines.literal("// HyperConvNet model")
    lines.literal("#include <vector>")
    _, (version,) = lines.match(r"#define PYTHON_MODEL_VERSION " + _STR, "#define PYTHON_MODEL_VERSION")
    values = {}
    for key, typ, pattern in (
        ("HYPER_NET_INPUT_DIM", "int", _INT),
        ("HYPER_NET_NUM_LAYERS", "int", _INT),
        ("HYPER_NET_NUM_UNITS", "int", _INT),
        ("HYPER_NET_BATCHNORM", "int", _BOOL),
        ("CHANNELS", "int", _INT),
        ("BATCHNORM", "bool", _BOOL),
    ):
        _, (value,) = lines.match(rf"const {typ} {key} = {pattern};", f"const {typ} {key} = ...;")
        values[key] = _bool(value) if pattern == _BOOL else int(value)
    number, (dilations,) = lines.match(r"std::vector<int> DILATIONS\{([-\d,\s]*)\};", "std::vector<int> DILATIONS{...};")
    items = [d.strip() for d in dilations.split(",")] if dilations.strip() else []
    if not all(re.fullmatch(r"-?[0-9]{1,19}", d) for d in items):
        raise CorruptFileError(f"line {number}: DILATIONS {{{show(dilations, 40)}}} are not integers")
    if len(items) > 4096:
        raise CorruptFileError(f"line {number}: more than 4096 DILATIONS")
    _, (activation,) = lines.match(r"const std::string ACTIVATION = " + _STR + ";", 'const std::string ACTIVATION = "...";')
    dilation_list = [int(d) for d in items]
    warnings: List[str] = []
    net_config = {
        "hyper_net": {
            "num_inputs": values["HYPER_NET_INPUT_DIM"],
            "num_layers": values["HYPER_NET_NUM_LAYERS"],
            "num_units": values["HYPER_NET_NUM_UNITS"],
            "batchnorm": values["HYPER_NET_BATCHNORM"],
        },
        "net": {
            "channels": values["CHANNELS"],
            "dilations": dilation_list,
            "batchnorm": values["BATCHNORM"],
            "activation": activation,
        },
    }
    net_config = validate_net_config("HyperConvNet", net_config, "header", warnings)
    weights = _params(lines, suffix="", separator=",")
    check_count("HyperConvNet", net_config, len(weights), "PARAMS")
    _end(lines)
    known = package_version_releases(version)
    evidence = []
    if known is not None:
        first, last = known
        evidence.append(f'PYTHON_MODEL_VERSION "{version}" = package version ({span(known)})')
    else:
        first, last = RELEASES[0], RELEASES[-1]
        warnings.append(f"PYTHON_MODEL_VERSION: unknown version {show(version, 30)}; assuming {span((first, last))}")
    return _raw("HyperConvNet", net_config, first, last, evidence, weights, None, version, warnings)
