"""Streaming with constant knobs equals the offline forward(params, x, pad_start=True)
within 1e-6, for every block partition, every class, genuine fixtures of several releases in
every format compat.load reads; and state after reset() is the model's own initial state."""

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import compat
import compat.stream as stream
from compat.stream.lstm import initial_state
from stream_models import (FIXTURES, STOCK, TOL, architecture_of, audio, defaults, fixture_ids, load_fixture, offline,
                           run_partition, stock_model)

IDS = fixture_ids()


def test_the_fixtures_cover_every_class_release_and_format():
    assert {architecture_of(i) for i in IDS} == {"CatLSTM", "CatWaveNet", "HyperConvNet"}
    assert {i.split("/")[0] for i in IDS} == {"0.3.0", "0.4.0", "0.5.1", "0.7.4"}
    assert {load_fixture(i).format for i in IDS} == {"ckpt", "nam", "export_dir", "cpp_header"}


def _knob_values(legacy, draw_unit):
    """A knob vector inside the param config's ranges (booleans 0/1)."""
    values = []
    for spec in legacy.knobs:
        u = draw_unit()
        values.append(float(u > 0.5) if spec.type == "boolean" else spec.minval + u * (spec.maxval - spec.minval))
    return values


sizes = st.lists(st.integers(1, 700), min_size=1, max_size=12)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.sampled_from(IDS), seed=st.integers(0, 2**16), length=st.integers(1, 2500), blocks=sizes,
       units=st.lists(st.floats(0, 1), min_size=3, max_size=3))
def test_any_partition_equals_the_offline_forward(which, seed, length, blocks, units):
    legacy = load_fixture(which)
    knobs = _knob_values(legacy, iter(units).__next__)
    x = audio(seed, length)
    proc = stream.open(legacy, knobs=dict(zip([s.name for s in legacy.knobs], knobs)))
    y = run_partition(proc, x, blocks)
    assert y.dtype == np.float32 and y.shape == x.shape
    assert np.abs(y - offline(legacy, knobs, x)).max() <= TOL


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.sampled_from(IDS), seed=st.integers(0, 2**16), cut=st.integers(1, 1500), blocks=sizes)
def test_reset_returns_to_the_initial_state(which, seed, cut, blocks):
    legacy = load_fixture(which)
    x = audio(seed, 1500)
    proc = stream.open(legacy)
    run_partition(proc, audio(seed + 1, cut), blocks)  # some other audio first
    proc.reset()
    assert proc.position == 0
    y = run_partition(proc, x, blocks)
    assert np.abs(y - offline(legacy, defaults(legacy), x)).max() <= TOL


@pytest.mark.parametrize("name", sorted(STOCK))
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**16), blocks=st.lists(st.integers(1, 3000), min_size=1, max_size=6))
def test_stock_size_models_stream_exactly(name, seed, blocks):
    # Upstream's stock sizes: WaveNet dilations up to 512 (histories of 1024 samples, longer
    # than most blocks), 4 x 32 LSTM, a larger hypernet — and a gated array.
    model = stock_model(name)
    knobs = [0.25, 0.5, 0.75]
    x = audio(seed, 6000)
    y = run_partition(stream.open(model, knobs=knobs), x, blocks)
    assert np.abs(y - offline(model, knobs, x)).max() <= TOL


@pytest.mark.parametrize("which", ["0.7.4/catlstm/export/model.nam", "0.7.4/catwavenet/ckpt", "0.5.1/hyperconvnet_bn/export"])
def test_extreme_block_sizes(which):
    legacy = load_fixture(which)
    x = audio(7, 70_000)
    expected = offline(legacy, defaults(legacy), x)
    # one sample at a time (a short stretch), the largest block, and a call longer than it
    y1 = run_partition(stream.open(legacy), x[:300], [1])
    assert np.abs(y1 - expected[:300]).max() <= TOL
    y2 = run_partition(stream.open(legacy), x, [65_536])
    assert np.abs(y2 - expected).max() <= TOL
    proc = stream.open(legacy)
    y3 = proc.process(x)  # 70,000 samples in one call: run in pieces of 65,536 inside
    assert np.abs(y3 - expected).max() <= TOL and proc.position == 70_000


def test_torch_blocks_in_torch_out():
    legacy = load_fixture("0.7.4/catwavenet/ckpt")
    x = audio(3, 500)
    proc = stream.open(legacy)
    y = torch.cat([proc.process(torch.from_numpy(x[:123])), proc.process(torch.from_numpy(x[123:]).double())])
    assert isinstance(y, torch.Tensor) and y.dtype == torch.float32
    assert np.abs(y.numpy() - offline(legacy, defaults(legacy), x)).max() <= TOL


def test_empty_block_is_a_no_op():
    proc = stream.open(load_fixture("0.7.4/hyperconvnet_bn/ckpt"))
    assert proc.process(np.zeros(0, np.float32)).shape == (0,)
    assert proc.position == 0


@pytest.mark.parametrize("which", [i for i in IDS if architecture_of(i) == "CatLSTM"])
def test_lstm_starts_from_the_models_own_state(which):
    legacy = load_fixture(which)
    h, c = initial_state(legacy.model)
    model = legacy.model
    # Where the model's own forward starts: the parameters compat.load filled — the learned
    # state from a checkpoint, the burn-in state stored in an export.
    assert torch.equal(h[:, 0], model._initial_hidden.detach()) and torch.equal(c[:, 0], model._initial_cell.detach())
    ref = np.load(FIXTURES / which.split("/")[0] / "catlstm" / "reference.npz")
    burn_in = [torch.from_numpy(ref[k])[:, 0] for k in ("initial_state_h", "initial_state_c")]
    if legacy.format == "ckpt":
        # the learned state, not the burn-in one (a 0.3.0 checkpoint, upgraded, has zeros)
        assert (h[:, 0] - burn_in[0]).abs().max() > 1e-3
        if which.startswith("0.3.0"):
            assert not h.any() and not c.any()
    else:  # the burn-in state the release's exporter stored (recorded in reference.npz when it ran)
        assert (h[:, 0] - burn_in[0]).abs().max() <= TOL and (c[:, 0] - burn_in[1]).abs().max() <= TOL


def test_lstm_built_as_0_3_0_starts_from_zeros():
    folder = FIXTURES / "0.3.0" / "catlstm"
    legacy = compat.load(folder / "model.ckpt", config=folder / "model.json", param_config=folder / "params.json", release="0.3.0")
    assert not hasattr(legacy.model, "_initial_hidden")
    h, c = initial_state(legacy.model)
    assert not h.any() and not c.any()
    x = audio(5, 800)
    y = run_partition(stream.open(legacy), x, [100, 37])
    assert np.abs(y - offline(legacy, defaults(legacy), x)).max() <= TOL


@pytest.mark.parametrize("which", ["0.7.4/catlstm/ckpt", "0.5.1/catwavenet/ckpt"])
def test_parametric_nam_files_stream_too(tmp_path, which):
    # The ConcatLSTM/ConcatWaveNet .nam of the parametric NAM line, which compat.load reads
    # back as a CatLSTM/CatWaveNet: the stream follows that model's own forward.
    path = compat.export(load_fixture(which), "parametric-nam", tmp_path / "amp.nam")
    legacy = compat.load(path)
    assert legacy.format == "parametric_nam"
    x = audio(12, 2000)
    knobs = [1.0, 0.7, 0.2]
    y = run_partition(stream.open(legacy, knobs=knobs), x, [333, 1, 64])
    assert np.abs(y - offline(legacy, knobs, x)).max() <= TOL
