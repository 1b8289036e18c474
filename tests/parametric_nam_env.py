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
under the same file lock as every other oracle environment. Nothing of the fork is copied
into this repository.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).parent / "oracle"))
from envs import _lock  # noqa: E402  (one file lock for every environment builder)

REPO_VARIABLE = "NAM_PARAMETRIC_REPO"
TORCH = "torch==2.13.0"
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
_MARKER = ".oracle-ok"
_SPEC_VERSION = 1


class ParametricEnvError(RuntimeError):
    pass


class IndexUnreachable(ParametricEnvError):
    """The package index could not be reached."""


_UNREACHABLE_HINTS = (
    "Could not find a version that satisfies",
    "No matching distribution found",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "Max retries exceeded",
)


def default_root() -> Path:
    env = os.environ.get("NAM_LEGACY_ORACLE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "nam-legacy" / "oracle"


def repo_from_env() -> Optional[Path]:
    value = os.environ.get(REPO_VARIABLE)
    return Path(value).expanduser() if value else None


def commit_of(repo: Path) -> str:
    proc = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD^{commit}"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise ParametricEnvError(f"{repo} ({REPO_VARIABLE}) is not a git clone: {proc.stderr.strip()}")
    return proc.stdout.strip()


def env_dir(commit: str, root=None) -> Path:
    return (Path(root).expanduser() if root is not None else default_root()) / f"nam-parametric-{commit[:12]}"


def _python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _spec(commit: str) -> dict:
    return {"spec_version": _SPEC_VERSION, "commit": commit, "torch": TORCH, "deps": DEPS, "python": "3.11"}


def _spec_hash(commit: str) -> str:
    return hashlib.sha256(json.dumps(_spec(commit), sort_keys=True).encode()).hexdigest()[:16]


def is_built(commit: str, root=None) -> bool:
    venv = env_dir(commit, root)
    try:
        marker = json.loads((venv / _MARKER).read_text())
    except (OSError, ValueError):
        return False
    return _python(venv).exists() and marker.get("spec_hash") == _spec_hash(commit)


def _base_python() -> str:
    cand = os.environ.get("NAM_LEGACY_ORACLE_PYTHON")
    if cand:
        return cand
    if sys.version_info[:2] == (3, 11):
        return sys.executable
    found = shutil.which("python3.11")
    if found:
        return found
    raise ParametricEnvError("no Python 3.11 found; set NAM_LEGACY_ORACLE_PYTHON to a python3.11 binary")


def _clean_env() -> dict:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.pop("PYTHONHOME", None)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    return env


def _run(cmd, log, env) -> str:
    log.write("$ " + " ".join(str(c) for c in cmd) + "\n")
    log.flush()
    proc = subprocess.run([str(c) for c in cmd], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log.write(proc.stdout)
    log.flush()
    if proc.returncode != 0:
        kind = IndexUnreachable if any(h in proc.stdout for h in _UNREACHABLE_HINTS) else ParametricEnvError
        raise kind(f"command failed ({proc.returncode}): {' '.join(str(c) for c in cmd)}\n{proc.stdout[-3000:]}")
    return proc.stdout


def _extract(repo: Path, commit: str, dest: Path) -> None:
    proc = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", commit, "nam"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        raise ParametricEnvError(f"git archive {commit} failed in {repo}: {proc.stderr.decode(errors='replace')}")
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tf:
        tf.extractall(dest, filter="data")
    # setuptools-scm writes this file at install time; an archive has none.
    (dest / "nam" / "_version.py").write_text(f'__version__ = "0+g{commit[:7]}"\n')
    (dest / "SOURCE_REV").write_text(f"{commit}\n")


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
    python = _python(venv)
    if not force and is_built(commit, root):
        return python
    log = log if log is not None else sys.stderr
    with _lock(venv.parent / f".{venv.name}.lock"):
        if not force and is_built(commit, root):
            return python
        if venv.exists():
            shutil.rmtree(venv)
        env = _clean_env()
        _run([_base_python(), "-m", "venv", venv], log, env)
        pip = [python, "-m", "pip", "install", "--no-input"]
        _run(pip + [TORCH], log, env)
        _run(pip + [TORCH] + DEPS, log, env)
        src = venv / "nam-parametric-src"
        _extract(repo, commit, src)
        purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                 stdout=subprocess.PIPE, text=True, check=True, env=env).stdout.strip()
        (Path(purelib) / "nam_parametric_src.pth").write_text(str(src.resolve()) + "\n")
        with tempfile.TemporaryDirectory() as tmp:
            proc = subprocess.run([str(python), "-c", _VERIFY], cwd=tmp, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            raise ParametricEnvError(f"the parametric nam package does not import in {venv}:\n{proc.stderr[-3000:]}")
        info = json.loads(proc.stdout.strip().splitlines()[-1])
        if not str(Path(info["nam_file"]).resolve()).startswith(str(src.resolve())):
            raise ParametricEnvError(f"{venv} imports nam from {info['nam_file']}, not from {src}")
        freeze = _run([python, "-m", "pip", "freeze", "--all"], log, env)
        (venv / _MARKER).write_text(json.dumps(
            {"spec_hash": _spec_hash(commit), "spec": _spec(commit), "verified": info, "freeze": freeze.split()},
            indent=2) + "\n")
    return python


def run_in_env(python: Path, script: str, payload: dict, timeout: float = 900) -> dict:
    """Run `script` with the env's python (outside any repo, no PYTHONPATH); the JSON
    `payload` arrives on stdin, the script prints one JSON object last."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([str(python), "-c", script], cwd=tmp, env=_clean_env(), input=json.dumps(payload),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise ParametricEnvError(f"script failed in the parametric nam environment:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


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
                raise ParametricEnvError(f"not built under {env_dir(commit, args.root)}")
            print(_python(env_dir(commit, args.root)))
    except ParametricEnvError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
