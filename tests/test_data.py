"""nam_legacy.data: WAV helpers, Dataset windows, ParametricDataset, ConcatDataset,
init_dataset. Behaviour that differs between releases is in test_data_releases.py.

Expected arrays are computed here from the integer samples written to the WAV files
(sample / 2**23, rounded once to float32) and sliced by hand.
"""

import logging

import numpy as np
import pytest
import torch
import wavio
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from nam_legacy import data
from nam_legacy.releases import use_release

FULL_SCALE = 2**23  # 24-bit
WORKING = "0.7.4"  # the last release whose sliced parametric configs load


def write_wav(path, ints, rate=48_000, sampwidth=3):
    wavio.write(str(path), np.asarray(ints, dtype=np.int32).reshape(-1, 1), rate, sampwidth=sampwidth)
    return str(path)


def as_float32(ints):
    return (np.asarray(ints, dtype=np.float64) / FULL_SCALE).astype(np.float32)


def random_ints(n, seed, peak=0.9):
    rng = np.random.default_rng(seed)
    limit = int(peak * FULL_SCALE)
    return rng.integers(-limit, limit, size=n)


@pytest.fixture
def pair(tmp_path):
    """(x_path, y_path, x_ints, y_ints) of 2000 samples."""
    x_ints, y_ints = random_ints(2000, 1), random_ints(2000, 2)
    return write_wav(tmp_path / "x.wav", x_ints), write_wav(tmp_path / "y.wav", y_ints), x_ints, y_ints


def sliced_config(x_path, y_path, slices, **top):
    split = {"x_path": x_path, "y_path": y_path, "slices": slices, "require_input_pre_silence": None, **top}
    return {"train": split, "common": {"nx": 3, "ny": 50}, "parametric": True}


def expected_windows(x, y, nx, ny):
    n_items = (len(x) - nx + 1) // ny
    return [(x[i * ny : i * ny + nx + ny - 1], y[i * ny + nx - 1 : i * ny + nx - 1 + ny]) for i in range(n_items)]


# --- WAV helpers ----------------------------------------------------------------------


def test_wav_to_np_scales_24_bit_samples(pair):
    x_path, _, x_ints, _ = pair
    arr, info = data.wav_to_np(x_path, info=True)
    assert arr.dtype == np.float64
    np.testing.assert_array_equal(arr, x_ints / FULL_SCALE)
    assert (info.sampwidth, info.rate) == (3, 48_000)


def test_wav_to_np_preroll_and_required_shape(pair):
    x_path, _, x_ints, _ = pair
    np.testing.assert_array_equal(data.wav_to_np(x_path, preroll=7), x_ints[7:] / FULL_SCALE)
    with pytest.raises(ValueError):
        data.wav_to_np(x_path, preroll=7, required_shape=(len(x_ints), 1))


def test_wav_to_tensor_is_float32(pair):
    x_path, _, x_ints, _ = pair
    x, info = data.wav_to_tensor(x_path, info=True)
    assert x.dtype == torch.float32 and info.rate == 48_000
    np.testing.assert_array_equal(x.numpy(), as_float32(x_ints))


def test_np_to_wav_round_trip_and_clipping(tmp_path):
    ints = random_ints(300, 3)
    samples = ints / FULL_SCALE
    samples[:2] = [1.7, -2.0]  # clipped to +-1 before conversion
    path = tmp_path / "out.wav"
    data.np_to_wav(samples, path, clip="ignore")
    back = wavio.read(str(path))
    assert (back.rate, back.sampwidth) == (48_000, 3)
    np.testing.assert_array_equal(back.data[2:, 0], ints[2:])
    assert back.data[1, 0] == -FULL_SCALE


# --- Dataset --------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(20, 120),
    nx=st.integers(1, 8),
    ny=st.integers(1, 20),
    start=st.one_of(st.none(), st.integers(0, 10)),
    stop_from_end=st.one_of(st.none(), st.integers(1, 10)),
    delay=st.one_of(st.none(), st.integers(-5, 5)),
    y_scale=st.sampled_from([1.0, 0.5, 0.25]),
)
def test_dataset_windows_match_hand_slicing(n, nx, ny, start, stop_from_end, delay, y_scale):
    x_np, y_np = as_float32(random_ints(n, 4)), as_float32(random_ints(n, 5))
    stop = None if stop_from_end is None else n - stop_from_end
    xs, ys = x_np[start:stop], y_np[start:stop]
    if delay:
        xs, ys = (xs[:-delay], ys[delay:]) if delay > 0 else (xs[-delay:], ys[:delay])
    ys = ys * np.float32(y_scale)
    assume(nx + ny - 1 <= len(xs))
    with use_release(WORKING):
        ds = data.Dataset(
            torch.from_numpy(x_np), torch.from_numpy(y_np), nx, ny, start, stop,
            delay=delay, y_scale=y_scale, require_input_pre_silence=None,
        )
    windows = expected_windows(xs, ys, nx, ny)
    assert len(ds) == len(windows) and ds.ny == ny and ds.y_offset == nx - 1
    for i, (ex, ey) in enumerate(windows):
        x, y = ds[i]
        np.testing.assert_array_equal(x.numpy(), ex)
        np.testing.assert_array_equal(y.numpy(), ey)
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_dataset_ny_none_is_one_item():
    x, y = torch.linspace(-0.5, 0.5, 40), torch.linspace(0.5, -0.5, 40)
    ds = data.Dataset(x, y, 5, None)
    assert len(ds) == 1 and ds.ny == 36
    assert torch.equal(ds[0][0], x) and torch.equal(ds[0][1], y[4:])


def test_dataset_rejects_clipped_output_and_short_input():
    x = torch.zeros(30)
    with pytest.raises(ValueError, match="clipped"):
        data.Dataset(x, torch.full((30,), 0.6), 1, 10, y_scale=2.0)
    with pytest.raises(RuntimeError):
        data.Dataset(x, torch.zeros(30), 31, None)


def test_dataset_from_config(pair):
    x_path, y_path, x_ints, y_ints = pair
    ds = data.Dataset.init_from_config({"x_path": x_path, "y_path": y_path, "nx": 4, "ny": 100, "y_scale": 0.5})
    np.testing.assert_array_equal(ds.x.numpy(), as_float32(x_ints))
    np.testing.assert_array_equal(ds.y.numpy(), as_float32(y_ints) * np.float32(0.5))
    assert len(ds) == (2000 - 4 + 1) // 100


def test_y_preroll_drops_leading_output_samples(tmp_path):
    x_ints, y_ints = random_ints(500, 6), random_ints(510, 7)
    config = {"x_path": write_wav(tmp_path / "x.wav", x_ints), "y_path": write_wav(tmp_path / "y.wav", y_ints),
              "nx": 1, "ny": 10, "y_preroll": 10}
    ds = data.Dataset.init_from_config(config)
    np.testing.assert_array_equal(ds.y.numpy(), as_float32(y_ints[10:]))
    del config["y_preroll"]
    with pytest.raises(ValueError, match="same shape"):
        data.Dataset.init_from_config(config)


# --- ParametricDataset ----------------------------------------------------------------

_PARAMS = {"gain": 0.25, "Bright": True, "tone": 1, "mid": -0.5, "level": False, "z": 1e-3}


@given(st.permutations(list(_PARAMS)))
def test_param_values_follow_sorted_names(order):
    params = {k: _PARAMS[k] for k in order}
    ds = data.ParametricDataset(params, torch.zeros(20), torch.zeros(20), 2, 5)
    names = sorted(_PARAMS)
    assert list(ds.keys) == names
    assert ds.vals.dtype == torch.float32
    expected = np.array([float(_PARAMS[k]) for k in names], dtype=np.float32)
    np.testing.assert_array_equal(ds.vals.numpy(), expected)
    assert ds.vals[names.index("Bright")] == 1.0 and ds.vals[names.index("level")] == 0.0


def test_parametric_item_is_vals_x_y():
    x, y = torch.linspace(-0.5, 0.5, 30), torch.linspace(0.3, -0.3, 30)
    ds = data.ParametricDataset({"b": 0.5, "a": 1.0}, x, y, 3, 7)
    vals, xi, yi = ds[2]
    assert torch.equal(vals, torch.tensor([1.0, 0.5]))
    assert torch.equal(xi, x[14:23]) and torch.equal(yi, y[16:23])


def test_sliced_config_gives_one_member_per_slice(pair):
    x_path, y_path, x_ints, y_ints = pair
    slices = [
        {"start": 0, "stop": 700, "params": {"gain": 0.1, "on": True}},
        {"start": 700, "stop": 1500, "params": {"on": False, "gain": 0.9}},
        {"start": 1500, "stop": 2000, "params": {"gain": 0.5, "on": True}},
    ]
    # Top-level start/stop/delay apply again inside every slice, relative to the slice.
    config = sliced_config(x_path, y_path, slices, start=10, stop=-20, delay=3, y_scale=0.5)
    with use_release(WORKING):
        ds = data.init_dataset(config, data.Split.TRAIN)
    assert isinstance(ds, data.ConcatDataset)
    assert [type(d) for d in ds.datasets] == [data.ParametricDataset] * 3
    x_all, y_all = as_float32(x_ints), as_float32(y_ints)
    flat = []
    for member, s in zip(ds.datasets, slices):
        xs, ys = x_all[s["start"] : s["stop"]][10:-20], y_all[s["start"] : s["stop"]][10:-20]
        xs, ys = xs[:-3], ys[3:] * np.float32(0.5)
        np.testing.assert_array_equal(member.x.numpy(), xs)
        np.testing.assert_array_equal(member.y.numpy(), ys)
        vals = np.array([s["params"]["gain"], float(s["params"]["on"])], dtype=np.float32)
        assert member.keys == ["gain", "on"]
        np.testing.assert_array_equal(member.vals.numpy(), vals)
        flat += [(vals, ex, ey) for ex, ey in expected_windows(xs, ys, 3, 50)]
    assert len(ds) == len(flat)
    for i, (vals, ex, ey) in enumerate(flat):
        v, x, y = ds[i]
        np.testing.assert_array_equal(v.numpy(), vals)
        np.testing.assert_array_equal(x.numpy(), ex)
        np.testing.assert_array_equal(y.numpy(), ey)


def test_parametric_without_slices_is_a_type_error(pair):
    x_path, y_path, _, _ = pair
    config = {"train": {"x_path": x_path, "y_path": y_path, "params": {"gain": 0.5}},
              "common": {"nx": 1, "ny": 10}, "parametric": True}
    with use_release(WORKING), pytest.raises(TypeError):
        data.init_dataset(config, data.Split.TRAIN)


def test_default_profile_ae86979_cannot_load_slices(pair):
    x_path, y_path, _, _ = pair
    config = sliced_config(x_path, y_path, [{"start": 0, "stop": 1000, "params": {"gain": 0.5}}])
    with pytest.raises(TypeError, match="slices"):
        data.init_dataset(config, data.Split.TRAIN)


# --- ConcatDataset --------------------------------------------------------------------


def _member(params=None, ny=5, n=30):
    x, y = torch.zeros(n), torch.zeros(n)
    return data.Dataset(x, y, 1, ny) if params is None else data.ParametricDataset(params, x, y, 1, ny)


def test_concat_requires_equal_ny():
    with pytest.raises(ValueError, match="ny"):
        data.ConcatDataset([_member(ny=5), _member(ny=6)])


def test_concat_requires_equal_param_names():
    data.ConcatDataset([_member({"a": 1, "b": 2}), _member({"b": 0, "a": 0})])
    with pytest.raises(ValueError, match="Parameters"):
        data.ConcatDataset([_member({"a": 1, "b": 2}), _member({"a": 1, "c": 2})])
    data.ConcatDataset([_member({"a": 1}), _member()])  # plain members carry no names


def test_concat_flattens_and_indexes_across_members():
    a, b, c = _member({"k": 0.0}, n=12), _member({"k": 0.5}, n=7), _member({"k": 1.0}, n=21)
    ds = data.ConcatDataset([a, data.ConcatDataset([b, c])])
    assert ds.datasets == [a, b, c]
    items = [a[i] for i in range(len(a))] + [b[i] for i in range(len(b))] + [c[i] for i in range(len(c))]
    assert len(ds) == len(items) == 2 + 1 + 4
    for i, item in enumerate(items):
        assert all(torch.equal(p, q) for p, q in zip(ds[i], item))
    with pytest.raises(KeyError):
        ds[len(ds)]
    kept = (a, b)
    assert data.ConcatDataset(kept, flatten=False).datasets is kept
    with pytest.raises(AttributeError):  # unflattened, a nested ConcatDataset has no ny
        data.ConcatDataset([a, data.ConcatDataset([b])], flatten=False)


def test_concat_from_list_config(pair):
    x_path, y_path, x_ints, _ = pair
    config = {
        "train": [
            {"x_path": x_path, "y_path": y_path, "slices": [{"start": 0, "stop": 900, "params": {"p": 0}}]},
            {"x_path": x_path, "y_path": y_path, "slices": [{"start": 900, "stop": 2000, "params": {"p": 1}}]},
        ],
        "common": {"nx": 2, "ny": 40, "require_input_pre_silence": None},
        "parametric": True,
    }
    with use_release(WORKING):
        ds = data.init_dataset(config, data.Split.TRAIN)
    assert [d.vals.item() for d in ds.datasets] == [0.0, 1.0]
    np.testing.assert_array_equal(ds.datasets[1].x.numpy(), as_float32(x_ints[900:]))


# --- registry (0.7.4) -----------------------------------------------------------------


def test_register_dataset_initializer(monkeypatch, pair):
    x_path, y_path, _, _ = pair
    monkeypatch.setattr(data, "_dataset_init_registry", dict(data._dataset_init_registry))
    with pytest.raises(KeyError):
        data.register_dataset_initializer("parametric", data.Dataset.init_from_config)
    seen = []

    def build(config):
        seen.append(config)
        return data.Dataset.init_from_config(config)

    data.register_dataset_initializer("mine", build)
    config = {"train": {"x_path": x_path, "y_path": y_path}, "common": {"nx": 1, "ny": 10}, "type": "mine"}
    with use_release(WORKING):
        assert isinstance(data.init_dataset(config, data.Split.TRAIN), data.Dataset)
    assert seen == [{"nx": 1, "ny": 10, "x_path": x_path, "y_path": y_path}]
    data.register_dataset_initializer("mine", data.ParametricDataset.init_from_config, overwrite=True)
    assert data._dataset_init_registry["mine"] == data.ParametricDataset.init_from_config


def test_parametric_key_is_deprecated_in_0_7_4(pair, caplog):
    x_path, y_path, _, _ = pair
    config = sliced_config(x_path, y_path, [{"start": 0, "stop": 1000, "params": {"gain": 0.5}}])
    with use_release(WORKING), caplog.at_level(logging.WARNING, logger="nam_legacy.data"):
        ds = data.init_dataset(config, data.Split.TRAIN)
    assert isinstance(ds.datasets[0], data.ParametricDataset)
    assert any("deprecated" in r.getMessage() for r in caplog.records)


def test_split_config_of_another_kind_gives_none():
    assert data.init_dataset({"train": "nope", "parametric": True}, data.Split.TRAIN) is None
