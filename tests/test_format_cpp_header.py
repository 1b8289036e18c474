"""C++ header reader: every genuine header (CatLSTM 0.4.0+, CatWaveNet, HyperConvNet of every
release), compared with the .nam / export folder of the same model; then broken headers."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import compat
from compat.errors import ConfigError, CorruptFileError, LegacyError, UnknownFormatError, WeightsMismatchError
from compat.formats.configs import expected_weight_count
from compat.formats.cpp_header import parse_parametric_block, read_cpp_header
from compat.formats.export_dir import read_export_dir
from compat.formats.nam_file import read_nam
from compat.formats.number_text import parse_run
from compat.sniff import sniff_bytes
from nam_legacy.models.parametric.catnets import CatLSTM, CatWaveNet
from nam_legacy.models.parametric.hyper_net import HyperConvNet
from nam_legacy.models.parametric.params import Param
from nam_legacy.releases import get_release, use_release

FIXTURES = Path(__file__).parent / "fixtures"
HEADERS = sorted(FIXTURES.glob("*/*/export*/model.h"))
CLASSES = {"CatLSTM": CatLSTM, "CatWaveNet": CatWaveNet, "HyperConvNet": HyperConvNet}


def _id(path: Path) -> str:
    return f"{path.parent.parent.parent.name}/{path.parent.parent.name}"


def test_fixture_inventory():
    ids = {_id(p) for p in HEADERS}
    assert "0.3.0/catlstm" not in ids  # 0.3.0 raised NotImplementedError for CatLSTM headers
    assert len(HEADERS) == 30


@pytest.mark.parametrize("path", HEADERS, ids=_id)
def test_genuine_header(path):
    case = path.parent.parent
    meta = json.loads((case / "meta.json").read_text())
    release = get_release(meta["release"])
    raw = read_cpp_header(path)
    assert raw.format == "cpp_header"
    assert raw.releases.first.version <= release.version <= raw.releases.last.version
    assert raw.warnings == []
    assert len(raw.weights) == expected_weight_count(raw.architecture, raw.net_config)
    # the same model's other export: same config, same knobs, same numbers
    other = read_nam(path.parent / "model.nam") if (path.parent / "model.nam").exists() else read_export_dir(path.parent)
    assert raw.architecture == other.architecture
    assert raw.net_config == other.net_config
    assert raw.param_config == other.param_config
    assert str(raw.releases) == str(other.releases)
    assert np.array_equal(raw.weights, other.weights.astype(np.float32).astype(np.float64))
    if raw.architecture == "HyperConvNet":
        assert raw.param_config is None and raw.file_version == release.package_version
    else:
        params = json.loads((case / "params.json").read_text())
        assert list(raw.param_config.items()) == list(params.items())
        assert raw.file_version == (release.nam_file_version or release.package_version)
    with use_release(release), torch.random.fork_rng(devices=[]):
        model = CLASSES[raw.architecture].init_from_config(json.loads(json.dumps(raw.net_config)))
    if raw.architecture != "CatLSTM":
        assert len(model._export_weights()) == len(raw.weights)


def test_text_bytes_and_path_inputs():
    path = FIXTURES / "0.7.4/catwavenet/export_patched/model.h"
    a, b, c = read_cpp_header(path), read_cpp_header(path.read_bytes()), read_cpp_header(path.read_text())
    assert np.array_equal(a.weights, b.weights) and np.array_equal(a.weights, c.weights)
    crlf = read_cpp_header(path.read_text().replace("\n", "\r\n").encode())
    assert np.array_equal(a.weights, crlf.weights) and crlf.param_config == a.param_config


# --- headers our own exporters write for corner cases --------------------------------------


def test_zero_knob_catlstm_header(tmp_path):
    """Empty PARAMETRIC block `{ }` (a CatLSTM with no knobs; exportable in 0.5.0)."""
    with use_release("0.5.0"):
        model = CatLSTM.init_from_config({"input_size": 1, "hidden_size": 2, "num_layers": 1})
        model.export_cpp_header(tmp_path / "m.h", {})
    raw = read_cpp_header(tmp_path / "m.h")
    assert raw.param_config == {} and str(raw.releases) == "0.5.0"
    assert raw.net_config == {"input_size": 1, "hidden_size": 2, "num_layers": 1}


def test_hyperconvnet_without_dilated_layers(tmp_path):
    """No dilated layer: the export names the Flatten as activation and says 1 channel."""
    with use_release("0.7.4"):
        model = HyperConvNet.init_from_config({
            "hyper_net": {"num_inputs": 2, "num_layers": 1, "num_units": 3, "batchnorm": True},
            "net": {"channels": 3, "dilations": [], "batchnorm": True, "activation": "Tanh"},
        })
        model.export_cpp_header(tmp_path / "h.h")
        model.export(tmp_path)
    header, folder = read_cpp_header(tmp_path / "h.h"), read_export_dir(tmp_path)
    assert header.net_config == folder.net_config
    assert header.net_config["net"] == {"channels": 1, "dilations": [], "batchnorm": False, "activation": "Flatten"}
    assert folder.warnings == []  # float64 weights, as the release wrote
    with use_release("0.7.4"):
        rebuilt = HyperConvNet.init_from_config(header.net_config)
    assert len(rebuilt._export_weights()) == len(header.weights)


@pytest.mark.parametrize("release", ["0.4.0", "0.5.0"])
def test_generated_catwavenet_headers_roundtrip(tmp_path, release):
    config = {
        "layers_configs": [
            {"input_size": 3, "condition_size": 3, "head_size": 3, "channels": 5, "kernel_size": 2,
             "dilations": [1, 3, 9], "activation": "ReLU", "gated": False, "head_bias": True},
            {"input_size": 5, "condition_size": 3, "head_size": 1, "channels": 3, "kernel_size": 4,
             "dilations": [2], "activation": "Sigmoid", "gated": True, "head_bias": False},
        ],
        "head_config": None,
        "head_scale": 1e-05,
    }
    params = {"b": {"type": "boolean", "default_value": True}, "a": {"type": "continuous", "default_value": 1,
                                                                     "minval": -1.5, "maxval": 2e-3}}
    with use_release(release), torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        model = CatWaveNet.init_from_config(config)
        model.export_cpp_header(tmp_path / "w.h", {k: Param.init_from_config(dict(v)) for k, v in params.items()})
        weights = model._export_weights()
    raw = read_cpp_header(tmp_path / "w.h")
    assert raw.net_config == config and raw.param_config == params
    assert np.array_equal(raw.weights[np.abs(weights) > 1e-9], weights[np.abs(weights) > 1e-9].astype(np.float64))
    assert any("default 1 is outside" in w for w in raw.warnings)


# --- the PARAMETRIC tokenizer ------------------------------------------------------------------


def _block(text: str):
    return parse_parametric_block([(i, line) for i, line in enumerate(text.split("\n"), 10)])


def test_parametric_literals():
    parsed = _block(
        '{\n "a": {"type": "continuous", "default_value": -1.5e-07, "minval": -inf, "maxval": 1},\n'
        ' "b c": {"type": "boolean", "default_value": False},\n "d": {"x": None, "y": True, "z": nan, "w": ""}\n}'
    )
    assert parsed["a"] == {"type": "continuous", "default_value": -1.5e-07, "minval": -np.inf, "maxval": 1}
    assert parsed["b c"]["default_value"] is False
    assert parsed["d"]["x"] is None and parsed["d"]["y"] is True and np.isnan(parsed["d"]["z"])
    assert _block("{}") == {} and _block("{\n}") == {}


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('{"a": {"type": [1]}}', "line 10: unexpected '[1]"),
        ('{"a": {"type": "x"}', "ends early"),
        ('{"a": {"type": "x"}} 3', "after the PARAMETRIC object"),
        ('{"a": {}, "a": {}}', "twice"),
        ('{"a": {"k": {"deep": 1}}}', "expected a value"),
        ('{"a": 1}', "expected '{'"),
        ("{'a': {}}", "unexpected"),
        ('{"a": {"k": __import__}}', "unexpected"),
        ('{"a" {}}', "expected ':'"),
        ('{"a": {"k": 1,}}', "expected a quoted name"),
        ("{\n\n" + "1" * 500 + "}", "line 12: number too long"),
    ],
)
def test_parametric_errors(text, fragment):
    with pytest.raises(CorruptFileError) as info:
        _block(text)
    assert fragment in str(info.value)


# --- broken headers ------------------------------------------------------------------------------

LSTM_HEADER = (FIXTURES / "0.7.4/catlstm/export/model.h").read_text()
WAVENET_HEADER = (FIXTURES / "0.7.4/catwavenet/export_patched/model.h").read_text()
HYPER_HEADER = (FIXTURES / "0.7.4/hyperconvnet_bn/export/model.h").read_text()


def _raises(exc, text, *fragments):
    with pytest.raises(exc) as info:
        read_cpp_header(text)
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def _lines(text):
    return text.split("\n")


def test_unknown_or_missing_declarations_name_the_line():
    lines = _lines(LSTM_HEADER)
    _raises(CorruptFileError, "\n".join(lines[:7] + ["const int BOGUS = 1;"] + lines[8:]), "line 8", "BOGUS")
    _raises(CorruptFileError, "\n".join(lines[:7] + lines[8:]), "no INPUT_SIZE declaration")
    _raises(CorruptFileError, "\n".join(lines[:3]), "no #define PYTHON_MODEL_VERSION")
    _raises(CorruptFileError, "\n".join(lines[:6]), "no NUM_LAYERS declaration")
    _raises(CorruptFileError, LSTM_HEADER + "int main() {}\n", "main")
    _raises(CorruptFileError, "#pragma once\n// hand-written\n", "PYTHON_MODEL_VERSION")
    _raises(CorruptFileError, "#pragma twice\n", "line 1", "twice")
    _raises(CorruptFileError, "#pragma once\n#ifndef X\n", "line 2", "#ifndef")
    _raises(CorruptFileError, LSTM_HEADER.replace('#include "lstm.h"', '#include "wavenet.h"'), "line 5", "wavenet.h")
    _raises(CorruptFileError, LSTM_HEADER.replace(")\");", ""), "raw string", "not closed")
    _raises(CorruptFileError, LSTM_HEADER.replace("};", "};\nconst int NUM_LAYERS = 2;"), "declared twice")
    _raises(CorruptFileError, LSTM_HEADER.replace("const int NUM_LAYERS", "const long NUM_LAYERS"), "line 7", "long")
    _raises(CorruptFileError, LSTM_HEADER.replace("const int NUM_LAYERS", "const float NUM_LAYERS"), "line 7",
            "declared as float")
    _raises(CorruptFileError, LSTM_HEADER.replace("PARAMS{", "PARAMS{/* open"), "comment is not closed")
    _raises(CorruptFileError, LSTM_HEADER.replace("};", ""), "not closed")
    _raises(CorruptFileError, LSTM_HEADER.replace("#define PYTHON_MODEL_VERSION", "#define VERSION"), "line 6",
            "VERSION")
    _raises(CorruptFileError, "\n".join(lines[:6] + lines[5:]), "line 7", "defined twice")
    _raises(CorruptFileError, LSTM_HEADER.replace("namespace", "") + "namespace m {\n", "namespace")


def test_renamed_includes_and_other_headers_are_harmless():
    """Includes tell nothing about the model: a plugin may keep its own paths."""
    text = LSTM_HEADER.replace('#include "lstm.h"', '#include "NAM/lstm.h"\n#include <string>')
    raw = read_cpp_header(text)
    assert raw.architecture == "CatLSTM" and np.array_equal(raw.weights, read_cpp_header(LSTM_HEADER).weights)


def test_plain_models_are_not_parametric():
    text = LSTM_HEADER.split("nlohmann::json PARAMETRIC")[0] + "nlohmann::json PARAMETRIC {};\n" + \
        LSTM_HEADER.split(")\");\n")[1]
    _raises(UnknownFormatError, text, "not a parametric model", "LSTM")


def test_values():
    _raises(ConfigError, LSTM_HEADER.replace('"default_value": False', '"default_value": None'),
            "PARAMETRIC.bright.default_value")
    _raises(ConfigError, LSTM_HEADER.replace("INPUT_SIZE = 4", "INPUT_SIZE = 3"), "header.input_size", "1 + the 3")
    _raises(WeightsMismatchError, LSTM_HEADER.replace("HIDDEN_SIZE = 8", "HIDDEN_SIZE = 9"), "PARAMS")
    _raises(CorruptFileError, LSTM_HEADER.replace("NUM_LAYERS = 2", "NUM_LAYERS = 2.0"), "line 7", "integer")
    _raises(ConfigError, LSTM_HEADER.replace("NUM_LAYERS = 2", "NUM_LAYERS = 99999999999999999999999"),
            "header.num_layers")
    _raises(CorruptFileError, LSTM_HEADER.replace("NUM_LAYERS = 2", "NUM_LAYERS = 9" + "9" * 30), "line 7")
    _raises(CorruptFileError, LSTM_HEADER.replace("NUM_LAYERS = 2", 'NUM_LAYERS = "2"'), "line 7")
    _raises(CorruptFileError, WAVENET_HEADER.replace("WITH_HEAD = false", "WITH_HEAD = true"), "WITH_HEAD")
    _raises(ConfigError, WAVENET_HEADER.replace('"Tanh", true', '"Transformer", true'), "LAYER_ARRAY_PARAMS[0].activation")
    _raises(CorruptFileError, WAVENET_HEADER.replace("{1, 2}", "{1, x}"), "line 8")
    _raises(CorruptFileError, WAVENET_HEADER.replace("true, false),", "true, false)"), "line 9", "','")
    _raises(CorruptFileError, WAVENET_HEADER.replace('"Tanh", true, false)', '"Tanh", true, false,)'), "line 8")
    _raises(CorruptFileError, HYPER_HEADER.replace("DILATIONS{1,2,4}", "DILATIONS{1,2,4"), "line 12")
    _raises(ConfigError, HYPER_HEADER.replace('"Tanh"', '"Sigmoid"'), "header.net.activation")


def test_weight_literals():
    parts = LSTM_HEADER.split("PARAMS{")
    body = parts[1].split("};")[0].split(", ")
    reference = read_cpp_header(LSTM_HEADER).weights

    def with_weight(text):
        return parts[0] + "PARAMS{" + ", ".join(body[:3] + [text] + body[4:]) + "};\n"

    # every decimal spelling a compiler takes, read as float(digits) then rounded to float32
    for good, value in (("0.5", 0.5), ("1e5f", 1e5), (".25F", 0.25), ("5.", 5.0), ("- 2.5e-1f", -0.25),
                        ("+3", 3.0), ("0", 0.0), ("-0.0f", -0.0), ("1.5e+2", 150.0)):
        raw = read_cpp_header(with_weight(good))
        assert raw.weights[3] == np.float32(value) and np.signbit(raw.weights[3]) == np.signbit(value), good
        assert np.array_equal(np.delete(raw.weights, 3), np.delete(reference, 3))
    for bad, fragment in (("0x1p3f", "hexadecimal"), ("010", "octal"), ("1'000.0", "digit-separated"),
                          ("--1.0f", "--1.0f"), ("0.5ff", "0.5ff"), ("True", "Python boolean"), ("0.5 f", "0.5 f"),
                          ("1.0L", "1.0L"), ('"1"', "string"), ("", "nothing"), ("1.0f 2.0f", "1.0f 2.0f")):
        _raises(CorruptFileError, with_weight(bad), "weight 3", fragment)
    special = parts[0] + "PARAMS{" + ", ".join(["nanf", "-inff", "inff"] + body[3:]) + "};\n"
    raw = read_cpp_header(special)
    assert np.isnan(raw.weights[0]) and raw.weights[1] == -np.inf and raw.weights[2] == np.inf
    hyper = HYPER_HEADER.replace("PARAMS{", "PARAMS{1.0f,", 1)  # a spelling is fine, the count is not
    _raises(WeightsMismatchError, hyper, "PARAMS", "more than")
    _raises(CorruptFileError, HYPER_HEADER.replace("PARAMS{", "PARAMS{1.0,,", 1), "weight 1", "nothing")


def test_version_rules():
    raw = read_cpp_header(LSTM_HEADER.replace('"0.5.2"', '"0.4.0"'))
    assert str(raw.releases) == "0.4.0" and raw.warnings == []
    raw = read_cpp_header(LSTM_HEADER.replace('"0.5.2"', '"0.3.0"'))
    assert str(raw.releases) == "0.4.0..ae86979" and "0.3.0 could not write" in raw.warnings[0]
    raw = read_cpp_header(HYPER_HEADER.replace('"0.7.4"', '"0.7.2"'))
    assert str(raw.releases) == "0.7.2"
    raw = read_cpp_header(HYPER_HEADER.replace('"0.7.4"', '"x"'))
    assert str(raw.releases) == "0.3.0..ae86979" and raw.warnings


def test_misc_failures_are_legacy_errors(tmp_path):
    for data in (b"", b"\xff\xfe", "#", "#pragma once", b"\x00" * 10):
        with pytest.raises(LegacyError):
            read_cpp_header(data)
    path = tmp_path / "x.h"
    path.write_bytes(b"#pragma once\n\xff\n")
    with pytest.raises(CorruptFileError, match="^x.h: .*UTF-8"):
        read_cpp_header(path)


# --- reformatted headers: what a plugin's source tree does to them ---------------------------------
#
# Our own reformatter, written from the exporters' layout (upstream-facts §3.3), not from the
# reader: it splits a genuine header into its statements and prints them again the way
# clang-format and hand edits do. Every reformatted header must give the same RawModel and
# the same loaded model, bit for bit, as the genuine one.


def _statements(text: str):
    """A genuine header → [(kind, text)]: "pp", "comment", "parametric" (the whole block),
    "layers" (the element lines), "params" (the numbers), "decl" (one line)."""
    lines, out, i = text.split("\n"), [], 0
    while i < len(lines):
        line = lines[i]
        if not line:
            pass
        elif line.startswith("#"):
            out.append(("pp", line))
        elif line.startswith("//"):
            out.append(("comment", line))
        elif line.startswith("nlohmann::json PARAMETRIC = "):
            j = lines.index(')");', i)
            out.append(("parametric", "\n".join(lines[i:j + 1])))
            i = j
        elif line.startswith("const std::vector<wavenet::LayerArrayParams> LAYER_ARRAY_PARAMS{"):
            j = lines.index("};", i)
            out.append(("layers", [item.strip().rstrip(",") for item in lines[i + 1:j]]))
            i = j
        elif line.startswith("std::vector<float> PARAMS{"):
            body = line[len("std::vector<float> PARAMS{"):-2]
            out.append(("params", [w.strip() for w in body.split(",")]))
        else:
            assert line.endswith(";"), line
            out.append(("decl", line))
        i += 1
    return out


def _respell(weight: str, k: int) -> str:
    """The same decimal value, spelled another way a compiler takes (so float() of the
    digits, hence the float32, is unchanged)."""
    suffix = "f" if weight.endswith("f") else ""
    digits = weight[:-1] if suffix else weight
    if not digits.lstrip("-")[:1].isdigit():
        return weight  # nan/inf
    exact = Decimal(digits)
    style = k % 5
    if style == 0:
        text = format(exact, "e")  # 1.54798831790686e-2
    elif style == 1:
        text = str(exact.normalize()) if exact != 0 else digits  # trailing zeros dropped
        if "." not in text and "E" not in text:
            text += ".0"  # keep it a floating literal (C++ reads -0 as the integer 0)
        text = text.replace("E", "e")
    elif style == 2:
        text = digits.lstrip("-").lstrip("0") or "0.0"
        text = ("-" if digits.startswith("-") else "") + text  # .0154798831790686
    elif style == 3:
        text = digits if digits.startswith("-") else "+" + digits
    else:
        text = digits
    return text + ("F" if k % 3 == 0 else "f" if k % 3 == 1 else "")


def _reflow(prefix: str, items, indent: str, width: int = 80, suffix: str = "};", comments: bool = False):
    """clang-format's bin-packing of a braced list."""
    out, line = [prefix], indent
    row = 0
    for n, item in enumerate(items):
        piece = item + ("," if n < len(items) - 1 else suffix)
        if len(line) + len(piece) + 1 > width and line.strip():
            if comments and row % 7 == 3:
                line += "  // row %d" % row
            out.append(line.rstrip())
            line = indent
            row += 1
        line += piece + " "
        if comments and n % 97 == 41 and n < len(items) - 1:
            line += "/* %d */ " % n
    out.append(line.rstrip())
    return "\n".join(out)


def reformat(text: str, *, clang=False, comments=False, crlf=False, tabs=False, initialisers=False,
             numbers=False, namespace=False) -> str:
    items = _statements(text)
    includes = sorted(t for k, t in items if k == "pp" and t.startswith("#include"))
    out = []
    if comments:
        out.append("/*\n * Copyright (c) someone\n * // not a line comment, and not a */ /* nested one\n */")
    first_include = True
    for n, (kind, value) in enumerate(items):
        if kind == "pp" and value.startswith("#include"):
            if clang:
                if first_include:
                    out.extend(["", *includes, ""])  # clang-format: "json.hpp" before <vector>
                first_include = False
                continue
            out.append(value)
        elif kind in ("pp", "comment"):
            out.append(value)
            if comments and value.startswith("#pragma"):
                out.append("/* a block comment\n   over two lines */ // and one more")
            if namespace and value.startswith("#define"):
                out.append("namespace nam_model {")
        elif kind == "parametric":
            if initialisers:  # direct-initialisation instead of copy
                value = value.replace("nlohmann::json PARAMETRIC = nlohmann::json::parse(",
                                      "static nlohmann::json PARAMETRIC(nlohmann::json::parse(", 1)
                value = value[:-len(")\");")] + ")\"));"
            out.append(value)
        elif kind == "layers":
            elements = value
            if clang:
                elements = [e.replace("std::vector<int> {", "std::vector<int>{") for e in elements]
            head = "const std::vector<wavenet::LayerArrayParams> LAYER_ARRAY_PARAMS" + (" = {" if initialisers else "{")
            closing = ",};" if initialisers else "};"
            if clang:
                out.append(head)
                for e in elements[:-1]:
                    out.append("    " + e + ",")
                out.append("    " + elements[-1] + closing)
            else:
                out.append(head + " " + ", ".join(elements) + closing)
        elif kind == "params":
            weights = [_respell(w, k) for k, w in enumerate(value)] if numbers else value
            head = "std::vector<float> PARAMS" + (" = {" if initialisers else "{")
            closing = ",};" if initialisers else "};"
            if clang:
                out.append(_reflow(head, weights, "    ", suffix=closing, comments=comments))
            else:
                out.append(head + ", ".join(weights) + closing)
        else:  # one-line declarations
            decl = value
            if clang:
                decl = re.sub(r"\{(\d+),(\d+)", lambda m: "{" + m.group(1) + ", " + m.group(2), decl)
                decl = decl.replace(",", ", ").replace(",  ", ", ")
            if initialisers:
                name, _, rest = decl.partition(" = ")
                if rest and n % 2 == 0:
                    decl = "static " + name.replace("const ", "constexpr ", 1) + "{" + rest[:-1] + "};"
                elif rest:
                    decl = name.replace("const int", "int const") + " = {" + rest[:-1] + ",};"
                elif "{" in decl:
                    decl = decl.replace("{", " = {", 1).replace("};", ",};")
            if comments:
                decl += "  // " + decl[:12]
            out.append(decl)
    if namespace:
        out.append("}  // namespace nam_model")
    result = "\n".join(out) + "\n"
    if tabs:
        result = "\n".join(re.sub(r"^(    )+", lambda m: "\t" * (len(m.group()) // 4), line)
                           for line in result.split("\n"))
        result = result.replace(" = ", "\t=\t")
    if crlf:
        result = result.replace("\n", "\r\n")
    return result


STYLES = {
    "clang-format": dict(clang=True),
    "comments": dict(clang=True, comments=True),
    "crlf-tabs": dict(clang=True, crlf=True, tabs=True),
    "initialisers": dict(initialisers=True, namespace=True),
    "numbers": dict(numbers=True),
    "everything": dict(clang=True, comments=True, crlf=True, tabs=True, initialisers=True, numbers=True, namespace=True),
}


def _same_raw(a, b):
    assert a.architecture == b.architecture and a.file_version == b.file_version
    assert a.net_config == b.net_config and json.dumps(a.net_config) == json.dumps(b.net_config)
    assert a.param_config == b.param_config and list((a.param_config or {}).items()) == list((b.param_config or {}).items())
    assert str(a.releases) == str(b.releases) and a.warnings == b.warnings
    assert a.weights.dtype == b.weights.dtype == np.float32
    assert np.array_equal(a.weights.view(np.uint32), b.weights.view(np.uint32))  # bit for bit


@pytest.mark.parametrize("style", sorted(STYLES))
@pytest.mark.parametrize("path", HEADERS, ids=_id)
def test_reformatted_header_reads_the_same(path, style):
    original = path.read_text()
    text = reformat(original, **STYLES[style])
    assert text != original
    genuine = read_cpp_header(path)
    raw = read_cpp_header(text.encode())
    _same_raw(raw, genuine)
    assert "spelled as the exporter printed it" in genuine.releases.evidence[-1]
    if style in ("clang-format", "numbers", "everything"):
        assert "reformatted since export" in raw.releases.evidence[-1]
    assert sniff_bytes(text.encode()) == "cpp_header"


@pytest.mark.parametrize("path", HEADERS, ids=_id)
def test_reformatted_header_loads_the_same_model(path, tmp_path):
    reformatted = tmp_path / "HardCodedModel.h"
    reformatted.write_bytes(reformat(path.read_text(), **STYLES["everything"]).encode())
    a, b = compat.load(path), compat.load(reformatted)
    assert a.architecture == b.architecture and a.net_config == b.net_config and a.knobs == b.knobs
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert list(sa) == list(sb)
    for key in sa:
        assert sa[key].dtype == sb[key].dtype and torch.equal(sa[key], sb[key]), key


def test_the_reformatter_does_what_it_says():
    text = reformat(LSTM_HEADER, **STYLES["everything"])
    lines = text.split("\r\n")
    assert lines[0] == "/*" and "\t" in text and "namespace nam_model {" in lines
    assert [line for line in lines if line.startswith("#include")] == ['#include "json.hpp"', '#include "lstm.h"',
                                                                       "#include <vector>"]
    params = [line for line in lines if line.startswith("\t") and line.rstrip().endswith(",")]
    assert len(params) > 100 and max(len(line.split("//")[0].expandtabs(4)) for line in params) <= 80
    assert "/* 41 */" in text and "// row 3" in text and ",};" in text and "static constexpr int" in text
    numbers = reformat(LSTM_HEADER, numbers=True)
    spelled = numbers.split("PARAMS{")[1]
    assert "e-" in spelled and "F," in spelled and ", +0." in spelled and ", ." in spelled


def _plain(text: str) -> str:
    """A header as the exporters wrote it for a plain (non-parametric) model."""
    start = text.index("nlohmann::json PARAMETRIC = ")
    end = text.index(')");') + len(')");')
    return text[:start] + "nlohmann::json PARAMETRIC {};" + text[end:]


@pytest.mark.parametrize("header", [LSTM_HEADER, WAVENET_HEADER], ids=["lstm", "wavenet"])
def test_plain_headers_in_every_empty_spelling(header):
    plain = _plain(header)
    kind = "LSTM" if "lstm.h" in header else "WaveNet"
    expected = _raises(UnknownFormatError, plain, "not a parametric model", f"a plain {kind} header")
    clang = reformat(plain, clang=True).replace("nlohmann::json PARAMETRIC {};", "nlohmann::json PARAMETRIC{};")
    assert "PARAMETRIC{};" in clang and '#include "json.hpp"\n#include "' in clang
    for spelling in ("PARAMETRIC{};", "PARAMETRIC {};", "PARAMETRIC = {};", "PARAMETRIC;", "PARAMETRIC{ /* none */ };",
                     "PARAMETRIC\n{\n}\n;"):
        text = clang.replace("PARAMETRIC{};", spelling)
        assert _raises(UnknownFormatError, text) == expected
        assert _raises(UnknownFormatError, text.replace("\n", "\r\n").encode()) == expected


# --- PARAMS parsing against the reading it replaces ----------------------------------------------


def _line_reader_weights(text: str) -> np.ndarray:
    """How PARAMS were read before (one line, split on ",", numpy's float64, then float32)."""
    line = next(line for line in text.split("\n") if line.startswith("std::vector<float> PARAMS{"))
    items = [t.strip().rstrip("f") for t in line[len("std::vector<float> PARAMS{"):-2].split(",")]
    return np.array(items, dtype=np.float64).astype(np.float32)


@pytest.mark.parametrize("path", HEADERS, ids=_id)
def test_params_equal_the_line_reader(path):
    raw = read_cpp_header(path)
    assert np.array_equal(raw.weights.view(np.uint32), _line_reader_weights(path.read_text()).view(np.uint32))


@pytest.mark.parametrize("chunk", [1, 3, 7, 64, 4097])
def test_chunk_boundaries_do_not_matter(monkeypatch, chunk):
    from compat.formats import text_stream

    paths = HEADERS[::7] if chunk > 3 else HEADERS[:1]
    texts = [path.read_text() for path in paths] + [reformat(LSTM_HEADER, **STYLES["everything"])]
    expected = [read_cpp_header(t) for t in texts]
    monkeypatch.setattr(text_stream, "CHUNK_CHARS", chunk)
    for text, want in zip(texts, expected):
        _same_raw(read_cpp_header(text.encode()), want)


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(st.lists(st.floats(width=32), min_size=1, max_size=40), st.booleans())
def test_printed_float32_values_come_back(values, suffix):
    """`%.16f` (the exporters' format) of any float32, read back as before: float() of the
    digits, then float32."""
    printed = [format(v, ".16f") for v in values]
    text = ", ".join(p + ("f" if suffix else "") for p in printed)
    want = np.array(printed, dtype=np.float64)
    got = parse_run(text, "cpp")
    assert np.array_equal(got.view(np.uint64), want.view(np.uint64))


decimal_tokens = st.builds(
    lambda sign, whole, frac, exp, suffix: f"{sign}{whole}{frac}{exp}{suffix}",
    st.sampled_from(["", "-", "+"]), st.from_regex(r"[1-9][0-9]{0,30}|0", fullmatch=True),
    st.one_of(st.just(""), st.from_regex(r"\.[0-9]{0,40}", fullmatch=True)),
    st.one_of(st.just(""), st.from_regex(r"[eE][-+]?[0-9]{1,3}", fullmatch=True)),
    st.sampled_from(["", "f", "F"]),
).filter(lambda t: t.rstrip("fF")[-1:].isdigit() or "." in t)


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(st.lists(decimal_tokens, min_size=1, max_size=30))
def test_decimal_spellings_are_pythons_float(tokens):
    tokens = [t for t in tokens if not (t.rstrip("fF") == t.rstrip("fF").lstrip("+-") and t[-1:] in "fF"
                                        and "." not in t and "e" not in t.lower())] or ["0.5"]
    got = parse_run(", ".join(tokens), "cpp")
    want = []
    for t in tokens:
        digits = t.rstrip("fF")
        integer = "." not in digits and "e" not in digits.lower()
        want.append(float(int(digits)) if integer else float(digits))  # C++: an integer literal is an int
    assert np.array_equal(got.view(np.uint64), np.array(want, dtype=np.float64).view(np.uint64))
