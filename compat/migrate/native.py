"""The optional native LSTM cell kernel (lstm_cell.c): built once per machine, cached.

The kernel only speeds up loudness metadata (lstm_batch.py); every result it gives is
also computed without it, by torch ops. So anything going wrong here — no C compiler, a
failed build, a library that does not load, ``NAM_LEGACY_NATIVE=0`` — means "use torch",
never an error; `status()` says which it is and why.

The library is compiled for this machine's CPU (-march=native) into the user's cache
(``$NAM_LEGACY_CACHE`` or ``$XDG_CACHE_HOME/nam-legacy``, default ``~/.cache/nam-legacy``),
named by a hash of the source, the flags, the compiler's version and the CPU's flags, and
moved into place atomically, so concurrent first uses and CPU changes are safe.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable, List, Optional

from ..atomic import forget, scratch_file

__all__ = ["lstm_cell", "status", "cache_dir"]

SOURCE = Path(__file__).with_name("lstm_cell.c")
# -ffp-contract=off: no fused multiply-adds, so every operation rounds as in IEEE float32
# and lstm_batch.py's torch path reproduces the kernel bit for bit.
FLAGS = ("-O3", "-march=native", "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math", "-shared", "-fPIC")
_ENV = "NAM_LEGACY_NATIVE"

_kernel: Optional[Callable] = None
_status: Optional[str] = None


def cache_dir() -> Path:
    if os.environ.get("NAM_LEGACY_CACHE"):
        return Path(os.environ["NAM_LEGACY_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "nam-legacy"


def lstm_cell() -> Optional[Callable]:
    """The kernel as a ctypes function, or None (then use torch; `status()` says why)."""
    global _kernel, _status
    if _status is None:
        try:
            _kernel = _load()
            _status = "native kernel loaded"
        except _Unavailable as e:
            _kernel, _status = None, f"torch ops ({e})"
    return _kernel


def status() -> str:
    """How the LSTM cell runs here: the native kernel, or torch ops and why."""
    lstm_cell()
    return _status or ""


def _reset() -> None:  # tests: forget the loaded kernel
    global _kernel, _status
    _kernel = _status = None


class _Unavailable(Exception):
    pass


def _load() -> Callable:
    if os.environ.get(_ENV, "1").strip().lower() in ("0", "no", "off", "false"):
        raise _Unavailable(f"{_ENV}={os.environ[_ENV]}")
    if sys.platform == "win32":
        raise _Unavailable("not built on Windows")
    compiler = shlex.split(os.environ.get("CC", "")) or [
        c for c in (shutil.which("cc") or shutil.which("gcc") or shutil.which("clang"),) if c
    ]
    if not compiler:
        raise _Unavailable("no C compiler found")
    source = SOURCE.read_bytes()
    try:
        version = subprocess.run([*compiler, "--version"], capture_output=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as e:
        raise _Unavailable(f"cannot run {compiler[0]}: {e}") from None
    key = hashlib.sha256()
    for part in (source, " ".join(FLAGS).encode(), version, platform.machine().encode(), _cpu_flags().encode()):
        key.update(part)
        key.update(b"\0")
    target = cache_dir() / "native" / f"lstm_cell-{key.hexdigest()[:20]}.so"
    if not target.exists():
        _build(compiler, target)
    try:
        lib = ctypes.CDLL(str(target))
        fn = lib.nam_legacy_lstm_step
    except (OSError, AttributeError) as e:
        raise _Unavailable(f"cannot load {target}: {e}") from None
    # layers, hidden, rows; bias, bias0, w_in, x, gates, c2, h, head_w; head_b; y
    fn.argtypes = [ctypes.c_int64] * 3 + [ctypes.c_void_p] * 8 + [ctypes.c_float, ctypes.c_void_p]
    fn.restype = None
    return fn


def _build(compiler: List[str], target: Path) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = scratch_file(target.parent, ".build-", ".so")
        os.close(fd)
    except OSError as e:
        raise _Unavailable(f"cannot write to {target.parent}: {e}") from None
    try:
        done = subprocess.run([*compiler, *FLAGS, "-o", str(tmp), str(SOURCE)], capture_output=True, timeout=120)
        if done.returncode != 0:
            first = (done.stderr.decode(errors="replace").strip().splitlines() or ["no message"])[0]
            raise _Unavailable(f"{compiler[0]} failed: {first}")
        os.replace(tmp, target)
    except (OSError, subprocess.SubprocessError) as e:
        raise _Unavailable(f"build failed: {e}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
        forget(tmp)


def _cpu_flags() -> str:
    # -march=native output depends on the CPU: a cache shared between machines must not mix.
    try:
        with open("/proc/cpuinfo") as fp:
            for line in fp:
                if line.startswith(("flags", "Features")):
                    return line.strip()
    except OSError:
        pass
    return platform.processor()
