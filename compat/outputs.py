"""Where a command may write: one policy for every `nam-legacy` verb and for `compat.export`.

* An output's parent folder must already exist: nothing is created above the output.
* An existing file or folder is replaced only when the caller says so (`overwrite=True`,
  the CLI's `--overwrite`); an empty folder holds nothing to lose and may be used as is.
* One of the command's own inputs (the legacy file, the files of an input export folder,
  the configs, the audio) is never written over, even with `overwrite`: not at the same
  path, not through a symbolic or hard link, and a folder holding one is never replaced.
* A file output never replaces a folder, nor a folder output a file.

`check_output` raises `OutputError` (a `compat.FileAccessError`, so the CLI prints one
line and exits 2) and does nothing else; `put_in_place` moves a finished file or folder
into place, over an old one once the check allowed it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable, List, Optional, Union

from .atomic import publish
from .errors import FileAccessError

__all__ = ["OutputError", "check_output", "input_paths", "put_in_place"]

PathLike = Union[str, Path]


class OutputError(FileAccessError):
    """The output path cannot be used: missing parent folder, an existing file or folder
    without overwrite, or one of the command's own inputs."""


def input_paths(*paths: Optional[PathLike]) -> List[Path]:
    """The paths a command reads: each given path and, for a folder (an export folder), the
    files directly in it. None entries (an option not given) are skipped."""
    out: List[Path] = []
    for p in paths:
        if p is None:
            continue
        p = Path(p)
        out.append(p)
        if p.is_dir():
            try:
                out.extend(child for child in sorted(p.iterdir()) if child.is_file())
            except OSError:
                pass  # unreadable: loading it will say so
    return out


def check_output(
    output: PathLike,
    *,
    inputs: Iterable[PathLike] = (),
    overwrite: bool = False,
    folder: bool = False,
    existing_folder_ok: bool = False,
    flag: str = "--output",
) -> Path:
    """Check that `output` may be written; returns it as a Path.

    :param inputs: what the command reads (see input_paths); never written over.
    :param folder: the output is a folder (else a file).
    :param existing_folder_ok: a non-empty existing folder is the caller's to judge (a pack
        folder is resumed by compat.migrate.pack); still never one holding an input.
    :param flag: how the output is named in messages.
    """
    output = Path(output)
    where = f"{flag} {output}"
    parent = output.parent
    if not parent.exists():
        raise OutputError(f"{where}: the folder {parent} does not exist (create it first)")
    if not parent.is_dir():
        raise OutputError(f"{where}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{where}: cannot write into {parent} (permission denied)")
    _check_inputs(output, [Path(p) for p in inputs], where)

    present = output.exists() or output.is_symlink()
    if not present:
        return output
    if folder:
        if not output.is_dir():
            raise OutputError(f"{where} exists and is not a folder; choose a folder path")
        if existing_folder_ok:
            return output
        if output.is_symlink():
            raise OutputError(f"{where} is a symbolic link; give the folder it points to, or a new path")
        if overwrite or not any(output.iterdir()):
            return output
        raise OutputError(f"{where} already exists and is not empty; pass --overwrite to replace it")
    if output.is_dir():
        raise OutputError(f"{where} is a folder; give a file name")
    if not overwrite:
        raise OutputError(f"{where} already exists; pass --overwrite to replace it")
    return output


def _check_inputs(output: Path, inputs: List[Path], where: str) -> None:
    target = output.resolve()
    for source in inputs:
        resolved = source.resolve()
        if resolved == target or _same_file(output, source):
            raise OutputError(f"{where} is one of this command's inputs ({source}); choose another path")
        if target in resolved.parents:
            raise OutputError(f"{where} holds this command's input {source}; choose another folder")


def _same_file(a: Path, b: Path) -> bool:
    """True when both exist and are the same file (hard link, symbolic link, bind mount)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def put_in_place(produced: Path, output: Path) -> None:
    """Move the finished file or folder `produced` (made beside `output`) to `output`,
    replacing what is there (which check_output allowed). An old non-empty folder is moved
    aside first and removed only once the new one is in place; on failure it is put back."""
    if not (output.is_dir() and not output.is_symlink() and any(output.iterdir())):
        publish(produced, output)
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{output.name}.old.", dir=output.parent))
    old = aside / output.name
    os.replace(output, old)
    try:
        publish(produced, output)
    except BaseException:
        os.replace(old, output)
        shutil.rmtree(aside, ignore_errors=True)
        raise
    shutil.rmtree(aside, ignore_errors=True)
