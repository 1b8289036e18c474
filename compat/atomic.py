"""All-or-nothing file output: nothing partial is ever visible at the destination.

Files are written beside their destination under a temporary name, flushed, then renamed
into place (rename is atomic within a folder); temporaries get the permissions a plain
`open` would have given.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def publish(produced: Path, output: Path) -> None:
    """Move a finished file or folder (made in a temporary folder beside `output`) into place."""
    if produced.is_dir():
        os.chmod(produced, 0o777 & ~_umask())
        if output.is_dir():
            output.rmdir()  # an empty folder the caller allowed; rename needs it gone
    os.replace(produced, output)
