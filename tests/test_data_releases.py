"""nam_legacy.data across the release profiles, and against the genuine releases.

Each test names the upstream change it pins. The oracle test at the end loads the same
WAV files and configs with the real `nam.data` of every built oracle venv
(`python tests/oracle/envs.py build <release>`) and demands bit-identical tensors, or the
same exception type.
"""

import importlib.util
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import wavio

from nam_legacy import data
from nam_legacy.releases import RELEASES, use_release

REPO = Path(__file__).resolve().parents[1]
import oracles  # noqa: E402

FULL_SCALE = 2**23
ALL = [r.name for r in RELEASES]


def before(name):
    """The releases older than `name`."""
    return ALL[: ALL.index(name)]


def write_wav(path, ints, rate=48_000, sampwidth=3):
    wavio.write(str(path), np.asarray(ints, dtype=np.int32).reshape(-1, 1), rate, sampwidth=sampwidth)
    return str(path)


def random_ints(n, seed, peak=0.9, bits=24):
    limit = int(peak * 2 ** (bits - 1))
    return np.random.default_rng(seed).integers(-limit, limit, size=n)


def as_float32(ints, bits=24):
    return (np.asarray(ints, dtype=np.float64) / 2 ** (bits - 1)).astype(np.float32)


@pytest.fixture
def pair(tmp_path):
    x_ints, y_ints = random_ints(3000, 11), random_ints(3000, 12)
    return write_wav(tmp_path / "x.wav", x_ints), write_wav(tmp_path / "y.wav", y_ints), x_ints, y_ints


def sliced(x_path, y_path, slices, kind=None, **top):
    split = {"x_path": x_path, "y_path": y_path, "slices": slices, "require_input_pre_silence": None, **top}
    return {"train": split, "common": {"nx": 2, "ny": 40}, **({"parametric": True} if kind is None else kind)}


_SLICES = [
    {"start": 0, "stop": 1000, "params": {"gain": 0.2}},
    {"start": 1000, "stop": 3000, "params": {"gain": 0.8}, "delay": 4},
]


# --- which parametric configs load ----------------------------------------------------


@pytest.mark.parametrize("release", ALL)
def test_no_slices_fails_in_every_release(pair, release):
    x_path, y_path, _, _ = pair
    config = {"train": {"x_path": x_path, "y_path": y_path, "params": {"gain": 0.5}, "nx": 1, "ny": 10},
              "parametric": True}
    with use_release(release), pytest.raises(TypeError, match="id|slices"):
        data.init_dataset(config, data.Split.TRAIN)


@pytest.mark.parametrize("release", ALL)
def test_slices_load_until_0_7_4_and_fail_at_ae86979(pair, release):
    x_path, y_path, _, _ = pair
    with use_release(release):
        if release == "ae86979":  # bdeed78: "slices" reaches Dataset.__init__
            with pytest.raises(TypeError, match="slices"):
                data.init_dataset(sliced(x_path, y_path, _SLICES), data.Split.TRAIN)
            return
        ds = data.init_dataset(sliced(x_path, y_path, _SLICES), data.Split.TRAIN)
    assert [d.vals.item() for d in ds.datasets] == pytest.approx([0.2, 0.8])


@pytest.mark.parametrize("release", ["0.7.4", "0.7.3"])
def test_type_key_only_from_0_7_4(pair, caplog, release):
    x_path, y_path, x_ints, _ = pair
    config = sliced(x_path, y_path, _SLICES, kind={"type": "parametric"})
    with use_release(release), caplog.at_level(logging.WARNING, logger="nam_legacy.data"):
        ds = data.init_dataset(config, data.Split.TRAIN)
    if release == "0.7.4":  # 90c2add
        assert isinstance(ds, data.ConcatDataset)
        assert [type(d) for d in ds.datasets] == [data.ParametricDataset] * 2
    else:  # "type" is ignored: one plain Dataset over the whole file, slices unused
        assert type(ds) is data.Dataset
        np.testing.assert_array_equal(ds.x.numpy(), as_float32(x_ints))
    assert not any("'parametric' key" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("release", ["0.7.3", "0.7.4"])
def test_parametric_key_warns_only_from_0_7_4(pair, caplog, release):
    x_path, y_path, _, _ = pair
    with use_release(release), caplog.at_level(logging.WARNING, logger="nam_legacy.data"):
        data.init_dataset(sliced(x_path, y_path, _SLICES), data.Split.TRAIN)
    warned = any("'parametric' key" in r.getMessage() for r in caplog.records)
    assert warned == (release == "0.7.4")


def test_list_form_needs_the_parametric_key_until_0_7_3(pair):
    x_path, y_path, _, _ = pair
    member = {"x_path": x_path, "y_path": y_path, "nx": 1, "ny": 10}
    with use_release("0.7.3"), pytest.raises(KeyError):
        data.ConcatDataset.init_from_config({"dataset_configs": [member]})
    with use_release("0.7.4"):
        ds = data.ConcatDataset.init_from_config({"dataset_configs": [member]})
    assert type(ds.datasets[0]) is data.Dataset


# --- delays ---------------------------------------------------------------------------


@pytest.mark.parametrize("release", ["0.4.0", "0.5.0", "0.7.4"])
def test_slice_delay_from_0_5_0(pair, release):
    x_path, y_path, x_ints, y_ints = pair
    with use_release(release):
        ds = data.init_dataset(sliced(x_path, y_path, _SLICES, delay=1), data.Split.TRAIN)
    second = ds.datasets[1]
    delay = 4 if release != "0.4.0" else 1  # 25f1639: the slice's delay replaces the top one
    np.testing.assert_array_equal(second.x.numpy(), as_float32(x_ints[1000:3000])[:-delay])
    np.testing.assert_array_equal(second.y.numpy(), as_float32(y_ints[1000:3000])[delay:])


@pytest.mark.parametrize("release", ["0.3.0", "0.4.0"])
def test_float_delay_is_a_type_error_before_0_5_0(release):
    with use_release(release), pytest.raises(TypeError):
        data.Dataset(torch.zeros(50), torch.zeros(50), 1, 10, delay=2.0)


def test_integral_float_delay_is_an_int_delay_from_0_5_0():
    x, y = torch.linspace(-0.5, 0.5, 50), torch.linspace(0.5, -0.5, 50)
    with use_release("0.5.0"):
        ds = data.Dataset(x, y, 1, 10, delay=-2.0)
    assert torch.equal(ds.x, x[2:]) and torch.equal(ds.y, y[:-2])


@pytest.mark.parametrize("delay", [0.5, -1.25, 2.75])
def test_linear_fractional_delay_resamples_y(delay):
    pytest.importorskip("scipy")
    y_np = as_float32(random_ints(200, 13))
    x = torch.linspace(-0.5, 0.5, 200)
    ds = data.Dataset(x, torch.from_numpy(y_np), 1, None, delay=delay, delay_interpolation_method="linear")
    n_out = 200 - int(np.ceil(abs(delay)))
    t = np.arange(n_out) + delay if delay > 0 else np.arange(200 - n_out, 200) + delay
    expected = np.interp(t, np.arange(200), y_np.astype(np.float64))
    np.testing.assert_allclose(ds.y.numpy(), expected, rtol=0, atol=1e-6)
    assert torch.equal(ds.x, x[:n_out] if delay > 0 else x[-n_out:])


def test_cubic_fractional_delay_reproduces_cubics():
    pytest.importorskip("scipy")
    t = np.arange(100, dtype=np.float64)
    cubic = lambda t: 0.8 * ((t - 50) / 60) ** 3  # noqa: E731 (the not-a-knot spline is exact)
    ds = data.Dataset(torch.zeros(100), torch.tensor(cubic(t), dtype=torch.float32), 1, None, delay=0.5)
    expected = cubic(t[:99] + 0.5)
    np.testing.assert_allclose(ds.y.numpy(), expected, atol=1e-6)


def test_fractional_delay_without_scipy_says_so(monkeypatch):
    # scipy is optional: hide it, whether or not it is installed here.
    for name in [m for m in sys.modules if m == "scipy" or m.startswith("scipy.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "scipy", None)
    monkeypatch.setitem(sys.modules, "scipy.interpolate", None)
    with pytest.raises(ImportError, match="scipy"):
        data.Dataset(torch.zeros(50), torch.zeros(50), 1, 10, delay=0.5)


# --- constructor arguments and validation ---------------------------------------------


@pytest.mark.parametrize(
    "kwarg, value, first",
    [
        ("input_gain", 6.0, "0.5.0"),
        ("delay_interpolation_method", "linear", "0.5.0"),
        ("rate", 48_000, "0.6.0"),
        ("require_input_pre_silence", None, "0.6.0"),
        ("sample_rate", 48_000, "0.7.0"),
        ("start_seconds", 0.0, "ae86979"),
    ],
)
def test_later_keyword_arguments_are_type_errors_before_their_release(kwarg, value, first):
    x, y = torch.zeros(100), torch.zeros(100)
    for release in ALL:
        with use_release(release):
            if release in before(first):
                with pytest.raises(TypeError, match=kwarg):
                    data.Dataset(x, y, 1, 10, **{kwarg: value})
            else:
                data.Dataset(x, y, 1, 10, **{kwarg: value})


def test_input_gain_scales_x():
    x = torch.linspace(-0.1, 0.1, 30)
    ds = data.Dataset(x, torch.zeros(30), 1, 10, input_gain=20.0)
    assert torch.equal(ds.x, x * 10.0)


@pytest.mark.parametrize("release", ALL)
def test_start_past_the_end(release):
    x = torch.zeros(20)
    with use_release(release):
        if release in before("0.5.0"):  # nothing left: caught as "shorter than nx"
            with pytest.raises(RuntimeError):
                data.Dataset(x, x, 1, None, start=25)
        else:  # 1caec25
            with pytest.raises(data.StartError):
                data.Dataset(x, x, 1, None, start=25)
            with pytest.raises(data.StopError):
                data.Dataset(x, x, 1, None, stop=-20)
            with pytest.raises(data.XYError):
                data.Dataset(x, torch.zeros(19), 1, None)


@pytest.mark.parametrize("release", ["0.5.2", "0.6.0", "0.7.4", "ae86979"])
def test_input_must_be_silent_before_start_from_0_6_0(release):
    x = torch.linspace(-0.5, 0.5, 48_000)
    with use_release(release):
        if release == "0.5.2":
            data.Dataset(x, x, 1, None, start=100)
            return
        with pytest.raises(data.XYError):
            data.Dataset(x, x, 1, None, start=100)
        quiet = torch.cat([x[:100], torch.zeros(19_200), x[:100]])  # 0.4 s of silence at 48 kHz
        data.Dataset(quiet, quiet, 1, None, start=19_300)
        with pytest.raises(data.XYError):
            data.Dataset(quiet, quiet, 1, None, start=19_300, rate=96_000)  # needs 38400
        data.Dataset(x, x, 1, None, start=100, require_input_pre_silence=None)


def test_top_level_start_is_checked_for_silence_inside_each_slice(pair):
    x_path, y_path, _, _ = pair
    config = sliced(x_path, y_path, _SLICES, start=5)
    del config["train"]["require_input_pre_silence"]
    with use_release("0.5.2"):
        data.init_dataset(config, data.Split.TRAIN)
    with use_release("0.6.0"), pytest.raises(data.XYError):
        data.init_dataset(config, data.Split.TRAIN)


# --- sample rates and bit depths ------------------------------------------------------


@pytest.mark.parametrize("release", ["0.6.0", "0.7.0", "0.7.4", "ae86979"])
def test_sample_rate_of_a_loaded_dataset(pair, caplog, release):
    x_path, y_path, _, _ = pair
    config = {"x_path": x_path, "y_path": y_path, "nx": 1, "ny": 10}
    with use_release(release), caplog.at_level(logging.WARNING, logger="nam_legacy.data"):
        ds = data.Dataset.init_from_config(config)
    deprecated = any("'rate' is deprecated" in r.getMessage() for r in caplog.records)
    if release == "0.6.0":
        assert not hasattr(ds, "sample_rate")
    elif release == "0.7.0":  # f743c03: parse_config still passes rate=48000
        assert deprecated and ds.sample_rate == 48_000 and isinstance(ds.sample_rate, float)
    else:  # 4c71ff4: the rate of the x file
        assert not deprecated and ds.sample_rate == 48_000 and isinstance(ds.sample_rate, int)


@pytest.mark.parametrize("release", ["0.5.0", "0.5.1", "0.7.3", "0.7.4", "ae86979"])
def test_other_sample_rates(tmp_path, release):
    ints = random_ints(500, 14)
    config = {"x_path": write_wav(tmp_path / "x.wav", ints, rate=44_100),
              "y_path": write_wav(tmp_path / "y.wav", ints, rate=44_100), "nx": 1, "ny": 10}
    with use_release(release):
        if release == "0.5.0":
            with pytest.raises(AssertionError):
                data.Dataset.init_from_config(config)
        elif release in ("0.5.1", "0.7.3"):  # 75b6b14
            with pytest.raises(RuntimeError, match="44100"):
                data.Dataset.init_from_config(config)
        else:
            assert data.Dataset.init_from_config(config).sample_rate == 44_100
            with pytest.raises(RuntimeError):
                data.Dataset.init_from_config({**config, "rate": 48_000})


@pytest.mark.parametrize("release", ["0.7.3", "0.7.4"])
def test_16_bit_files_from_0_7_4(tmp_path, release):
    ints = random_ints(500, 15, bits=16)
    x_path = write_wav(tmp_path / "x.wav", ints, sampwidth=2)
    with use_release(release):
        if release == "0.7.3":
            with pytest.raises(AssertionError):
                data.wav_to_np(x_path)
        else:  # 4c71ff4
            np.testing.assert_array_equal(data.wav_to_np(x_path), ints / 2**15)


def test_wav_rate_argument_from_0_5_1(pair):
    x_path, _, _, _ = pair
    with use_release("0.5.0"), pytest.raises(TypeError):
        data.wav_to_np(x_path, rate=48_000)
    with use_release("0.5.1"), pytest.raises(RuntimeError):
        data.wav_to_np(x_path, rate=44_100)


# --- ae86979 (bdeed78, ce232d3) -------------------------------------------------------


def test_ae86979_start_and_stop_in_seconds_or_samples(caplog):
    x = torch.linspace(-0.5, 0.5, 1000)
    with use_release("ae86979"):
        ds = data.Dataset(x, x, 1, None, start_seconds=0.25, stop_samples=-100, sample_rate=1000,
                          require_input_pre_silence=None)
        assert torch.equal(ds.x, x[250:-100])
        with pytest.raises(ValueError, match="only one"):
            data.Dataset(x, x, 1, None, start=1, start_samples=1)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="nam_legacy.data"):
            data.Dataset(x, x, 1, None, stop=500)
            assert not caplog.records  # upstream never warns about `stop` alone
            data.Dataset(x, x, 1, None, start=0, require_input_pre_silence=None)
        assert len(caplog.records) == 2  # ... but warns about it along with `start`


def test_ae86979_forwards_unknown_keys_and_keeps_the_callers_config(pair):
    x_path, y_path, _, _ = pair
    config = {"x_path": x_path, "y_path": y_path, "nx": 1, "ny": 10, "input_gain": 20.0}
    snapshot = json.dumps(config)
    with use_release("ae86979"):
        kwargs = data.Dataset.parse_config(config)
        assert kwargs["input_gain"] == 20.0 and "x_path" not in kwargs and kwargs["sample_rate"] == 48_000
        with pytest.raises(TypeError, match="bogus"):
            data.Dataset.init_from_config({**config, "bogus": 1})
    assert json.dumps(config) == snapshot
    with use_release("0.7.4"):
        assert "input_gain" not in data.Dataset.parse_config(config)


# --- ConcatDataset indexing (50c247a) -------------------------------------------------


@pytest.mark.parametrize("release", ["0.3.0", "0.4.0"])
def test_concat_index_past_the_end(release):
    with use_release(release):
        ds = data.ConcatDataset([data.Dataset(torch.zeros(30), torch.zeros(30), 1, 10)])
        if release == "0.3.0":
            assert ds[3] is None
        else:
            with pytest.raises(KeyError):
                ds[3]


# --- the genuine releases --------------------------------------------------------------

# Runs in an oracle venv with the real `nam.data` ("theirs"), or with ours under a
# release profile ("ours"), and saves every member's tensors and every item.
_DUMP = r'''
import contextlib, json, sys
from pathlib import Path
import numpy as np
side, release, out = sys.argv[1:4]
cases = json.loads((Path(out) / "cases.json").read_text())
if side == "ours":
    from nam_legacy import data
    from nam_legacy.releases import use_release
    ctx = use_release(release)
else:
    from nam import data
    ctx = contextlib.nullcontext()
summary = {}
with ctx:
    for name, config in cases.items():
        try:
            ds = data.init_dataset(config, data.Split.TRAIN)
        except Exception as e:
            summary[name] = {"error": type(e).__name__}
            continue
        members = ds.datasets if isinstance(ds, data.ConcatDataset) else [ds]
        info = {"class": type(ds).__name__, "len": len(ds), "members": []}
        arrays = {}
        for k, m in enumerate(members):
            info["members"].append({"class": type(m).__name__, "len": len(m), "ny": m.ny,
                                    "keys": list(getattr(m, "keys", [])),
                                    "sample_rate": repr(getattr(m, "sample_rate", None))})
            arrays[f"x{k}"], arrays[f"y{k}"] = m.x.numpy(), m.y.numpy()
            if hasattr(m, "vals"):
                arrays[f"vals{k}"] = m.vals.numpy()
        items = [ds[i] for i in range(len(ds))]
        for j in range(len(items[0])):
            arrays[f"item{j}"] = np.stack([it[j].numpy() for it in items])
        np.savez(Path(out) / f"{name}.npz", **arrays)
        summary[name] = info
(Path(out) / "summary.json").write_text(json.dumps(summary, indent=1))
'''


def _oracle_cases(tmp_path):
    x_ints, y_ints = random_ints(4000, 21, peak=0.5), random_ints(4010, 22, peak=0.5)  # cubic overshoot
    x_path, y_path = write_wav(tmp_path / "x.wav", x_ints), write_wav(tmp_path / "y.wav", y_ints)
    int_slices = [
        {"start": 0, "stop": 1200, "params": {"gain": 0.3, "bright": True, "Alpha": 2}},
        {"start": 1200, "stop": 2500, "params": {"bright": False, "Alpha": -1, "gain": 0.7}, "delay": 5},
    ]
    slices = int_slices + [{"start": 2500, "stop": 4000, "params": {"Alpha": 0, "gain": 1.0, "bright": True},
                            "delay": -2.5}]
    top = {"x_path": x_path, "y_path": y_path, "y_preroll": 10, "require_input_pre_silence": None}
    common = {"nx": 3, "ny": 64}
    trims = {"start": 7, "stop": -11, "delay": 2, "y_scale": 0.5}
    return {
        # integer delays only: also run in this venv, which may lack scipy
        "sliced_int": {"train": {**top, "slices": int_slices, **trims}, "common": common, "parametric": True},
        "no_slices": {"train": {**top, "params": {"gain": 0.5}}, "common": common, "parametric": True},
        "plain": {"train": {**top, "start": 100, "delay": -4, "y_scale": 0.75}, "common": common},
        # fractional delays (from 0.5.0; a TypeError before when top-level)
        "sliced": {"train": {**top, "slices": slices, **trims}, "common": common, "parametric": True},
        "linear": {"train": {**top, "slices": slices, "delay": -3, "delay_interpolation_method": "linear"},
                   "common": common, "parametric": True},
        "list": {"train": [{**top, "slices": slices[:2]}, {**top, "slices": slices[2:], "delay": 1.0}],
                 "common": common, "parametric": True},
        "type_key": {"train": {**top, "slices": slices}, "common": common, "type": "parametric"},
        "not_silent": {"train": {**{k: v for k, v in top.items() if k != "require_input_pre_silence"},
                                 "slices": slices, "start": 5}, "common": common, "parametric": True},
    }


_INTEGER_CASES = ("sliced_int", "no_slices", "plain")


def _dump(runs, release):
    """Start every run (side, python, cases, out dir, extra env) at once; their summaries."""
    procs = []
    for side, python, cases, out, extra_env in runs:
        out.mkdir(parents=True)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env.update(extra_env)
        (out / "cases.json").write_text(json.dumps(cases))
        procs.append(subprocess.Popen([str(python), "-c", _DUMP, side, release, str(out)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd="/tmp", env=env, text=True))
    summaries = []
    for (side, _, _, out, _), proc in zip(runs, procs):
        _, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, f"{side} side failed:\n{stderr[-4000:]}"
        summaries.append(json.loads((out / "summary.json").read_text()))
    return summaries


@pytest.mark.oracle
@pytest.mark.parametrize("release", oracles.ALL)
def test_bit_identical_to_the_genuine_release(tmp_path, release):
    oracle_python = oracles.python_or_skip(release)
    cases = _oracle_cases(tmp_path)
    if importlib.util.find_spec("scipy") is not None:
        here_cases = cases
    else:  # fractional delays need scipy: those run in the oracle's python only
        here_cases = {k: cases[k] for k in _INTEGER_CASES}
    ours_env = {"PYTHONPATH": str(REPO)}
    theirs, *ours_runs = _dump(
        [
            ("theirs", oracle_python, cases, tmp_path / "theirs", {}),
            ("ours", oracle_python, cases, tmp_path / "ours-in-oracle-python", ours_env),
            ("ours", sys.executable, here_cases, tmp_path / "ours-here", ours_env),
        ],
        release,
    )
    assert theirs["no_slices"] == {"error": "TypeError"}
    assert "error" not in theirs["sliced_int"] and "error" not in theirs["sliced"]
    for tag, ours in zip(("ours-in-oracle-python", "ours-here"), ours_runs):
        assert ours == {k: theirs[k] for k in ours}, tag
        for name in ours:
            if "error" in ours[name]:
                continue
            a, b = np.load(tmp_path / tag / f"{name}.npz"), np.load(tmp_path / "theirs" / f"{name}.npz")
            assert sorted(a.files) == sorted(b.files), (tag, name)
            for f in b.files:
                assert a[f].dtype == b[f].dtype == np.float32, (tag, name, f)
                np.testing.assert_array_equal(a[f], b[f], err_msg=f"{tag}: {name}/{f}")
