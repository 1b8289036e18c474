"""All-or-nothing file output: nothing partial is ever visible at the destination.

Files are written beside their destination under a temporary name, flushed, then renamed
into place (rename is atomic within a folder); temporaries get the permissions a plain
`open` would have given.

Every temporary is made through `scratch_file` / `scratch_folder`, which record it until
it is renamed into place or removed (`forget`). A Ctrl-C can land between any two Python
instructions, including the ones between creating a temporary and the `try` that would
remove it, so the cleanup that always runs is `discard_scratch()`: the CLI calls it on
an interrupt, and it runs at interpreter exit. The creation itself holds SIGINT back
(main thread only; signal handlers live there) so a temporary never exists unrecorded, and
so does replacing an old folder (`compat.outputs.put_in_place`): never left half-swapped.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, Tuple

__all__ = ["atomic_write_bytes", "discard_scratch", "forget", "publish", "record_scratch", "scratch_file", "scratch_folder", "sigint_held"]

# path -> is a folder. Single dict operations are atomic (GIL): no lock, which an interrupt
# could leave held.
_scratch: Dict[str, bool] = {}


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def sigint_held() -> Iterator[None]:
    """SIGINT arriving inside the block is delivered right after it (as it would have been):
    for short steps that must not stop half-way (create and record; swap two folders)."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) is None:
        yield  # handlers can only be swapped in the main thread, and only back to a Python-known one
        return
    pending = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pending.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if pending:
            signal.raise_signal(signal.SIGINT)


def scratch_file(folder: Path, prefix: str, suffix: str = ".part") -> Tuple[int, Path]:
    """mkstemp in `folder`, recorded until `forget`; returns (descriptor, path)."""
    with sigint_held():
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=folder)
        _scratch[tmp] = False
    return fd, Path(tmp)


def scratch_folder(folder: Path, prefix: str) -> Path:
    """mkdtemp in `folder`, recorded until `forget`."""
    with sigint_held():
        tmp = tempfile.mkdtemp(prefix=prefix, dir=folder)
        _scratch[tmp] = True
    return Path(tmp)


def record_scratch(folder: Path) -> Path:
    """Record an existing folder as ours to remove (`discard_scratch`) until `forget`."""
    _scratch[str(folder)] = True
    return folder


def forget(path: Path) -> None:
    """`path` was renamed into place or removed: no longer ours to clean up."""
    _scratch.pop(str(path), None)


def discard_scratch() -> None:
    """Remove every temporary still recorded (after an interrupt, at exit)."""
    while _scratch:
        try:
            path, is_folder = _scratch.popitem()
        except KeyError:  # emptied by another thread meanwhile
            break
        if is_folder:
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.unlink(path)
            except OSError:
                pass


atexit.register(discard_scratch)


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = scratch_file(path.parent, f".{path.name}.")
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        forget(tmp)  # only once gone: an interrupt before this leaves it to discard_scratch
        raise
    forget(tmp)


def publish(produced: Path, output: Path) -> None:
    """Move a finished file or folder (made in a temporary folder beside `output`) into place."""
    if produced.is_dir():
        os.chmod(produced, 0o777 & ~_umask())
        if output.is_dir():
            output.rmdir()  # an empty folder the caller allowed; rename needs it gone
    os.replace(produced, output)
