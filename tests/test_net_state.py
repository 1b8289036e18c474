"""compat.net_state: the layout a release stores for a config, the check against it, and mismatches explained
in the config's terms (issue 11 §4)."""

from __future__ import annotations

import json

import pytest
import torch

import compat
from compat import architectures, net_state
from compat.checkpoint import read_checkpoint
from compat.detect import checkpoint_releases
from compat.loading import _net_state_dict
from golden import FIXTURES, case_id, cases, meta
from nam_legacy.releases import RELEASES, get_release


def _config(case) -> dict:
    return json.loads((case / "model.json").read_text())["net"]


@pytest.mark.parametrize("case", cases(), ids=case_id)
def test_layout_of_the_detected_release_is_exactly_the_genuine_checkpoint(case):
    """Built from the config under any release, the layout for the writing release matches the real file."""
    net = _config(case)
    checkpoint = read_checkpoint(case / "model.ckpt")
    state_dict = _net_state_dict(checkpoint)
    detected = checkpoint_releases(net["name"], checkpoint, state_dict)
    for built_as in ("0.4.0", "ae86979"):  # the model a load builds is the target's, not the writer's
        model = architectures.build(net["name"], net["config"], get_release(built_as))
        layout = net_state.layout(net["name"], model, detected.last)
        assert {k: (tuple(v.shape), v.dtype) for k, v in state_dict.items()} == layout
        net_state.check(state_dict, layout, net["name"])


@pytest.mark.parametrize("release", [r.name for r in RELEASES], ids=str)
def test_layout_is_what_the_release_itself_builds(release):
    """For every release: the layout equals the state dict of a model built under that very release."""
    for case in (FIXTURES / "0.7.4" / "catlstm", FIXTURES / "0.7.4" / "hyperconvnet_bn"):
        net = _config(case)
        own = architectures.build(net["name"], net["config"], get_release(release))
        other = architectures.build(net["name"], net["config"], get_release("0.3.0"))
        expected = {k: (tuple(v.shape), v.dtype) for k, v in own.state_dict().items()}
        assert net_state.layout(net["name"], other, get_release(release)) == expected


def _lstm(**config):
    base = {"num_layers": 2, "hidden_size": 8, "input_size": 4}
    return architectures.build("CatLSTM", {**base, **config}, get_release("ae86979"))


def _shapes(model):
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


@pytest.mark.parametrize("config, text", [
    ({"hidden_size": 32, "num_layers": 4}, "hidden_size 8 in the config, 32 in the checkpoint; num_layers 2 vs 4"),
    ({"input_size": 2}, "input_size 4 (3 knobs) in the config, 2 (1 knob) in the checkpoint"),
])
def test_lstm_mismatch_in_config_terms(config, text):
    found = _lstm(**config).state_dict()
    with pytest.raises(compat.WeightsMismatchError, match="does not fit this CatLSTM config: " + text.replace("(", r"\(")
                       .replace(")", r"\)")):
        net_state.check(found, {k: (tuple(v.shape), v.dtype) for k, v in _lstm().state_dict().items()}, "CatLSTM")


def test_an_lstm_without_biases_is_a_config_error_not_a_crash():
    with pytest.raises(compat.ConfigError, match="cannot build CatLSTM"):
        _lstm(bias=False)


def test_implied_hyperparameters_read_back_what_the_config_says():
    wavenet = _config(FIXTURES / "0.7.4" / "catwavenet")
    model = architectures.build("CatWaveNet", wavenet["config"], get_release("ae86979"))
    got = net_state.implied("CatWaveNet", _shapes(model))
    for a, array in enumerate(wavenet["config"]["layers_configs"]):
        at = f"layers_configs[{a}]"
        assert got[f"{at}.channels"] == array["channels"] and got[f"{at}.kernel_size"] == array["kernel_size"]
        assert got[f"number of {at}.dilations"] == len(array["dilations"])
        assert got[f"{at}.input_size"] == array["input_size"] and got[f"{at}.head_size"] == array["head_size"]
        assert got[f"{at}.gated"] == array["gated"] and got[f"{at}.head_bias"] == array["head_bias"]
        assert got[f"{at}.condition_size"].startswith(f"{array['condition_size']} (")
    hyper = _config(FIXTURES / "0.7.4" / "hyperconvnet_bn")
    model = architectures.build("HyperConvNet", hyper["config"], get_release("ae86979"))
    got = net_state.implied("HyperConvNet", _shapes(model))
    net, hn = hyper["config"]["net"], hyper["config"]["hyper_net"]
    assert (got["net.channels"], got["number of net.dilations"], got["net.batchnorm"]) == (
        net["channels"], len(net["dilations"]), net["batchnorm"])
    assert (got["hyper_net.num_inputs"], got["hyper_net.num_layers"], got["hyper_net.num_units"],
            got["hyper_net.batchnorm"]) == (hn["num_inputs"], hn["num_layers"], hn["num_units"], hn["batchnorm"])


def test_hypernet_without_hidden_layers_still_names_its_inputs():
    config = {"net": {"channels": 2, "dilations": [1], "batchnorm": False, "activation": "ReLU"},
              "hyper_net": {"num_inputs": 5, "num_layers": 0, "num_units": 4, "batchnorm": False}}
    model = architectures.build("HyperConvNet", config, get_release("ae86979"))
    got = net_state.implied("HyperConvNet", _shapes(model))
    assert got["hyper_net.num_inputs"] == 5 and got["hyper_net.num_layers"] == 0 and "hyper_net.num_units" not in got


def test_another_architecture_is_named():
    lstm = {k: v for k, v in _lstm().state_dict().items()}
    wavenet = _config(FIXTURES / "0.7.4" / "catwavenet")
    model = architectures.build("CatWaveNet", wavenet["config"], get_release("ae86979"))
    with pytest.raises(compat.WeightsMismatchError, match="the checkpoint holds a CatLSTM, the config describes a "
                                                          "CatWaveNet"):
        net_state.check(lstm, {k: (tuple(v.shape), v.dtype) for k, v in model.state_dict().items()}, "CatWaveNet")


def test_key_level_message_when_the_shapes_tell_nothing_more():
    expected = {k: (tuple(v.shape), v.dtype) for k, v in _lstm().state_dict().items()}
    found = dict(_lstm().state_dict())
    found["_core.weight_hh_l0"] = torch.zeros(1).expand(256)
    del found["_head.bias"]
    found["\x1b[2J" * 50] = torch.zeros(1)
    with pytest.raises(compat.WeightsMismatchError) as info:
        net_state.check(found, expected, "CatLSTM")
    message = str(info.value)
    assert "missing ['_head.bias'] (1 in all)" in message and "unexpected ['\\x1b[2J" in message
    assert "'_core.weight_hh_l0' has shape (256,), the config implies (32, 8)" in message
    assert message.isprintable() and len(message) < 300


def test_many_differences_are_summarised():
    config = {"layers_configs": [{"input_size": 4 if a == 0 else 2, "condition_size": 4, "head_size": 1,
                                  "channels": 2, "kernel_size": 2, "dilations": [1], "activation": "Tanh",
                                  "gated": False, "head_bias": False} for a in range(12)], "head_scale": 0.02}
    small = architectures.build("CatWaveNet", config, get_release("ae86979"))
    for array in config["layers_configs"]:
        array["kernel_size"] = 3
    big = architectures.build("CatWaveNet", config, get_release("ae86979"))
    with pytest.raises(compat.WeightsMismatchError) as info:
        net_state.check(small.state_dict(), {k: (tuple(v.shape), v.dtype) for k, v in big.state_dict().items()},
                        "CatWaveNet")
    assert "layers_configs[0].kernel_size 3 in the config, 2 in the checkpoint" in str(info.value)
    assert "and 4 more" in str(info.value) and len(str(info.value)) < 300  # 8 arrays described one by one


@pytest.mark.parametrize("key, dtype", [("_core.weight_ih_l0", torch.float16), ("_head.bias", torch.float64),
                                        ("_has_sample_rate", torch.uint8), ("_sample_rate", torch.int64)])
def test_dtype_must_be_the_models(key, dtype):
    model = _lstm()
    found = dict(model.state_dict())
    found[key] = found[key].to(dtype)
    with pytest.raises(compat.WeightsMismatchError, match=f"holds '{key}' as {dtype}, where the CatLSTM keeps"):
        net_state.check(found, {k: (tuple(v.shape), v.dtype) for k, v in model.state_dict().items()}, "CatLSTM")
