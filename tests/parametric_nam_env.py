#!/usr/bin/env python3
"""An isolated environment holding the Python package of the living parametric NAM line
(phillipmself/neural-amp-modeler-parametric), for tests/test_parametric_nam_oracle.py.

Stdlib only; also a CLI::

    NAM_PARAMETRIC_REPO=/path/to/clone python tests/parametric_nam_env.py build

The package is not on the package index. Its ``nam/`` tree is taken with ``git archive``
from the clone named by ``$NAM_PARAMETRIC_REPO`` (a work tree or a bare clone), given the
``nam/_version.py`` that setuptools-scm would have generated (a ``git archive`` has none),
and put on the venv's ``sys.path`` through a ``.pth`` file, as tests/oracle/envs.py does for
the releases that were never published. Order of installation: torch==2.13.0 (the local CPU
wheel) first, then the dependencies of neural-amp-modeler 0.13.0 that ``import nam`` needs
(the fork declares the same ones). The venv is cached per commit under
``${NAM_LEGACY_ORACLE_DIR:-~/.cache/nam-legacy/oracle}/nam-parametric-<commit>`` and built
by tests/oracle/envs.py's ``build_venv``, like every other oracle environment (same lock,
marker and checks). Nothing of the fork is copied into this repository.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).parent / "oracle"))
import envs  # noqa: E402  (the one venv builder of every oracle environment)
from envs import IndexUnreachable, OracleEnvError  # noqa: E402,F401  (what callers catch)

REPO_VARIABLE = "NAM_PARAMETRIC_REPO"
# neural-amp-modeler 0.13.0's dependencies as `import nam` needs them (pins verified here
# for the 0.13.0 oracle, tests/current_nam.py).
DEPS = [
    "setuptools<81",
    "numpy==2.4.6",
    "scipy==1.17.1",
    "pydantic==2.14.4",
    "pytorch_lightning==2.6.1",
    "wavio==0.0.9",
    "soundfile",
    "librosa==0.11.0",
    "tqdm==4.67.1",
    "matplotlib",
]
_SPEC_VERSION = 1


def repo_from_env() -> Optional[Path]:
    value = os.environ.get(REPO_VARIABLE)
    return Path(value).expanduser() if value else None


def commit_of(repo: Path) -> str:
    proc = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD^{commit}"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise OracleEnvError(f"{repo} ({REPO_VARIABLE}) is not a git clone: {proc.stderr.strip()}")
    return proc.stdout.strip()


def env_dir(commit: str, root=None) -> Path:
    return envs.root_dir(root) / f"nam-parametric-{commit[:12]}"


def _spec(commit: str) -> dict:
    return {"spec_version": _SPEC_VERSION, "commit": commit, "torch": envs.TORCH, "deps": DEPS, "python": "3.11"}


def is_built(commit: str, root=None) -> bool:
    return envs.venv_is_built(env_dir(commit, root), _spec(commit))


_VERIFY = r"""
import json, sys
import nam, torch, numpy
from nam.models.parametric import ConcatLSTM, ConcatWaveNet
from nam.models.parametric._constants import PARAMETRIC_MODEL_VERSION
print(json.dumps({"nam": nam.__version__, "nam_file": nam.__file__, "torch": torch.__version__,
                  "numpy": numpy.__version__, "python": sys.version.split()[0],
                  "parametric_model_version": PARAMETRIC_MODEL_VERSION}))
"""


def build(repo: Path, root=None, log=None, force: bool = False) -> Path:
    """Create (if needed) the venv for the clone's HEAD; return its python."""
    commit = commit_of(repo)
    venv = env_dir(commit, root)
    src = venv / "nam-parametric-src"

    def install(step: envs.Installing) -> None:
        step.nam_from_git(repo, commit, src.name)
        # setuptools-scm writes this file at install time; an archive has none.
        (src / "nam" / "_version.py").write_text(f'__version__ = "0+g{commit[:7]}"\n')

    def check(info: dict) -> Optional[str]:
        if not str(Path(info["nam_file"]).resolve()).startswith(str(src.resolve())):
            return f"{venv} imports nam from {info['nam_file']}, not from {src}"
        return None

    return envs.build_venv(venv, _spec(commit), DEPS, install, _VERIFY, check, "the parametric nam package",
                           log=log, force=force)


def run_in_env(python: Path, script: str, payload: dict, timeout: float = 900) -> dict:
    """Run `script` with the env's python (outside any repo, no PYTHONPATH); the JSON
    `payload` arrives on stdin, the script prints one JSON object last."""
    return envs.run_in_env(python, script, payload, "the parametric nam environment", timeout=timeout)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cmd", choices=("build", "path"))
    ap.add_argument("--repo", default=None, help=f"the clone (default ${REPO_VARIABLE})")
    ap.add_argument("--root", default=None)
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args(argv)
    repo = Path(args.repo) if args.repo else repo_from_env()
    if repo is None:
        print(f"error: pass --repo or set {REPO_VARIABLE}", file=sys.stderr)
        return 1
    try:
        if args.cmd == "build":
            print(build(repo, args.root, force=args.force))
        else:
            commit = commit_of(repo)
            if not is_built(commit, args.root):
                raise OracleEnvError(f"not built under {env_dir(commit, args.root)}")
            print(envs.venv_python(env_dir(commit, args.root)))
    except OracleEnvError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
