"""compat.load_checkpoint / open_checkpoint: what they return and how they refuse."""

import json

import pytest
import torch

import compat
from golden import FIXTURES

CASE = FIXTURES / "0.7.4" / "hyperconvnet_bn"


def _resave(tmp_path, checkpoint):
    path = tmp_path / "edited.ckpt"
    torch.save(checkpoint, path)
    return path


def test_returns_eval_model_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    loaded = compat.open_checkpoint(CASE / "model.ckpt", CASE / "model.json")
    assert torch.equal(torch.random.get_rng_state(), before)
    assert not loaded.model.training
    assert loaded.architecture == "HyperConvNet" and str(loaded.detected) == "0.7.4..ae86979"
    assert loaded.lightning_version == "2.1.3"


def test_model_config_may_be_a_dict_or_a_bare_net():
    config = json.loads((CASE / "model.json").read_text())
    a = compat.load_checkpoint(CASE / "model.ckpt", config)
    b = compat.load_checkpoint(CASE / "model.ckpt", config["net"])
    assert all(torch.equal(a.state_dict()[k], v) for k, v in b.state_dict().items())


def test_sample_rate_from_074_checkpoint(tmp_path):
    checkpoint = torch.load(CASE / "model.ckpt", weights_only=True)
    checkpoint["sample_rate"] = 44_100.0
    checkpoint["state_dict"]["_net._has_sample_rate"] = torch.tensor(True)
    checkpoint["state_dict"]["_net._sample_rate"] = torch.tensor(44_100.0)
    loaded = compat.open_checkpoint(_resave(tmp_path, checkpoint), CASE / "model.json")
    assert loaded.model.sample_rate == 44_100.0 == loaded.sample_rate


def test_mixed_release_traits_are_refused(tmp_path):
    case = FIXTURES / "0.3.0" / "catlstm"
    checkpoint = torch.load(case / "model.ckpt", weights_only=True)
    checkpoint["sample_rate"] = None  # 0.7.4+ trait on a 0.3.0-only layout
    with pytest.raises(compat.CorruptFileError, match="mixes traits"):
        compat.load_checkpoint(_resave(tmp_path, checkpoint), case / "model.json")


@pytest.mark.parametrize(
    "config, error, fragment",
    [
        ({"net": {"name": "ConvNet", "config": {}}}, compat.ConfigError, "not a parametric model"),
        ({"loss": {}}, compat.ConfigError, '"net"'),
        ({"net": {"name": "HyperConvNet", "config": {"net": {}}}}, compat.ConfigError, "net.config.hyper_net: missing"),
    ],
)
def test_bad_model_configs(config, error, fragment):
    with pytest.raises(error, match=fragment):
        compat.load_checkpoint(CASE / "model.ckpt", config)


def test_config_that_does_not_fit_the_weights():
    config = json.loads((CASE / "model.json").read_text())
    config["net"]["config"]["net"]["channels"] = 5
    with pytest.raises(compat.WeightsMismatchError, match="net.channels 5 in the config, 3 in the checkpoint"):
        compat.load_checkpoint(CASE / "model.ckpt", config)


def test_not_json_config(tmp_path):
    (tmp_path / "m.json").write_text("{nope")
    with pytest.raises(compat.CorruptFileError, match="not valid JSON"):
        compat.load_checkpoint(CASE / "model.ckpt", tmp_path / "m.json")


def test_checkpoint_without_net_weights(tmp_path):
    path = _resave(tmp_path, {"state_dict": {"other.weight": torch.ones(1)}})
    with pytest.raises(compat.CorruptFileError, match="_net."):
        compat.load_checkpoint(path, CASE / "model.json")


def test_entries_outside_the_net_are_ignored_with_a_note(tmp_path):
    checkpoint = torch.load(CASE / "model.ckpt", weights_only=True)
    checkpoint["state_dict"]["_mrstft.window"] = torch.ones(4)  # a loss module's buffer
    loaded = compat.open_checkpoint(_resave(tmp_path, checkpoint), CASE / "model.json")
    assert loaded.notes == ["ignored 1 state_dict entries outside the net (e.g. '_mrstft.window')"]
