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


# -- checked before use (issue 10, class 2) ----------------------------------------------------------------------

def test_a_bad_config_is_refused_before_the_file_is_read(monkeypatch):
    from compat import loading

    def no_read(*args, **kwargs):
        raise AssertionError("read the checkpoint")
    monkeypatch.setattr(loading, "read_checkpoint", no_read)
    with pytest.raises(compat.ConfigError):
        compat.load_checkpoint(CASE / "model.ckpt", {"net": {"name": "HyperConvNet", "config": {"net": {}}}})


def test_the_archive_may_inflate_only_to_what_a_checkpoint_of_the_model_holds(tmp_path, monkeypatch):
    from compat import checkpoint as ckpt_module
    checkpoint = torch.load(CASE / "model.ckpt", weights_only=True)
    checkpoint["extra"] = torch.zeros(3 << 20, dtype=torch.uint8)  # 3 MiB the model does not need
    path = _resave(tmp_path, checkpoint)
    assert compat.load_checkpoint(path, CASE / "model.json") is not None  # within the 64 MiB slack
    monkeypatch.setattr(ckpt_module, "CHECKPOINT_SLACK", 1 << 20)
    with pytest.raises(compat.UnsafeFileError, match="edited.ckpt: the archive's entries inflate to more than"):
        compat.load_checkpoint(path, CASE / "model.json")


def test_the_sample_rate_comes_from_the_buffers(tmp_path):
    checkpoint = torch.load(CASE / "model.ckpt", weights_only=True)
    checkpoint["sample_rate"] = 44_100.0
    checkpoint["state_dict"]["_net._has_sample_rate"] = torch.tensor(True)
    checkpoint["state_dict"]["_net._sample_rate"] = torch.tensor(48_000.0)
    loaded = compat.open_checkpoint(_resave(tmp_path, checkpoint), CASE / "model.json")
    assert loaded.sample_rate == 48_000.0 == loaded.model.sample_rate
    assert loaded.notes == ["the checkpoint's sample_rate (44100.0) differs from the net's buffers (48000.0); "
                            "using the buffers, as upstream's net did"]


@pytest.mark.parametrize("rate, needle", [(float("nan"), "not a float"), ("48000", "not a str"),
                                          (torch.tensor(48000.0), "not a Tensor"), ([48000], "not a list of 1 item"),
                                          (-1, "not -1"), (True, "not a bool")])
def test_a_bad_sample_rate_is_refused(tmp_path, rate, needle):
    checkpoint = torch.load(CASE / "model.ckpt", weights_only=True)
    checkpoint["sample_rate"] = rate
    with pytest.raises(compat.CorruptFileError, match=f"edited.ckpt: the checkpoint's sample_rate must be .*{needle}"):
        compat.open_checkpoint(_resave(tmp_path, checkpoint), CASE / "model.json")


@pytest.mark.parametrize("version, shown", [("2.1.3", "2.1.3"), ("9" * 65, None), ("1.9\n\x1b[2J", "1.9\n\x1b[2J"),
                                            (3, None), (None, None), (torch.ones(2), None)])
def test_the_lightning_version_is_kept_only_when_it_is_one(tmp_path, version, shown):
    checkpoint = torch.load(CASE / "model.ckpt", weights_only=True)
    checkpoint["pytorch-lightning_version"] = version
    assert compat.open_checkpoint(_resave(tmp_path, checkpoint), CASE / "model.json").lightning_version == shown


@pytest.mark.parametrize("case, key, edit, needle", [
    (FIXTURES / "0.3.0" / "catlstm", "_net._core.weight_hh_l0", lambda v: torch.zeros(1).expand(8, 2**29),
     "hidden_size 8 in the config, 536870912 in the checkpoint"),
    (FIXTURES / "0.3.0" / "catlstm", "_net._core.weight_hh_l0", lambda v: v.flatten(), "has shape (256,)"),
    (FIXTURES / "0.7.4" / "catlstm", "_net._core.weight_ih_l0", lambda v: v.half(), "as torch.float16"),
    (CASE, "_net._net.1.num_batches_tracked", lambda v: v.float(), "as torch.float32, where the HyperConvNet keeps"),
])
def test_the_state_dict_is_checked_before_any_upgrade_step(tmp_path, monkeypatch, case, key, edit, needle):
    from compat import upgrades
    checkpoint = torch.load(case / "model.ckpt", weights_only=True)
    checkpoint["state_dict"][key] = edit(checkpoint["state_dict"][key])
    monkeypatch.setattr(upgrades, "migrate", lambda *a: pytest.fail("an upgrade step ran"))
    with pytest.raises(compat.WeightsMismatchError) as info:
        compat.open_checkpoint(_resave(tmp_path, checkpoint), case / "model.json")
    assert needle in str(info.value) and str(info.value).startswith("edited.ckpt: ")


def test_memory_errors_while_loading_are_typed(monkeypatch):
    from compat import loading
    monkeypatch.setattr(loading.upgrades, "migrate", lambda *a: (_ for _ in ()).throw(MemoryError()))
    with pytest.raises(compat.UnsafeFileError, match="model.ckpt: loading it needs more memory"):
        compat.load_checkpoint(CASE / "model.ckpt", CASE / "model.json")
