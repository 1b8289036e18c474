"""The audit on genuine upstream code: a git history assembled from released wheels.

The wheels of neural-amp-modeler 0.5.1, 0.6.0 and 0.7.4 (cached under
~/.cache/nam-legacy/wheels) are committed one after the other, `nam/` only, tagged
v0.5.1, v0.6.0, v0.7.4. With NAM_UPSTREAM_REPO set, the full range is audited as well.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import git
import pytest

from tools.audit import SCHEMA
from tools.audit.analysis import build_report
from tools.audit.command import main
from tools.audit.render import render
from tools.audit.repo import UpstreamRepo

WHEELS = Path(os.environ.get("NAM_LEGACY_WHEELS", Path.home() / ".cache" / "nam-legacy" / "wheels"))
VERSIONS = ("0.5.1", "0.6.0", "0.7.4")


def _wheel(version: str) -> Path:
    found = sorted(WHEELS.glob(f"neural_amp_modeler-{version}-*.whl"))
    if found:
        return found[0]
    WHEELS.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", str(WHEELS), f"neural-amp-modeler=={version}"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    found = sorted(WHEELS.glob(f"neural_amp_modeler-{version}-*.whl"))
    if not found:
        pytest.skip(f"package index unreachable, no wheel of neural-amp-modeler {version}: {proc.stderr.strip()[-200:]}")
    return found[0]


@pytest.fixture(scope="module")
def wheel_repo(tmp_path_factory) -> Path:
    wheels = [_wheel(v) for v in VERSIONS]
    root = tmp_path_factory.mktemp("wheel-history")
    repo = git.Repo.init(root)
    with repo.config_writer() as cw:
        cw.set_value("user", "name", "t").set_value("user", "email", "t@example.invalid")
    for version, wheel in zip(VERSIONS, wheels):
        shutil.rmtree(root / "nam", ignore_errors=True)
        with zipfile.ZipFile(wheel) as z:
            z.extractall(root, [n for n in z.namelist() if n.startswith("nam/")])
        repo.git.add("-A", "nam")
        repo.index.commit(f"neural-amp-modeler {version} (wheel)")
        repo.create_tag(f"v{version}")
    return root


@pytest.fixture(scope="module")
def report(wheel_repo):
    with UpstreamRepo(str(wheel_repo)) as up:
        return build_report(up, "v0.5.1..v0.7.4")


def _changes(report, subject_part):
    (entry,) = [e for e in report["history"] if subject_part in e["subject"]]
    return {(c["kind"], c["object"]) for c in entry["changes"]}


def test_history_lists_both_release_commits(report):
    assert report["schema"] == SCHEMA
    assert [e["subject"] for e in report["history"]] == [
        "neural-amp-modeler 0.6.0 (wheel)",
        "neural-amp-modeler 0.7.4 (wheel)",
    ]
    assert [e["release"] for e in report["history"]] == ["0.6.0", "0.7.4"]


def test_060_adds_the_weight_import_api(report):
    # 00cf582 (0.6.0): Exportable.import_weights, WaveNet's import path
    assert ("object-added", "Exportable.import_weights") in _changes(report, "0.6.0")


def test_074_forward_kwargs_sample_rate_and_dataset_registry(report):
    got = _changes(report, "0.7.4")
    assert ("signature-changed", "BaseNet.forward") in got  # dd51f16: **kwargs
    assert ("signature-changed", "ParametricBaseNet.forward") in got  # e61ebb5
    assert ("object-added", "_Base.sample_rate") in got  # f743c03/a284650
    assert ("object-added", "register_dataset_initializer") in got  # 90c2add


def test_conformance_on_the_wheels(report):
    by = {r["release"]: r for r in report["conformance"]}
    assert {n for n, r in by.items() if r["status"] != "unavailable"} == set(VERSIONS)
    assert by["0.4.0"]["status"] == "unavailable" and by["0.4.0"]["ref"] is None
    # Our forward takes **kwargs (0.7.0+); 0.5.1's did not. nam_legacy refuses them under
    # the 0.5.1 profile, so the difference is reported as gated, not counted.
    def drift_objects(name, counting=True):
        return {d["object"] for d in by[name]["drifts"] if d["counts"] or not counting}

    forward_051 = [d for d in by["0.5.1"]["drifts"] if d["object"] == "BaseNet.forward"]
    assert forward_051 and all(d.get("gated") and not d["counts"] for d in forward_051)
    assert "BaseNet.forward" not in drift_objects("0.7.4", counting=False)
    # The parametric models themselves conform at the last release.
    assert not {o for o in drift_objects("0.7.4") if o.split(".")[0] in ("CatLSTM", "CatWaveNet", "_CatMixin", "ParametricBaseNet")} - {"CatLSTM._export_input_output"}
    assert report["summary"]["exit_code"] == (1 if report["summary"]["drift_releases"] else 0)


def test_renderers_agree_with_the_report(report):
    assert json.loads(render(report, "json")) == report
    md = render(report, "markdown")
    assert "| 0.7.4 | v0.7.4 |" in md and "neural-amp-modeler 0.6.0 (wheel)" in md
    gh = render(report, "github").splitlines()
    warnings = [l for l in gh if l.startswith("::warning ")]
    assert len(warnings) == sum(d["counts"] for r in report["conformance"] for d in r["drifts"])
    assert all(l.startswith("::warning file=nam_legacy/") for l in warnings)
    assert sum(l.startswith("::notice ") for l in gh) == len(report["history"])


def test_command_exit_codes(wheel_repo, capsys):
    rc = main(["audit", "--repo", str(wheel_repo), "--range", "v0.5.1..v0.7.4", "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == out["summary"]["exit_code"] and rc in (0, 1)
    assert main(["audit", "--repo", str(wheel_repo), "--range", "v0.6.0..v0.7.4", "--no-conformance", "--format", "json"]) == 0
    capsys.readouterr()
    assert main(["audit", "--repo", str(wheel_repo), "--range", "v0.5.1..v9"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "v9" in err[0]
    assert main(["audit", "--repo", str(wheel_repo / "nope")]) == 2


@pytest.mark.skipif(not os.environ.get("NAM_UPSTREAM_REPO"), reason="NAM_UPSTREAM_REPO not set (full upstream clone)")
def test_full_upstream_history():
    with UpstreamRepo(os.environ["NAM_UPSTREAM_REPO"]) as up:
        rep = build_report(up, "v0.3.0..ae86979")
    by_sha = {e["sha"][:7]: {(c["kind"], c["object"]) for c in e["changes"]} for e in rep["history"]}
    assert ("object-added", "CatWaveNet") in by_sha["50c247a"]
    assert ("signature-changed", "Exportable.export") in by_sha["a1ad297"]
    assert ("signature-changed", "_CatMixin.export") in by_sha["a1ad297"]
    assert ("object-added", "CatLSTM._at_nominal_settings") in by_sha["5304a28"]
    assert ("object-added", "_Base.sample_rate") in by_sha["a284650"]
    assert [r["release"] for r in rep["conformance"]][0] == "0.3.0"
    shipped = {e["sha"][:7]: e["release"] for e in rep["history"]}
    assert (shipped["50c247a"], shipped["a1ad297"], shipped["5304a28"], shipped["a284650"]) == ("0.4.0", "0.5.0", "0.5.1", "0.7.4")


def test_repo_given_as_url_is_cloned_bare(wheel_repo, capsys):
    # file:// takes the URL path (a bare clone in a temporary directory) without a network.
    rc = main(["audit", "--repo", wheel_repo.as_uri(), "--range", "v0.6.0..v0.7.4", "--no-conformance", "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and [e["release"] for e in out["history"]] == ["0.7.4"]
    assert main(["audit", "--repo", "file:///nonexistent/repo.git"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
