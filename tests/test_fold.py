"""Folding a legacy parametric model at fixed knobs (compat.migrate.fold) is exact.

Each folded model is run by an independent implementation of current NAM's inference
(tests/current_nam.py, written from the .nam format, sharing no code with nam_legacy) and
compared with the legacy model's own forward at the same knobs: genuine fixtures of every
release (checkpoints and the releases' own exports) and random models (hypothesis).
"""

import copy
import functools
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import compat
import current_nam as ref
from compat.errors import ConfigError
from compat.migrate import fold
from nam_legacy.models.parametric.catnets import CatLSTM, CatWaveNet
from nam_legacy.models.parametric.hyper_net import HyperConvNet, _BatchNorm

# the random knob vectors extrapolate continuous knobs on purpose (allow_out_of_range=True)
pytestmark = pytest.mark.filterwarnings("ignore::compat.OutOfRangeWarning")

FIXTURES = Path(__file__).parent / "fixtures"
CASES = sorted(p.parent for p in FIXTURES.glob("*/*/model.ckpt"))
TOL = 1e-6


@functools.lru_cache(maxsize=None)
def _load(case: Path):
    return compat.load(case / "model.ckpt", config=case / "model.json", param_config=case / "params.json")


def _id(case: Path) -> str:
    return f"{case.parent.name}-{case.name}"


def _audio(seed: int, length: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return 0.5 * torch.randn((length,), generator=g)


def _tol(y: torch.Tensor) -> float:
    # float32 rounding of the legacy forward itself scales with the output
    return TOL * max(1.0, float(y.abs().max()))


def _max_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).abs().max())


def check_fold(model, knobs, seed: int = 0, length: int = 300) -> float:
    """Fold at `knobs`, run the reference, compare with the legacy forward; max abs error."""
    module = model.model if isinstance(model, compat.LegacyModel) else model
    p = torch.as_tensor(np.asarray(knobs, dtype=np.float32))
    worst = 0.0
    if isinstance(module, CatLSTM):
        x = _audio(seed, length)
        # (1) the file carries the legacy model's own start state: equal from sample 0
        folded = fold(model, knobs, initial_state="model", allow_out_of_range=True)
        with torch.no_grad():
            y_old = module(p, x)
        y_new = ref.lstm_reference(folded.config, folded.weights, x)
        err = _max_err(y_old, y_new)
        assert err <= _tol(y_old), err
        worst = max(worst, err)
        # (2) the burn-in state current NAM would store: legacy started from that state too
        folded = fold(model, knobs, allow_out_of_range=True)
        h, c = ref.lstm_initial_state(folded.config, folded.weights)
        y_old = ref.legacy_lstm_from(module, knobs, x, h, c)
        y_new = ref.lstm_reference(folded.config, folded.weights, x)
        err = _max_err(y_old, y_new)
        assert err <= _tol(y_old), err
        return max(worst, err)
    folded = fold(model, knobs, allow_out_of_range=True)
    run = ref.wavenet_reference if folded.architecture == "WaveNet" else ref.convnet_reference
    rf = folded.receptive_field
    assert rf == module.receptive_field
    x = _audio(seed, rf - 1 + length)
    with torch.no_grad():
        for pad in (False, True):
            y_old = module(p, x, pad_start=pad)
            xin = torch.cat([torch.zeros(rf - 1), x]) if pad else x
            y_new = run(folded.config, folded.weights, xin)
            assert y_new.shape == y_old.shape
            err = _max_err(y_old, y_new)
            assert err <= _tol(y_old), err
            worst = max(worst, err)
    return worst


# --- genuine fixtures ------------------------------------------------------------------


def _knob_sets(legacy):
    """Defaults, then two random vectors that extrapolate continuous knobs (a boolean knob
    only ever takes 0 or 1: compat.knobs refuses anything else)."""
    n = legacy.knob_count
    rng = np.random.default_rng(n)
    boolean = [s.type == "boolean" for s in legacy.knobs] or [False] * n
    return [None] + [[float(rng.integers(0, 2)) if b else float(v) for b, v in zip(boolean, rng.uniform(-0.5, 1.5, size=n))]
                     for _ in range(2)]


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_fold_genuine_checkpoints(case):
    legacy = _load(case)
    for i, knobs in enumerate(_knob_sets(legacy)):
        values = [k.default for k in legacy.knobs] if knobs is None else knobs
        if knobs is None:
            assert fold(legacy).knobs == tuple(values)
        check_fold(legacy, values, seed=i)


EXPORTS = sorted(
    p for p in FIXTURES.glob("*/*/export/*")
    if p.name in ("model.nam", "model.h") or (p.name == "config.json")
)


@pytest.mark.parametrize("path", EXPORTS, ids=lambda p: f"{p.parts[-4]}-{p.parts[-3]}-{p.name}")
def test_fold_genuine_exports(path):
    case = path.parent.parent
    target = path.parent if path.name == "config.json" else path
    legacy = compat.load(target, param_config=case / "params.json")
    for i, knobs in enumerate(_knob_sets(legacy)[1:]):
        check_fold(legacy, knobs, seed=10 + i)


@pytest.mark.parametrize("case", sorted(p.parent.parent for p in FIXTURES.glob("*/hyperconvnet_*/export/test_signal_output.npy")), ids=_id)
def test_fold_reproduces_release_snapshot(case):
    """The releases' own HyperConvNet snapshot (random knobs, input, output) is what the
    folded ConvNet computes: an end-to-end check against the genuine release's numbers."""
    export = case / "export"
    params = np.load(export / "test_signal_params.npy")
    x = torch.from_numpy(np.load(export / "test_signal_input.npy"))
    y = torch.from_numpy(np.load(export / "test_signal_output.npy"))
    # the release drew these knobs from randn, boolean included: fold the bare module,
    # which (like upstream) takes any finite values; a LegacyModel checks them against specs
    folded = fold(_load(case).model, params.tolist())
    xin = torch.cat([torch.zeros(folded.receptive_field - 1), x])
    y_new = ref.convnet_reference(folded.config, folded.weights, xin)
    assert _max_err(y, y_new) <= _tol(y)


@pytest.mark.parametrize("nam", sorted(FIXTURES.glob("*/catlstm/export/model.nam")), ids=lambda p: p.parts[-4])
def test_lstm_burn_in_matches_release_export(nam):
    """At the default knobs, the burn-in state we store is the one the release exported
    (the release ran the unfolded core; rounding differs, the state agrees)."""
    case = nam.parent.parent
    legacy = _load(case)
    folded = fold(legacy)
    exported = compat.load(nam, param_config=case / "params.json")
    h_old = exported.model._initial_hidden.detach().numpy()
    c_old = exported.model._initial_cell.detach().numpy()
    h, c = ref.lstm_initial_state(folded.config, folded.weights)
    assert np.abs(h - h_old).max() <= 1e-5
    assert np.abs(c - c_old).max() <= 1e-5


# --- random models ----------------------------------------------------------------------

ACTIVATIONS = ["Tanh", "ReLU", "Sigmoid", "LeakyReLU", "Hardtanh", "ELU"]


@st.composite
def cat_lstms(draw):
    d = draw(st.integers(1, 3))
    torch.manual_seed(draw(st.integers(0, 2**16)))
    model = CatLSTM(draw(st.integers(1, 6)), input_size=1 + d, num_layers=draw(st.integers(1, 2))).eval()
    with torch.no_grad():
        model._initial_hidden.normal_(0, 0.3)
        model._initial_cell.normal_(0, 0.3)
    return model, d


@st.composite
def cat_wavenets(draw):
    d = draw(st.integers(1, 3))
    n_arrays = draw(st.integers(1, 3))
    channels = [draw(st.integers(1, 4)) for _ in range(n_arrays)]
    with_head = draw(st.booleans())
    head_sizes = channels[1:] + [draw(st.integers(1, 3)) if with_head else 1]
    arrays = []
    for a in range(n_arrays):
        arrays.append(dict(
            input_size=1 + d if a == 0 else channels[a - 1],
            condition_size=1 + d,
            head_size=head_sizes[a],
            channels=channels[a],
            kernel_size=draw(st.integers(1, 3)),
            dilations=draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)),
            activation=draw(st.sampled_from(ACTIVATIONS)),
            gated=draw(st.booleans()),
            head_bias=draw(st.booleans()),
        ))
    head = None
    if with_head:
        head = dict(in_channels=head_sizes[-1], channels=draw(st.integers(1, 3)), activation=draw(st.sampled_from(ACTIVATIONS)),
                    num_layers=draw(st.integers(1, 2)), out_channels=1)
    torch.manual_seed(draw(st.integers(0, 2**16)))
    model = CatWaveNet(arrays, head_config=head, head_scale=draw(st.sampled_from([0.02, 1.0, 0.3]))).eval()
    return model, d


@st.composite
def hyper_conv_nets(draw):
    d = draw(st.integers(1, 3))
    config = {
        "net": {
            "channels": draw(st.integers(1, 4)),
            "dilations": draw(st.lists(st.integers(1, 8), min_size=1, max_size=4)),
            "batchnorm": draw(st.booleans()),
            "activation": draw(st.sampled_from(["Tanh", "ReLU"])),
        },
        "hyper_net": {"num_inputs": d, "num_layers": draw(st.integers(1, 2)), "num_units": draw(st.integers(2, 8)),
                      "batchnorm": draw(st.booleans())},
    }
    torch.manual_seed(draw(st.integers(0, 2**16)))
    try:
        model = HyperConvNet.init_from_config(config).eval()
    except ZeroDivisionError:  # upstream's init divides by the MLP's output spread (0 if all ReLUs die)
        assume(False)
    with torch.no_grad():  # running statistics away from the (0, 1) defaults
        for m in model.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, _BatchNorm)):
                m.running_mean.normal_(0, 0.5)
                m.running_var.uniform_(0.3, 2.0)
    return model, d


def _knobs(draw, d):
    return draw(st.lists(st.floats(-2.0, 2.0, allow_nan=False, width=32), min_size=d, max_size=d))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fold_random_cat_lstm(data):
    model, d = data.draw(cat_lstms())
    check_fold(model, _knobs(data.draw, d), length=120)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fold_random_cat_wavenet(data):
    model, d = data.draw(cat_wavenets())
    check_fold(model, _knobs(data.draw, d), length=64)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fold_random_hyper_conv_net(data):
    model, d = data.draw(hyper_conv_nets())
    check_fold(model, _knobs(data.draw, d), length=64)


# --- API ---------------------------------------------------------------------------------


def test_fold_leaves_model_untouched_and_weights_readonly():
    legacy = _load(FIXTURES / "0.7.4" / "hyperconvnet_bn")
    legacy.model.train()
    before = copy.deepcopy(legacy.model.state_dict())
    try:
        folded = fold(legacy, [1.0, 0.2, 0.3])
        assert legacy.model.training and legacy.model._hyper_net.training
    finally:
        legacy.model.eval()
    after = legacy.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert folded.weights.dtype == np.float32 and not folded.weights.flags.writeable


def test_fold_knobs_by_name_and_defaults():
    legacy = _load(FIXTURES / "0.7.4" / "catwavenet")
    assert [k.name for k in legacy.knobs] == ["bright", "drive", "tone"]
    by_name = fold(legacy, {"tone": 0.9})
    assert by_name.knobs == (0.0, 0.3, 0.9)
    assert by_name.named_knobs == {"bright": 0.0, "drive": 0.3, "tone": 0.9}
    positional = fold(legacy, [0.0, 0.3, 0.9])
    assert np.array_equal(by_name.weights, positional.weights)
    assert np.array_equal(fold(legacy, torch.tensor([0.0, 0.3, 0.9])).weights, positional.weights)
    with pytest.raises(ConfigError):
        fold(legacy, [0.1, 0.2])
    with pytest.raises(ConfigError):
        fold(legacy, {"volume": 1.0})
    with pytest.raises(ConfigError):
        fold(legacy, [0.1, float("nan"), 0.2])
    with pytest.raises(ConfigError):
        fold(legacy.model)  # bare module: defaults unknown
    with pytest.raises(ConfigError):
        fold(legacy, initial_state="learned")
    with pytest.raises(TypeError):
        fold(torch.nn.Linear(2, 2), [])


def test_fold_shapes():
    lstm = fold(_load(FIXTURES / "0.7.4" / "catlstm"))
    assert lstm.architecture == "LSTM" and lstm.source_architecture == "CatLSTM"
    assert lstm.config == {"input_size": 1, "hidden_size": 8, "num_layers": 2}
    h = 8  # per layer [W_ih | W_hh], bias, h0, c0; layer 0 now has one input; head W, b
    assert len(lstm.weights) == (4 * h * (1 + h) + 6 * h) + (4 * h * (2 * h) + 6 * h) + h + 1
    wn = fold(_load(FIXTURES / "0.7.4" / "catwavenet"))
    assert [la["condition_size"] for la in wn.config["layers"]] == [1, 1]
    assert [la["input_size"] for la in wn.config["layers"]] == [1, 4]
    assert wn.config["layers"][0]["gating_mode"] == ["gated", "gated"]
    assert wn.config["layers"][0]["secondary_activation"] == [{"type": "Sigmoid"}] * 2
    assert wn.config["layers"][1]["gating_mode"] == ["none", "none"]
    assert wn.config["layers"][1]["secondary_activation"] == [None, None]
    assert wn.weights[-1] == np.float32(0.02) and wn.config["head_scale"] == 0.02
    assert list(wn.config) == ["layers", "head", "head_scale"]
    assert list(wn.config["layers"][0]) == [  # 0.13.0's LayerArray.export_config order
        "input_size", "condition_size", "head", "channels", "kernel_sizes", "dilations", "activation",
        "bottleneck", "head1x1", "layer1x1", "groups_input", "groups_input_mixin", "conv_pre_film",
        "conv_post_film", "input_mixin_pre_film", "input_mixin_post_film", "activation_pre_film",
        "activation_post_film", "layer1x1_post_film", "head1x1_post_film", "gating_mode",
        "secondary_activation", "slimmable",
    ]
    assert wn.config["layers"][0]["head"] == {"out_channels": 2, "kernel_size": 1, "bias": False}
    cn = fold(_load(FIXTURES / "0.7.4" / "hyperconvnet_nobn"))
    assert cn.config == {"channels": 3, "dilations": [1, 2, 4], "batchnorm": False, "activation": "ReLU"}
    json.dumps(wn.config)  # plain JSON
