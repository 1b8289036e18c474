"""Bit-exactness against genuine artifacts of every release (tests/fixtures/)."""

import numpy as np
import pytest
import torch

from compat.checkpoint import read_checkpoint
from golden import case_id, cases, load, meta, mismatches

CASES = cases()


def test_fixtures_cover_every_class_and_release():
    found = {case_id(c) for c in CASES}
    for release in ("0.3.0", "0.4.0", "0.5.0", "0.5.1", "0.6.0", "0.7.4"):
        for case in ("catlstm", "hyperconvnet_bn", "hyperconvnet_nobn") + (("catwavenet",) if release != "0.3.0" else ()):
            assert f"{release}/{case}" in found


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_default_profile_matches_release_bits(case):
    assert mismatches(load(case), case) == []


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_own_release_profile_has_upstream_keys_and_bits(case):
    release = meta(case)["release"]
    model = load(case, release=release)
    upstream_keys = [k[len("_net."):] for k in read_checkpoint(case / "model.ckpt")["state_dict"]]
    assert sorted(model.state_dict()) == sorted(upstream_keys)
    assert mismatches(model, case) == []


@pytest.mark.parametrize("case", [c for c in CASES if c.name == "catlstm"], ids=case_id)
def test_catlstm_export_initial_state_matches(case):
    from nam_legacy.models.parametric.params import Param
    import json

    ref = np.load(case / "reference.npz")
    model = load(case, release=meta(case)["release"])
    specs = json.loads((case / "params.json").read_text())
    params = {k: Param.init_from_config(dict(v)) for k, v in specs.items()}
    torch.set_num_threads(1)
    with model._use_parametric_config(params), torch.no_grad():
        h, c = model._get_initial_state()
    assert torch.equal(h, torch.from_numpy(ref["initial_state_h"]))
    assert torch.equal(c, torch.from_numpy(ref["initial_state_c"]))
