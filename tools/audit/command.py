"""The `nam-legacy audit` verb: `add_parser(subparsers)` and `run(args) -> int`.

`run` handles its own errors, so it behaves the same whether tools/cli.py wraps it or a
test calls it: 0 everything conforms (or is documented), 1 drift, 2 usage error (one line
on stderr), 3 internal error.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
from pathlib import Path

from .render import FORMATS, render

# GitPython is imported only when the verb runs, so the rest of the CLI works without it.
EXIT_USAGE, EXIT_INTERNAL = 2, 3
PROJECT_ROOT = Path(__file__).resolve().parents[2]

PROG = "nam-legacy audit"
DEFAULT_RANGE = "v0.3.0..ae86979"


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "audit",
        help="audit upstream's git history of the parametric API against nam_legacy",
        description="Read upstream's modules commit by commit straight from git (no checkout), log every "
        "change to their API surface (signatures, defaults, bases, abstract members, constants, config "
        "keys), and compare nam_legacy's surface with upstream's at each release in the range.",
        epilog="example:\n  nam-legacy audit --repo ~/src/neural-amp-modeler --format markdown\n\n"
        "exit codes: 0 conforms (or documented in docs/quirks.md), 1 drift, 2 usage error, 3 internal error.",
    )
    p.add_argument("--repo", default=os.environ.get("NAM_UPSTREAM_REPO"), metavar="PATH_OR_URL",
                   help="upstream clone (bare is fine) or URL to clone; default $NAM_UPSTREAM_REPO")
    p.add_argument("--range", dest="range_spec", default=DEFAULT_RANGE, metavar="START..END",
                   help=f"commit range (default {DEFAULT_RANGE})")
    p.add_argument("--format", dest="fmt", choices=FORMATS, default="markdown", help="output format (default markdown)")
    p.add_argument("--no-conformance", dest="conformance", action="store_false",
                   help="history only; do not compare nam_legacy with the releases")
    p.add_argument("--ours", type=Path, default=PROJECT_ROOT, metavar="DIR",
                   help="project root holding nam_legacy/ and docs/quirks.md (default: this checkout)")
    p.add_argument("--numeric", action="store_true",
                   help="also run upstream's own code at each release (under --python) and require bit-equal outputs")
    p.add_argument("--python", metavar="PY", help="for --numeric: an interpreter with upstream's dependencies (torch, ...)")
    p.set_defaults(run=run)
    return p


def run(args) -> int:
    if importlib.util.find_spec("git") is None:
        print(f"{PROG}: error: the audit needs GitPython (pip install GitPython)", file=sys.stderr)
        return EXIT_USAGE
    from .analysis import build_report
    from .repo import UpstreamRepo, UsageError

    try:
        if args.numeric and not args.python:
            raise UsageError("--numeric needs --python PY (an interpreter with upstream's dependencies)")
        if args.numeric and not Path(args.python).exists() and shutil.which(args.python) is None:
            raise UsageError(f"--python: no such interpreter: {args.python}")
        if not (Path(args.ours) / "nam_legacy").is_dir():
            raise UsageError(f"--ours: no nam_legacy/ in {args.ours}")
        if not args.repo:
            raise UsageError("--repo is required (or set NAM_UPSTREAM_REPO)")
        with UpstreamRepo(args.repo) as repo:
            report = build_report(
                repo,
                args.range_spec,
                ours_root=args.ours,
                check_conformance=args.conformance,
                numeric_python=args.python if args.numeric else None,
            )
        try:
            print(render(report, args.fmt))
        except BrokenPipeError:  # `| head`: the reader has what it wanted
            pass
        return report["summary"]["exit_code"]
    except UsageError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as e:  # a bug of ours
        if os.environ.get("NAM_LEGACY_DEBUG"):
            raise
        print(f"{PROG}: internal error: {type(e).__name__}: {e}", file=sys.stderr)
        return EXIT_INTERNAL


def main(argv=None) -> int:
    """Standalone entry (python -m tools.audit.command) until the verb is wired into tools/cli.py."""
    parser = argparse.ArgumentParser(prog="nam-legacy")
    sub = parser.add_subparsers(dest="verb", required=True)
    add_parser(sub)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
