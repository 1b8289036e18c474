"""Benchmark: the API audit over every commit of v0.3.0..ae86979, object database vs checkouts.

- audit:    tools.audit reads the mirrored modules' blobs straight from git's object
            database, parsing each distinct blob once (cache by blob SHA);
- baseline: a throwaway clone's work tree is checked out at every commit and each module
            is read from disk and parsed, as a checkout-based tool would.

Both walk the same commits in the same order and diff each against the previous one; the
results must agree. Usage: python bench/audit.py [REPO] [RANGE]; REPO defaults to
$NAM_UPSTREAM_REPO, then the read-only mirror. Targets: audit <= 10 s, >= 10x faster.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.audit import MODULES  # noqa: E402
from tools.audit.history import diff_trees  # noqa: E402
from tools.audit.repo import UpstreamRepo  # noqa: E402
from tools.audit.surface import extract  # noqa: E402

MIRROR = "/work/.mirror/sdatkinson+neural-amp-modeler/repo"


def audit(location: str, spec: str):
    with UpstreamRepo(location) as up:
        start, end = up.split_range(spec)
        commits = [start] + up.touching(start, end, all_commits=True)
        prev, out = None, []
        for c in commits:
            cur = up.surfaces(c)
            if prev is not None:
                out.append((c.hexsha, diff_trees(prev, cur)))
            prev = cur
        return out, up.cache.parses


def baseline(location: str, spec: str, shas):
    with tempfile.TemporaryDirectory(prefix="nam-audit-bench-") as tmp:
        work = Path(tmp) / "wt"
        # --shared borrows the objects (nothing is written to the source); setup is not timed.
        subprocess.run(["git", "clone", "-q", "--shared", "--no-checkout", location, str(work)], check=True)
        t0 = time.perf_counter()
        prev, out = None, []
        for sha in shas:
            subprocess.run(["git", "-C", str(work), "checkout", "-q", "--force", "--detach", sha], check=True)
            cur = {}
            for path in MODULES:
                f = work / path
                if f.exists():
                    cur[path] = extract(f.read_text(encoding="utf-8"), path)
            if prev is not None:
                out.append((sha, diff_trees(prev, cur)))
            prev = cur
        return out, time.perf_counter() - t0


def main(argv):
    location = argv[1] if len(argv) > 1 else os.environ.get("NAM_UPSTREAM_REPO", MIRROR)
    spec = argv[2] if len(argv) > 2 else "v0.3.0..ae86979"
    t0 = time.perf_counter()
    fast, parses = audit(location, spec)
    t_fast = time.perf_counter() - t0
    with UpstreamRepo(location) as up:
        start, end = up.split_range(spec)
        shas = [start.hexsha] + [c.hexsha for c in up.touching(start, end, all_commits=True)]
    slow, t_slow = baseline(location, spec, shas)
    assert [(s, [c for c in ch]) for s, ch in fast] == [(s, [c for c in ch]) for s, ch in slow], "results differ"
    n_changes = sum(len(ch) for _, ch in fast)
    print(f"range {spec}: {len(shas) - 1} commits, {n_changes} API changes, {parses} distinct blobs parsed")
    print(f"audit (object database, blob cache): {t_fast:.2f} s")
    print(f"baseline (checkout + parse from disk): {t_slow:.2f} s")
    print(f"ratio: {t_slow / t_fast:.1f}x")
    ok = t_fast <= 10 and t_slow / t_fast >= 10
    print("targets (<= 10 s, >= 10x):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
