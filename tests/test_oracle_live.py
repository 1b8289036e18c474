"""Live proof: freshly installed real releases train, export and run; we must match their bits.

For each release, tests/oracle/envs.py provides an isolated environment with the real
neural-amp-modeler (cached in $NAM_LEGACY_ORACLE_DIR; 0.7.4 and 0.5.1 are always built from
the package index, freshly in CI; the others run where a developer built them), and
tests/oracle/make_fixtures.py trains every class for a few steps with that release's own
Lightning Model and ParametricDataset, writing checkpoints and reference outputs into a
temporary directory. The comparison is the same as for the committed golden fixtures.
"""

import subprocess
from pathlib import Path

import pytest

import compat
from golden import case_id, cases, export_mismatches, mismatches

import oracles

MAKE_FIXTURES = Path(__file__).parent / "oracle" / "make_fixtures.py"


@pytest.fixture(scope="module", params=oracles.ALL)
def live_cases(request, tmp_path_factory):
    release = request.param
    python = oracles.python_or_skip(release)
    out = tmp_path_factory.mktemp(f"live-{release}")
    subprocess.run(
        [str(python), str(MAKE_FIXTURES), "--release", release, "--out", str(out)],
        cwd=out, check=True, capture_output=True, text=True, timeout=1800,
    )
    found = cases(out)
    expected = {"catlstm", "hyperconvnet_bn", "hyperconvnet_nobn"} | ({"catwavenet"} if release != "0.3.0" else set())
    assert {c.name for c in found} == expected
    return found


@pytest.mark.oracle
def test_fresh_release_artifacts_match_bit_for_bit(live_cases):
    failures = {}
    for case in live_cases:
        release = case.parent.name
        for profile in (None, release):
            model = compat.load_checkpoint(case / "model.ckpt", case / "model.json", release=profile)
            bad = mismatches(model, case)
            if bad:
                failures[f"{case_id(case)} as {profile or 'default'}"] = bad
    assert failures == {}


@pytest.mark.oracle
def test_fresh_release_exports_are_reproduced_byte_for_byte(live_cases, tmp_path):
    failures = {}
    for case in live_cases:
        outdir = tmp_path / case_id(case).replace("/", "-")
        outdir.mkdir()
        bad = export_mismatches(case, outdir)
        if bad:
            failures[case_id(case)] = bad
    assert failures == {}
