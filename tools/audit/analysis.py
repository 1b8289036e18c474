"""Run the audit and assemble its report: a plain dict following docs/audit-schema.md.

Renderers only ever see this dict, so JSON output, markdown and annotations cannot
disagree about what was found.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Optional, Sequence

from . import SCHEMA, quirks
from .conformance import conformance, release_refs, release_targets
from .history import change_log
from .repo import UpstreamRepo

EXIT_OK, EXIT_DRIFT, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def build_report(
    repo: UpstreamRepo,
    spec: str,
    releases: Optional[Sequence] = None,
    ours_root: Path = PROJECT_ROOT,
    quirks_path: Optional[Path] = None,
    check_conformance: bool = True,
    numeric_python: Optional[str] = None,
) -> dict:
    start, end = repo.split_range(spec)
    log = change_log(repo, start, end)
    if releases is None:
        from nam_legacy.releases import RELEASES as releases
    shipped_in = repo.first_release([(n, ref) for n, ref in release_refs(repo, releases) if ref is not None])
    results = None
    if check_conformance:
        entries = quirks.load(quirks_path or Path(ours_root) / "docs" / "quirks.md")
        results = conformance(repo, start, end, releases, Path(ours_root), entries)
    numeric = None
    if numeric_python:
        from .numeric import numeric_audit  # torch and nam_legacy's models: only on request

        targets, _ = release_targets(repo, start, end, releases)
        numeric = [asdict(r) for r in numeric_audit(repo, [(n, c) for n, _, c in targets], numeric_python)]
    by_kind = Counter(c.kind for e in log for c in e.changes)
    drift_releases = [r.release for r in results or () if r.status == "drift"]
    numeric_failures = [f"{r['release']}:{r['model']}" for r in numeric or () if r["status"] in ("mismatch", "error")]
    return {
        "schema": SCHEMA,
        "repo": str(repo.location),
        "range": {"spec": spec, "start": start.hexsha, "end": end.hexsha},
        "modules": list(repo.modules),
        "history": [
            {
                "sha": e.sha,
                "date": e.date,
                "subject": e.subject,
                "merge": e.merge,
                "release": shipped_in.get(e.sha),
                "changes": [asdict(c) for c in e.changes],
            }
            for e in log
        ],
        "conformance": None
        if results is None
        else [
            {
                "release": r.release,
                "ref": r.ref,
                "sha": r.sha,
                "status": r.status,
                "drifts": [
                    {**asdict(d.change), "documented_by": d.documented_by, "gated": d.gated, "counts": d.counts, "file": d.file, "line": d.line}
                    for d in r.drifts
                ],
                "unmirrored": r.unmirrored,
            }
            for r in results
        ],
        "numeric": numeric,
        "summary": {
            "commits": len(log),
            "changes": sum(by_kind.values()),
            "by_kind": dict(sorted(by_kind.items())),
            "drift_releases": drift_releases,
            "numeric_failures": numeric_failures,
            "exit_code": EXIT_DRIFT if drift_releases or numeric_failures else EXIT_OK,
        },
    }
