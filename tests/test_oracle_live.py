"""Live proof: freshly installed real releases train, export and run; we must match their bits.

For each release, tests/oracle/envs.py provides an isolated environment with the real
neural-amp-modeler (cached in $NAM_LEGACY_ORACLE_DIR; 0.7.4 and 0.5.1 are always built from
the package index, freshly in CI; the others run where a developer built them), and
tests/oracle/make_fixtures.py trains every class for a few steps with that release's own
Lightning Model and ParametricDataset, writing checkpoints, reference outputs and exports
into a temporary directory. The same machine, the same torch build and one torch thread
on both sides: everything is compared bit for bit and byte for byte (golden.py,
`exact=True`), unlike the committed fixtures, which come from another machine.

Coverage per release: every class (CatLSTM, CatWaveNet where the release has it,
HyperConvNet with and without BatchNorm); forward at batch 1 (five knob settings) and
batch 3, eval and train mode, padded and not, under the default and the release's own
profile; the CatLSTM burn-in state; every export (.nam / export folder, C++ header) and
the export with its snapshot (test input and the model's output; HyperConvNet's drawn
from a seeded RNG); and the exported files read back by compat.load, which must compute
the release's outputs.
"""

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

import compat
from golden import case_id, cases, export_mismatches, initial_state_mismatches, mismatches, references

import oracles

MAKE_FIXTURES = Path(__file__).parent / "oracle" / "make_fixtures.py"
KEYS = {f"eval_b1_k{k}_pad{p}" for k in range(5) for p in (0, 1)} | {f"{m}_b3_pad{p}" for m in ("eval", "train") for p in (0, 1)}


@pytest.fixture(scope="module", params=oracles.ALL)
def live_cases(request, tmp_path_factory):
    release = request.param
    python = oracles.python_or_skip(release)
    out = tmp_path_factory.mktemp(f"live-{release}")
    subprocess.run(
        [str(python), str(MAKE_FIXTURES), "--release", release, "--out", str(out), "--snapshot-exports"],
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
        assert {key for key, *_ in references(case)} == KEYS  # batch 1 and 3, eval and train
        release = case.parent.name
        for profile in (None, release):
            model = compat.load_checkpoint(case / "model.ckpt", case / "model.json", release=profile)
            bad = mismatches(model, case, exact=True)
            if case.name == "catlstm":
                bad += initial_state_mismatches(model, case, exact=True)
            if bad:
                failures[f"{case_id(case)} as {profile or 'default'}"] = bad
    assert failures == {}


@pytest.mark.oracle
def test_fresh_release_exports_are_reproduced_byte_for_byte(live_cases, tmp_path):
    failures = {}
    for case in live_cases:
        for kind in ("export", "export_snapshot"):
            if kind == "export_snapshot" and not (case / kind).is_dir():
                continue  # 0.3.0/0.4.0 Cat*: export/ holds the snapshot already
            outdir = tmp_path / f"{case_id(case).replace('/', '-')}-{kind}"
            outdir.mkdir()
            bad = export_mismatches(case, outdir, exact=True, kind=kind)
            if bad:
                failures[f"{case_id(case)} {kind}"] = bad
    assert failures == {}
    snapshots = [c for c in live_cases if (c / "export_snapshot").is_dir()]
    assert len(snapshots) >= 2  # HyperConvNet at least, every class from 0.5.0
    for case in snapshots:
        written = {p.name for p in (case / "export_snapshot").iterdir()}
        written |= {Path(r["file"]).name for r in json.loads((case / "meta.json").read_text()).get("export_removed_files", [])
                    if r["file"].startswith("export_snapshot/")}
        assert written & {"test_outputs.npy", "test_signal_output.npy", "outputs.npy"}, (case_id(case), written)


def _release_exports(case: Path):
    for folder in ("export", "export_patched"):
        d = case / folder
        if d.is_dir():
            if (d / "config.json").is_file():
                yield d
            yield from sorted(p for p in d.iterdir() if p.suffix in (".nam", ".h"))


@pytest.mark.oracle
def test_release_exports_read_back_compute_the_release_outputs(live_cases):
    """compat.load of each file the release exported (weights imported from the flat
    vector) computes the release's reference outputs, bit for bit. A CatLSTM file holds
    the burn-in state and no training settings: it starts from the checkpoint's learned
    state here, in eval mode."""
    failures = {}
    for case in live_cases:
        checkpoint = compat.load_checkpoint(case / "model.ckpt", case / "model.json")
        for path in _release_exports(case):
            if case.name == "catlstm" and case.parent.name == "0.3.0":
                continue  # 0.3.0 LSTM exports cannot hold a state (compat.weights)
            model = compat.load(path, param_config=case / "params.json").model
            bad = []
            if case.name == "catlstm":
                with torch.no_grad():
                    model._initial_hidden.copy_(checkpoint._initial_hidden)
                    model._initial_cell.copy_(checkpoint._initial_cell)
                bad = [b for b in mismatches(model, case, exact=True) if b.startswith("eval_")]
            else:
                bad = mismatches(model, case, exact=True)
            if bad:
                failures[f"{case_id(case)} {path.parent.name}/{path.name}"] = bad
    assert failures == {}
    assert np.all([any(True for _ in _release_exports(c)) for c in live_cases])
