"""The audit's change log on small hand-written git histories, one per change kind."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Dict, Optional

import git
import pytest

from tools.audit import surface
from tools.audit.history import KINDS, change_log
from tools.audit.repo import UpstreamRepo, UsageError

CAT = "nam/models/parametric/catnets.py"


def commit_files(repo: git.Repo, files: Dict[str, Optional[str]], message: str, tag: Optional[str] = None) -> git.Commit:
    """Write (or delete, for None) files in the work tree and commit them."""
    root = Path(repo.working_tree_dir)
    for rel, text in files.items():
        path = root / rel
        if text is None:
            repo.index.remove([rel], working_tree=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        repo.index.add([rel])
    c = repo.index.commit(message)
    if tag:
        repo.create_tag(tag, ref=c)
    return c


def new_repo(tmp_path: Path) -> git.Repo:
    repo = git.Repo.init(tmp_path / "upstream")
    with repo.config_writer() as cw:
        cw.set_value("user", "name", "t").set_value("user", "email", "t@example.invalid")
    return repo


BASE = """
class Base:
    X = 1

    def export(self, outdir, n=1, *, flag=False):
        pass

    @abc.abstractmethod
    def _forward(self, x):
        pass

    @classmethod
    def parse_config(cls, config):
        config = dict(config)
        net = config["net"]
        return {"net": net, "lr": config.get("lr", 0.1)}
"""


def log_kinds(tmp_path, edit: str):
    repo = new_repo(tmp_path)
    commit_files(repo, {CAT: BASE}, "base", tag="v1")
    commit_files(repo, {CAT: edit}, "edit")
    with UpstreamRepo(repo.working_tree_dir) as up:
        start, end = up.split_range("v1..HEAD")
        log = change_log(up, start, end)
    assert len(log) == 1 and log[0].subject == "edit"
    return log[0].changes


CASES = {
    "object-added": (BASE + "\ndef helper(a):\n    pass\n", "helper"),
    "object-removed": (BASE.replace("    X = 1\n", ""), "Base.X"),
    "signature-changed": (BASE.replace("outdir, n=1", "outdir, m=1"), "Base.export"),
    "default-changed": (BASE.replace("n=1", "n=2"), "Base.export"),
    "param-kind-changed": (BASE.replace("n=1, *, flag=False", "n=1, flag=False"), "Base.export"),
    "decorator-changed": (BASE.replace("    @classmethod\n", "    @staticmethod\n").replace("(cls, config)", "(config)"), "Base.parse_config"),
    "abstract-changed": (BASE.replace("    @abc.abstractmethod\n", ""), "Base._forward"),
    "base-changed": (BASE.replace("class Base:", "class Base(Mixin):"), "Base"),
    "constant-changed": (BASE.replace("X = 1", "X = 2"), "Base.X"),
    "config-key-added": (BASE.replace('"lr": config.get("lr", 0.1)', '"lr": config.pop("lr"), "sr": config.get("sample_rate")'), "Base.parse_config"),
    "config-key-removed": (BASE.replace('config.get("lr", 0.1)', "0.1"), "Base.parse_config"),
    "type-changed": (BASE.replace("    def _forward", "    @property\n    def _forward"), "Base._forward"),
    "parse-error": ("class Broken(:\n", None),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_each_kind_is_detected(tmp_path, kind):
    edit, obj = CASES[kind]
    changes = log_kinds(tmp_path, edit)
    assert kind in KINDS
    hits = [c for c in changes if c.kind == kind]
    assert hits, [c.kind for c in changes]
    assert all(c.path == CAT for c in hits)
    if obj is not None:
        assert {c.object for c in hits} == {obj}


def test_exact_changes_for_a_default_edit(tmp_path):
    changes = log_kinds(tmp_path, BASE.replace("n=1", "n=2"))
    assert [(c.kind, c.object, c.before, c.after) for c in changes] == [("default-changed", "Base.export", "1", "2")]


def test_config_keys_added_are_listed_one_by_one(tmp_path):
    edit, _ = CASES["config-key-added"]
    changes = log_kinds(tmp_path, edit)
    assert sorted(c.after for c in changes if c.kind == "config-key-added") == ["sample_rate"]


def test_module_added_and_removed_and_untouched_commits(tmp_path):
    repo = new_repo(tmp_path)
    commit_files(repo, {CAT: BASE}, "base", tag="v1")
    commit_files(repo, {"README.md": "docs only"}, "docs")  # touches no module: not listed
    commit_files(repo, {"nam/models/wavenet.py": "class WaveNet:\n    pass\n"}, "add wavenet")
    commit_files(repo, {CAT: BASE + "\n# a comment changes the blob, not the API\n"}, "comment")
    commit_files(repo, {"nam/models/wavenet.py": None}, "drop wavenet", tag="v2")
    with UpstreamRepo(repo.working_tree_dir) as up:
        log = change_log(up, *up.split_range("v1..v2"))
        assert len(up.touching(*up.split_range("v1..v2"))) == 3  # the docs commit is filtered by git
    assert [(e.subject, [c.kind for c in e.changes]) for e in log] == [
        ("add wavenet", ["module-added"]),
        ("drop wavenet", ["module-removed"]),
    ]
    assert all(len(e.sha) == 40 and e.date for e in log)


def test_merge_reports_only_what_the_merge_itself_changed(tmp_path):
    repo = new_repo(tmp_path)
    base = commit_files(repo, {CAT: BASE}, "base", tag="v1")
    main = repo.active_branch
    side = repo.create_head("side", base)
    side.checkout()
    commit_files(repo, {"nam/models/wavenet.py": "def f(a):\n    pass\n"}, "side work")
    main.checkout()
    commit_files(repo, {CAT: BASE.replace("X = 1", "X = 3")}, "main work")
    repo.git.merge("side", "--no-ff", "-m", "merge side")
    with UpstreamRepo(repo.working_tree_dir) as up:
        log = change_log(up, *up.split_range("v1..HEAD"))
    by_subject = {e.subject: [c.kind for c in e.changes] for e in log}
    assert by_subject == {"side work": ["module-added"], "main work": ["constant-changed"]}


def test_each_blob_is_parsed_once(tmp_path):
    repo = new_repo(tmp_path)
    commit_files(repo, {CAT: BASE}, "base", tag="v1")
    for i in range(5):
        commit_files(repo, {"nam/data.py": f"A = {i % 2}\n"}, f"flip {i}")  # two distinct blobs
    with UpstreamRepo(repo.working_tree_dir) as up:
        for c in up.touching(*up.split_range("v1..HEAD"), all_commits=True):
            up.surfaces(c)
        assert up.cache.parses == 3  # catnets once, data.py's two contents once each


def test_usage_errors(tmp_path):
    with pytest.raises(UsageError):
        UpstreamRepo(str(tmp_path / "missing"))
    (tmp_path / "plain").mkdir()
    with pytest.raises(UsageError):
        UpstreamRepo(str(tmp_path / "plain"))
    repo = new_repo(tmp_path)
    commit_files(repo, {CAT: BASE}, "base", tag="v1")
    with UpstreamRepo(repo.working_tree_dir) as up:
        for bad in ("v1", "v1..nope", "v1...HEAD", "..HEAD"):
            with pytest.raises(UsageError):
                up.split_range(bad)


def test_surface_records_signatures_abstracts_properties_and_config_keys():
    src = textwrap.dedent(
        """
        import abc
        logger = 1
        LIMIT = 3

        class A(abc.ABC, metaclass=abc.ABCMeta):
            K: int = 2

            def f(self, a, /, b=1, *args, c, d=None, **kw):
                pass

            @property
            def rate(self):
                return 1

            @rate.setter
            def rate(self, v):
                pass

            @abc.abstractproperty
            def shape(self):
                pass

            @classmethod
            def init_from_config(cls, config):
                t = config.pop("type")
                return config["net"]["config"], config.setdefault("x", 1), other["no"]
        """
    )
    s = surface.extract(src).objects
    assert "logger" not in s and s["LIMIT"].value == "3"
    assert s["A"].bases == ("abc.ABC", "metaclass=abc.ABCMeta") and s["A"].abstract_members == ("shape",)
    assert s["A.K"].type == "constant" and s["A.K"].value == "2"
    assert [(p.name, p.kind, p.default) for p in s["A.f"].params] == [
        ("self", "positional-only", None),
        ("a", "positional-only", None),
        ("b", "positional-or-keyword", "1"),
        ("args", "var-positional", None),
        ("c", "keyword-only", None),
        ("d", "keyword-only", "None"),
        ("kw", "var-keyword", None),
    ]
    assert s["A.f"].signature() == "(self, a, b=1, *args, c, d=None, **kw)"
    assert s["A.rate"].type == "property" and "setter" in s["A.rate"].decorators
    assert s["A.shape"].abstract
    assert s["A.init_from_config"].config_keys == ("net", "type", "x")


def test_syntax_error_is_recorded_not_raised():
    s = surface.extract("def (:\n", "x.py")
    assert s.error and s.objects == {}
