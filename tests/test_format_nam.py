""".nam reader: every genuine .nam of every release, then hand-made malformed files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from compat.errors import (
    ConfigError,
    CorruptFileError,
    FileAccessError,
    LegacyError,
    UnknownFormatError,
    UnsafeFileError,
    UnsupportedReleaseError,
    WeightsMismatchError,
)
from compat.formats import RawModel, nam_file
from compat.formats.configs import expected_weight_count
from compat.formats.nam_file import read_nam
from compat.formats.number_text import BadNumber, parse_run
from nam_legacy.models.parametric.catnets import CatLSTM, CatWaveNet
from nam_legacy.releases import get_release, use_release

FIXTURES = Path(__file__).parent / "fixtures"
CLASSES = {"catlstm": CatLSTM, "catwavenet": CatWaveNet}
NAM_FILES = sorted(FIXTURES.glob("*/*/export*/model.nam"))


def _case(path: Path):
    case = path.parent.parent
    meta = json.loads((case / "meta.json").read_text())
    params = json.loads((case / "params.json").read_text())
    return case, meta, params


def _build(raw: RawModel, release):
    cls = CLASSES[raw.architecture.lower()]
    with use_release(release), torch.random.fork_rng(devices=[]):
        return cls.init_from_config(json.loads(json.dumps(raw.net_config)))


def test_every_release_has_nam_fixtures():
    releases = {p.parent.parent.parent.name for p in NAM_FILES}
    assert releases == {"0.5.0", "0.5.1", "0.5.2", "0.6.0", "0.7.0", "0.7.4"}
    assert len(NAM_FILES) == 12


@pytest.mark.parametrize("path", NAM_FILES, ids=lambda p: f"{p.parent.parent.parent.name}/{p.parent.parent.name}")
def test_genuine_nam(path):
    case, meta, params = _case(path)
    release = get_release(meta["release"])
    raw = read_nam(path)
    assert raw.format == "nam"
    assert raw.architecture == CLASSES[case.name].__name__
    assert raw.releases.first.version <= release.version <= raw.releases.last.version
    assert raw.file_version == release.nam_file_version
    assert raw.warnings == []
    # param config exactly as the file lists it (caller order, not sorted)
    assert raw.param_config == params and list(raw.param_config) == list(params) == ["tone", "drive", "bright"]
    assert raw.weights.dtype == np.float32 and raw.weights.ndim == 1  # streamed into one float32 array
    assert len(raw.weights) == expected_weight_count(raw.architecture, raw.net_config)
    doc = json.loads(path.read_text())
    assert raw.weights.tolist() == doc["weights"]
    assert raw.sample_rate is None
    assert bool(raw.metadata) == release.metadata_in_export
    if raw.metadata:
        assert raw.metadata["loudness"] == doc["metadata"]["loudness"]
    # the constructor config builds under the file's release and at both ends of its range
    for r in {release, raw.releases.first, raw.releases.last}:
        model = _build(raw, r)
        assert isinstance(model, CLASSES[case.name])
        if raw.architecture == "CatWaveNet":
            assert len(model._export_weights()) == len(raw.weights)


def test_release_ranges():
    expected = {"0.5.0": "0.5.0", "0.5.1": "0.5.1..0.6.0", "0.5.2": "0.5.1..0.6.0", "0.6.0": "0.5.1..0.6.0",
                "0.7.0": "0.7.0..ae86979", "0.7.4": "0.7.0..ae86979"}
    for path in NAM_FILES:
        assert str(read_nam(path).releases) == expected[path.parent.parent.parent.name]


def test_bytes_and_str_paths():
    path = FIXTURES / "0.7.4/catlstm/export/model.nam"
    a, b, c = read_nam(path), read_nam(str(path)), read_nam(path.read_bytes())
    assert np.array_equal(a.weights, b.weights) and np.array_equal(a.weights, c.weights)
    assert a.net_config == b.net_config == c.net_config == {"input_size": 4, "hidden_size": 8, "num_layers": 2}


def test_catwavenet_translation():
    raw = read_nam(FIXTURES / "0.5.0/catwavenet/export/model.nam")
    assert list(raw.net_config) == ["layers_configs", "head_config", "head_scale"]
    assert raw.net_config["head_config"] is None and raw.net_config["head_scale"] == 0.02
    assert raw.net_config["layers_configs"][0] == {
        "input_size": 4, "condition_size": 4, "head_size": 2, "channels": 4, "kernel_size": 3,
        "dilations": [1, 2], "activation": "Tanh", "gated": True, "head_bias": False,
    }


# --- hand-made variants -----------------------------------------------------------------------


def _doc(release="0.7.4", case="catlstm"):
    sub = "export" if case == "catlstm" or release in ("0.5.0",) else "export_patched"
    return json.loads((FIXTURES / release / case / sub / "model.nam").read_text())


def _read(doc, **dump):
    return read_nam(json.dumps(doc, **dump).encode())


def _raises(exc, data, *fragments):
    with pytest.raises(exc) as info:
        read_nam(data if isinstance(data, (bytes, Path)) else json.dumps(data).encode())
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_not_json_and_not_objects():
    _raises(CorruptFileError, b"{not json", "not valid JSON")
    _raises(CorruptFileError, b"[1, 2]", "JSON object")
    _raises(CorruptFileError, b"\xff\xfe{}", "not UTF-8")
    _raises(CorruptFileError, {"version": "0.5.2"}, "architecture")
    _raises(CorruptFileError, b"", "not valid JSON")


def test_non_parametric_architectures():
    doc = _doc()
    doc["architecture"] = "LSTM"
    _raises(UnknownFormatError, doc, "not a parametric model", "LSTM", "current NAM")
    doc["architecture"] = "HyperConvNet"
    _raises(UnsupportedReleaseError, doc, "HyperConvNet")
    doc["architecture"] = 3
    _raises(CorruptFileError, doc, "architecture")


def test_weight_types_and_counts():
    doc = _doc()
    doc["weights"][3] = "0.5"
    _raises(CorruptFileError, doc, "weights[3]", "number")
    doc["weights"][3] = True
    _raises(CorruptFileError, doc, "weights[3]", "boolean")
    doc = _doc()
    doc["weights"] = doc["weights"][:-1]
    _raises(WeightsMismatchError, doc, "1000 values", "needs 1001")
    doc["weights"] = {"a": 1}
    _raises(CorruptFileError, doc, "weights")
    doc = _doc()
    doc["weights"][0] = 10 ** 400
    _raises(CorruptFileError, doc, "too large")


def test_nonfinite_and_integer_weights_are_numbers():
    doc = _doc()
    doc["weights"][0], doc["weights"][1], doc["weights"][2] = float("nan"), float("-inf"), 0
    raw = _read(doc)
    assert np.isnan(raw.weights[0]) and raw.weights[1] == -np.inf and raw.weights[2] == 0.0
    assert raw.warnings == []


def test_non_float32_weights_warn():
    doc = _doc()
    doc["weights"][5] = 0.1  # not a float32 value
    raw = _read(doc)
    assert any("not float32" in w for w in raw.warnings)


def test_config_errors_carry_json_paths():
    doc = _doc()
    doc["config"]["hidden_size"] = "8"
    _raises(ConfigError, doc, "config.hidden_size: expected an integer")
    doc = _doc()
    del doc["config"]["parametric"]
    _raises(ConfigError, doc, "config.parametric: missing")
    doc = _doc()
    doc["config"]["parametric"]["tone"]["type"] = "knob"
    _raises(ConfigError, doc, "config.parametric.tone.type")
    doc = _doc()
    del doc["config"]["parametric"]["bright"]
    _raises(ConfigError, doc, "config.input_size", "1 + the 2 knob(s)")
    doc = _doc("0.7.4", "catwavenet")
    doc["config"]["layers"][1]["activation"] = "Transformer"
    _raises(ConfigError, doc, "config.layers[1].activation", "unknown activation")
    doc = _doc("0.7.4", "catwavenet")
    doc["config"]["layers"][0]["condition_size"] = 3
    _raises(ConfigError, doc, "condition_size")


def test_memory_bombs_refused_before_building():
    doc = _doc()
    doc["config"]["hidden_size"] = 1 << 20
    _raises(UnsafeFileError, doc, "allocate")
    doc = _doc("0.7.4", "catwavenet")
    doc["config"]["layers"][0]["dilations"] = [1] * 5000
    _raises(ConfigError, doc, "dilated layers")
    doc = _doc("0.7.4", "catwavenet")
    doc["config"]["layers"][0]["dilations"] = [1 << 30]
    _raises(ConfigError, doc, "dilations[0]")


def test_weight_limit(monkeypatch):
    monkeypatch.setattr(nam_file, "MAX_TEXT_WEIGHTS", 100)
    # config first (every release's order): refused from the config, before any weight is read
    _raises(UnsafeFileError, _doc(), "needs 1001", "above the limit of 100")
    # weights first: refused at the 101st value
    doc = _doc()
    weights_first = {"weights": doc.pop("weights"), **doc}
    _raises(UnsafeFileError, weights_first, "more than 100 values", "above the limit")


def test_file_limits(tmp_path, monkeypatch):
    path = tmp_path / "big.nam"
    path.write_bytes((FIXTURES / "0.7.4/catlstm/export/model.nam").read_bytes())
    monkeypatch.setattr(nam_file, "MAX_FILE_BYTES", 1000)
    message = _raises(UnsafeFileError, path, "big.nam", "limit")
    assert message.startswith("big.nam: ")
    with pytest.raises(FileAccessError):
        read_nam(tmp_path / "missing.nam")
    with pytest.raises(FileAccessError):
        read_nam(tmp_path)


def test_errors_name_the_file(tmp_path):
    path = tmp_path / "broken.nam"
    path.write_bytes(b'{"architecture": "CatLSTM", "weights": [], "config": 3}')
    message = _raises(ConfigError, path)
    assert message.startswith("broken.nam: config")


def test_duplicate_keys_and_deep_nesting():
    text = (FIXTURES / "0.7.4/catlstm/export/model.nam").read_text()
    _raises(CorruptFileError, text.replace('"version": "0.5.2"', '"version": "0.5.2", "version": "0.5.1"').encode(),
            "twice")
    doc = _doc()
    doc["metadata"]["x"] = json.loads("[" * 100 + "]" * 100)
    _raises(CorruptFileError, doc, "deeper")
    _raises(CorruptFileError, b"[" * 100_000 + b"]" * 100_000, "deeper")


def test_layout_warnings():
    doc = _doc("0.5.1")
    del doc["metadata"]
    raw = _read(doc)
    assert str(raw.releases) == "0.5.1..0.6.0"
    assert any("carry \"metadata\"" in w for w in raw.warnings)

    raw = _read(_doc("0.5.0"))  # compact, but 0.5.0 wrote indent 4
    assert any("compact" in w for w in raw.warnings)
    raw = _read(_doc("0.5.0"), indent=4)
    assert raw.warnings == []

    raw = _read(_doc("0.7.4"), sort_keys=True)
    assert any("order" in w for w in raw.warnings)

    doc = _doc("0.7.4")
    doc["version"] = "0.5.1"  # says 0.5.1, looks like 0.7.x
    raw = _read(doc)
    assert str(raw.releases) == "0.5.1..0.6.0" and any("sample_rate" in w for w in raw.warnings)

    doc = _doc("0.7.4")
    doc["version"] = "9.9.9"
    raw = _read(doc)
    assert str(raw.releases) == "0.7.0..ae86979" and any("unknown file version" in w for w in raw.warnings)
    del doc["version"]
    raw = _read(doc)
    assert raw.file_version is None and any("no version" in w for w in raw.warnings)

    doc = _doc("0.7.4")
    doc["extra"] = 1
    assert any("extra" in w for w in _read(doc).warnings)
    doc = _doc("0.7.4")
    doc["metadata"] = [1]
    raw = _read(doc)
    assert raw.metadata == {} and any("metadata" in w for w in raw.warnings)
    doc = _doc("0.7.4")
    doc["version"] = 52
    _raises(CorruptFileError, doc, "version")


def test_sample_rate():
    doc = _doc("0.7.4")
    doc["sample_rate"] = 44100
    assert _read(doc).sample_rate == 44100.0
    for bad in ("48000", -1, float("nan"), True):
        doc["sample_rate"] = bad
        _raises(CorruptFileError, doc, "sample_rate")


def test_catwavenet_with_a_head():
    """No release could export a head in a header, but a .nam holds one; the exported head
    config lacks in_channels (the last array's head_size)."""
    doc = _doc("0.5.0", "catwavenet")
    doc["config"]["head"] = {"channels": 2, "activation": "Tanh", "num_layers": 2, "out_channels": 1}
    doc["weights"][-1:-1] = [0.25] * 7  # head convs 1->2 (2+2) and 2->1 (2+1), before head_scale
    raw = _read(doc)
    assert raw.net_config["head_config"] == {"in_channels": 1, "channels": 2, "activation": "Tanh",
                                             "num_layers": 2, "out_channels": 1}
    assert len(raw.weights) == expected_weight_count("CatWaveNet", raw.net_config)
    model = _build(raw, get_release("0.5.0"))
    assert len(model._export_weights()) == len(raw.weights)
    doc["config"]["head"]["out_channels"] = 2
    _raises(ConfigError, doc, "config.head.out_channels")


def test_unknown_config_keys_warn_and_are_dropped():
    doc = _doc()
    doc["config"]["dropout"] = 0.5
    raw = _read(doc)
    assert "dropout" not in raw.net_config and any("dropout" in w for w in raw.warnings)


def test_every_failure_is_a_legacy_error():
    for data in (b"null", b"1", b'"x"', b"{}", b'{"architecture": "CatLSTM", "weights": null, "config": {}}',
                 b'{"architecture": "CatWaveNet", "weights": [], "config": {"layers": 5}}'):
        with pytest.raises(LegacyError):
            read_nam(data)


# --- the streamed reader against Python's json module --------------------------------------------


def _json_module_weights(data: bytes) -> np.ndarray:
    """What the weights were before streaming: json.loads, float64, then float32 (the model's)."""
    return np.array(json.loads(data)["weights"], dtype=np.float64).astype(np.float32)


def _bits(a: np.ndarray) -> np.ndarray:
    return a.view(np.uint32 if a.dtype == np.float32 else np.uint64)


@pytest.mark.parametrize("path", NAM_FILES, ids=lambda p: f"{p.parent.parent.parent.name}/{p.parent.parent.name}")
def test_streamed_weights_equal_the_json_module(path):
    data = path.read_bytes()
    assert np.array_equal(_bits(read_nam(path).weights), _bits(_json_module_weights(data)))
    doc = json.loads(data)
    for layout in ({"indent": 4}, {"separators": (",", ":")}, {"sort_keys": True}, {"indent": "\t"}):
        assert np.array_equal(_bits(_read(doc, **layout).weights), _bits(_json_module_weights(data)))


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 4097])
def test_chunk_boundaries_do_not_matter(monkeypatch, chunk):
    from compat.formats import text_stream

    paths = NAM_FILES if chunk > 3 else NAM_FILES[:2]
    expected = [read_nam(p) for p in paths]
    monkeypatch.setattr(text_stream, "CHUNK_CHARS", chunk)
    for path, want in zip(paths, expected):
        for source in (path, path.read_bytes()):
            raw = read_nam(source)
            assert np.array_equal(_bits(raw.weights), _bits(want.weights))
            assert (raw.net_config, raw.param_config, raw.metadata, raw.warnings) == \
                (want.net_config, want.param_config, want.metadata, want.warnings)
    doc = _doc()
    doc["metadata"]["name"] = 'a "quoted" \\ name, with [brackets] and {braces}'
    assert _read(doc, indent=1).metadata["name"] == doc["metadata"]["name"]


json_numbers = st.one_of(
    st.floats(allow_nan=False),  # subnormals, infinities, ±0, everything in between
    st.floats(width=32, allow_nan=False),
    st.integers(),
    st.integers(-(10 ** 300), 10 ** 300),
    st.sampled_from([0, -0.0, 1e-45, 1.4e-45, 3.4028235e38, 3.4028236e38, 1e308, 2.2250738585072014e-308,
                     5e-324, 9007199254740993, 2 ** 63, -(2 ** 64)]),
)


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(st.lists(json_numbers, min_size=1, max_size=40), st.sampled_from([{}, {"indent": 2}, {"separators": (",", ":")}]),
       st.booleans())
def test_parsed_numbers_are_pythons(values, layout, as_text):
    """Every number is exactly float(token) (json reads ints as int, then float64), as before."""
    data = json.dumps(values, **layout)
    body = data.strip()[1:-1]
    want = np.array(json.loads(data), dtype=np.float64)
    got = parse_run(body, "json")
    assert np.array_equal(_bits(got), _bits(want))
    if as_text:  # a decimal spelling of each value, as other tools print them
        spelled = ", ".join(repr(float(v)) if isinstance(v, float) else str(v) for v in values)
        spelled = spelled.replace("inf", "Infinity")
        assert np.array_equal(_bits(parse_run(spelled, "json")), _bits(np.array(json.loads("[" + spelled + "]"),
                                                                                   dtype=np.float64)))


@pytest.mark.parametrize("text, fragment", [
    ("1, 01", "'01'"), ("+1", "'+1'"), ("1.", "'1.'"), (".5", "'.5'"), ("1e", "'1e'"), ("-NaN", "'-NaN'"),
    ("nan", "'nan'"), ("Infinity1", "'Infinity1'"), ("1 2", "'1 2'"), ("0x10", "'0x10'"), ("1,,2", "nothing"),
    ('"1"', "a string"), ("true", "a boolean"), ("null", "null"), ("[1]", "an array"), ("{}", "an object"),
    ("9" * 400, "too large"), ("1.0f", "'1.0f'"), ("١", "'١'"),
])
def test_bad_json_numbers_are_named(text, fragment):
    with pytest.raises(BadNumber) as info:
        parse_run(text, "json")
    assert fragment in info.value.describe()
    if fragment == "too large":
        with pytest.raises(OverflowError):  # what the json module's int becomes
            np.array(json.loads("[" + text + "]"), dtype=np.float64)
    elif text[0] not in '"tn[{':  # not JSON at all: Python's json refuses them too
        with pytest.raises(json.JSONDecodeError):
            json.loads("[" + text + "]")


def test_weights_anywhere_in_the_object():
    """Every release wrote the config first (so the weights go straight into an array of the
    right size); any other order still reads, into a bounded growing one."""
    doc = _doc()
    want = _read(doc).weights
    for first in ("weights", "config", "architecture"):
        moved = {first: doc[first], **{k: v for k, v in doc.items() if k != first}}
        raw = _read(moved)
        assert np.array_equal(_bits(raw.weights), _bits(want)) and any("order" in w for w in raw.warnings)
    too_many = {"weights": doc["weights"] + [0.5], **{k: v for k, v in doc.items() if k != "weights"}}
    _raises(WeightsMismatchError, too_many, "1002 values", "needs 1001")
    config_first = dict(doc)
    config_first["weights"] = doc["weights"] + [0.5]
    _raises(WeightsMismatchError, config_first, "more than 1001 values", "needs 1001")


def test_a_parametric_line_file_read_as_legacy_nam_names_its_family(tmp_path):
    # compat.load routes these to their own reader when "architecture" comes within the
    # first 16 MiB; read_nam itself must not send their users to current NAM
    path = tmp_path / "amp.nam"
    path.write_text('{"weights": [0.0], "architecture": "ConcatLSTM", "config": {}}')
    with pytest.raises(UnknownFormatError, match="parametric NAM line") as info:
        read_nam(path)
    assert "current NAM" not in str(info.value)
