"""compat.weights: flat export vectors back into models, checked against genuine release files.

Every export in tests/fixtures was written by a real release. Importing it and exporting
again must give the file's vector bit for bit (the CatLSTM burn-in state, which the export
recomputes by a forward pass, within the bound of tests/fixtures/README.md: the fixtures
come from another machine), and the imported model must compute what the release's own
(checkpoint) model computed.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from golden import FIXTURES, bounded_mismatch, case_id, cases, forward_mask, load, mismatches, vector_mismatch
from nam_legacy.models.parametric.params import Param
from nam_legacy.releases import RELEASES, get_release, use_release

from compat import architectures
from compat.errors import ConfigError, UnsupportedReleaseError, WeightsMismatchError
from compat.formats.configs import translate_export_config
from compat.weights import ImportedWeights, expected_length, import_weights

# --- genuine exports ---------------------------------------------------------------------


def _export_dir(case: Path):
    for name in ("export", "export_patched"):
        if (case / name).is_dir():
            return case / name
    return None


EXPORT_CASES = [c for c in cases() if _export_dir(c) is not None]
IDS = [case_id(c) for c in EXPORT_CASES]


def test_every_fixture_case_has_an_export():
    # Guards the parametrisation: an empty list would make the tests below vacuous.
    assert len(EXPORT_CASES) == len(cases()) >= 31


def _read_export(case: Path):
    """(architecture, export config, vector as stored) of the case's genuine export."""
    d = _export_dir(case)
    if (d / "model.nam").is_file():
        doc = json.loads((d / "model.nam").read_text())
        return doc["architecture"], doc["config"], np.asarray(doc["weights"])
    doc = json.loads((d / "config.json").read_text())
    return doc["architecture"], doc["config"], np.load(d / "weights.npy")


def _header_vector(case: Path) -> np.ndarray:
    text = (_export_dir(case) / "model.h").read_text()
    body = re.search(r"std::vector<float> PARAMS\{(.*)\};", text).group(1)
    return np.array([float(s.strip().rstrip("f")) for s in body.split(",")])


def _params(case: Path):
    specs = json.loads((case / "params.json").read_text())
    return {name: Param.init_from_config(dict(spec)) for name, spec in specs.items()}


def _release(case: Path) -> str:
    return case.parent.name


def _import_release(case: Path, architecture: str) -> str:
    # A 0.3.0 CatLSTM cannot hold the burn-in state; 0.4.0 has the same weight layout.
    return "0.4.0" if architecture == "CatLSTM" and _release(case) == "0.3.0" else _release(case)


def _build(architecture, export_config, release, **extra):
    config = {**translate_export_config(architecture, export_config, "config", [])[0], **extra}
    return architectures.build(architecture, config, get_release(release))


def _imported(case: Path, **extra):
    architecture, config, vector = _read_export(case)
    model = _build(architecture, config, _import_release(case, architecture), **extra)
    result = import_weights(model, vector)
    return model.eval(), result


def _same_vector(again: np.ndarray, vector: np.ndarray, case: Path) -> bool:
    """Bit for bit, except the CatLSTM burn-in state (within the bound)."""
    net = json.loads((case / "model.json").read_text())["net"]
    a, e = again.astype(np.float64), vector.astype(np.float64)
    return vector_mismatch(a, e, forward_mask(net, len(e))) is None


def _reexport(model, case: Path) -> np.ndarray:
    if type(model).__name__ == "HyperConvNet":
        return model._export_weights()
    with model._use_parametric_config(_params(case)):
        return model._export_weights()


@pytest.mark.parametrize("case", EXPORT_CASES, ids=IDS)
def test_file_vectors_are_float32_numbers(case):
    # The cast in import_weights is exact for genuine files: every value a release wrote
    # (float32 .npy, float64 .npy of HyperConvNet without BN, JSON floats) is a float32.
    _, _, vector = _read_export(case)
    assert vector.dtype in (np.float32, np.float64)
    assert np.all(np.isfinite(vector))
    assert np.array_equal(vector.astype(np.float32).astype(np.float64), vector.astype(np.float64))


@pytest.mark.parametrize("case", EXPORT_CASES, ids=IDS)
def test_import_then_export_gives_the_file_vector(case):
    architecture, config, vector = _read_export(case)
    model = _build(architecture, config, _import_release(case, architecture))
    assert expected_length(model) == len(vector)
    result = import_weights(model, vector)
    assert result == ImportedWeights(architecture=architecture, length=len(vector), rounded=0)
    again = _reexport(model, case)
    assert _same_vector(again, vector, case)
    if not (_export_dir(case) / "model.nam").is_file():
        assert again.dtype == vector.dtype  # float64 for HyperConvNet without main-net BN


@pytest.mark.parametrize("case", [c for c in EXPORT_CASES if (_export_dir(c) / "model.nam").is_file()][:2])
def test_json_list_imports_like_the_array(case):
    architecture, config, vector = _read_export(case)
    doc = json.loads((_export_dir(case) / "model.nam").read_text())
    a = _build(architecture, config, _release(case))
    b = _build(architecture, config, _release(case))
    import_weights(a, vector)
    import_weights(b, doc["weights"])
    assert _state_equal(a.state_dict(), b.state_dict())


@pytest.mark.parametrize(
    "case", [c for c in EXPORT_CASES if (_export_dir(c) / "model.h").is_file()],
    ids=[case_id(c) for c in EXPORT_CASES if (_export_dir(c) / "model.h").is_file()],
)
def test_header_values_round_to_the_export_vector(case):
    # Headers print 16 decimals, so most values are not float32 numbers (`rounded` counts
    # them), but the nearest float32 is the exported value for all of them here.
    architecture, config, vector = _read_export(case)
    header = _header_vector(case)
    model = _build(architecture, config, _import_release(case, architecture))
    result = import_weights(model, header)
    assert result.rounded == np.count_nonzero(header.astype(np.float32).astype(np.float64) != header) > 0
    assert _same_vector(_reexport(model, case), vector, case)


# --- forward: imported model vs the release's checkpoint model --------------------------


def _inputs(case: Path):
    """(params, x) pairs of reference.npz: each knob vector on x, and the batch of 3."""
    ref = np.load(case / "reference.npz")
    knobs, x, x3 = (torch.from_numpy(ref[k]) for k in ("knobs", "x", "x3"))
    return [(knobs[k], x) for k in range(len(knobs))] + [(knobs[:3], x3)]


def _export_burn_in_state(model, case: Path):
    """(h, c), each (L, H): the state the export computes, as the export computes it.

    Exports run with autograd enabled. reference.npz's `initial_state_h/c` were computed
    under `torch.no_grad()`, where torch's LSTM takes oneDNN's inference path, which
    rounds differently in the last bits; so they are not what the files carry.
    """
    with torch.enable_grad(), model._use_parametric_config(_params(case)):
        h, c = model._get_initial_state()
    return h[:, 0, :].detach(), c[:, 0, :].detach()


def _checkpoint_model(case: Path, architecture: str, imported):
    model = load(case, release=_import_release(case, architecture))
    if architecture == "CatLSTM":
        # The file carries the burn-in state; the checkpoint model starts from its
        # learned state. Start it from the file's state instead (that this is the
        # checkpoint's own burn-in state is the next test's concern).
        with torch.no_grad():
            model._initial_hidden.copy_(imported._initial_hidden)
            model._initial_cell.copy_(imported._initial_cell)
    return model.eval()


@pytest.mark.parametrize("case", EXPORT_CASES, ids=IDS)
def test_imported_model_computes_what_the_checkpoint_model_computes(case):
    architecture = _read_export(case)[0]
    imported, _ = _imported(case)
    reference = _checkpoint_model(case, architecture, imported)
    assert type(imported) is type(reference)
    with torch.no_grad():
        for params, x in _inputs(case):
            for pad in (True, False):
                expected = reference(params, x, pad_start=pad)
                actual = imported(params, x, pad_start=pad)
                assert actual.dtype == torch.float32
                assert torch.equal(actual, expected), (case_id(case), tuple(x.shape), pad)


@pytest.mark.parametrize("case", [c for c in EXPORT_CASES if "catlstm" in c.name], ids=lambda c: case_id(c))
def test_imported_lstm_state_is_the_checkpoint_burn_in_state(case):
    imported, _ = _imported(case)
    h, c = _export_burn_in_state(load(case, release=_import_release(case, "CatLSTM")), case)
    # Computed here and by the release elsewhere: within the bound (bit for bit on the
    # release's machine, and in tests/test_oracle_live.py on this one).
    assert bounded_mismatch(h, imported._initial_hidden.data) is None
    assert bounded_mismatch(c, imported._initial_cell.data) is None
    # The release's no_grad burn-in (reference.npz) differs only by rounding.
    ref = np.load(case / "reference.npz")
    assert np.allclose(h.numpy(), ref["initial_state_h"][:, 0, :], rtol=0, atol=1e-6)
    assert np.allclose(c.numpy(), ref["initial_state_c"][:, 0, :], rtol=0, atol=1e-6)


@pytest.mark.parametrize("case", EXPORT_CASES, ids=IDS)
def test_imported_model_reproduces_the_release_reference_outputs(case):
    """Against reference.npz itself (the release's own outputs, eval and train).

    CatWaveNet and HyperConvNet exports hold everything their forward uses. A CatLSTM
    export lacks the learned state and the training settings: those come from the
    checkpoint and model.json, so this checks the bias split against genuine outputs.
    """
    architecture = _read_export(case)[0]
    if architecture == "CatLSTM":
        net_config = json.loads((case / "model.json").read_text())["net"]["config"]
        training = {k: net_config[k] for k in ("train_burn_in", "train_truncate")}
        imported, _ = _imported(case, **training)
        checkpoint = load(case, release=_import_release(case, architecture))
        with torch.no_grad():
            imported._initial_hidden.copy_(checkpoint._initial_hidden)
            imported._initial_cell.copy_(checkpoint._initial_cell)
    else:
        imported, _ = _imported(case)
    assert mismatches(imported, case) == []


# --- LSTM biases: (b_ih + b_hh, 0) instead of (b_ih, b_hh) -------------------------------


CatLSTM = architectures.ARCHITECTURES["CatLSTM"]


def _catlstm(seed: int, **kwargs):
    with use_release("ae86979"), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return CatLSTM(hidden_size=8, input_size=4, num_layers=2, **kwargs)


def _randomise(model: torch.nn.Module, seed: int) -> None:
    """Nonzero, distinct values in every float parameter and running statistic."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point() and "sample_rate" not in name:
                values = 0.3 * torch.randn(tensor.shape, generator=g)
                tensor.copy_(values.abs() + 0.5 if "running_var" in name else values)


@pytest.mark.parametrize("train", [False, True])
def test_summed_lstm_bias_gives_the_same_bits(train):
    # The claim the LSTM import rests on: torch's CPU LSTM (oneDNN) adds b_ih and b_hh
    # before use, so (b_ih + b_hh, 0) computes exactly what (b_ih, b_hh) does.
    separate = _catlstm(1, train_burn_in=37, train_truncate=50)
    _randomise(separate, 2)
    summed = copy.deepcopy(separate)
    with torch.no_grad():
        for k in range(2):
            b_ih, b_hh = getattr(summed._core, f"bias_ih_l{k}"), getattr(summed._core, f"bias_hh_l{k}")
            b_ih.copy_(b_ih + b_hh)
            b_hh.zero_()
    assert not torch.equal(separate._core.bias_hh_l0, summed._core.bias_hh_l0)
    g = torch.Generator().manual_seed(3)
    knobs, x = torch.rand((3, 3), generator=g), torch.randn((3, 300), generator=g)
    separate.train(train)
    summed.train(train)
    for grad in (False, True):
        with torch.set_grad_enabled(grad):
            for params, audio in ((knobs[0], x[0]), (knobs, x)):
                for pad in (True, False):
                    assert torch.equal(separate(params, audio, pad_start=pad), summed(params, audio, pad_start=pad))


def test_imported_lstm_matches_the_original_once_given_its_learned_state():
    original = _catlstm(4)
    _randomise(original, 5)
    params = {"a": Param.init_from_config({"type": "continuous", "default_value": 0.2, "minval": 0.0, "maxval": 1.0}),
              "b": Param.init_from_config({"type": "boolean", "default_value": True}),
              "c": Param.init_from_config({"type": "continuous", "default_value": 0.7, "minval": 0.0, "maxval": 1.0})}
    with original._use_parametric_config(params):
        vector = original._export_weights()
    imported = _catlstm(6)
    import_weights(imported, vector)
    with torch.no_grad():
        imported._initial_hidden.copy_(original._initial_hidden)
        imported._initial_cell.copy_(original._initial_cell)
    g = torch.Generator().manual_seed(7)
    knobs, x = torch.rand((3, 3), generator=g), torch.randn((3, 200), generator=g)
    with torch.no_grad():
        assert torch.equal(original.eval()(knobs, x), imported.eval()(knobs, x))
        assert torch.equal(original(knobs[1], x[1]), imported(knobs[1], x[1]))


def test_0_3_0_lstm_is_refused_but_has_a_length():
    case = FIXTURES / "0.3.0" / "catlstm"
    architecture, config, vector = _read_export(case)
    model = _build(architecture, config, "0.3.0")
    assert expected_length(model) == len(vector)
    before = _snapshot(model)
    with pytest.raises(UnsupportedReleaseError, match=r"0\.3\.0.*0\.4\.0"):
        import_weights(model, vector)
    assert _state_equal(before, model.state_dict())


# --- errors and edge cases ---------------------------------------------------------------


def _snapshot(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def _state_equal(a, b, skip=()):
    return a.keys() == b.keys() and all(
        torch.equal(a[k], b[k]) or (a[k].is_floating_point() and torch.equal(a[k].isnan(), b[k].isnan())
                                    and torch.equal(a[k].nan_to_num(), b[k].nan_to_num()))
        for k in a if k not in skip
    )


def _fixture_model_and_vector(name: str, release="0.7.4"):
    case = FIXTURES / release / name
    architecture, config, vector = _read_export(case)
    return _build(architecture, config, release), vector, architecture


ALL_KINDS = ["catlstm", "catwavenet", "hyperconvnet_bn", "hyperconvnet_nobn"]


@pytest.mark.parametrize("name", ALL_KINDS)
@pytest.mark.parametrize("delta", [-1, 1, -50])
def test_wrong_length_is_refused_and_leaves_the_model_alone(name, delta):
    model, vector, architecture = _fixture_model_and_vector(name)
    n = len(vector)
    bad = vector[: n + delta] if delta < 0 else np.concatenate([vector, np.zeros(delta, vector.dtype)])
    before = _snapshot(model)
    with pytest.raises(WeightsMismatchError) as info:
        import_weights(model, bad)
    message = str(info.value)
    assert "\n" not in message and architecture in message and str(n) in message and str(len(bad)) in message
    assert _state_equal(before, model.state_dict())


@pytest.mark.parametrize(
    "make",
    [
        lambda v: v.astype(np.int64),  # an all-integer JSON list
        lambda v: v.astype(np.int32),
        lambda v: (v > 0),  # bool
        lambda v: v.astype(str),  # strings in a JSON list
        lambda v: np.array([None] + list(v[1:]), dtype=object),  # null in a JSON list
        lambda v: v.astype(np.complex64),
    ],
    ids=["int64", "int32", "bool", "str", "object", "complex"],
)
def test_non_float_vectors_are_refused(make):
    model, vector, _ = _fixture_model_and_vector("catwavenet")
    before = _snapshot(model)
    with pytest.raises(WeightsMismatchError, match="floating-point"):
        import_weights(model, make(vector))
    assert _state_equal(before, model.state_dict())


def test_non_flat_vectors_are_refused():
    model, vector, _ = _fixture_model_and_vector("hyperconvnet_bn")
    with pytest.raises(WeightsMismatchError, match="flat vector"):
        import_weights(model, vector[None, :])
    with pytest.raises(WeightsMismatchError, match="flat vector"):
        import_weights(model, np.float32(1.0))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.longdouble])
def test_any_float_dtype_is_cast_to_float32(dtype):
    # HyperConvNet without BatchNorm: no scalars to check, so float16 rounding is allowed.
    model, vector, _ = _fixture_model_and_vector("hyperconvnet_nobn")
    reference, _, _ = _fixture_model_and_vector("hyperconvnet_nobn")
    import_weights(reference, vector)
    values = vector.astype(dtype)
    result = import_weights(model, values)
    expected = values.astype(np.float32)
    assert np.array_equal(model._export_weights(), expected)
    assert result.rounded == 0  # every float16 and every float32 is a float32
    assert all(p.dtype == torch.float32 for p in model.parameters())
    if dtype is not np.float16:
        assert _state_equal(model.state_dict(), reference.state_dict())


def test_float16_head_scale_no_longer_agrees():
    model, vector, _ = _fixture_model_and_vector("catwavenet")
    with pytest.raises(WeightsMismatchError, match="head_scale"):
        import_weights(model, vector.astype(np.float16))


def test_float64_values_are_rounded_to_nearest_and_counted():
    model, vector, _ = _fixture_model_and_vector("catwavenet")
    values = vector.astype(np.float64)
    values[0] = np.nextafter(values[0], np.inf)  # not a float32 any more
    values[1] = 1e300  # beyond float32: inf, as the cast gives
    result = import_weights(model, values)
    assert result.rounded == 2
    out = model._export_weights()
    assert out[0] == np.float32(vector[0]) and out[1] == np.inf
    assert np.array_equal(out[2:], vector[2:].astype(np.float32))


@pytest.mark.parametrize("name", ALL_KINDS)
def test_nan_and_inf_are_kept(name):
    model, vector, _ = _fixture_model_and_vector(name)
    values = vector.astype(np.float32)
    values[0], values[3], values[5] = np.nan, np.inf, -np.inf
    import_weights(model, values)
    if name == "catlstm":
        with model._use_parametric_config(_params(FIXTURES / "0.7.4" / name)):
            out = model._export_weights()
        assert np.isnan(out[0]) and out[3] == np.inf and out[5] == -np.inf
    else:
        out = model._export_weights()
        assert np.array_equal(out, values.astype(out.dtype), equal_nan=True)


def test_the_callers_array_is_neither_changed_nor_shared():
    model, vector, _ = _fixture_model_and_vector("hyperconvnet_bn")
    vector = vector.astype(np.float32)
    kept = vector.copy()
    import_weights(model, vector)
    assert np.array_equal(vector, kept)
    exported = model._export_weights()
    vector[:] = 0.0
    assert np.array_equal(model._export_weights(), exported)


def test_head_scale_must_agree_with_the_config():
    model, vector, _ = _fixture_model_and_vector("catwavenet")
    assert model._net._head_scale == 0.02 and vector[-1] == np.float32(0.02)
    bad = vector.copy()
    bad[-1] = 0.5
    before = _snapshot(model)
    with pytest.raises(WeightsMismatchError, match=r"head_scale is 0\.5 .* 0\.02 .*") as info:
        import_weights(model, bad)
    assert f"index {len(vector) - 1}" in str(info.value)
    assert _state_equal(before, model.state_dict())  # nothing written before the check failed
    import_weights(model, vector)
    assert model._net._head_scale == 0.02  # the config's float, not float32(0.02)


@pytest.mark.parametrize("name", ["hyperconvnet_bn"])
def test_batchnorm_eps_must_agree(name):
    model, vector, _ = _fixture_model_and_vector(name)
    eps_at = np.flatnonzero(vector == np.float32(1e-5))
    # 2 hypernet BatchNorms and 3 main-net BatchNorms, each with one eps entry.
    assert len(eps_at) == 5
    for i in eps_at:
        bad = vector.copy()
        bad[i] = 1e-3
        with pytest.raises(WeightsMismatchError, match=rf"index {i}: .*eps is 0\.001"):
            import_weights(model, bad)


def test_unknown_models_are_a_type_error():
    with pytest.raises(TypeError):
        import_weights(torch.nn.Linear(2, 2), np.zeros(6, np.float32))
    with pytest.raises(TypeError):
        expected_length(torch.nn.Linear(2, 2))


def test_lstm_options_without_a_flat_format_are_refused():
    with use_release("0.7.4"):
        model = CatLSTM(hidden_size=3, input_size=2, num_layers=1, proj_size=2)
    with pytest.raises(ConfigError, match="proj_size=2"):
        expected_length(model)
    with pytest.raises(ConfigError, match="proj_size=2"):
        import_weights(model, np.zeros(10, np.float32))


# --- random architectures: export → import round trips -----------------------------------

LATER_RELEASES = [r.name for r in RELEASES if r.lstm_learned_initial_state]
seeds = st.integers(0, 2**31 - 1)
releases = st.sampled_from(LATER_RELEASES)


def _knob_config(values):
    return {f"k{i}": Param.init_from_config({"type": "continuous", "default_value": v, "minval": 0.0, "maxval": 1.0})
            for i, v in enumerate(values)}


def _built(name, config, release, seed):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        with use_release(release):
            try:
                return architectures.ARCHITECTURES[name].init_from_config(copy.deepcopy(config))
            except ZeroDivisionError:
                # HyperNet's init divides by the output spread of the fresh MLP, which is
                # 0 when every ReLU unit happens to be dead (upstream behaviour).
                assume(False)


@settings(max_examples=15, deadline=None)
@given(
    seed=seeds,
    release=releases,
    hidden=st.integers(1, 4),
    layers=st.integers(1, 3),
    knobs=st.lists(st.floats(0, 1, width=32), max_size=3),
)
def test_catlstm_round_trip(seed, release, hidden, layers, knobs):
    config = {"hidden_size": hidden, "input_size": 1 + len(knobs), "num_layers": layers}
    source = _built("CatLSTM", config, release, seed)
    _randomise(source, seed)
    with source._use_parametric_config(_knob_config(knobs)):
        vector = source._export_weights()
        h, c = source._get_initial_state()
    target = _built("CatLSTM", config, release, seed + 1)
    assert expected_length(target) == len(vector)
    assert import_weights(target, vector) == ImportedWeights("CatLSTM", len(vector), 0)
    core, got = source._core, target._core
    for k in range(layers):
        assert torch.equal(getattr(got, f"weight_ih_l{k}"), getattr(core, f"weight_ih_l{k}"))
        assert torch.equal(getattr(got, f"weight_hh_l{k}"), getattr(core, f"weight_hh_l{k}"))
        assert torch.equal(getattr(got, f"bias_ih_l{k}"), getattr(core, f"bias_ih_l{k}") + getattr(core, f"bias_hh_l{k}"))
        assert torch.equal(getattr(got, f"bias_hh_l{k}"), torch.zeros(4 * hidden))
    assert torch.equal(target._head.weight, source._head.weight) and torch.equal(target._head.bias, source._head.bias)
    assert torch.equal(target._initial_hidden, h[:, 0, :]) and torch.equal(target._initial_cell, c[:, 0, :])
    with target._use_parametric_config(_knob_config(knobs)):
        assert np.array_equal(target._export_weights(), vector)


@st.composite
def wavenet_configs(draw):
    n_knobs = draw(st.integers(0, 2))
    n_arrays = draw(st.integers(1, 2))
    arrays, input_size, head_in = [], 1 + n_knobs, None
    for a in range(n_arrays):
        channels = draw(st.integers(1, 3)) if head_in is None else head_in
        last = a == n_arrays - 1
        head_size = draw(st.integers(1, 3)) if not last else draw(st.sampled_from([1, 2]))
        arrays.append({
            "input_size": input_size,
            "condition_size": 1 + n_knobs,
            "head_size": head_size,
            "channels": channels,
            "kernel_size": draw(st.integers(1, 3)),
            "dilations": draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)),
            "activation": draw(st.sampled_from(["Tanh", "ReLU"])),
            "gated": draw(st.booleans()),
            "head_bias": draw(st.booleans()),
        })
        input_size, head_in = channels, head_size  # the next array adds its terms to this head sum
    head = None
    if arrays[-1]["head_size"] != 1 or draw(st.booleans()):
        head = {"in_channels": arrays[-1]["head_size"], "channels": draw(st.integers(1, 3)),
                "activation": "Tanh", "num_layers": draw(st.integers(1, 2)), "out_channels": 1}
    head_scale = draw(st.floats(-2, 2, allow_nan=False) | st.just(0.02))
    return n_knobs, {"layers_configs": arrays, "head_config": head, "head_scale": head_scale}


@settings(max_examples=25, deadline=None)
@given(seed=seeds, release=releases, drawn=wavenet_configs())
def test_catwavenet_round_trip(seed, release, drawn):
    n_knobs, config = drawn
    source = _built("CatWaveNet", config, release, seed)
    _randomise(source, seed)
    vector = source._export_weights()
    target = _built("CatWaveNet", config, release, seed + 1)
    assert expected_length(target) == len(vector)
    import_weights(target, vector)
    assert _state_equal(target.state_dict(), source.state_dict())  # everything is exported, head too
    assert target._net._head_scale == config["head_scale"]
    assert np.array_equal(target._export_weights(), vector)
    g = torch.Generator().manual_seed(seed)
    knobs, x = torch.rand((2, n_knobs), generator=g), torch.randn((2, 40), generator=g)
    with torch.no_grad():
        assert torch.equal(source.eval()(knobs, x), target.eval()(knobs, x))


@st.composite
def hyper_configs(draw):
    batchnorm = draw(st.booleans())
    return {
        "net": {"channels": draw(st.integers(1, 3)), "dilations": draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)),
                "batchnorm": batchnorm, "activation": draw(st.sampled_from(["Tanh", "ReLU"]))},
        "hyper_net": {"num_inputs": draw(st.integers(1, 3)), "num_layers": draw(st.integers(1, 2)),
                      "num_units": draw(st.integers(2, 4)), "batchnorm": draw(st.booleans())},
    }


@settings(max_examples=25, deadline=None)
@given(seed=seeds, release=st.sampled_from([r.name for r in RELEASES]), config=hyper_configs())
def test_hyperconvnet_round_trip(seed, release, config):
    source = _built("HyperConvNet", config, release, seed)
    _randomise(source, seed)
    vector = source._export_weights()
    target = _built("HyperConvNet", config, release, seed + 1)
    untouched = {k: v.clone() for k, v in target.state_dict().items() if _not_exported(k, target)}
    assert untouched  # the main-net convs at least
    assert expected_length(target) == len(vector)
    import_weights(target, vector)
    got, want = target.state_dict(), source.state_dict()
    assert _state_equal(got, want, skip=untouched.keys())
    assert all(torch.equal(got[k], v) for k, v in untouched.items())
    assert np.array_equal(target._export_weights(), vector) and target._export_weights().dtype == vector.dtype
    g = torch.Generator().manual_seed(seed)
    knobs = torch.rand((2, config["hyper_net"]["num_inputs"]), generator=g)
    x = torch.randn((2, 30), generator=g)
    with torch.no_grad():
        assert torch.equal(source.eval()(knobs, x), target.eval()(knobs, x))


def _not_exported(key: str, model) -> bool:
    """Main-net conv weights/biases (the hypernet makes the used ones) and BN counters."""
    if key.endswith("num_batches_tracked") or "sample_rate" in key:
        return True
    if key.startswith("_net."):
        index = int(key.split(".")[1])
        return type(model._net[index]).__name__ == "_Conv"
    return False
