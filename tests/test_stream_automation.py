"""Knob automation (per-sample curves): CatLSTM/CatWaveNet stream = the offline forward of the
augmented input [x(t); k(t)]; HyperConvNet stream = the control-rate reference. Both within
1e-6 for any partition; and the references themselves checked against the model's forward."""

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import compat.stream as stream
from stream_models import TOL, architecture_of, audio, fixture_ids, load_fixture, offline, run_partition, stock_model

IDS = fixture_ids()
CAT_IDS = [i for i in IDS if architecture_of(i) != "HyperConvNet"]
HYPER_IDS = [i for i in IDS if architecture_of(i) == "HyperConvNet"]


def curves_for(legacy, length: int, seed: int) -> dict:
    """Every knob moving inside its range: ramps, sines, steps; booleans toggle."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    out = {}
    for spec in legacy.knobs:
        if spec.type == "boolean":
            out[spec.name] = (rng.random(length) < 0.5).astype(float) if rng.random() < 0.3 else (t >= rng.integers(0, length + 1)).astype(float)
            continue
        lo, hi = spec.minval, spec.maxval
        kind = rng.integers(0, 3)
        if kind == 0:
            u = np.linspace(rng.random(), rng.random(), length)
        elif kind == 1:
            u = 0.5 + 0.5 * np.sin(2 * np.pi * t / rng.integers(20, 2000) + rng.random() * 6)
        else:
            u = rng.random(length)  # a new value every sample
        out[spec.name] = lo + (hi - lo) * u
    return out


def matrix(legacy, curves: dict) -> np.ndarray:
    return np.stack([curves[s.name] for s in legacy.knobs], axis=1).astype(np.float32)


blocks = st.lists(st.integers(1, 600), min_size=1, max_size=10)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.sampled_from(CAT_IDS), seed=st.integers(0, 2**16), length=st.integers(1, 2000), sizes=blocks)
def test_cat_nets_follow_the_augmented_input(which, seed, length, sizes):
    legacy = load_fixture(which)
    x, curves = audio(seed, length), curves_for(legacy, length, seed)
    y = run_partition(stream.open(legacy), x, sizes, curves)
    expected = stream.forward_augmented(legacy, x, matrix(legacy, curves)).numpy()
    assert np.abs(y - expected).max() <= TOL


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.sampled_from(HYPER_IDS), seed=st.integers(0, 2**16), length=st.integers(1, 2000), sizes=blocks,
       period=st.sampled_from([1, 7, 32, 64, 500]))
def test_hyperconvnet_follows_the_control_rate_reference(which, seed, length, sizes, period):
    legacy = load_fixture(which)
    x, curves = audio(seed, length), curves_for(legacy, length, seed)
    y = run_partition(stream.open(legacy, control_period=period), x, sizes, curves)
    expected = stream.forward_control_rate(legacy, x, matrix(legacy, curves), control_period=period).numpy()
    assert np.abs(y - expected).max() <= TOL


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.sampled_from(HYPER_IDS[::3] + ["stock"]), seed=st.integers(0, 2**16), lead=st.integers(0, 70),
       sizes=st.lists(st.integers(1, 300), min_size=1, max_size=6), period=st.sampled_from([1, 3, 16, 32]))
def test_hyperconvnet_batched_periods_equal_the_per_segment_path(which, seed, lead, sizes, period):
    """Whole control periods of a block run as one batch; the same stream computed segment
    by segment, and the control-rate reference, agree with it. A first block of `lead`
    samples puts later block starts mid-period (a partial period at either end)."""
    model = stock_model("HyperConvNet") if which == "stock" else load_fixture(which)
    specs = [] if which == "stock" else model.knobs
    rng = np.random.default_rng(seed)
    length = lead + 3 * sum(sizes)
    lows = np.array([s.minval if s.type != "boolean" else 0 for s in specs] or [0.0] * 3)
    highs = np.array([s.maxval if s.type != "boolean" else 1 for s in specs] or [1.0] * 3)
    k = lows + (highs - lows) * rng.random((length, len(lows)))
    k[:, [s.type == "boolean" for s in specs] or [False] * 3] = rng.random((length, sum(s.type == "boolean" for s in specs))) < 0.5
    k = k.astype(np.float32)
    x = audio(seed, length)
    batched = stream.open(model, knobs=list(k[0]), control_period=period)
    per_segment = stream.open(model, knobs=list(k[0]), control_period=period)
    per_segment.batch_periods = False
    plans = []
    planner = batched._segments
    batched._segments = lambda n, knobs: plans.append(planner(n, knobs)) or plans[-1]
    outputs = {id(batched): [], id(per_segment): []}
    i, partition = 0, ([lead] if lead else []) + sizes * 3
    for n in partition:
        for proc in (batched, per_segment):
            outputs[id(proc)].append(proc.process(x[i : i + n], knobs=list(k[i : i + n].T)))
        i += n
    y, y_segments = (np.concatenate(outputs[id(p)]) for p in (batched, per_segment))
    assert np.abs(y - y_segments).max() <= TOL
    expected = stream.forward_control_rate(model, x, k, control_period=period).numpy()
    assert np.abs(y - expected).max() <= TOL
    # the batch ran exactly where a block held two whole periods whose knob vectors differ
    used = [any(type(part).__name__ == "_Periods" for part in plan) for plan in plans]
    starts = np.cumsum([0] + partition[:-1])
    wanted = []
    for a, n in zip(starts, partition):
        first = -a % period
        whole = (n - first) // period if first < n else 0
        rows = k[a + first : a + first + whole * period : period]
        wanted.append(whole >= 2 and bool(np.any(rows[1:] != rows[0])))
    assert used == wanted


@pytest.mark.parametrize("name", ["CatLSTM", "CatWaveNet", "HyperConvNet"])
def test_stock_size_models_automate_exactly(name):
    model = stock_model(name)
    x = audio(11, 5000)
    t = np.arange(5000)
    k = np.stack([0.5 + 0.5 * np.sin(t / 300), np.linspace(0, 1, 5000), (t > 2500).astype(float)], 1).astype(np.float32)
    proc = stream.open(model, knobs=[0, 0, 0])  # a bare module: knobs by model-order vector
    out, i = [], 0
    for n in [64, 1000, 7, 4096]:
        out.append(proc.process(x[i : i + n], knobs=[k[i : i + n, 0], k[i : i + n, 1], k[i : i + n, 2]]))
        i += n
    y = np.concatenate(out)[:i]
    if name == "HyperConvNet":
        expected = stream.forward_control_rate(model, x[:i], k[:i]).numpy()
    else:
        expected = stream.forward_augmented(model, x[:i], k[:i]).numpy()
    assert np.abs(y - expected).max() <= TOL


# --- the references themselves ---


@pytest.mark.parametrize("which", ["0.4.0/catwavenet/ckpt", "0.7.4/catlstm/export/model.nam", "0.5.1/catwavenet/export_patched/model.nam"])
def test_forward_augmented_with_constant_curves_is_the_models_forward(which):
    legacy = load_fixture(which)
    x, knobs = audio(2, 900), [1.0, 0.8, 0.1]
    held = np.tile(np.float32(knobs), (900, 1))
    assert torch.equal(stream.forward_augmented(legacy, x, held), torch.from_numpy(offline(legacy, knobs, x)))


@pytest.mark.parametrize("which", HYPER_IDS[:3])
def test_control_rate_reference_with_constant_knobs_is_the_models_forward(which):
    legacy = load_fixture(which)
    x, knobs = audio(2, 900), [0.0, 0.8, 0.1]
    held = np.tile(np.float32(knobs), (900, 1))
    assert torch.equal(stream.forward_control_rate(legacy, x, held, control_period=13), torch.from_numpy(offline(legacy, knobs, x)))


@pytest.mark.parametrize("which", ["0.4.0/catwavenet/ckpt", "0.7.4/catlstm/ckpt"])
def test_cat_output_depends_only_on_past_knobs_and_the_pad_carries_the_first(which):
    legacy = load_fixture(which)
    x = audio(4, 600)
    a = matrix(legacy, curves_for(legacy, 600, 1))
    b = a.copy()
    b[300:] = matrix(legacy, curves_for(legacy, 300, 2))  # different from sample 300 on
    ya, yb = (stream.forward_augmented(legacy, x, k).numpy() for k in (a, b))
    assert np.array_equal(ya[:300], yb[:300]) and not np.array_equal(ya[300:], yb[300:])
    # sample 0 sees only the pad and itself, all at the first sample's knob values
    assert abs(ya[0] - offline(legacy, a[0], x)[0]) <= TOL


@pytest.mark.parametrize("which", ["0.7.4/hyperconvnet_bn/ckpt", "0.4.0/hyperconvnet_nobn/export"])
def test_control_rate_semantics(which):
    legacy = load_fixture(which)
    rf, period, n = legacy.model.receptive_field, 32, 800
    x = audio(6, n)
    first, second = np.float32([0, 0.2, 0.9]), np.float32([1, 0.7, 0.3])
    boundary = 10 * period
    k = np.tile(first, (n, 1))
    k[boundary:] = second
    y = stream.forward_control_rate(legacy, x, k, control_period=period).numpy()
    # before the change: the model at the first setting; once the receptive field has
    # passed the boundary: the model at the second (every layer's inputs were computed after it)
    assert np.abs(y[:boundary] - offline(legacy, first, x)[:boundary]).max() <= TOL
    assert np.abs(y[boundary + rf - 1 :] - offline(legacy, second, x)[boundary + rf - 1 :]).max() <= TOL
    # only the values at period starts matter: noise between them changes nothing
    wobbly = k.copy()
    inside = np.arange(n) % period != 0
    wobbly[inside] = np.random.default_rng(0).random((inside.sum(), 3)).astype(np.float32)
    assert torch.equal(stream.forward_control_rate(legacy, x, wobbly, control_period=period), torch.from_numpy(y))


def test_periods_count_from_the_stream_start_not_the_block():
    legacy = load_fixture("0.7.4/hyperconvnet_bn/ckpt")
    n, period = 400, 32
    x = audio(8, n)
    k = np.tile(np.float32([0, 0.5, 0.5]), (n, 1))
    k[50:, 1] = 0.9  # moves mid-period: takes effect at sample 64, the next period start
    proc = stream.open(legacy, control_period=period)
    y = run_partition(proc, x, [50, 14, 1, 335], {"drive": k[:, 1]})
    at_64 = k.copy()
    at_64[50:64, 1] = 0.5
    expected = stream.forward_control_rate(legacy, x, at_64, control_period=period).numpy()
    assert np.abs(y - expected).max() <= TOL
    assert np.abs(y[:64] - offline(legacy, k[0], x)[:64]).max() <= TOL


def test_hypernet_runs_only_when_knobs_move():
    legacy = load_fixture("0.5.1/hyperconvnet_nobn/ckpt")
    proc = stream.open(legacy, control_period=16)
    x = audio(9, 4096)
    run_partition(proc, x, [100, 3, 999])
    assert proc.hypernet_runs == 1  # constant knobs: one vector, cached
    steps = np.repeat([0.1, 0.2, 0.1, 0.2], 1024)  # two distinct values, revisited
    run_partition(proc, x, [512], {"drive": steps})
    assert proc.hypernet_runs == 3


@pytest.mark.parametrize("which", HYPER_IDS[:6] + ["stock"])
def test_the_streams_hypernet_pass_is_the_modules_bit_for_bit(which):
    model = stock_model("HyperConvNet") if which == "stock" else load_fixture(which).model
    proc = stream.open(model, knobs=[0, 0, 0])
    assert proc._mlp is not None  # the functional pass is in use
    with torch.no_grad():
        for knobs in torch.rand(20, 3) * 2 - 0.5:
            hyper = model._hyper_net
            assert torch.equal(proc._hypernet(knobs[None]), hyper._affine(hyper._net(knobs[None])))
            assert torch.equal(proc._hypernet(knobs[None])[0], torch.cat(hyper(knobs[None]), dim=1)[0])
