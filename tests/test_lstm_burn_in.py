"""The LSTM burn-in shortcuts are exact, bit for bit.

* `fold._burn_in_chunks` stops once a chunk of zeros returns the state it started from;
  the state must equal that of current NAM's one long run of 48,000 zeros (autograd on).
* `metadata._zero_gain_rms` builds the gain-0 loudness pass from one chunk; it must equal
  the full 48,000-sample pass from the stored state, computed as current NAM does.

The long runs here are computed directly with torch.nn.LSTM, the way neural-amp-modeler
0.13.0 runs them (its `_get_initial_state` and `_metadata_loudness`); the real 0.13.0
confirms the results in tests/test_migrate_current_nam.py and test_migrate_metadata.py.
"""

import functools
from pathlib import Path

import numpy as np
import pytest
import torch

import compat
from compat.migrate import fold
from compat.migrate.fold import BURN_IN_CHUNK, BURN_IN_SAMPLES, _burn_in_chunks, current_nam_core
from compat.migrate.metadata import _lstm_parts, _rms, _zero_gain_rms
from nam_legacy.models.parametric.catnets import CatLSTM

FIXTURES = Path(__file__).parent / "fixtures"
LSTM_CASES = sorted(p.parent for p in FIXTURES.glob("*/catlstm/model.ckpt"))


@functools.lru_cache(maxsize=None)
def _load(case: Path):
    return compat.load(case / "model.ckpt", config=case / "model.json", param_config=case / "params.json")


def _long_run(core, samples, state=None):
    with torch.enable_grad():
        feats, (h, c) = core(torch.zeros((1, samples, 1)), state)
    return feats.detach(), h.detach(), c.detach()


def _folded_models():
    out = []
    for case in LSTM_CASES[-2:]:  # genuine trained models (two releases)
        out.append((case.parent.name, fold(_load(case))))
    torch.manual_seed(0)
    default = CatLSTM(32, input_size=4, num_layers=4).eval()  # upstream's default size
    out += [(f"default-{i}", fold(default, p)) for i, p in enumerate([[0, 0, 0], [1, 0.5, 0.25]])]
    return out


FOLDED = _folded_models()


@pytest.mark.parametrize("name,folded", FOLDED, ids=[n for n, _ in FOLDED])
def test_burn_in_equals_one_long_run(name, folded):
    cells, h_stored, c_stored, _, _ = _lstm_parts(folded)
    core = current_nam_core(cells, h_stored.shape[1])
    _, h, c = _long_run(core, BURN_IN_SAMPLES)
    assert np.array_equal(h[:, 0].numpy(), h_stored)
    assert np.array_equal(c[:, 0].numpy(), c_stored)


def test_burn_in_without_a_repeat_runs_to_the_end():
    """A core that never repeats within the burn-in takes every chunk; still exact."""
    core = torch.nn.LSTM(1, 1, num_layers=1, batch_first=True)
    with torch.no_grad():
        for p in core.parameters():
            p.zero_()
        # forget gate ~0.99995, input 0.5 x tanh(1): the cell state creeps towards ~8,000
        core.bias_ih_l0.copy_(torch.tensor([0.0, 10.0, 1.0, 0.0]))
    samples = 20 * BURN_IN_CHUNK
    calls = []
    original = core.forward

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    core.forward = counting
    h, c = _burn_in_chunks(core, samples)
    core.forward = original
    _, h_ref, c_ref = _long_run(core, samples)
    assert torch.equal(h, h_ref) and torch.equal(c, c_ref)
    converged_early = len(calls) < samples // BURN_IN_CHUNK
    # either way the answer is exact; this model is chosen so that it does not settle
    assert not converged_early, "the test model settled: pick one that keeps moving"


def test_burn_in_length_must_be_whole_chunks():
    core = torch.nn.LSTM(1, 2, batch_first=True)
    with pytest.raises(ValueError, match="multiple"):
        _burn_in_chunks(core, BURN_IN_CHUNK + 1)


@pytest.mark.parametrize("name,folded", FOLDED, ids=[n for n, _ in FOLDED])
def test_zero_gain_equals_the_full_pass(name, folded):
    part = _lstm_parts(folded)
    cells, h0, c0, head_w, head_b = part
    core = current_nam_core(cells, h0.shape[1])
    state = (torch.from_numpy(h0.copy())[:, None], torch.from_numpy(c0.copy())[:, None])
    feats, _, _ = _long_run(core, 48_000, state)
    with torch.no_grad():
        y = torch.nn.functional.linear(feats, torch.from_numpy(head_w.copy())[None], torch.from_numpy(head_b.copy()))
    full = float(_rms(y[:, :, 0])[0])
    assert _zero_gain_rms(part, 48_000) == full


def test_zero_gain_declines_a_moving_state():
    """From a state that is not a burn-in state, the shortcut does not apply."""
    torch.manual_seed(1)
    model = CatLSTM(8, input_size=2, num_layers=2).eval()
    with torch.no_grad():
        model._initial_hidden.normal_(0, 0.5)
        model._initial_cell.normal_(0, 0.5)
    folded = fold(model, [0.3], initial_state="model")
    assert _zero_gain_rms(_lstm_parts(folded), 48_000) is None
    assert _zero_gain_rms(_lstm_parts(fold(model, [0.3])), 48_000) is not None
    assert _zero_gain_rms(_lstm_parts(fold(model, [0.3])), 48_001) is None  # not whole chunks
