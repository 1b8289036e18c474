"""Numeric audit: upstream's code (from a wheel, via git objects) against nam_legacy.

Needs an interpreter with upstream's dependencies: $NAM_AUDIT_PYTHON, or the 0.7.4 oracle
environment (tests/oracles.py builds it on demand from the package index).
"""

from __future__ import annotations

import os
import zipfile

import git
import pytest

from tools.audit.numeric import numeric_audit
from tools.audit.repo import UpstreamRepo

import oracles
from test_audit_wheels import _wheel

def _python() -> str:
    return os.environ.get("NAM_AUDIT_PYTHON") or str(oracles.python_or_skip("0.7.4"))


@pytest.fixture(scope="module")
def two_commits(tmp_path_factory):
    wheel = _wheel("0.7.4")
    root = tmp_path_factory.mktemp("numeric")
    repo = git.Repo.init(root)
    with repo.config_writer() as cw:
        cw.set_value("user", "name", "t").set_value("user", "email", "t@example.invalid")
    with zipfile.ZipFile(wheel) as z:
        z.extractall(root, [n for n in z.namelist() if n.startswith("nam/")])
    repo.git.add("-A", "nam")
    genuine = repo.index.commit("0.7.4")
    cat = root / "nam" / "models" / "parametric" / "catnets.py"
    text = cat.read_text()
    needle = "return self._single_class._forward(self, x_augmented)"
    assert needle in text
    cat.write_text(text.replace(needle, "return 2 * self._single_class._forward(self, x_augmented)"))
    repo.git.add("-A", "nam")
    tampered = repo.index.commit("tampered")
    return root, genuine.hexsha, tampered.hexsha


def test_genuine_code_matches_and_tampered_code_does_not(two_commits):
    py = _python()
    root, genuine, tampered = two_commits
    with UpstreamRepo(str(root)) as up:
        got = numeric_audit(up, [("0.7.4", up.resolve(genuine)), ("0.7.4", up.resolve(tampered))], py)
    status = [(r.model, r.status) for r in got]
    assert status[:3] == [("CatLSTM", "match"), ("CatWaveNet", "match"), ("HyperConvNet", "match")], got
    assert status[3:] == [("CatLSTM", "mismatch"), ("CatWaveNet", "mismatch"), ("HyperConvNet", "match")], got
    assert all(r.max_abs_diff and r.max_abs_diff > 0 for r in got[3:5])


def test_broken_interpreter_is_an_error_not_a_match(two_commits, tmp_path):
    root, genuine, _ = two_commits
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho boom >&2\nexit 1\n")
    fake.chmod(0o755)
    with UpstreamRepo(str(root)) as up:
        got = numeric_audit(up, [("0.7.4", up.resolve(genuine))], str(fake))
    assert {r.status for r in got} == {"error"} and "boom" in got[0].detail
