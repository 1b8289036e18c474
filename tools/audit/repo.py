"""Read upstream's modules straight from git's object database (no checkout, no work tree).

Everything the audit needs from git goes through `UpstreamRepo`, so the analysis modules
never touch GitPython and the tests can point it at any small repository.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import git
from git.objects.fun import tree_entries_from_data
from gitdb.exc import BadName, BadObject

from . import MODULES
from .surface import Surface, SurfaceCache


class UsageError(Exception):
    """Bad input (repository, range): exit code 2, one line on stderr."""


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    date: str  # ISO 8601, committer date
    subject: str

    @property
    def short(self) -> str:
        return self.sha[:7]


def _looks_like_url(text: str) -> bool:
    return "://" in text or text.startswith("git@")


class UpstreamRepo:
    def __init__(self, location: str, modules: Sequence[str] = MODULES):
        self.location = location
        self.modules = tuple(modules)
        self.cache = SurfaceCache()
        self._trees: Dict[bytes, Dict[str, Tuple[bytes, int]]] = {}
        self._tmp = None
        try:
            if _looks_like_url(location):
                # A bare clone has the object database and nothing else, which is all we read.
                self._tmp = tempfile.TemporaryDirectory(prefix="nam-legacy-audit-")
                self.repo = git.Repo.clone_from(location, self._tmp.name, bare=True)
            else:
                path = Path(location)
                if not path.exists():
                    raise UsageError(f"repository not found: {location}")
                self.repo = git.Repo(path)
                # A bare mirror without a `config` file is taken for a work tree whose git
                # commands then run in the parent directory; pin the git dir explicitly.
                self.repo.git.update_environment(GIT_DIR=self.repo.git_dir)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise UsageError(f"not a git repository: {location}") from None
        except git.GitCommandError as e:
            raise UsageError(f"cannot clone {location}: {e.stderr.strip().splitlines()[-1] if e.stderr else e}") from None

    def close(self) -> None:
        self.repo.close()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- revisions -------------------------------------------------------------------

    def resolve(self, rev: str) -> git.Commit:
        try:
            return self.repo.commit(rev)
        except (BadName, BadObject, ValueError, git.GitCommandError):
            raise UsageError(f"unknown revision {rev!r}") from None

    def split_range(self, text: str) -> Tuple[git.Commit, git.Commit]:
        if text.count("..") != 1 or "..." in text:
            raise UsageError(f"range must be START..END, got {text!r}")
        start, end = text.split("..")
        if not start or not end:
            raise UsageError(f"range must be START..END, got {text!r}")
        return self.resolve(start), self.resolve(end)

    def info(self, commit: git.Commit) -> CommitInfo:
        return CommitInfo(
            sha=commit.hexsha,
            date=commit.committed_datetime.isoformat(),
            subject=commit.summary if isinstance(commit.summary, str) else commit.summary.decode(),
        )

    def touching(self, start: git.Commit, end: git.Commit, all_commits: bool = False) -> List[git.Commit]:
        """Commits of start..end, oldest first; only those touching our modules unless all_commits."""
        kwargs = {"reverse": True, "topo_order": True}
        if all_commits:
            return list(self.repo.iter_commits(f"{start.hexsha}..{end.hexsha}", **kwargs))
        return list(self.repo.iter_commits(f"{start.hexsha}..{end.hexsha}", paths=list(self.modules), **kwargs))

    def tags(self) -> Dict[str, str]:
        """tag name -> commit SHA (annotated tags peeled)."""
        out = {}
        for t in self.repo.tags:
            try:
                out[t.name] = t.commit.hexsha
            except ValueError:  # a tag pointing at a tree or blob
                continue
        return out

    def first_release(self, ordered: Sequence[Tuple[str, str]]) -> Dict[str, str]:
        """commit SHA -> name of the first of `ordered` (name, ref) pairs that contains it.

        One rev-list per release (prev..this), so the cost does not grow with the log.
        """
        out: Dict[str, str] = {}
        prev = None
        for name, ref in ordered:
            sha = self.resolve(ref).hexsha
            spec = sha if prev is None else f"{prev}..{sha}"
            for c in self.repo.git.rev_list(spec).split():
                out.setdefault(c, name)
            prev = sha
        return out

    # --- content ----------------------------------------------------------------------

    def _entries(self, binsha: bytes) -> Dict[str, Tuple[bytes, int]]:
        """name -> (binsha, mode) of one tree, read and parsed once per distinct tree."""
        hit = self._trees.get(binsha)
        if hit is None:
            data = self.repo.odb.stream(binsha).read()
            hit = {name: (sha, mode) for sha, mode, name in tree_entries_from_data(data)}
            self._trees[binsha] = hit
        return hit

    def _lookup(self, root: bytes, path: str) -> Optional[bytes]:
        # Subtrees such as nam/models/parametric rarely change, so most steps are cache hits;
        # GitPython's `tree / path` would re-read every tree on the way at every commit.
        sha = root
        for part in path.split("/"):
            entry = self._entries(sha).get(part)
            if entry is None:
                return None
            sha = entry[0]
        return sha

    def blobs(self, commit: git.Commit) -> Dict[str, str]:
        """path -> blob SHA (hex) for each mirrored module present at `commit`."""
        root = commit.tree.binsha
        out = {}
        for path in self.modules:
            sha = self._lookup(root, path)
            if sha is not None:
                out[path] = sha
        return {p: b.hex() for p, b in out.items()}

    def read_blob(self, hexsha: str) -> bytes:
        return self.repo.odb.stream(bytes.fromhex(hexsha)).read()

    def surfaces(self, commit: git.Commit) -> Dict[str, Surface]:
        """path -> Surface at `commit`; each distinct blob is parsed once per repo object."""
        return {
            path: self.cache.get(sha, path, lambda sha=sha: self.read_blob(sha))
            for path, sha in self.blobs(commit).items()
        }
