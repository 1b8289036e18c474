"""State-dict migrations between releases, and release detection from checkpoints."""

import pytest
import torch

import compat
from compat import upgrades
from compat.detect import checkpoint_releases
from compat.loading import _net_state_dict
from golden import FIXTURES, cases, case_id, meta, mismatches
from nam_legacy.releases import RELEASES, get_release


def _payload(case):
    checkpoint = compat.read_checkpoint(case / "model.ckpt")
    name = meta(case)["class"]
    return {"architecture": name, "state_dict": _net_state_dict(checkpoint), "sample_rate": checkpoint.get("sample_rate")}, checkpoint


@pytest.mark.parametrize("case", cases(), ids=case_id)
def test_detected_range_contains_the_writing_release(case):
    payload, checkpoint = _payload(case)
    detected = checkpoint_releases(payload["architecture"], checkpoint, payload["state_dict"])
    assert get_release(meta(case)["release"]) in detected.releases


MIGRATIONS = [
    pytest.param(case, target, id=f"{case_id(case)}->{target}")
    for case in cases()
    for target in ("0.3.0", "0.4.0", "0.7.3", "0.7.4", "ae86979")
    if not (case.name == "catwavenet" and target == "0.3.0")  # no CatWaveNet in 0.3.0
]


@pytest.mark.parametrize("case, target", MIGRATIONS)
def test_migrated_state_dict_has_exactly_the_targets_keys(case, target):
    payload, _ = _payload(case)
    source = get_release(meta(case)["release"])
    try:
        migrated = upgrades.migrate(payload, source, get_release(target))
    except compat.UnsupportedReleaseError:
        assert payload["architecture"] == "CatLSTM" and target == "0.3.0"
        return
    model = compat.open_checkpoint(case / "model.ckpt", case / "model.json", release=target).model
    assert sorted(migrated["state_dict"]) == sorted(model.state_dict())


def test_migrate_never_modifies_its_input():
    case = FIXTURES / "0.3.0" / "catlstm"
    payload, _ = _payload(case)
    keys = list(payload["state_dict"])
    upgrades.migrate(payload, get_release("0.3.0"), get_release("ae86979"))
    assert list(payload["state_dict"]) == keys


def test_round_trip_030_to_last_and_back_is_lossless():
    payload, _ = _payload(FIXTURES / "0.3.0" / "catlstm")
    up = upgrades.migrate(payload, get_release("0.3.0"), get_release("ae86979"))
    down = upgrades.migrate(up, get_release("ae86979"), get_release("0.3.0"))
    assert down["state_dict"].keys() == payload["state_dict"].keys()
    assert all(torch.equal(down["state_dict"][k], v) for k, v in payload["state_dict"].items())


def test_learned_state_cannot_go_back_to_030():
    payload, _ = _payload(FIXTURES / "0.4.0" / "catlstm")
    assert payload["state_dict"]["_initial_hidden"].any()  # trained, hence not zero
    with pytest.raises(compat.UnsupportedReleaseError, match="learned its initial state"):
        upgrades.migrate(payload, get_release("0.4.0"), get_release("0.3.0"))


def test_sample_rate_survives_a_trip_through_old_releases():
    payload = {"architecture": "HyperConvNet", "state_dict": {"w": torch.ones(1)}, "sample_rate": 44_100.0}
    up = upgrades.add_sample_rate_buffers(payload)
    assert bool(up["state_dict"]["_has_sample_rate"]) and up["state_dict"]["_sample_rate"].item() == 44_100.0
    assert upgrades.drop_sample_rate_buffers(up)["sample_rate"] == 44_100.0


def test_steps_are_in_release_order_and_cite_commits():
    versions = [s.version for s in upgrades.STEPS]
    assert versions == sorted(versions)
    assert all(s.version in {r.version for r in RELEASES} for s in upgrades.STEPS)
    assert all(len(s.commit) == 7 and int(s.commit, 16) >= 0 for s in upgrades.STEPS)


@pytest.mark.parametrize("case", [FIXTURES / "0.3.0" / "catlstm", FIXTURES / "0.7.4" / "catlstm"], ids=case_id)
@pytest.mark.parametrize("target", [r.name for r in RELEASES if r.name != "0.3.0"])
def test_every_later_profile_reproduces_the_bits(case, target):
    model = compat.load_checkpoint(case / "model.ckpt", case / "model.json", release=target)
    assert mismatches(model, case) == []


# -- steps refuse malformed payloads with typed errors (they also run after compat.net_state's check) ------------

def _lstm_payload(**state):
    return {"architecture": "CatLSTM", "state_dict": state, "sample_rate": None}


@pytest.mark.parametrize("step, payload, error, needle", [
    (upgrades.add_learned_lstm_state, _lstm_payload(), compat.WeightsMismatchError, "rank-2 tensor _core.weight_hh_l0"),
    (upgrades.add_learned_lstm_state, _lstm_payload(**{"_core.weight_hh_l0": torch.zeros(3)}),
     compat.WeightsMismatchError, "rank-2"),
    (upgrades.drop_learned_lstm_state, _lstm_payload(_initial_hidden=torch.zeros(1, 2)), compat.WeightsMismatchError,
     "_initial_cell"),
    (upgrades.drop_sample_rate_buffers, _lstm_payload(_has_sample_rate=torch.tensor(True)),
     compat.WeightsMismatchError, "rank-0 tensor _sample_rate"),
    (upgrades.drop_sample_rate_buffers, _lstm_payload(_has_sample_rate=torch.tensor(True),
                                                      _sample_rate=torch.tensor(float("nan"))),
     compat.CorruptFileError, "_sample_rate must be a positive number"),
    (upgrades.add_sample_rate_buffers, {**_lstm_payload(), "sample_rate": torch.tensor(48000.0)},
     compat.CorruptFileError, "not a Tensor"),
    (upgrades.add_sample_rate_buffers, {**_lstm_payload(), "sample_rate": float("inf")}, compat.CorruptFileError,
     "not a float"),
    (upgrades.add_sample_rate_buffers, {**_lstm_payload(), "sample_rate": True}, compat.CorruptFileError, "not a bool"),
    (upgrades.add_sample_rate_buffers, {**_lstm_payload(), "sample_rate": 2**32}, compat.CorruptFileError,
     "not 4294967296"),
])
def test_steps_refuse_malformed_payloads(step, payload, error, needle):
    with pytest.raises(error, match=needle):
        step(payload)


@pytest.mark.parametrize("rate", [None, 1, 44_100, 48_000.0, 96_000.5, 2**32 - 1])
def test_plausible_rates_pass(rate):
    assert upgrades.check_sample_rate(rate) == (None if rate is None else float(rate))


def test_step_layout_is_what_each_step_adds():
    """add_* on a payload without the keys produce exactly the shapes and dtypes step_layout announces."""
    case = FIXTURES / "0.3.0" / "catlstm"
    payload, _ = _payload(case)
    model = compat.load_checkpoint(case / "model.ckpt", case / "model.json")
    up = upgrades.add_sample_rate_buffers(upgrades.add_learned_lstm_state(payload))
    layout = upgrades.step_layout("CatLSTM", model, get_release("ae86979"))
    assert set(layout) == upgrades.STEP_KEYS
    assert {k: (tuple(up["state_dict"][k].shape), up["state_dict"][k].dtype) for k in layout} == layout
