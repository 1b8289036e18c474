"""nam_legacy's own surface against upstream's at each release, object by object.

Only the API we mirror is compared: an object (class, function, method, property,
constant) counts when nam_legacy defines it *and* upstream had it (in that module) at one
of the audited releases; our private helpers that upstream never had are implementation.
Members that upstream has in a mirrored class and we lack are drift (`object-removed`).
Top-level upstream objects we never define are listed as `unmirrored` (information, not
drift): docs/quirks.md explains the omissions.

nam_legacy has one signature per object (the latest release's); behaviour that differs by
release is switched by `nam_legacy.releases`, not by signatures. A parameter or config key
our code accepts only under some release profiles (PROFILE_GATED, each entry enforced at
run time and tested) is gated, i.e. conforming, for the releases that lack it, provided
leaving it out gives upstream's names, kinds and positional order; other signature
differences are reported as they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Set, Tuple

from .history import Change, compare_objects
from .quirks import Quirk
from .surface import Obj, Surface, extract

STATUSES = ("match", "documented", "drift", "unavailable")


@dataclass
class Drift:
    change: Change  # `before` is upstream's, `after` is ours
    documented_by: Optional[str] = None  # quirk id
    gated: bool = False  # our side is a release-profile sentinel default: conforming
    file: Optional[str] = None  # our source file and line, when we define the object
    line: Optional[int] = None

    @property
    def counts(self) -> bool:
        """Does this drift make the release fail?"""
        return not (self.gated or self.documented_by)


# Our sentinel defaults (`_RELEASE_DEFAULT = _ReleaseDefault()`) stand for "whatever the
# active release profile says", so a default or an extra parameter using one conforms.
_SENTINEL_VALUE = re.compile(r"^_\w*Default\(\)$")


def sentinels(ours: Dict[str, Surface]) -> Set[str]:
    return {
        name
        for surface in ours.values()
        for name, obj in surface.objects.items()
        if obj.type == "constant" and "." not in name and obj.value and _SENTINEL_VALUE.match(obj.value)
    }


# Parameters (by name; "**" for a `**kwargs`) and config keys ("config:<key>") that exist
# in our single signature or config reader only for some releases: (object, name) ->
# conditions on the release profile, all of which hold where our code has them. Under a
# profile failing a condition our code really refuses the parameter (TypeError for a
# non-default value) or does not read the key; tests/test_quirks.py
# (test_profile_gated_names_are_enforced, test_profile_gated_config_keys_are_enforced)
# checks each entry at run time.
PROFILE_GATED: Dict[Tuple[str, str], Tuple[Tuple[str, bool], ...]] = {
    # Dataset.__init__: refused by data._reject_later_kwargs.
    **{
        ("Dataset.__init__", p): ((f, True),)
        for p, f in (
            ("start_samples", "data_parse_config_forwards_rest"),
            ("stop_samples", "data_parse_config_forwards_rest"),
            ("start_seconds", "data_parse_config_forwards_rest"),
            ("stop_seconds", "data_parse_config_forwards_rest"),
            ("delay_interpolation_method", "data_delay_interpolation"),
            ("input_gain", "data_input_validation"),
            ("rate", "data_rate_and_presilence"),
            ("require_input_pre_silence", "data_rate_and_presilence"),
            ("sample_rate", "data_sample_rate"),
        )
    },
    # Dataset.parse_config reads these itself only until 0.7.4; at ae86979 it hands every
    # key it does not pop on to the constructor, as upstream did.
    **{
        ("Dataset.parse_config", f"config:{k}"): (("data_parse_config_forwards_rest", False),)
        for k in ("nx", "ny", "start", "stop", "delay", "y_scale")
    },
    ("Dataset.parse_config", "config:delay_interpolation_method"): (
        ("data_delay_interpolation", True),
        ("data_parse_config_forwards_rest", False),
    ),
    ("Dataset.parse_config", "config:require_input_pre_silence"): (
        ("data_rate_and_presilence", True),
        ("data_parse_config_forwards_rest", False),
    ),
    ("Dataset.parse_config", "config:rate"): (("data_rate_and_presilence", True),),
    ("Dataset.parse_config", "config:sample_rate"): (("data_parse_config_forwards_rest", True),),
    ("ConcatDataset.parse_config", "config:parametric"): (("data_type_key", False),),
    ("ConcatDataset.parse_config", "config:type"): (("data_type_key", True),),
    # Models: refused by _Base.__init__, BaseNet/ParametricBaseNet.forward, LSTM._forward,
    # Exportable.export.
    ("LSTM.__init__", "sample_rate"): (("has_sample_rate", True),),
    ("WaveNet.__init__", "sample_rate"): (("has_sample_rate", True),),
    ("BaseNet.forward", "**"): (("forward_kwargs", True),),
    ("ParametricBaseNet.forward", "**"): (("parametric_forward_kwargs", True),),
    ("LSTM._forward", "initial_state"): (("lstm_initial_state_kwarg", True),),
    ("Exportable.export", "include_snapshot"): (("export_include_snapshot_flag", True),),
    ("Exportable.export", "basename"): (("export_basename", True),),
    ("Exportable.export", "user_metadata"): (("export_basename", True),),
    ("_CatMixin.export", "**"): (("export_include_snapshot_flag", True),),
    ("Dataset._validate_sample_rate", "default"): (("data_parse_config_forwards_rest", True),),
}


def _absent(obj: str, name: str, profile) -> bool:
    """Is `name` of `obj` a profile-gated name that the release `profile` lacks?"""
    conditions = PROFILE_GATED.get((obj, name))
    if profile is None or conditions is None:
        return False
    # A profile without the field (e.g. a test's stand-in) gates nothing.
    return any(getattr(profile, field, value) != value for field, value in conditions)


def _gated(change: Change, up: Optional[Obj], mine: Optional[Obj], marks: Set[str], profile=None) -> bool:
    if change.kind == "default-changed":
        return change.after in marks
    if change.kind == "config-key-added":
        return _absent(change.object, f"config:{change.after}", profile)
    if change.kind == "signature-changed" and up is not None and mine is not None:
        # Conforms when removing our sentinel-default parameters gives upstream's list.
        kept = [p.name for p in mine.params if p.default not in marks]
        if kept == [p.name for p in up.params]:
            return True
        # ... or when removing the parameters this release lacks (PROFILE_GATED) gives
        # upstream's names, kinds and positions: nothing removed may precede a parameter
        # that upstream takes by position.
        def key(p):
            return "**" if p.kind == "var-keyword" else p.name

        absent = [_absent(change.object, key(p), profile) for p in mine.params]
        kept_params = [p for p, a in zip(mine.params, absent) if not a]
        if [(p.name, p.kind) for p in kept_params] != [(p.name, p.kind) for p in up.params]:
            return False
        positional = ("positional-only", "positional-or-keyword", "var-positional")
        first_removed = min((i for i, a in enumerate(absent) if a), default=len(absent))
        return not any(
            p.kind in positional and not a
            for p, a in zip(mine.params[first_removed + 1 :], absent[first_removed + 1 :])
        )
    return False


@dataclass
class ReleaseResult:
    release: str
    ref: Optional[str]  # what was resolved in the repository (tag or commit), None if absent
    sha: Optional[str]
    status: str
    drifts: List[Drift] = field(default_factory=list)
    unmirrored: List[str] = field(default_factory=list)  # "path::Name"


def ours_surfaces(root: Path, modules: Sequence[str]) -> Dict[str, Surface]:
    """Our modules keyed by the upstream path they mirror (nam/x.py <- nam_legacy/x.py)."""
    out = {}
    for path in modules:
        local = Path(root) / ("nam_legacy" + path[len("nam"):])
        if local.exists():
            out[path] = extract(local.read_text(encoding="utf-8"), str(local))
    return out


def _top(name: str) -> str:
    return name.split(".", 1)[0]


def mirrored_names(ours: Dict[str, Surface], upstream_at: Sequence[Dict[str, Surface]]) -> Dict[str, Set[str]]:
    """path -> qualified names defined by us and by upstream at some audited release.

    Our private helpers that upstream never had are implementation, not mirrored API.
    """
    out = {}
    for path, surface in ours.items():
        theirs = set()
        for snapshot in upstream_at:
            if path in snapshot:
                theirs |= set(snapshot[path].objects)
        out[path] = set(surface.objects) & theirs
    return out


def compare_release(
    release: str,
    ours: Dict[str, Surface],
    upstream: Dict[str, Surface],
    mirrored: Dict[str, Set[str]],
    quirks: Sequence[Quirk],
    order: Sequence[str],
    profile=None,
) -> ReleaseResult:
    """`profile`: the release's ReleaseProfile, for the PROFILE_GATED names (None: none)."""
    drifts: List[Drift] = []
    unmirrored: List[str] = []
    marks = sentinels(ours)
    for path, our_surface in ours.items():
        names = mirrored[path]
        tops = {_top(n) for n in names}
        theirs: Dict[str, Obj] = upstream[path].objects if path in upstream else {}
        mine = {k: v for k, v in our_surface.objects.items() if k in names}
        # Upstream members of a mirrored class that we lack are drift (object-removed).
        up = {k: v for k, v in theirs.items() if _top(k) in tops}
        found: List[Change] = []
        for k, obj in mine.items():
            if k not in up:
                found.append(Change("object-added", path, k, f"nam_legacy has {k}; upstream {release} does not", None, k))
            else:
                found.extend(compare_objects(path, up[k], obj))
        for k in up:
            if k not in mine:
                found.append(Change("object-removed", path, k, f"upstream {release} has {k}; nam_legacy does not", k, None))
        unmirrored.extend(f"{path}::{n}" for n in theirs if "." not in n and n not in our_surface.objects)
        for change in found:
            quirk = next(
                (q for q in quirks if q.covers_release(release, order) and q.names(change.object)), None
            )
            gated = _gated(change, up.get(change.object), mine.get(change.object), marks, profile)
            ours_obj = mine.get(change.object)
            drifts.append(
                Drift(
                    change,
                    quirk.id if quirk else None,
                    gated,
                    file="nam_legacy" + path[len("nam"):],
                    line=ours_obj.line if ours_obj else None,
                )
            )
    if all(d.gated for d in drifts):
        status = "match"
    elif not any(d.counts for d in drifts):
        status = "documented"
    else:
        status = "drift"
    return ReleaseResult(release, None, None, status, drifts, sorted(unmirrored))


def release_refs(repo, releases) -> List[tuple]:
    """(release name, ref or None) for each profile: the tag v<name> if present, else its commit."""
    tags = repo.tags()
    out = []
    for r in releases:
        ref = None
        if "v" + r.name in tags:
            ref = "v" + r.name
        else:
            try:
                repo.resolve(r.commit)
                ref = r.commit
            except Exception:  # absent from this repository (e.g. a wheel-built test history)
                ref = None
        out.append((r.name, ref))
    return out


def release_targets(repo, start, end, releases):
    """(targets, unavailable): (name, ref, commit) of each profile in start..end (start
    included), and the names of the profiles the repository lacks."""
    targets, unavailable = [], []
    for name, ref in release_refs(repo, releases):
        if ref is None:
            unavailable.append(name)
            continue
        commit = repo.resolve(ref)
        in_range = commit == start or (
            repo.repo.is_ancestor(start, commit) and repo.repo.is_ancestor(commit, end)
        )
        if in_range:
            targets.append((name, ref, commit))
    return targets, unavailable


def conformance(repo, start, end, releases, ours_root: Path, quirks: Sequence[Quirk]) -> List[ReleaseResult]:
    """One result per release profile whose commit lies in start..end (start included)."""
    order = [r.name for r in releases]
    ours = ours_surfaces(ours_root, repo.modules)
    targets, unavailable = release_targets(repo, start, end, releases)
    results: Dict[str, ReleaseResult] = {n: ReleaseResult(n, None, None, "unavailable") for n in unavailable}
    snapshots = {name: repo.surfaces(commit) for name, _, commit in targets}
    mirrored = mirrored_names(ours, list(snapshots.values()))
    for name, ref, commit in targets:
        profile = next(r for r in releases if r.name == name)
        res = compare_release(name, ours, snapshots[name], mirrored, quirks, order, profile)
        res.ref, res.sha = ref, commit.hexsha
        results[name] = res
    # Releases outside the range are left out; unavailable ones stay, so the gap is visible.
    return [results[n] for n in order if n in results]
