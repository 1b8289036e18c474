"""Hostile `.nam` files of the parametric NAM line (ConcatLSTM / ConcatWaveNet) against the
promises of docs/checkpoint-safety.md ("Text formats"), as tests/test_hostile_text.py does
for the legacy text formats (with the same batch runner and budgets, tests/hostile.py).

The files are built here from two genuine exports (the 0.7.4 CatLSTM and CatWaveNet
fixtures written by our parametric-nam writer) for the defect classes of issue 10 §3:
weight arrays far beyond the model, configs whose sizes lie (hidden size, channels,
thousands of knobs, a switch with a million positions, thousands of dilations), metadata
or weights in unusual places, deep nesting, NaN/Infinity, 5000-digit numbers, duplicate
keys, knob names with control characters, and scalars of the wrong type or range. Every
case goes through the real CLI (`nam-legacy inspect FILE --json`): refusals exit 2 with
one printable line of at most 300 characters naming the file and holding the expected
fragment; the valid-but-odd files load; all stay within the harness's bounds and the
text readers' own tighter budget (PNAM_RSS, TEXT_CPU).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Callable, Dict, List, NamedTuple

import pytest

import hostile
from hostile import MiB, TEXT_CPU, TEXT_RSS, repeat, write_parts

FIXTURES = Path(__file__).parent / "fixtures"
MAX_TEXT_WEIGHTS = 10_000_000  # compat.formats.configs (restated: the messages must name it)
# This reader keeps the weights in float64 (the refold works on the file's exact values):
# up to 80 MB where the legacy readers hold 40, and 147 MB while the array grows when the
# weights come before the config. Still far inside the harness's 1 GB.
PNAM_RSS = TEXT_RSS + 48 * MiB


class Case(NamedTuple):
    name: str
    defect: str
    build: Callable[[Path, Dict[str, dict]], Path]
    expect: str  # "ok", or a fragment of the refusal


# --- building files --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bases(tmp_path_factory) -> Dict[str, dict]:
    """The two genuine parametric exports every case starts from ("lstm", "wavenet")."""
    import compat

    root = tmp_path_factory.mktemp("pnam_bases")
    out = {}
    for key, arch in (("lstm", "catlstm"), ("wavenet", "catwavenet")):
        d = FIXTURES / "0.7.4" / arch
        legacy = compat.load(d / "model.ckpt", config=d / "model.json", param_config=d / "params.json")
        path = compat.export(legacy, "parametric-nam", root / f"{key}.nam")
        out[key] = json.loads(path.read_text())
    assert out["lstm"]["architecture"] == "ConcatLSTM" and out["wavenet"]["architecture"] == "ConcatWaveNet"
    return out


def _doc(d: Path, name: str, doc: dict) -> Path:
    return write_parts(d, name, [json.dumps(doc)])


def _changed(base: dict, change: Callable[[dict], None]) -> dict:
    doc = copy.deepcopy(base)
    change(doc)
    return doc


def _raw(d: Path, name: str, base: dict, key: str, raw_value, first: bool = False) -> Path:
    """`base` with top-level `key` set to raw JSON text (pieces: huge, or not JSON at all)."""
    rest = json.dumps({k: v for k, v in base.items() if k != key})[1:-1]
    item = [f'"{key}": ', *([raw_value] if isinstance(raw_value, str) else raw_value)]
    return write_parts(d, name, ["{", *(item + [", ", rest] if first else [rest, ", "] + item), "}"])


def _config_raw(d: Path, name: str, base: dict, key: str, raw_value: str) -> Path:
    """`base` with config[key] set to raw JSON text."""
    config = json.dumps({k: v for k, v in base["config"].items() if k != key})
    return _raw(d, name, base, "config", config[:-1] + f', "{key}": {raw_value}}}')


def _param_raw(d: Path, name: str, base: dict, index: int, key: str, raw_value: str) -> Path:
    """`base` with config.params[index][key] set to raw JSON text."""
    params = [json.dumps(p) for p in base["config"]["params"]]
    entry = json.loads(params[index])
    entry.pop(key, None)
    params[index] = json.dumps(entry)[:-1] + f', "{key}": {raw_value}}}'
    return _config_raw(d, name, {**base, "config": {k: v for k, v in base["config"].items() if k != "params"}},
                       "params", "[" + ", ".join(params) + "]")


def _set_param(base: dict, index: int, **values) -> dict:
    return _changed(base, lambda doc: doc["config"]["params"][index].update(values))


def _set_config(base: dict, **values) -> dict:
    return _changed(base, lambda doc: doc["config"].update(values))


def _switches(count: int) -> List[dict]:
    return [{"name": f"s{i:04d}", "min": 0, "max": 1, "default": 0, "type": "switch", "enum_names": ["off", "on"],
             "step": None, "avoid_zero": False} for i in range(count)]


def _lstm_of_switches(base: dict, count: int) -> dict:
    """A one-layer ConcatLSTM of `count` two-position switches, with exactly the weights its
    layout (docs/formats.md) needs: [W_ih | W_hh], bias, h0, c0, then the head's weight and bias."""
    h, inputs = 4, 1 + 2 * count
    n = 4 * h * (inputs + h) + 4 * h + 2 * h + h + 1
    config = {"hidden_size": h, "num_layers": 1, "train_burn_in": None, "train_truncate": None,
              "params": _switches(count)}
    return {**base, "config": config, "weights": [0.01 * (i % 7) for i in range(n)]}


_CONTROL_NAMES = ["dr\x1b[31mive", "to\nne\u202e", "\x00bright\x85"]


def _control_names(base: dict, duplicate: bool) -> dict:
    doc = copy.deepcopy(base)
    for i, name in enumerate(_CONTROL_NAMES):
        doc["config"]["params"][i]["name"] = _CONTROL_NAMES[0] if duplicate else name
    return doc


# --- the cases -------------------------------------------------------------------------------------

L, W = "lstm", "wavenet"

CASES = [
    # §3: json.loads built the whole file before the weight count was checked
    Case("p_63_mb_of_weights", "claimed size: weights", lambda d, b: _raw(
        d, "big.nam", b[L], "weights", ["[", repeat("0.123456789, ", 4_900_000), "0]"]), "more than 1033 values"),
    Case("p_weights_before_the_config_beyond_the_limit", "claimed size: weights", lambda d, b: write_parts(
        d, "weights_first.nam", ['{"architecture": "ConcatLSTM", "weights": [', repeat("0,", 11_000_000),
                                 '0], "version": "1.0.0"}']), f"more than {MAX_TEXT_WEIGHTS} values"),
    Case("p_weights_before_a_config_that_lies", "claimed size: weights", lambda d, b: _raw(
        d, "weights_then_config.nam", _set_config(b[L], hidden_size=3000), "weights",
        ["[", repeat("0.5,", 3_000_000), "0]"], first=True), "values, but this ConcatLSTM config needs"),
    Case("p_huge_hidden_size", "claimed size: config", lambda d, b: _doc(
        d, "hidden.nam", _set_config(b[L], hidden_size=2000)), f"above the limit of {MAX_TEXT_WEIGHTS}"),
    Case("p_hidden_size_beyond_any_build", "claimed size: config", lambda d, b: _doc(
        d, "hidden_max.nam", _set_config(b[L], hidden_size=1 << 20)), "would allocate"),
    Case("p_hidden_size_out_of_range", "claimed size: config", lambda d, b: _doc(
        d, "hidden_range.nam", _set_config(b[L], hidden_size=1 << 40)), "config.hidden_size"),
    Case("p_many_layers", "claimed size: config", lambda d, b: _doc(
        d, "layers.nam", _set_config(b[L], num_layers=5000)), "config.num_layers"),
    Case("p_huge_channels", "claimed size: config", lambda d, b: _doc(d, "channels.nam", _changed(
        b[W], lambda doc: (doc["config"]["layers"][0].update(channels=3000, bottleneck=3000),
                           doc["config"]["layers"][1].update(input_size=3000)))),
        f"above the limit of {MAX_TEXT_WEIGHTS}"),
    Case("p_huge_kernel", "claimed size: config", lambda d, b: _doc(d, "kernel.nam", _changed(
        b[W], lambda doc: doc["config"]["layers"][0].update(kernel_sizes=[1 << 20] * 2, dilations=[1 << 20] * 2))), "receptive field"),
    Case("p_many_dilations", "claimed size: config", lambda d, b: _doc(d, "dilations.nam", _changed(
        b[W], lambda doc: doc["config"]["layers"][0].update(
            dilations=[1] * 5000, kernel_sizes=3, activation={"type": "Tanh"}, gating_mode="gated",
            secondary_activation={"type": "Sigmoid"}))), "more than 4096 dilated layers"),
    Case("p_thousands_of_params", "claimed size: params", lambda d, b: _doc(
        d, "params.nam", _set_config(b[L], params=_switches(5000))), "needs 1 to 1024 knobs"),
    Case("p_1024_switches", "claimed size: params", lambda d, b: _doc(
        d, "switches.nam", _lstm_of_switches(b[L], 1024)), "ok"),
    Case("p_switch_of_500k_positions", "claimed size: params", lambda d, b: _doc(d, "positions.nam", _set_param(
        b[L], 0, max=499_999, enum_names=[f"p{i}" for i in range(500_000)])), "500000 positions, above the limit"),
    Case("p_switch_of_a_million_positions", "claimed size: params", lambda d, b: _doc(d, "million.nam", _set_param(
        b[L], 0, max=999_999, enum_names=[f"p{i}" for i in range(1_000_000)])), "JSON values"),
    Case("p_five_position_switch", "claimed size: params", lambda d, b: _doc(d, "five.nam", _set_param(
        b[L], 0, max=4, enum_names=list("abcde"))), "5-position switch"),
    Case("p_huge_param_name", "claimed size: params", lambda d, b: _doc(
        d, "long_name.nam", _set_param(b[L], 1, name="n" * (8 * MiB))), "ok"),
    Case("p_params_beyond_the_capture", "claimed size: params", lambda d, b: _doc(
        d, "big_name.nam", _set_param(b[L], 1, name="n" * (20 * MiB))), "exceed"),
    # key order: a valid file may put anything anywhere
    Case("p_metadata_before_weights", "key order", lambda d, b: _doc(d, "meta_first.nam", {
        "metadata": {**b[L]["metadata"], "notes": "m" * (2 * MiB), **{f"k{i}": i for i in range(20_000)}},
        **{k: v for k, v in b[L].items() if k != "metadata"}}), "ok"),
    Case("p_weights_before_config", "key order", lambda d, b: _doc(d, "weights_first_ok.nam", {
        "weights": b[W]["weights"], **{k: v for k, v in b[W].items() if k != "weights"}}), "ok"),
    # nesting
    Case("p_deep_metadata", "nesting", lambda d, b: _raw(
        d, "deep.nam", b[L], "metadata", ["[" * 1_000_000, "]" * 1_000_000]), "deeper than 64"),
    Case("p_deep_param", "nesting", lambda d, b: _param_raw(
        d, "deep_param.nam", b[L], 1, "name", "[" * 100_000 + "]" * 100_000), "deeper than 64"),
    Case("p_many_containers_in_config", "nesting", lambda d, b: _config_raw(
        d, "containers.nam", b[W], "extra", "[" + "[]," * 2_000_000 + "[]]"), "arrays and objects"),
    Case("p_weights_as_arrays", "nesting", lambda d, b: _raw(
        d, "nested_weights.nam", b[L], "weights", ["[", repeat("[0.5], ", 2_000_000), "0]"]), "weights[0]"),
    # NaN / Infinity: Python's json wrote them; weights may hold them, knob ranges may not
    Case("p_nan_weights", "NaN/Infinity", lambda d, b: _doc(d, "nan.nam", {
        **b[L], "weights": [float("nan"), float("inf"), float("-inf")] * 344 + [0.0]}), "ok"),
    Case("p_nan_min", "NaN/Infinity", lambda d, b: _doc(
        d, "nan_min.nam", _set_param(b[L], 1, min=float("nan"))), "config.params[1].min: expected a finite number"),
    Case("p_infinite_max", "NaN/Infinity", lambda d, b: _doc(
        d, "inf_max.nam", _set_param(b[L], 2, max=float("inf"))), "config.params[2].max: expected a finite number"),
    Case("p_infinite_head_scale", "NaN/Infinity", lambda d, b: _doc(
        d, "inf_scale.nam", _set_config(b[W], head_scale=float("-inf"))), "config.head_scale"),
    # huge numbers
    Case("p_5000_digit_weight", "huge numbers", lambda d, b: _raw(
        d, "digit_weight.nam", b[L], "weights", "[" + "7" * 5000 + ", " + ", ".join(map(str, b[L]["weights"][1:])) + "]"),
        "too large for a float"),
    Case("p_5000_digit_default", "huge numbers", lambda d, b: _param_raw(
        d, "digit_default.nam", b[L], 1, "default", "7" * 5000), "digit"),
    Case("p_4000_digit_min", "huge numbers", lambda d, b: _param_raw(
        d, "digit_min.nam", b[L], 2, "min", "-" + "7" * 4000), "config.params[2].min: expected a finite number"),
    Case("p_5000_digit_hidden_size", "huge numbers", lambda d, b: _config_raw(
        d, "digit_hidden.nam", b[L], "hidden_size", "9" * 5000), "digit"),
    Case("p_long_fraction_default", "huge numbers", lambda d, b: _param_raw(
        d, "fraction.nam", b[L], 1, "default", "0." + "3" * 5000), "ok"),
    # duplicates
    Case("p_duplicate_weights", "duplicates", lambda d, b: write_parts(d, "twice.nam", [
        json.dumps(b[L])[:-1], ', "weights": [', repeat("0, ", 4_000_000), "0]}"]), "has the key 'weights' twice"),
    Case("p_duplicate_param_key", "duplicates", lambda d, b: _param_raw(
        d, "twice_key.nam", b[L], 1, "min", '0.0, "min": 0.5'), "the key 'min' twice"),
    Case("p_duplicate_param_names", "duplicates", lambda d, b: _doc(
        d, "twice_name.nam", _set_param(b[L], 2, name="drive")), "knob name 'drive' appears twice"),
    Case("p_duplicate_config_keys", "duplicates", lambda d, b: _config_raw(
        d, "twice_config.nam", b[L], "x", '0, "hidden_size": 8'), "the key 'hidden_size' twice"),
    # knob names with control characters: kept exactly, never shown raw
    Case("p_control_characters_in_names", "control characters", lambda d, b: _doc(
        d, "control.nam", _control_names(b[L], duplicate=False)), "ok"),
    Case("p_control_characters_refused", "control characters", lambda d, b: _doc(
        d, "control_twice.nam", _control_names(b[L], duplicate=True)), "appears twice"),
    # scalars of the wrong type or range
    Case("p_name_an_object", "types", lambda d, b: _doc(
        d, "name_object.nam", _set_param(b[L], 1, name={"a": 1})), "config.params[1].name"),
    Case("p_min_a_boolean", "types", lambda d, b: _doc(
        d, "min_bool.nam", _set_param(b[L], 1, min=True)), "config.params[1].min"),
    Case("p_min_above_max", "types", lambda d, b: _doc(
        d, "reversed.nam", _set_param(b[L], 1, min=2.0, max=1.0)), "min must be below max"),
    Case("p_default_outside", "types", lambda d, b: _doc(
        d, "outside.nam", _set_param(b[L], 2, default=7.5)), "is outside"),
    Case("p_type_unknown", "types", lambda d, b: _doc(
        d, "type.nam", _set_param(b[L], 1, type=["continuous"])), "config.params[1].type"),
    Case("p_switch_with_a_step", "types", lambda d, b: _doc(
        d, "switch_step.nam", _set_param(b[L], 0, step=0.5)), "a switch has no step"),
    Case("p_avoid_zero_a_string", "types", lambda d, b: _doc(
        d, "avoid_zero.nam", _set_param(b[L], 1, avoid_zero="yes")), "avoid_zero: expected true or false"),
    Case("p_step_wider_than_the_range", "types", lambda d, b: _doc(
        d, "step.nam", _set_param(b[L], 1, step=5.0)), "wider than the range"),
    Case("p_enum_names_not_strings", "types", lambda d, b: _doc(
        d, "enum_types.nam", _set_param(b[L], 0, enum_names=[0, 1])), "enum_names"),
    Case("p_hidden_size_a_float", "types", lambda d, b: _doc(
        d, "hidden_float.nam", _set_config(b[L], hidden_size=8.0)), "config.hidden_size"),
    Case("p_input_size_a_float", "types", lambda d, b: _doc(
        d, "input_float.nam", _set_config(b[L], input_size=5.0)), "config.input_size"),
    Case("p_dilation_zero", "types", lambda d, b: _doc(d, "dilation.nam", _changed(
        b[W], lambda doc: doc["config"]["layers"][1].update(dilations=[1, 0]))), "dilations[1]"),
]
ALONE = {"p_63_mb_of_weights", "p_metadata_before_weights"}
GROUPS = (("claimed size",), ("key order", "nesting", "NaN/Infinity", "huge numbers"),
          ("duplicates", "control characters", "types"))


# --- running -----------------------------------------------------------------------------------------


def _argv(path: Path) -> List[str]:
    return ["inspect", str(path), "--json"]


@pytest.fixture(scope="module")
def files(tmp_path_factory, bases) -> Dict[str, Path]:
    directory = tmp_path_factory.mktemp("hostile_pnam")
    return {case.name: case.build(directory, bases) for case in CASES}


@pytest.fixture(scope="module")
def batch(files, bases, tmp_path_factory) -> Dict[str, hostile.Result]:
    """Every case not run alone, in a few children, each case measured from a reset of the
    child's peak RSS (hostile.run_batch)."""
    warm = tmp_path_factory.mktemp("pnam_warm") / "warm.nam"
    warm.write_text(json.dumps(bases[L]))
    results: Dict[str, hostile.Result] = {}
    for kinds in GROUPS:
        group = {c.name: _argv(files[c.name]) for c in CASES
                 if c.name not in ALONE and c.defect.split(":")[0] in kinds}
        for name, record in hostile.run_batch(group, _argv(warm)).items():
            results[name] = hostile.batch_result(record)
    return results


MEASURED: Dict[str, hostile.Result] = {}


def _result(case: Case, files, batch) -> hostile.Result:
    result = hostile.run_cli(_argv(files[case.name])) if case.name in ALONE else batch[case.name]
    MEASURED[case.name] = result
    return result


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_parametric_nam(case, files, batch):
    path = files[case.name]
    result = _result(case, files, batch)
    hostile.check_text_case(result, path, case.expect, rss=PNAM_RSS, cpu=TEXT_CPU,
                            loaded=r'"architecture": "Cat(LSTM|WaveNet)",\s*"format": "parametric-nam"')


def test_control_characters_in_names_are_kept_and_never_shown_raw(files, batch):
    """The names load exactly as written (sorted: the legacy input order); the JSON output
    spells them with escapes only, and a refusal naming one is one printable line."""
    result = batch["p_control_characters_in_names"]
    assert result.returncode == 0, result.describe()
    assert result.stdout.isascii() and not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", result.stdout)
    names = [k["name"] for k in json.loads(result.stdout)["knobs"]]
    assert names == sorted(_CONTROL_NAMES)
    refused = batch["p_control_characters_refused"]
    assert "\\x1b" in refused.stderr and "\x1b" not in refused.stderr


@pytest.mark.parametrize("key", [L, W])
@pytest.mark.parametrize("weights_first", [False, True], ids=["config_first", "weights_first"])
def test_streaming_reads_exactly_what_the_whole_document_gives(bases, tmp_path, key, weights_first):
    """The bound changes no result: weights that are not float32 values (so a float32 array
    would round them before the refold) read bit-identically streamed, with the array sized
    from the config or grown, and from the document parsed whole by `json` (the reader before)."""
    import numpy as np

    from compat.formats.parametric_nam import parse_parametric_document, read_parametric_nam

    doc = copy.deepcopy(bases[key])
    doc["weights"] = [w + 1e-9 * ((i % 5) - 2) for i, w in enumerate(doc["weights"])]
    if weights_first:
        doc = {"weights": doc["weights"], **{k: v for k, v in doc.items() if k != "weights"}}
    path = _doc(tmp_path, "x.nam", doc)
    streamed, whole = read_parametric_nam(path), parse_parametric_document(json.loads(path.read_text()))
    assert np.asarray(whole.weights).tobytes() == np.asarray(streamed.weights).tobytes()
    assert (streamed.net_config, streamed.param_config, streamed.warnings) == \
        (whole.net_config, whole.param_config, whole.warnings)
    assert not np.array_equal(np.float32(doc["weights"]), doc["weights"])


def test_case_inventory():
    """Every class the brief of issue 10 §3 names for this reader has cases."""
    defects = {c.defect for c in CASES}
    for needed in ("claimed size: weights", "claimed size: config", "claimed size: params", "key order", "nesting",
                   "NaN/Infinity", "huge numbers", "duplicates", "control characters", "types"):
        assert needed in defects, needed
    assert len({c.name for c in CASES}) == len(CASES) >= 45
    assert all(c.defect.split(":")[0] in sum(GROUPS, ()) for c in CASES)


def test_report(capsys):
    """Peak RSS above an idle CLI and CPU seconds of every case run in this session."""
    if not MEASURED:
        pytest.skip("no case ran in this session")
    with capsys.disabled():
        hostile.print_report("hostile parametric .nam files", MEASURED)
