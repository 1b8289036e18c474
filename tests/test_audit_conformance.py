"""Conformance statuses (match / documented / drift / unavailable), quirk parsing, exit codes."""

from __future__ import annotations

import textwrap
from collections import namedtuple
from pathlib import Path

import pytest

from tools.audit import quirks
from tools.audit.analysis import build_report
from tools.audit.command import main
from tools.audit.render import render
from tools.audit.repo import UpstreamRepo

from test_audit_history import commit_files, new_repo

PROJECT = Path(__file__).resolve().parents[1]
Release = namedtuple("Release", "name commit")
RELEASES = (Release("1.0", "0" * 40), Release("2.0", "1" * 40), Release("3.0", "2" * 40))

UP_V1 = """
class Model:
    def export(self, outdir):
        pass

    def run(self, x, pad=None):
        pass

class Unused:
    pass
"""
UP_V2 = UP_V1.replace("def export(self, outdir)", "def export(self, outdir, include_snapshot=False)")
OURS = """
_RELEASE_DEFAULT = _ReleaseDefault()

class Model:
    def export(self, outdir, include_snapshot=_RELEASE_DEFAULT):
        pass

    def run(self, x, pad=None):
        pass

    def _helper(self):  # ours only: implementation, not mirrored API
        pass
"""
QUIRKS = """
# Quirks

## Q001 run-pad
- kind: divergence
- releases: 2.0..3.0
- upstream: Model.run pads on the CPU.

## Q002 unrelated
- kind: omission
- upstream: mentions run and Model separately, not the member.
"""


def _ours(tmp_path, source=OURS, quirk_text=QUIRKS) -> Path:
    root = tmp_path / "ours"
    (root / "nam_legacy" / "models").mkdir(parents=True)
    (root / "nam_legacy" / "models" / "catnets_like.py").write_text("")
    (root / "nam_legacy" / "models" / "_base.py").write_text(textwrap.dedent(source))
    (root / "docs").mkdir()
    (root / "docs" / "quirks.md").write_text(quirk_text)
    return root


def _upstream(tmp_path, v3=None):
    repo = new_repo(tmp_path)
    commit_files(repo, {"nam/models/_base.py": UP_V1}, "one", tag="v1.0")
    commit_files(repo, {"nam/models/_base.py": UP_V2}, "two", tag="v2.0")
    if v3 is not None:
        commit_files(repo, {"nam/models/_base.py": v3}, "three", tag="v3.0")
    return repo


def _report(tmp_path, spec="v1.0..v2.0", v3=None, **ours):
    repo = _upstream(tmp_path, v3)
    with UpstreamRepo(repo.working_tree_dir) as up:
        return build_report(up, spec, releases=RELEASES, ours_root=_ours(tmp_path, **ours))


def test_sentinel_default_parameter_conforms_and_helpers_are_not_api(tmp_path):
    rep = _report(tmp_path)
    by = {r["release"]: r for r in rep["conformance"]}
    assert by["1.0"]["status"] == "match" and by["2.0"]["status"] == "match"
    (gated,) = by["1.0"]["drifts"]
    assert gated["kind"] == "signature-changed" and gated["gated"] and not gated["counts"]
    assert by["2.0"]["drifts"][0]["kind"] == "default-changed" and by["2.0"]["drifts"][0]["gated"]
    assert all("_helper" not in (d["object"] or "") for r in rep["conformance"] for d in r["drifts"])
    assert by["3.0"]["status"] == "unavailable"  # no tag v3.0, commit unknown
    assert by["1.0"]["unmirrored"] == ["nam/models/_base.py::Unused"]
    assert rep["summary"]["exit_code"] == 0


def test_real_drift_fails_and_is_annotated(tmp_path):
    rep = _report(tmp_path, source=OURS.replace("def run(self, x, pad=None)", "def run(self, x, pad=True)"), quirk_text="")
    by = {r["release"]: r for r in rep["conformance"]}
    assert by["1.0"]["status"] == by["2.0"]["status"] == "drift"
    assert rep["summary"]["exit_code"] == 1 and rep["summary"]["drift_releases"] == ["1.0", "2.0"]
    gh = [l for l in render(rep, "github").splitlines() if l.startswith("::warning")]
    assert len(gh) == 2
    assert gh[0].startswith("::warning file=nam_legacy/models/_base.py,line=8,title=API drift vs 1.0%3A default-changed::")


def test_documented_only_within_the_quirk_release_range(tmp_path):
    rep = _report(tmp_path, source=OURS.replace("def run(self, x, pad=None)", "def run(self, x, pad=True)"))
    by = {r["release"]: r for r in rep["conformance"]}
    # Q001 names Model.run for 2.0..3.0 only; Q002 names the words but not the member.
    assert by["2.0"]["status"] == "documented"
    assert [d["documented_by"] for d in by["2.0"]["drifts"] if d["kind"] == "default-changed" and d["object"] == "Model.run"] == ["Q001"]
    assert by["1.0"]["status"] == "drift"
    assert rep["summary"]["exit_code"] == 1


def test_missing_member_and_releases_outside_the_range(tmp_path):
    v3 = UP_V2.replace("class Unused:", "    def reset(self):\n        pass\n\nclass Unused:")
    rep = _report(tmp_path, spec="v2.0..v3.0", v3=v3)
    by = {r["release"]: r for r in rep["conformance"]}
    assert set(by) == {"2.0", "3.0"}  # 1.0 precedes the range
    removed = [d for d in by["3.0"]["drifts"] if d["kind"] == "object-removed"]
    assert [d["object"] for d in removed] == ["Model.reset"] and removed[0]["line"] is None


def test_quirks_file_of_this_project_parses():
    entries = quirks.load(PROJECT / "docs" / "quirks.md")
    assert entries and all(q.id.startswith("Q") and q.fields.get("kind") for q in entries)
    order = ["0.3.0", "0.4.0", "0.5.0", "0.5.1", "ae86979"]
    q001 = next(q for q in entries if q.id == "Q001")
    assert q001.covers_release("0.5.1", order) and not q001.covers_release("0.4.0", order)
    assert q001.names("CatWaveNet.export") and not q001.names("Exportable.export") and not q001.names("WaveNet.export")
    # Q001 quotes upstream's error message "ParametricBaseNet.forward() missing ...": not documentation.
    assert "ParametricBaseNet.forward()" in q001.text and not q001.names("ParametricBaseNet.forward")


def test_parse_ignores_fields_outside_entries():
    text = "- kind: stray\n## Q7 a-b\n- kind: omission\n- releases: 1\n## Notes\n- kind: other\n"
    (q,) = quirks.parse(text)
    assert (q.id, q.slug, q.fields) == ("Q7", "a-b", {"kind": "omission", "releases": "1"})


def test_command_history_only_and_usage(tmp_path, capsys):
    repo = _upstream(tmp_path)
    assert main(["audit", "--repo", repo.working_tree_dir, "--range", "v1.0..v2.0", "--no-conformance"]) == 0
    md = capsys.readouterr().out
    assert "signature-changed" in md and "## Conformance" not in md
    assert main(["audit", "--repo", repo.working_tree_dir, "--range", "v1.0"]) == 2
    assert main(["audit", "--repo", repo.working_tree_dir, "--numeric"]) == 2
    with pytest.raises(SystemExit):
        main(["audit", "--format", "yaml"])
