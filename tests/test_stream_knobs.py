"""Knob input of a stream: bad values are refused (typed, before any audio runs), live
changes ramp linearly over ramp_seconds, booleans switch at once, curves apply as given."""

import warnings

import numpy as np
import pytest

import compat.stream as stream
from compat.errors import ConfigError
from compat.knobs import KnobError, OutOfRangeWarning
from stream_models import TOL, audio, defaults, load_fixture, offline, run_partition, stock_model

LSTM, WAVENET, HYPER = "0.7.4/catlstm/export/model.nam", "0.5.1/catwavenet/ckpt", "0.7.4/hyperconvnet_bn/ckpt"
RATE = 48_000


def curve_of(legacy, n, **columns):
    """(n, D) knob values: the defaults, with the given columns (name -> array) replaced."""
    k = np.tile(np.float32(defaults(legacy)), (n, 1))
    for name, values in columns.items():
        k[:, [s.name for s in legacy.knobs].index(name)] = values
    return k


BAD_PROCESS = [
    ({"drive": float("nan")}, "finite"),
    ({"drive": float("inf")}, "finite"),
    ({"drive": np.r_[np.full(50, 0.5), np.nan, np.full(49, 0.5)]}, "sample 50"),
    ({"tone": 1.5}, "outside its range 0 to 1"),
    ({"tone": np.linspace(0, 1.01, 100)}, "outside its range"),
    ({"bright": 0.5}, "0 or 1"),
    ({"bright": np.r_[np.zeros(99), 2.0]}, "0 or 1"),
    ({"volume": 0.5}, "unknown knob 'volume'"),
    ({"drive": np.zeros(99)}, "99 values but the block has 100"),
    ({"drive": np.zeros((100, 2))}, "1-D"),
    ({"drive": "loud"}, "number"),
    ([0.1, 0.2], "takes 3 knob values"),
]


@pytest.mark.parametrize("which", [LSTM, WAVENET, HYPER])
@pytest.mark.parametrize("knobs, message", BAD_PROCESS)
def test_bad_knobs_are_refused_before_any_audio(which, knobs, message):
    legacy = load_fixture(which)
    x = audio(1, 300)
    proc = stream.open(legacy)
    first = proc.process(x[:100])
    with pytest.raises(KnobError, match=message):
        proc.process(x[100:200], knobs=knobs)
    assert proc.position == 100
    # nothing moved: the stream goes on as if the bad call had never been made
    rest = proc.process(x[100:])
    assert np.abs(np.r_[first, rest] - offline(legacy, defaults(legacy), x)).max() <= TOL


@pytest.mark.parametrize("kwargs, message", [
    (dict(drive=float("nan")), "finite"), (dict(tone=-0.1), "outside its range"), (dict(bright=0.3), "0 or 1"),
    (dict(gain=1.0), "unknown knob"), (dict(drive=np.zeros(4)), "set_knobs takes numbers"),
])
def test_bad_set_knobs_changes_nothing(kwargs, message):
    proc = stream.open(load_fixture(LSTM))
    before = proc.knobs
    with pytest.raises(KnobError, match=message):
        proc.set_knobs(**kwargs)
    with pytest.raises(KnobError):
        proc.set_knobs({"drive": 0.2, **kwargs})  # a good value beside a bad one is not applied either
    assert proc.knobs == before


def test_bad_knobs_at_open():
    legacy = load_fixture(WAVENET)
    with pytest.raises(KnobError, match="unknown knob"):
        stream.open(legacy, knobs={"gain": 1})
    with pytest.raises(KnobError, match="outside its range"):
        stream.open(legacy, knobs={"drive": 2})
    with pytest.raises(KnobError, match="takes 3 knob values"):
        stream.open(legacy, knobs=[0.5])
    with pytest.raises(KnobError, match="names none"):
        stream.open(stock_model("CatLSTM"))  # a bare module: no knob names, no defaults
    with pytest.raises(KnobError, match="names are unknown"):
        stream.open(stock_model("CatLSTM"), knobs=[0, 0, 0]).set_knobs(drive=1)
    with pytest.raises(ConfigError, match="control_period"):
        stream.open(load_fixture(HYPER), control_period=0)
    with pytest.raises(ConfigError, match="cannot stream"):
        stream.open(object())


def test_out_of_range_allowed_on_request_warns_once_per_value():
    legacy = load_fixture(WAVENET)
    x = audio(2, 200)
    proc = stream.open(legacy, allow_out_of_range=True)
    with pytest.warns(OutOfRangeWarning, match="drive = 1.5"):
        y = proc.process(x, knobs={"drive": 1.5})
    assert np.abs(y - offline(legacy, [0, 1.5, 0.5], x)).max() <= TOL
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        proc.process(x, knobs={"tone": np.linspace(-1, 2, 200)})
    assert [w.category for w in caught] == [OutOfRangeWarning]  # one warning for the whole curve
    with pytest.raises(KnobError, match="0 or 1"):  # booleans are never extrapolated
        proc.process(x, knobs={"bright": 0.5})


@pytest.mark.parametrize("which", [LSTM, WAVENET])
def test_set_knobs_ramps_linearly_over_ramp_seconds(which):
    legacy = load_fixture(which)
    n, at = 1500, 400
    x = audio(3, n)
    proc = stream.open(legacy, RATE, ramp_seconds=0.010)
    ramp = round(0.010 * RATE)
    assert proc.ramp_samples == ramp == 480
    out = [proc.process(x[:at])]
    proc.set_knobs(drive=0.9, tone=0.1)
    out += [proc.process(x[at:at + 100])]
    # mid-ramp: the last sample played is 100/480 of the way
    assert proc.knobs_now["drive"] == pytest.approx(0.3 + 0.6 * 100 / ramp)
    assert proc.knobs["drive"] == 0.9
    out += [proc.process(x[at + 100 :])]
    # independently: the knob is at the old value until `at`, then moves by 1/480 of the
    # way per sample, reaching the target at sample at + 479, then holds
    j = np.clip(np.arange(n) - at + 1, 0, ramp) / ramp
    k = curve_of(legacy, n, drive=0.3 + (0.9 - 0.3) * j, tone=0.5 + (0.1 - 0.5) * j)
    assert np.abs(np.concatenate(out) - stream.forward_augmented(legacy, x, k).numpy()).max() <= TOL
    assert proc.knobs_now == {"bright": 0.0, "drive": 0.9, "tone": 0.1}


def test_ramp_restarts_from_where_it_is():
    legacy = load_fixture(LSTM)
    proc = stream.open(legacy, RATE, ramp_seconds=0.001)  # 48 samples
    x = audio(4, 400)
    out = [proc.process(x[:100])]
    proc.set_knobs(drive=1.0)
    out.append(proc.process(x[100:124]))  # halfway: 0.3 + 0.7 * 24/48 = 0.65
    proc.set_knobs(drive=0.0)
    out.append(proc.process(x[124:]))
    drive = np.full(400, 0.3)
    drive[100:124] = 0.3 + 0.7 * np.arange(1, 25) / 48
    drive[124:172] = 0.65 + (0.0 - 0.65) * np.arange(1, 49) / 48
    drive[172:] = 0.0
    expected = stream.forward_augmented(legacy, x, curve_of(legacy, 400, drive=drive)).numpy()
    assert np.abs(np.concatenate(out) - expected).max() <= TOL


@pytest.mark.parametrize("which", [LSTM, WAVENET])
def test_booleans_switch_at_once(which):
    legacy = load_fixture(which)
    x = audio(5, 600)
    proc = stream.open(legacy, RATE)
    out = [proc.process(x[:250])]
    proc.set_knobs(bright=True)
    out.append(proc.process(x[250:]))
    k = curve_of(legacy, 600, bright=(np.arange(600) >= 250).astype(np.float32))
    assert np.abs(np.concatenate(out) - stream.forward_augmented(legacy, x, k).numpy()).max() <= TOL


def test_changes_before_any_audio_and_with_zero_ramp_are_immediate():
    legacy = load_fixture(WAVENET)
    x = audio(6, 300)
    proc = stream.open(legacy, RATE)
    proc.set_knobs([1, 0.9, 0.2])  # a model-order vector: bright, drive, tone
    assert np.abs(proc.process(x) - offline(legacy, [1, 0.9, 0.2], x)).max() <= TOL
    proc = stream.open(legacy, RATE, ramp_seconds=0)
    first = proc.process(x[:100])
    proc.set_knobs({"drive": 0.9})
    rest = proc.process(x[100:])
    k = curve_of(legacy, 300, drive=np.where(np.arange(300) >= 100, 0.9, 0.3))
    assert np.abs(np.r_[first, rest] - stream.forward_augmented(legacy, x, k).numpy()).max() <= TOL


def test_reset_keeps_settings_and_finishes_ramps():
    legacy = load_fixture(LSTM)
    x = audio(7, 300)
    proc = stream.open(legacy, RATE)
    proc.process(x)
    proc.set_knobs(drive=0.8)
    proc.process(x[:10])  # mid-ramp
    proc.reset()
    assert proc.knobs_now["drive"] == 0.8
    assert np.abs(proc.process(x) - offline(legacy, [0, 0.8, 0.5], x)).max() <= TOL


def test_block_knobs_apply_as_given_and_then_hold():
    legacy = load_fixture(LSTM)
    x = audio(8, 300)
    proc = stream.open(legacy, RATE)
    a = proc.process(x[:100])
    b = proc.process(x[100:200], knobs={"drive": 0.95})  # a step: no ramp for block values
    c = proc.process(x[200:])  # holds 0.95 afterwards
    k = curve_of(legacy, 300, drive=np.where(np.arange(300) >= 100, 0.95, 0.3))
    assert np.abs(np.r_[a, b, c] - stream.forward_augmented(legacy, x, k).numpy()).max() <= TOL
    assert proc.knobs["drive"] == pytest.approx(0.95)


def test_a_curve_overrides_a_ramp_in_progress():
    legacy = load_fixture(LSTM)
    x = audio(9, 400)
    proc = stream.open(legacy, RATE)
    a = proc.process(x[:100])
    proc.set_knobs(drive=1.0, tone=0.0)  # tone ramps on; drive is then given as a curve
    curve = np.linspace(0, 1, 300)
    b = run_partition(proc, x[100:], [64], {"drive": curve})
    j = np.clip(np.arange(400) - 100 + 1, 0, 480) / 480
    k = curve_of(legacy, 400, drive=np.r_[np.full(100, 0.3), curve], tone=0.5 - 0.5 * j)
    assert np.abs(np.r_[a, b] - stream.forward_augmented(legacy, x, k).numpy()).max() <= TOL


def test_sample_rate_sets_the_ramp_length():
    legacy = load_fixture(LSTM)
    assert stream.open(legacy).sample_rate == 48_000  # the file states its rate (0.7.4)
    assert stream.open(legacy, 44_100).ramp_samples == 441
    assert stream.open(legacy, 96_000, ramp_seconds=0.05).ramp_samples == 4800
    with pytest.raises(ConfigError, match="sample_rate"):
        stream.open(legacy, 0)
    with pytest.raises(KnobError, match="ramp_seconds"):
        stream.open(legacy, ramp_seconds=-1)


def test_bad_audio_blocks():
    proc = stream.open(load_fixture(HYPER))
    with pytest.raises(ConfigError, match="mono"):
        proc.process(np.zeros((2, 10), np.float32))
    with pytest.raises(ConfigError, match="floating point"):
        proc.process(np.zeros(10, np.int16))
    assert proc.position == 0
