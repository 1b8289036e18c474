"""C++ header reader: every genuine header (CatLSTM 0.4.0+, CatWaveNet, HyperConvNet of every
release), compared with the .nam / export folder of the same model; then broken headers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from compat.errors import ConfigError, CorruptFileError, LegacyError, UnknownFormatError, WeightsMismatchError
from compat.formats.configs import expected_weight_count
from compat.formats.cpp_header import parse_parametric_block, read_cpp_header
from compat.formats.export_dir import read_export_dir
from compat.formats.nam_file import read_nam
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
