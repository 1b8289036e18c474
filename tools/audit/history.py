"""Stable-coded changes between two API surfaces, and the change log of a commit range.

Kind codes are part of the JSON schema (docs/audit-schema.md): never rename one; add new
ones instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

from .surface import Obj, Surface

KINDS = (
    "module-added",
    "module-removed",
    "parse-error",
    "object-added",
    "object-removed",
    "type-changed",
    "signature-changed",
    "param-kind-changed",
    "default-changed",
    "decorator-changed",
    "abstract-changed",
    "base-changed",
    "constant-changed",
    "config-key-added",
    "config-key-removed",
)

# Abstractness and property-ness have their own kinds; the rest of the decorators are compared as a set.
_OWN_KIND_DECORATORS = {"abstractmethod", "abstractproperty", "abstractclassmethod", "abstractstaticmethod", "property"}


@dataclass(frozen=True)
class Change:
    kind: str
    path: str  # upstream module path, e.g. nam/models/parametric/catnets.py
    object: Optional[str]  # qualified name; None for module-level kinds
    detail: str
    before: Optional[str] = None
    after: Optional[str] = None


@dataclass
class CommitChanges:
    sha: str
    date: str
    subject: str
    changes: List[Change] = field(default_factory=list)
    merge: bool = False


def _describe(o: Obj) -> str:
    if o.type == "class":
        return f"class {o.name}({', '.join(o.bases)})"
    if o.type == "constant":
        return f"{o.name} = {o.value}"
    return f"{o.type} {o.name}{o.signature()}"


def _compare_callables(path: str, a: Obj, b: Obj) -> List[Change]:
    out: List[Change] = []
    name = a.name
    if [p.name for p in a.params] != [p.name for p in b.params]:
        out.append(Change("signature-changed", path, name, f"{name}{a.signature()} -> {name}{b.signature()}", a.signature(), b.signature()))
    else:
        for pa, pb in zip(a.params, b.params):
            if pa.kind != pb.kind:
                out.append(Change("param-kind-changed", path, name, f"{name}: {pa.name} {pa.kind} -> {pb.kind}", pa.kind, pb.kind))
            if pa.default != pb.default:
                out.append(Change("default-changed", path, name, f"{name}: {pa.name}={pa.default} -> {pa.name}={pb.default}", pa.default, pb.default))
    da = sorted(set(a.decorators) - _OWN_KIND_DECORATORS)
    db = sorted(set(b.decorators) - _OWN_KIND_DECORATORS)
    if da != db:
        out.append(Change("decorator-changed", path, name, f"{name}: @{da} -> @{db}", ",".join(da), ",".join(db)))
    if a.abstract != b.abstract:
        word = "now abstract" if b.abstract else "no longer abstract"
        out.append(Change("abstract-changed", path, name, f"{name} is {word}", str(a.abstract), str(b.abstract)))
    ka, kb = set(a.config_keys), set(b.config_keys)
    for k in sorted(kb - ka):
        out.append(Change("config-key-added", path, name, f"{name} reads config[{k!r}]", None, k))
    for k in sorted(ka - kb):
        out.append(Change("config-key-removed", path, name, f"{name} no longer reads config[{k!r}]", k, None))
    return out


def compare_objects(path: str, a: Obj, b: Obj) -> List[Change]:
    """Changes from `a` to `b`, two objects with the same qualified name."""
    if a.type != b.type:
        return [Change("type-changed", path, a.name, f"{a.name}: {a.type} -> {b.type}", a.type, b.type)]
    if a.type == "class":
        if a.bases != b.bases:
            return [Change("base-changed", path, a.name, f"{a.name}({', '.join(a.bases)}) -> ({', '.join(b.bases)})", ", ".join(a.bases), ", ".join(b.bases))]
        return []
    if a.type == "constant":
        if a.value != b.value:
            return [Change("constant-changed", path, a.name, f"{a.name} = {a.value} -> {b.value}", a.value, b.value)]
        return []
    return _compare_callables(path, a, b)


def compare_surfaces(before: Optional[Surface], after: Optional[Surface], path: str) -> List[Change]:
    """Changes of one module; None means the module does not exist on that side."""
    if before is None and after is None:
        return []
    if before is None:
        return [Change("module-added", path, None, f"{path} added")]
    if after is None:
        return [Change("module-removed", path, None, f"{path} removed")]
    if after.error and after.error != before.error:
        return [Change("parse-error", path, None, after.error)]
    out: List[Change] = []
    a, b = before.objects, after.objects
    for name, obj in b.items():
        if name not in a:
            out.append(Change("object-added", path, name, f"{_describe(obj)} added", None, _describe(obj)))
    for name, obj in a.items():
        if name not in b:
            out.append(Change("object-removed", path, name, f"{_describe(obj)} removed", _describe(obj), None))
        else:
            out.extend(compare_objects(path, obj, b[name]))
    return out


def diff_trees(before: Dict[str, Surface], after: Dict[str, Surface]) -> List[Change]:
    out: List[Change] = []
    for path in sorted(set(before) | set(after)):
        if before.get(path) is after.get(path):
            continue  # same blob, same cached Surface: nothing can differ
        out.extend(compare_surfaces(before.get(path), after.get(path), path))
    return out


def change_log(repo, start, end) -> List[CommitChanges]:
    """One entry per commit of start..end that touches the modules and changes their API.

    Each commit is diffed against its own parent (not the previously listed commit), so a
    side branch is not blamed for its sibling's changes. A merge keeps only the changes it
    has against *every* parent, i.e. what the merge itself introduced (as `git log -c`).
    """
    log: List[CommitChanges] = []
    for commit in repo.touching(start, end):
        after = repo.surfaces(commit)
        parents = commit.parents or ()
        if not parents:
            changes = diff_trees({}, after)
        else:
            per_parent = [diff_trees(repo.surfaces(p), after) for p in parents]
            changes = [c for c in per_parent[0] if all(c in other for other in per_parent[1:])]
        if changes:
            info = repo.info(commit)
            log.append(CommitChanges(info.sha, info.date, info.subject, changes, merge=len(parents) > 1))
    return log
