"""The batched LSTM engine behind loudness metadata (compat.migrate.lstm_batch) and its
optional native cell kernel (compat.migrate.native, lstm_cell.c).

Both ways of running a step (the native kernel and torch ops) are checked against an
independent float64 LSTM (torch.nn.LSTM in double precision), and against each other:
they must give the same bits.
"""

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compat.migrate import native
from compat.migrate.lstm_batch import lstm_rows

MODES = ["native", "torch"]


@pytest.fixture(params=MODES)
def mode(request, monkeypatch):
    monkeypatch.setenv("NAM_LEGACY_NATIVE", "1" if request.param == "native" else "0")
    native._reset()
    if request.param == "native" and native.lstm_cell() is None:
        pytest.skip(f"the native kernel is not available here: {native.status()}")
    yield request.param
    native._reset()


def _random_lstm(seed, layers, hidden, scale=1.0):
    torch.manual_seed(seed)
    core = torch.nn.LSTM(1, hidden, num_layers=layers, batch_first=True)
    with torch.no_grad():
        for p in core.parameters():
            p.mul_(scale)
    cells = [
        (
            getattr(core, f"weight_ih_l{k}").detach().numpy().copy(),
            getattr(core, f"weight_hh_l{k}").detach().numpy().copy(),
            (getattr(core, f"bias_ih_l{k}") + getattr(core, f"bias_hh_l{k}")).detach().numpy().copy(),
        )
        for k in range(layers)
    ]
    rng = np.random.default_rng(seed)
    head_w = rng.normal(size=hidden).astype(np.float32)
    head_b = rng.normal(size=1).astype(np.float32)
    return cells, head_w, head_b


def _reference(cells, head_w, head_b, h0, c0, x, biases=None):
    """float64 torch.nn.LSTM, one row at a time; `biases` (R, 4H) replaces layer 0's bias."""
    layers, hidden = len(cells), cells[0][1].shape[1]
    out = []
    for n in range(x.shape[0]):
        core = torch.nn.LSTM(1, hidden, num_layers=layers, batch_first=True).double()
        with torch.no_grad():
            for k, (wi, wh, b) in enumerate(cells):
                getattr(core, f"weight_ih_l{k}").copy_(torch.from_numpy(wi))
                getattr(core, f"weight_hh_l{k}").copy_(torch.from_numpy(wh))
                bk = biases[n] if (biases is not None and k == 0) else b
                getattr(core, f"bias_ih_l{k}").copy_(torch.from_numpy(np.asarray(bk, dtype=np.float64)))
                getattr(core, f"bias_hh_l{k}").zero_()
            state = (torch.from_numpy(h0[n]).double()[:, None], torch.from_numpy(c0[n]).double()[:, None])
            feats, _ = core(x[n].double()[None, :, None], state)
        out.append(feats[0] @ torch.from_numpy(head_w).double() + float(head_b[0]))
    return torch.stack(out)


def _tol(y):
    return 2e-5 * max(1.0, float(y.abs().max()))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])  # mode is fixed per test
@given(
    seed=st.integers(0, 2**16),
    layers=st.integers(1, 3),
    hidden=st.integers(2, 12),
    rows=st.integers(1, 5),
    length=st.integers(1, 200),
    scale=st.sampled_from([0.5, 1.0, 3.0]),
)
def test_rows_match_float64_lstm(mode, seed, layers, hidden, rows, length, scale):
    cells, hw, hb = _random_lstm(seed, layers, hidden, scale)
    rng = np.random.default_rng(seed + 1)
    h0 = rng.normal(0, 0.4, size=(rows, layers, hidden)).astype(np.float32)
    c0 = rng.normal(0, 0.4, size=(rows, layers, hidden)).astype(np.float32)
    x = torch.from_numpy(rng.normal(0, 0.5, size=(rows, length)).astype(np.float32))
    y = lstm_rows(cells, hw, hb, h0, c0, x)
    ref = _reference(cells, hw, hb, h0, c0, x)
    assert y.shape == (rows, length) and y.dtype == torch.float32
    assert float((y.double() - ref).abs().max()) <= _tol(ref)


def test_per_row_layer0_bias(mode):
    """Rows with their own layer-0 bias (the snapshots of one CatLSTM) run as one batch."""
    layers, hidden, rows = 2, 8, 4
    cells, hw, hb = _random_lstm(7, layers, hidden)
    rng = np.random.default_rng(7)
    bias0 = (cells[0][2][None, :] + rng.normal(0, 0.5, size=(rows, 4 * hidden))).astype(np.float32)
    h0 = np.zeros((rows, layers, hidden), np.float32)
    x = torch.from_numpy(rng.normal(0, 0.5, size=(rows, 300)).astype(np.float32))
    y = lstm_rows(cells, hw, hb, h0, h0.copy(), x, bias0=bias0)
    ref = _reference(cells, hw, hb, h0, h0.copy(), x, biases=bias0)
    assert float((y.double() - ref).abs().max()) <= _tol(ref)
    # and the biases matter: without them the rows differ
    plain = lstm_rows(cells, hw, hb, h0, h0.copy(), x)
    assert float((plain - y).abs().max()) > 1e-3


def test_saturated_gates(mode):
    """Huge pre-activations (|z| up to ~1e3) saturate cleanly: no inf, no NaN."""
    cells, hw, hb = _random_lstm(3, 2, 6, scale=200.0)
    rng = np.random.default_rng(3)
    h0 = np.zeros((3, 2, 6), np.float32)
    x = torch.from_numpy(rng.normal(0, 1.0, size=(3, 100)).astype(np.float32))
    y = lstm_rows(cells, hw, hb, h0, h0.copy(), x)
    assert torch.isfinite(y).all()
    ref = _reference(cells, hw, hb, h0, h0.copy(), x)
    assert float((y.double() - ref).abs().max()) <= 1e-4 * max(1.0, float(ref.abs().max()))


def _both_paths(monkeypatch, *args, **kwargs):
    monkeypatch.setenv("NAM_LEGACY_NATIVE", "1")
    native._reset()
    if native.lstm_cell() is None:
        pytest.skip(f"the native kernel is not available here: {native.status()}")
    try:
        fast = lstm_rows(*args, **kwargs)
        monkeypatch.setenv("NAM_LEGACY_NATIVE", "0")
        native._reset()
        assert native.lstm_cell() is None
        slow = lstm_rows(*args, **kwargs)
    finally:
        native._reset()
    return fast, slow


def test_native_and_torch_give_the_same_bits(monkeypatch):
    """The torch path repeats the kernel's arithmetic operation for operation: a pack's
    bytes do not depend on whether this machine could build the kernel."""
    cells, hw, hb = _random_lstm(11, 4, 32)
    rng = np.random.default_rng(11)
    h0 = rng.normal(0, 0.3, size=(6, 4, 32)).astype(np.float32)
    x = torch.from_numpy(rng.normal(0, 0.3, size=(6, 2000)).astype(np.float32))
    bias0 = (cells[0][2][None, :] + rng.normal(0, 0.5, size=(6, 128))).astype(np.float32)
    fast, slow = _both_paths(monkeypatch, cells, hw, hb, h0, h0.copy(), x, bias0=bias0)
    assert torch.equal(fast, slow)
    # ...and not because the function is trivial: it is not torch's own LSTM, bit for bit
    ref = _reference(cells, hw, hb, h0, h0.copy(), x, biases=bias0).float()
    assert not torch.equal(fast, ref) and float((fast - ref).abs().max()) < 1e-4


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**16),
    layers=st.integers(1, 4),
    hidden=st.integers(1, 9),
    rows=st.integers(1, 7),
    length=st.integers(1, 300),
    scale=st.sampled_from([0.5, 2.0, 60.0]),  # 60: pre-activations beyond the exp's clamp
)
def test_native_and_torch_same_bits_any_shape(monkeypatch, seed, layers, hidden, rows, length, scale):
    cells, hw, hb = _random_lstm(seed, layers, hidden, scale)
    rng = np.random.default_rng(seed + 2)
    h0 = rng.normal(0, 0.4, size=(rows, layers, hidden)).astype(np.float32)
    c0 = rng.normal(0, 2.0, size=(rows, layers, hidden)).astype(np.float32)
    x = torch.from_numpy(rng.normal(0, 1.0, size=(rows, length)).astype(np.float32))
    fast, slow = _both_paths(monkeypatch, cells, hw, hb, h0, c0, x)
    assert torch.equal(fast, slow), float((fast - slow).abs().max())


def test_bad_shapes():
    cells, hw, hb = _random_lstm(0, 1, 4)
    h0 = np.zeros((1, 1, 4), np.float32)
    x = torch.zeros(1, 10)
    with pytest.raises(ValueError, match="bias0"):
        lstm_rows(cells, hw, hb, h0, h0, x, bias0=np.zeros((2, 16), np.float32))
    wide = [(np.zeros((16, 2), np.float32), cells[0][1], cells[0][2])]
    with pytest.raises(ValueError, match="one input"):
        lstm_rows(wide, hw, hb, h0, h0, x)


# --- native.py: building, caching, falling back --------------------------------------------


def test_disabled_by_environment(monkeypatch):
    monkeypatch.setenv("NAM_LEGACY_NATIVE", "0")
    native._reset()
    try:
        assert native.lstm_cell() is None
        assert native.status() == "torch ops (NAM_LEGACY_NATIVE=0)"
    finally:
        native._reset()


def test_broken_compiler_falls_back(monkeypatch, tmp_path):
    monkeypatch.setenv("NAM_LEGACY_NATIVE", "1")
    monkeypatch.setenv("NAM_LEGACY_CACHE", str(tmp_path))
    monkeypatch.setenv("CC", "/bin/false")
    native._reset()
    try:
        assert native.lstm_cell() is None
        assert native.status().startswith("torch ops (")
        # nothing half-built is left in the cache
        assert [p.name for p in (tmp_path / "native").glob("*")] == []
        cells, hw, hb = _random_lstm(0, 1, 4)
        h0 = np.zeros((2, 1, 4), np.float32)
        assert lstm_rows(cells, hw, hb, h0, h0, torch.ones(2, 5)).shape == (2, 5)  # still works
    finally:
        native._reset()


def test_built_once_and_reused(monkeypatch, tmp_path):
    monkeypatch.setenv("NAM_LEGACY_NATIVE", "1")
    monkeypatch.setenv("NAM_LEGACY_CACHE", str(tmp_path))
    monkeypatch.delenv("CC", raising=False)
    native._reset()
    try:
        if native.lstm_cell() is None:
            pytest.skip(f"the native kernel is not available here: {native.status()}")
        built = list((tmp_path / "native").glob("lstm_cell-*.so"))
        assert len(built) == 1
        stamp = built[0].stat().st_mtime_ns
        native._reset()
        assert native.lstm_cell() is not None
        assert built[0].stat().st_mtime_ns == stamp
        assert list((tmp_path / "native").glob("*")) == built
    finally:
        native._reset()
