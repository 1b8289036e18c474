"""Live proof: freshly installed real releases train, export and run; we must match their bits.

For each release here, tests/oracle/envs.py builds an isolated environment with the real
neural-amp-modeler from the package index (cached in $NAM_LEGACY_ORACLE_DIR), and
tests/oracle/make_fixtures.py trains every class for a few steps with that release's own
Lightning Model and ParametricDataset, writing checkpoints and reference outputs into a
temporary directory. The comparison is the same as for the committed golden fixtures.
"""

import subprocess
import sys
from pathlib import Path

import pytest

import compat
from golden import case_id, cases, mismatches

sys.path.insert(0, str(Path(__file__).parent / "oracle"))
import envs  # noqa: E402

LIVE_RELEASES = ("0.7.4", "0.5.1")
MAKE_FIXTURES = Path(__file__).parent / "oracle" / "make_fixtures.py"


@pytest.fixture(scope="module", params=LIVE_RELEASES)
def live_cases(request, tmp_path_factory):
    release = request.param
    try:
        python = envs.python_for(release)
    except Exception as e:  # the package index is the only thing that can be missing here
        pytest.skip(f"cannot build the real {release} environment (package index unreachable?): {e}")
    out = tmp_path_factory.mktemp(f"live-{release}")
    subprocess.run(
        [str(python), str(MAKE_FIXTURES), "--release", release, "--out", str(out)],
        cwd=out, check=True, capture_output=True, text=True, timeout=1800,
    )
    found = cases(out)
    assert {c.name for c in found} == {"catlstm", "catwavenet", "hyperconvnet_bn", "hyperconvnet_nobn"}
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
