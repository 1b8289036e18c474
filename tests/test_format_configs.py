"""Configs: kinds, validators with JSON paths, and the weight/size arithmetic that guards
model construction (checked against nam_legacy's own exporters)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from compat.errors import ConfigError, CorruptFileError, FileAccessError, UnsafeFileError
from compat.formats import configs
from compat.formats.configs import (
    build_element_count,
    config_kind,
    expected_weight_count,
    read_config,
    validate_data_config,
    validate_learning_config,
    validate_model_config,
    validate_net_config,
    validate_param_config,
)
from nam_legacy.models.parametric.catnets import CatLSTM, CatWaveNet
from nam_legacy.models.parametric.hyper_net import HyperConvNet
from nam_legacy.models.parametric.params import ContinuousParam
from nam_legacy.releases import use_release

FIXTURES = Path(__file__).parent / "fixtures"
CASES = sorted(p.parent for p in FIXTURES.glob("*/*/meta.json"))


def _json(path):
    return json.loads(Path(path).read_text())


def _raises(exc, fn, *args, fragment=""):
    with pytest.raises(exc) as info:
        fn(*args)
    message = str(info.value)
    assert "\n" not in message and fragment in message, message
    return message


# --- every genuine config -------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.parent.name}/{c.name}")
def test_genuine_configs(case):
    release = _json(case / "meta.json")["release"]
    kind, model = read_config(case / "model.json")
    assert kind == "model" and model == _json(case / "model.json")
    info = validate_model_config(model)
    assert info.architecture == {"catlstm": "CatLSTM", "catwavenet": "CatWaveNet"}.get(case.name, "HyperConvNet")

    kind, params = read_config(case / "params.json")
    assert kind == "param" and list(params.items()) == list(_json(case / "params.json").items())
    knobs = validate_param_config(params)
    assert [k.name for k in knobs] == ["tone", "drive", "bright"]
    assert [k.type for k in knobs] == ["continuous", "continuous", "boolean"]

    kind, data = read_config(case / "data.json")
    assert kind == "data"
    info = validate_data_config(data)
    assert info.parametric and info.knob_names == ("bright", "drive", "tone")
    assert info.slices == {"train": 3, "validation": 2} and info.warnings == []
    assert any(('"type"' in n) == (release == "0.7.4") for n in info.notes)


def test_model_config_net_configs_build():
    for case in CASES:
        info = validate_model_config(_json(case / "model.json"))
        cls = {"CatLSTM": CatLSTM, "CatWaveNet": CatWaveNet, "HyperConvNet": HyperConvNet}[info.architecture]
        with use_release(_json(case / "meta.json")["release"]), torch.random.fork_rng(devices=[]):
            cls.init_from_config(json.loads(json.dumps(info.net_config)))


def test_learning_config():
    demo = {
        "_notes": ["..."],
        "train_dataloader": {"batch_size": 16, "shuffle": True, "pin_memory": True, "drop_last": True, "num_workers": 0},
        "val_dataloader": {},
        "trainer": {"accelerator": "gpu", "devices": 1, "max_epochs": 10},
        "trainer_fit_kwargs": {},
    }
    kind, value = read_config(demo)
    assert kind == "learning" and value == demo and value is not demo
    assert validate_learning_config({**demo, "trainer": {"gpus": 1}}).notes
    _raises(ConfigError, read_config, {**demo, "train_dataloader": {"batch_size": "16"}},
            fragment="train_dataloader.batch_size: expected an integer")
    _raises(ConfigError, read_config, {k: v for k, v in demo.items() if k != "val_dataloader"},
            fragment="val_dataloader: missing")


# --- kinds ------------------------------------------------------------------------------------


def test_kind_detection():
    assert config_kind({"net": {}}) == "model"
    assert config_kind({"train": {}, "validation": {}}) == "data"
    assert config_kind({"trainer": {}}) == "learning"
    assert config_kind({"a": {"type": "boolean", "default_value": True}}) == "param"
    _raises(ConfigError, config_kind, {}, fragment="cannot tell")
    _raises(ConfigError, config_kind, [], fragment="JSON object")
    _raises(ConfigError, config_kind, {"architecture": "CatLSTM", "weights": []}, fragment=".nam")
    _raises(ConfigError, config_kind, {"version": "0.3.0", "architecture": "X", "config": {}}, fragment="export folder")


def test_read_config_files(tmp_path):
    _raises(FileAccessError, read_config, tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{")
    _raises(CorruptFileError, read_config, tmp_path / "bad.json", fragment="bad.json")
    (tmp_path / "big.json").write_bytes(b" " * (configs.MAX_CONFIG_BYTES + 1))
    _raises(UnsafeFileError, read_config, tmp_path / "big.json")
    _raises(ConfigError, read_config, {"a": object()}, fragment="JSON")


# --- param configs ------------------------------------------------------------------------------


def test_param_config_rules():
    ok = {"x": {"type": "continuous", "default_value": 2, "minval": 0, "maxval": 1},
          "y": {"type": "boolean", "default_value": 1}}
    warnings = []
    knobs = validate_param_config(ok, "", warnings)
    assert knobs[0].default == 2 and len(warnings) == 2  # out of range; 1 used as a boolean
    _raises(ConfigError, validate_param_config, {"x": {"type": "continuous", "default_value": 0.5, "minval": 0}},
            fragment="x.maxval: missing")
    _raises(ConfigError, validate_param_config, {"x": {"type": "boolean", "default_value": True, "minval": 0}},
            fragment="x.minval: not a field of a boolean knob")
    _raises(ConfigError, validate_param_config, {"x": {"type": "dial", "default_value": 0}},
            fragment='x.type: expected "continuous" or "boolean"')
    _raises(ConfigError, validate_param_config, {"x": {"type": "boolean", "default_value": "yes"}},
            fragment="x.default_value: expected true or false")
    _raises(ConfigError, validate_param_config,
            {"x": {"type": "continuous", "default_value": float("nan"), "minval": 0, "maxval": 1}},
            fragment="x.default_value: expected a finite number")
    _raises(ConfigError, validate_param_config, {"x": 3}, fragment="x: expected an object")
    _raises(ConfigError, validate_param_config, {"x": {"default_value": 0}}, fragment="x.type: missing")
    _raises(ConfigError, validate_param_config, {f"k{i}": {"type": "boolean", "default_value": True} for i in range(2000)},
            fragment="knobs")
    assert validate_param_config({}) == ()


# --- data configs ---------------------------------------------------------------------------


def _data():
    return _json(FIXTURES / "0.7.4/catlstm/data.json")


def test_data_config_paths():
    d = _data()
    d["train"]["slices"][2]["params"]["drive"] = "high"
    _raises(ConfigError, read_config, d, fragment="train.slices[2].params.drive: expected a number or a boolean")
    d = _data()
    d["validation"]["slices"][1]["params"]["gain"] = 0.5
    _raises(ConfigError, read_config, d, fragment="validation.slices[1].params: knob names differ")
    d = _data()
    del d["train"]["slices"]
    _raises(ConfigError, read_config, d, fragment="train.slices: missing")
    d = _data()
    d["train"]["slices"][0]["start"] = 0.5
    _raises(ConfigError, read_config, d, fragment="train.slices[0].start: expected an integer")
    d = _data()
    del d["common"]["x_path"]
    _raises(ConfigError, read_config, d, fragment="train.x_path: missing")
    d = _data()
    d["type"] = "mystery"
    _raises(ConfigError, read_config, d, fragment="type: unknown dataset type")
    d = _data()
    d["train"] = [d["train"], json.loads(json.dumps(d["train"]))]
    info = validate_data_config(d)
    assert info.slices["train"] == 6
    d["train"][1]["slices"][0]["params"] = {"tone": 1}
    _raises(ConfigError, read_config, d, fragment="train[1].slices[0].params: knob names differ")


def test_data_config_flags_and_notes():
    d = _data()
    del d["type"]
    d["parametric"] = True
    info = validate_data_config(d)
    assert info.parametric and any("0.3.0-0.7.3" in n for n in info.notes)
    d["train"]["slices"][0]["delay"] = 3
    assert any("per-slice delay" in n for n in validate_data_config(d).notes)
    d["train"]["slices"][0]["id"] = 3
    assert any("id" in w for w in validate_data_config(d).warnings)
    d["parametric"] = False
    info = validate_data_config(d)
    assert not info.parametric and info.knob_names == ()
    d["parametric"] = "yes"
    _raises(ConfigError, validate_data_config, d, fragment="parametric: expected true or false")


# --- model configs ----------------------------------------------------------------------------


def test_model_config_rules():
    m = _json(FIXTURES / "0.7.4/catlstm/model.json")
    _raises(ConfigError, validate_model_config, {**m, "net": {"name": "LSTM", "config": {}}},
            fragment="net.name: 'LSTM' is not a parametric model")
    _raises(ConfigError, validate_model_config, {k: v for k, v in m.items() if k != "optimizer"},
            fragment="optimizer: missing")
    bad = json.loads(json.dumps(m))
    bad["net"]["config"]["batch_first"] = True
    _raises(ConfigError, validate_model_config, bad, fragment="net.config.batch_first")
    bad["net"]["config"] = {"hidden_size": 4, "bidirectional": True}
    _raises(ConfigError, validate_model_config, bad, fragment="net.config.bidirectional: not supported")
    bad["net"]["config"] = {"hidden_size": 4, "tied": True}
    _raises(ConfigError, validate_model_config, bad, fragment="net.config.tied: not an LSTM argument")
    ok = json.loads(json.dumps(m))
    ok["net"]["config"]["dropout"] = 0.1
    assert validate_model_config(ok).net_config["dropout"] == 0.1


# --- constructor configs, weight counts and size limits -------------------------------------

WAVENET_BASE = {
    "layers_configs": [
        {"input_size": 3, "condition_size": 3, "head_size": 4, "channels": 2, "kernel_size": 3, "dilations": [1, 2]},
        {"input_size": 2, "condition_size": 3, "head_size": 1, "channels": 4, "kernel_size": 2, "dilations": [1]},
    ],
    "head_scale": 0.5,
}


def test_wavenet_consistency_checks():
    assert validate_net_config("CatWaveNet", WAVENET_BASE)["layers_configs"][0]["activation"] == "Tanh"
    bad = json.loads(json.dumps(WAVENET_BASE))
    bad["layers_configs"][1]["input_size"] = 3
    _raises(ConfigError, validate_net_config, "CatWaveNet", bad, fragment="config.layers_configs[1].input_size")
    bad = json.loads(json.dumps(WAVENET_BASE))
    bad["layers_configs"][0]["head_size"] = 3
    _raises(ConfigError, validate_net_config, "CatWaveNet", bad, fragment="config.layers_configs[0].head_size")
    bad = json.loads(json.dumps(WAVENET_BASE))
    bad["layers_configs"][1]["head_size"] = 2
    _raises(ConfigError, validate_net_config, "CatWaveNet", bad, fragment="must be 1 without a head")
    bad["head_config"] = {"in_channels": 2, "channels": 3, "activation": "ReLU", "num_layers": 2, "out_channels": 1}
    validate_net_config("CatWaveNet", bad)
    bad["layers_configs"][0]["activation"] = "Module"
    _raises(ConfigError, validate_net_config, "CatWaveNet", bad, fragment="unknown activation")
    _raises(ConfigError, validate_net_config, "CatWaveNet", {"layers_configs": []}, fragment="needs 1 to")
    _raises(ConfigError, validate_net_config, "LSTM", {}, fragment="not a parametric architecture")


def test_size_limits_are_arithmetic_only(monkeypatch):
    # Nothing is built to find out the size: any module construction (Linear, Conv1d, LSTM, the
    # hypernet's scratch batch goes through one) fails the test.
    def no_building(self, *args, **kwargs):
        raise AssertionError(f"validate_net_config built a {type(self).__name__}")

    monkeypatch.setattr(torch.nn.Module, "__init__", no_building)
    for arch, cfg in [
        ("CatLSTM", {"hidden_size": 1 << 20, "input_size": 4, "num_layers": 1024}),
        ("CatWaveNet", {"layers_configs": [{"input_size": 4, "condition_size": 4, "head_size": 1, "channels": 1 << 20,
                                            "kernel_size": 1 << 20, "dilations": [1]}]}),
        ("HyperConvNet", {"hyper_net": {"num_inputs": 3, "num_layers": 1, "num_units": 1 << 20, "batchnorm": True},
                          "net": {"channels": 1 << 20, "dilations": [1] * 4096, "batchnorm": True, "activation": "Tanh"}}),
        # small weights but a huge scratch batch in HyperNet's initialisation
        ("HyperConvNet", {"hyper_net": {"num_inputs": 3, "num_layers": 1, "num_units": 1, "batchnorm": False},
                          "net": {"channels": 64, "dilations": [1] * 64, "batchnorm": False, "activation": "Tanh"}}),
    ]:
        _raises(UnsafeFileError, validate_net_config, arch, cfg, fragment="allocate")


def _wavenet_configs():
    layer = st.fixed_dictionaries({
        "channels": st.integers(1, 4), "kernel_size": st.integers(1, 3), "dilations": st.lists(st.integers(1, 4), min_size=1, max_size=3),
        "gated": st.booleans(), "head_bias": st.booleans(), "head_size": st.integers(1, 3),
    })

    @st.composite
    def build(draw):
        knobs = draw(st.integers(0, 3))
        arrays = draw(st.lists(layer, min_size=1, max_size=3))
        configs_, prev = [], None
        for i, a in enumerate(arrays):
            nxt = arrays[i + 1]["channels"] if i + 1 < len(arrays) else None
            head_size = nxt if nxt is not None else 1
            configs_.append({"input_size": 1 + knobs if prev is None else prev, "condition_size": 1 + knobs,
                             "head_size": head_size, "channels": a["channels"], "kernel_size": a["kernel_size"],
                             "dilations": a["dilations"], "activation": "Tanh", "gated": a["gated"], "head_bias": a["head_bias"]})
            prev = a["channels"]
        head = None
        if draw(st.booleans()):
            head = {"in_channels": 1, "channels": draw(st.integers(1, 3)), "activation": "ReLU",
                    "num_layers": draw(st.integers(1, 3)), "out_channels": 1}
        return {"layers_configs": configs_, "head_config": head, "head_scale": 0.02}

    return build()


@settings(max_examples=40, derandomize=True, database=None, deadline=None)
@given(_wavenet_configs())
def test_wavenet_weight_count_matches_exporter(config):
    config = validate_net_config("CatWaveNet", config)
    with use_release("0.7.4"), torch.random.fork_rng(devices=[]):
        model = CatWaveNet.init_from_config(json.loads(json.dumps(config)))
    assert len(model._export_weights()) == expected_weight_count("CatWaveNet", config)
    numel = sum(p.numel() for p in model.parameters()) + 1
    assert numel == expected_weight_count("CatWaveNet", config) <= build_element_count("CatWaveNet", config)


@settings(max_examples=25, derandomize=True, database=None, deadline=None)
@given(st.integers(1, 4), st.integers(1, 3), st.integers(0, 3), st.sampled_from(["0.3.0", "0.4.0", "0.7.4"]))
def test_lstm_weight_count_matches_exporter(hidden, layers, knobs, release):
    config = validate_net_config("CatLSTM", {"input_size": 1 + knobs, "hidden_size": hidden, "num_layers": layers})
    params = {f"k{i}": ContinuousParam(0.5, 0.0, 1.0) for i in range(knobs)}
    with use_release(release), torch.random.fork_rng(devices=[]):
        model = CatLSTM.init_from_config(dict(config))
        with model._use_parametric_config(params):
            exported = model._export_weights()
    assert len(exported) == expected_weight_count("CatLSTM", config)
    numel = sum(t.numel() for t in model.state_dict().values())
    assert numel <= build_element_count("CatLSTM", config)


@settings(max_examples=30, derandomize=True, database=None, deadline=None)
@given(st.integers(1, 4), st.integers(1, 3), st.integers(2, 5), st.booleans(), st.integers(1, 4),
       st.lists(st.integers(1, 8), max_size=3), st.booleans(), st.sampled_from(["Tanh", "ReLU"]))
def test_hyper_weight_count_matches_exporter(inputs, layers, units, hyper_bn, channels, dilations, bn, act):
    config = validate_net_config("HyperConvNet", {
        "hyper_net": {"num_inputs": inputs, "num_layers": layers, "num_units": units, "batchnorm": hyper_bn},
        "net": {"channels": channels, "dilations": dilations, "batchnorm": bn, "activation": act},
    })
    with use_release("0.7.4"), torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        try:
            model = HyperConvNet.init_from_config(json.loads(json.dumps(config)))
        except ZeroDivisionError:
            # Upstream quirk: a tiny hypernet whose ReLU units are all dead on HyperNet's
            # 10000 random inputs has norm0 == 0 and divides by zero in its __init__.
            assume(False)
    assert len(model._export_weights()) == expected_weight_count("HyperConvNet", config)
    numel = sum(t.numel() for t in model.state_dict().values())
    assert numel <= build_element_count("HyperConvNet", config)


def test_export_translation_errors():
    from compat.formats.configs import translate_export_config

    _raises(ConfigError, translate_export_config, "CatLSTM", {"input_size": 1, "hidden_size": 2, "num_layers": 1},
            fragment="config.parametric: missing")
    _raises(ConfigError, translate_export_config, "CatWaveNet",
            {"layers": {}, "head": None, "head_scale": 1.0, "parametric": {}}, fragment="config.layers: expected an array")
    _raises(ConfigError, translate_export_config, "Foo", {}, fragment="not a parametric architecture")
    w = []
    net, params = translate_export_config("HyperConvNet", {
        "hyper_net": {"input_dim": 2, "num_layers": 1, "num_units": 2, "batchnorm": False, "extra": 1},
        "net": {"channels": 2, "dilations": [1], "batchnorm": False, "activation": "ReLU"},
    }, "config", w)
    assert params is None and net["hyper_net"]["num_inputs"] == 2 and "extra" not in net["hyper_net"]
    assert any("extra" in x for x in w)
