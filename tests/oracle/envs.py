#!/usr/bin/env python3
"""Isolated virtual environments holding the REAL legacy ``nam`` releases.

Stdlib only.  Usable as a module (``python_for(release)``) or as a CLI::

    python tests/oracle/envs.py build 0.7.4 [--root DIR] [--upstream PATH]
    python tests/oracle/envs.py build all
    python tests/oracle/envs.py list
    python tests/oracle/envs.py path 0.7.4

``build`` prints the path of the environment's python.  Environments are
cached: a marker file (``.oracle-ok``) inside the venv records the exact
specification that was installed successfully; a venv whose marker is missing
or records another specification is deleted and rebuilt.

Root directory: ``--root`` / ``root=``, else ``$NAM_LEGACY_ORACLE_DIR``, else
``~/.cache/nam-legacy/oracle``.

Releases 0.3.0, 0.4.0 and 0.5.0 were never on the package index.  Their
``nam/`` package is extracted with ``git archive`` from an upstream clone of
sdatkinson/neural-amp-modeler given by ``--upstream`` / ``upstream=`` or
``$NAM_UPSTREAM_REPO`` and put on the venv's ``sys.path`` through a ``.pth``
file, so the venv's python alone is enough.  Nothing from upstream is copied
into this repository.

The building itself (lock, cache marker, torch first, pinned dependencies, a check run
outside any repository) is ``build_venv``, which the other oracle environments use too:
tests/current_nam.py (nam 0.13.0) and tests/parametric_nam_env.py (the parametric fork).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, TextIO, Union

__all__ = [
    "RELEASES",
    "GIT_RELEASES",
    "OracleEnvError",
    "default_root",
    "root_dir",
    "venv_python",
    "env_dir",
    "python_for",
    "build",
    "is_built",
    "IndexUnreachable",
    "Installing",
    "build_venv",
    "venv_is_built",
    "run_in_env",
]

TORCH = "torch==2.13.0"  # the local CPU wheel; anything else may pull a CUDA build
SETUPTOOLS = "setuptools<81"  # pkg_resources (nam._base 0.5+, PL 2.0/2.1 import it)

# Common, exactly pinned helpers (versions that were verified on this machine).
_COMMON = [
    SETUPTOOLS,
    "scipy==1.17.1",
    "tqdm==4.67.1",
    "auraloss==0.3.0",
    "torchmetrics==1.9.0",
    "lightning-utilities==0.15.3",
]

# Lightning 1.x era (checkpoints written by PL 1.9.5, like 2022 users had).
_ERA_PL1 = _COMMON + [
    "pytorch_lightning==1.9.5",
    "numpy==1.26.4",  # wavio 0.0.4 calls ndarray.tostring() (gone in numpy 2)
    "pydantic==1.10.27",
    "wavio==0.0.4",
]
# 0.5.0 .. 0.5.2: wavio<=0.0.4 is pinned in their requirements.
_ERA_PL20_WAVIO4 = _COMMON + [
    "pytorch_lightning==2.0.2",
    "numpy==2.4.6",
    "pydantic==1.10.27",
    "wavio==0.0.4",
]
# 0.6.0 .. 0.7.3: wavio>=0.0.5 required; pydantic v1 API (.dict()).
_ERA_PL20 = _COMMON + [
    "pytorch_lightning==2.0.2",
    "numpy==2.4.6",
    "pydantic==1.10.27",
    "wavio==0.0.9",
]
# 0.7.4 (Jan 2024): Lightning 2.1, pydantic 2.
_ERA_PL21 = _COMMON + [
    "pytorch_lightning==2.1.3",
    "numpy==2.4.6",
    "pydantic==2.14.4",
    "wavio==0.0.9",
]

# release -> (source, deps).  source "git:<tag>" or "index".
RELEASES: Dict[str, dict] = {
    "0.3.0": {"source": "git:v0.3.0", "deps": _ERA_PL1},
    "0.4.0": {"source": "git:v0.4.0", "deps": _ERA_PL1},
    "0.5.0": {"source": "git:v0.5.0", "deps": _ERA_PL20_WAVIO4},
    "0.5.1": {"source": "index", "deps": _ERA_PL20_WAVIO4},
    "0.5.2": {"source": "index", "deps": _ERA_PL20_WAVIO4},
    "0.6.0": {"source": "index", "deps": _ERA_PL20},
    "0.7.0": {"source": "index", "deps": _ERA_PL20},
    "0.7.1": {"source": "index", "deps": _ERA_PL20},
    "0.7.2": {"source": "index", "deps": _ERA_PL20},
    "0.7.3": {"source": "index", "deps": _ERA_PL20},
    "0.7.4": {"source": "index", "deps": _ERA_PL21},
}
GIT_RELEASES = [r for r, s in RELEASES.items() if s["source"].startswith("git:")]

_MARKER = ".oracle-ok"
_SPEC_VERSION = 1  # bump to force rebuilding every cached venv


class OracleEnvError(RuntimeError):
    pass


class IndexUnreachable(OracleEnvError):
    """The package index could not be reached (the tests that build on demand skip on this one only)."""


_UNREACHABLE_HINTS = (
    "Could not find a version that satisfies",
    "No matching distribution found",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "Max retries exceeded",
    "ConnectionError",
    "ReadTimeoutError",
)


def default_root() -> Path:
    env = os.environ.get("NAM_LEGACY_ORACLE_DIR")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "nam-legacy" / "oracle"


def root_dir(root: Optional[Union[str, Path]] = None) -> Path:
    """`root` if given, else the default root (where every oracle venv is cached)."""
    return Path(root).expanduser() if root is not None else default_root()


# --------------------------------------------------------------------------------------
# One isolated venv, whatever it holds
# --------------------------------------------------------------------------------------


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _spec_hash(spec: dict) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def venv_is_built(venv: Path, spec: dict) -> bool:
    """Whether `venv` was built, completely, for exactly `spec` (its marker says so)."""
    try:
        data = json.loads((venv / _MARKER).read_text())
    except (OSError, ValueError):
        return False
    return venv_python(venv).exists() and data.get("spec_hash") == _spec_hash(spec)


def _find_base_python() -> str:
    """A Python 3.11 interpreter for creating the venvs."""
    cand = os.environ.get("NAM_LEGACY_ORACLE_PYTHON")
    if cand:
        return cand
    if sys.version_info[:2] == (3, 11):
        return sys.executable
    for c in ("python3.11", "/root/.pyenv/shims/python3.11"):
        p = shutil.which(c)
        if p:
            return p
    raise OracleEnvError(
        "No Python 3.11 found; set NAM_LEGACY_ORACLE_PYTHON to a python3.11 binary"
    )


def _clean_env() -> dict:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.pop("PYTHONHOME", None)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    return env


def _run(cmd: List, log, env: dict) -> str:
    """Run `cmd`, logging it and its output; IndexUnreachable when pip could not reach the index."""
    log.write(f"$ {' '.join(str(c) for c in cmd)}\n")
    log.flush()
    proc = subprocess.run(
        [str(c) for c in cmd],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    log.write(proc.stdout)
    log.flush()
    if proc.returncode != 0:
        unreachable = any(h in proc.stdout for h in _UNREACHABLE_HINTS)
        raise (IndexUnreachable if unreachable else OracleEnvError)(
            f"Command failed ({proc.returncode}): {' '.join(str(c) for c in cmd)}\n"
            + proc.stdout[-4000:]
        )
    return proc.stdout


def _site_packages(python: Path, env: dict) -> Path:
    out = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
        env=env,
    ).stdout.strip()
    return Path(out)


def _git_archive_nam(repo: Path, rev: str, dest: Path, log) -> None:
    """The `nam/` tree of `rev` in the git clone `repo`, extracted under `dest`."""
    log.write(f"git archive {rev} nam from {repo} -> {dest}\n")
    proc = subprocess.run(
        ["git", "-C", str(repo), "archive", "--format=tar", rev, "nam"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    if proc.returncode != 0:
        raise OracleEnvError(
            f"git archive {rev} failed in {repo}: {proc.stderr.decode(errors='replace')}"
        )
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tf:
        tf.extractall(dest, filter="data")


@contextlib.contextmanager
def _lock(path: Path):
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fp:
        fcntl.flock(fp, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fp, fcntl.LOCK_UN)


@dataclass
class Installing:
    """The venv being built, as `build_venv`'s `install` step gets it (torch and the
    dependencies are in; `nam` is what the step adds)."""

    venv: Path
    python: Path
    env: dict
    log: TextIO

    def pip_install(self, *args: str) -> str:
        return _run([self.python, "-m", "pip", "install", "--no-input", *args], self.log, self.env)

    def nam_from_git(self, repo: Path, rev: str, folder: str) -> Path:
        """Put the `nam/` tree of `rev` in the clone `repo` into `<venv>/<folder>` and on the
        venv's sys.path (a .pth file): for code that was never on the package index."""
        src = self.venv / folder
        _git_archive_nam(repo, rev, src, self.log)
        commit = subprocess.run(["git", "-C", str(repo), "rev-parse", f"{rev}^{{commit}}"],
                                stdout=subprocess.PIPE, text=True).stdout.strip()
        (src / "SOURCE_REV").write_text(f"{rev} {commit}\n")
        pth = _site_packages(self.python, self.env) / "nam_legacy_oracle_src.pth"
        pth.write_text(str(src.resolve()) + "\n")
        return src


def build_venv(
    venv: Path,
    spec: dict,
    deps: List[str],
    install: Callable[[Installing], None],
    verify: str,
    check: Callable[[dict], Optional[str]],
    what: str,
    log=None,
    force: bool = False,
) -> Path:
    """Create (if needed) the isolated venv `venv`; return its python.

    Under a file lock beside it (helpers share the cache): a fresh venv, torch first (the
    local CPU wheel), then `deps` with torch repeated so that pip cannot move it, then
    `install` (which puts `nam` in). The `verify` script runs outside any repository and
    prints one JSON object last; `check` returns what is wrong with it, or None. Only then
    is the marker written: `spec` (its hash decides whether a cached venv is current), the
    verified facts and `pip freeze`. `what` names the contents in messages.
    """
    python = venv_python(venv)
    if not force and venv_is_built(venv, spec):
        return python
    log = log if log is not None else sys.stderr
    with _lock(venv.parent / f".{venv.name}.lock"):
        if not force and venv_is_built(venv, spec):
            return python
        if venv.exists():
            shutil.rmtree(venv)
        env = _clean_env()
        _run([_find_base_python(), "-m", "venv", venv], log, env)
        step = Installing(venv, python, env, log)
        step.pip_install(TORCH)
        step.pip_install(TORCH, *deps)
        install(step)
        with tempfile.TemporaryDirectory() as tmp:  # outside any repo: nothing local shadows nam
            proc = subprocess.run([str(python), "-c", verify], cwd=tmp, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        log.write(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            raise OracleEnvError(f"{what} does not import in {venv}:\n{proc.stderr[-3000:]}")
        info = json.loads(proc.stdout.strip().splitlines()[-1])
        problem = check(info)
        if problem:
            raise OracleEnvError(problem)
        freeze = _run([python, "-m", "pip", "freeze", "--all"], log, env)
        (venv / _MARKER).write_text(
            json.dumps(
                {"spec_hash": _spec_hash(spec), "spec": spec, "verified": info, "freeze": freeze.split()},
                indent=2,
            )
            + "\n"
        )
    return python


def run_in_env(python: Path, script: str, payload: dict, what: str, timeout: float = 600) -> dict:
    """Run `script` with a venv's python (outside any repository, no PYTHONPATH); the JSON
    `payload` comes in on stdin, the script prints one JSON object last."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([str(python), "-c", script], cwd=tmp, env=_clean_env(), input=json.dumps(payload),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise OracleEnvError(f"script failed in {what}:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------
# The legacy releases
# --------------------------------------------------------------------------------------


def _check_release(release: str) -> dict:
    if release not in RELEASES:
        raise OracleEnvError(
            f"Unknown release {release!r}; known: {', '.join(RELEASES)}"
        )
    return RELEASES[release]


def env_dir(release: str, root: Optional[Union[str, Path]] = None) -> Path:
    _check_release(release)
    return root_dir(root) / f"nam-{release}"


def _spec(release: str) -> dict:
    s = RELEASES[release]
    return {
        "spec_version": _SPEC_VERSION,
        "release": release,
        "source": s["source"],
        "torch": TORCH,
        "deps": list(s["deps"]),
        "python": "3.11",
    }


def is_built(release: str, root: Optional[Union[str, Path]] = None) -> bool:
    return venv_is_built(env_dir(release, root), _spec(release))


def _upstream(upstream: Optional[Union[str, Path]]) -> Path:
    path = upstream if upstream is not None else os.environ.get("NAM_UPSTREAM_REPO")
    if not path:
        raise OracleEnvError(
            "Releases 0.3.0, 0.4.0 and 0.5.0 are not on the package index: their "
            "sources come from a git clone of sdatkinson/neural-amp-modeler. Pass "
            "--upstream PATH (or upstream=...) or set NAM_UPSTREAM_REPO to such a "
            "clone (a bare clone / git dir is fine)."
        )
    p = Path(path).expanduser()
    if not p.exists():
        raise OracleEnvError(f"Upstream clone {p} (NAM_UPSTREAM_REPO/--upstream) does not exist")
    return p


_VERIFY = r"""
import json, sys
import nam, torch, numpy, pytorch_lightning
from nam.models.parametric import catnets, hyper_net, params
from nam.models import base
print(json.dumps({
    "nam": nam.__version__, "nam_file": nam.__file__, "torch": torch.__version__,
    "numpy": numpy.__version__, "pytorch_lightning": pytorch_lightning.__version__,
    "python": sys.version.split()[0],
}))
"""


def build(
    release: str,
    root: Optional[Union[str, Path]] = None,
    upstream: Optional[Union[str, Path]] = None,
    log=None,
    force: bool = False,
) -> Path:
    """Create (if needed) the venv for ``release``; return its python."""
    spec_src = _check_release(release)
    venv = env_dir(release, root)
    if not force and is_built(release, root):
        return venv_python(venv)
    source = spec_src["source"]
    up = _upstream(upstream) if source.startswith("git:") else None  # fail early, before any work

    def install(step: Installing) -> None:
        if up is None:
            step.pip_install("--no-deps", f"neural-amp-modeler=={release}")
            return
        step.nam_from_git(up, source[len("git:"):], "nam-src")

    def check(info: dict) -> Optional[str]:
        if info["nam"] != release:
            return f"venv for {release} imports nam {info['nam']} from {info['nam_file']}"
        return None

    return build_venv(venv, _spec(release), list(spec_src["deps"]), install, _VERIFY, check,
                      f"nam {release}", log=log, force=force)


def python_for(
    release: str,
    root: Optional[Union[str, Path]] = None,
    upstream: Optional[Union[str, Path]] = None,
    build_if_missing: bool = True,
) -> Path:
    """Path of the python of the oracle venv for ``release`` (built on demand)."""
    if is_built(release, root):
        return venv_python(env_dir(release, root))
    if not build_if_missing:
        raise OracleEnvError(
            f"Oracle venv for {release} is not built under {root_dir(root)}; run "
            f"`python tests/oracle/envs.py build {release}`"
        )
    return build(release, root=root, upstream=upstream)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("build", "path"):
        p = sub.add_parser(name)
        p.add_argument("releases", nargs="+", help="release(s) or 'all'")
        p.add_argument("--root", default=None)
        p.add_argument("--upstream", default=None)
        if name == "build":
            p.add_argument("--force", action="store_true")
    p = sub.add_parser("list")
    p.add_argument("--root", default=None)
    args = ap.parse_args(argv)
    if args.cmd == "list":
        for r in RELEASES:
            state = "built" if is_built(r, args.root) else "-"
            print(f"{r}\t{RELEASES[r]['source']}\t{state}\t{env_dir(r, args.root)}")
        return 0
    releases = list(RELEASES) if args.releases == ["all"] else args.releases
    rc = 0
    for r in releases:
        try:
            if args.cmd == "build":
                py = build(r, root=args.root, upstream=args.upstream, force=args.force)
            else:
                py = python_for(r, root=args.root, build_if_missing=False)
            print(py)
        except OracleEnvError as e:
            print(f"error: {r}: {e}", file=sys.stderr)
            rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
