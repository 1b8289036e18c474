"""Forward outputs against genuine artifacts of every release (tests/fixtures/).

The fixtures were made on another machine, so forward outputs are compared within the
stated bound (golden.ULPS float32 ulps of the output scale; tests/fixtures/README.md);
tests/test_oracle_live.py compares bit for bit with releases run on this machine.
"""

import copy

import numpy as np
import pytest
import torch

from compat.checkpoint import read_checkpoint
from golden import (
    FIXTURES, ULPS, bounded_mismatch, case_id, cases, initial_state_mismatches, load, meta, mismatches, references,
    tolerance,
)

CASES = cases()
KINDS = ("catlstm", "catwavenet", "hyperconvnet_bn", "hyperconvnet_nobn")


def test_fixtures_cover_every_class_and_release():
    found = {case_id(c) for c in CASES}
    for release in ("0.3.0", "0.4.0", "0.5.0", "0.5.1", "0.6.0", "0.7.4"):
        for case in ("catlstm", "hyperconvnet_bn", "hyperconvnet_nobn") + (("catwavenet",) if release != "0.3.0" else ()):
            assert f"{release}/{case}" in found


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_default_profile_matches_the_release(case):
    assert mismatches(load(case), case) == []


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_own_release_profile_has_upstream_keys_and_matches(case):
    release = meta(case)["release"]
    model = load(case, release=release)
    upstream_keys = [k[len("_net."):] for k in read_checkpoint(case / "model.ckpt")["state_dict"]]
    assert sorted(model.state_dict()) == sorted(upstream_keys)
    assert mismatches(model, case) == []


@pytest.mark.parametrize("case", [c for c in CASES if c.name == "catlstm"], ids=case_id)
def test_catlstm_export_initial_state_matches(case):
    assert initial_state_mismatches(load(case, release=meta(case)["release"]), case) == []


# --- the bound itself ---------------------------------------------------------------------


def test_bound_is_ulps_of_the_output_scale():
    expected = np.array([0.3, -0.01, 0.0, 1e-9], np.float32)
    ulp = float(np.spacing(np.float32(0.3)))
    assert tolerance(expected) == ULPS * ulp
    for i in range(len(expected)):  # the scale is the array's, whatever the element's size
        at_bound, beyond = expected.copy(), expected.copy()
        at_bound[i] = np.float32(np.float64(expected[i]) + (ULPS - 1) * ulp)
        beyond[i] = np.float32(np.float64(expected[i]) + (ULPS + 2) * ulp)
        assert bounded_mismatch(at_bound, expected) is None
        assert "bound" in bounded_mismatch(beyond, expected)
    assert bounded_mismatch(np.zeros(4, np.float32), np.zeros(4, np.float32)) is None
    assert bounded_mismatch(np.float32([1e-38]), np.float32([0.0])) is not None  # all-zero: as good as exact


def test_bound_keeps_shape_dtype_and_non_finite_values_exact():
    e = np.array([0.5, np.nan, np.inf], np.float32)
    assert bounded_mismatch(e.copy(), e) is None
    assert "shape" in bounded_mismatch(e[:2], e)
    assert "dtype" in bounded_mismatch(e.astype(np.float64), e)
    assert "non-finite" in bounded_mismatch(np.array([0.5, 0.0, np.inf], np.float32), e)
    assert "non-finite" in bounded_mismatch(np.array([0.5, np.nan, -np.inf], np.float32), e)
    assert "bit-identical" in bounded_mismatch(np.nextafter(e, np.float32(1)), e, exact=True)


def _scaled(model, relative):
    out = copy.deepcopy(model)
    with torch.no_grad():
        for p in out.parameters():
            p.copy_((p.double() * (1 + relative)).float())
    return out


@pytest.mark.parametrize("kind", KINDS)
def test_bound_rejects_every_weight_off_by_32_ulps(kind):
    # Every parameter scaled by 1 + 2^-18 (about 32 float32 ulps; 3.8e-6 relative) moves
    # some output by more than the bound in every class (measured: 88 to 710 ulps of the
    # output scale, CatWaveNet .. HyperConvNet with BN). Bugs that change the math (knob
    # order, padding, activations, BatchNorm statistics) are orders of magnitude beyond;
    # rounding-only differences below the bound are the live oracle's to catch.
    case = FIXTURES / "0.7.4" / kind
    model = load(case, release="0.7.4")
    assert mismatches(model, case) == []
    assert mismatches(_scaled(model, 2.0**-18), case) != []


def test_one_ulp_of_one_weight_is_below_the_bound_but_not_bit_exact():
    """What the bound cannot see, exactness on one machine does (the live oracle's case):
    references computed here, now, by the unperturbed model."""
    case = FIXTURES / "0.7.4" / "catwavenet"
    model = load(case, release="0.7.4").eval()
    nudged = copy.deepcopy(model)
    with torch.no_grad():
        w = nudged._net._layers[0]._rechannel.weight.view(-1)
        i = w.abs().argmax()
        w[i] = torch.nextafter(w[i], torch.tensor(np.inf))
    torch.set_num_threads(1)
    changed = 0
    for key, params, x, _, pad, train in references(case):
        with torch.no_grad():
            here, again, there = (m(params, x, pad_start=pad) for m in (model, model, nudged))
        assert bounded_mismatch(again, here, exact=True) is None
        assert bounded_mismatch(there, here) is None
        changed += bounded_mismatch(there, here, exact=True) is not None
    assert changed >= 10  # of 14 references
