"""Where a command may write: one policy for every `nam-legacy` verb and for `compat.export`.

* An output's name says what it holds (`OUTPUT_KINDS`): `.nam` for a model, `.h`/`.hpp`
  for a C++ header, `.png` for a plot, `.wav`/`.npy` for audio; a folder output (an
  export folder, a pack, the demo) is not named like one of those files.
* An output's parent folder must already exist: nothing is created above the output.
* An existing file is replaced only when the caller says so (`overwrite=True`, the CLI's
  `--overwrite`). An existing folder holds what is in it: an empty one may be used as is,
  and `overwrite` replaces a non-empty one only when it holds nothing but what this command
  itself writes (the caller's `replaceable` test: an earlier export, an earlier demo).
  Anything else in it, and the folder is left alone, whatever the flags.
* Never replaced: the current folder, a folder holding it, the home folder and `/`.
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
from typing import Callable, Iterable, List, Optional, Tuple, Union

from .atomic import forget, publish, record_scratch, sigint_held
from .errors import FileAccessError

__all__ = ["OUTPUT_KINDS", "OutputError", "check_output", "check_suffix", "input_paths", "put_in_place"]

PathLike = Union[str, Path]

# What each kind of file output holds and the names it may have: the one rule for every verb.
OUTPUT_KINDS = {
    "nam": ("a .nam model", (".nam",)),
    "header": ("a C++ header", (".h", ".hpp")),
    "plot": ("a plot (PNG)", (".png",)),
    "audio": ("audio", (".wav", ".npy")),
}
_FILE_SUFFIXES = {s for _, suffixes in OUTPUT_KINDS.values() for s in suffixes}

# Tells whether an existing, non-empty folder holds only what this command writes: None
# when it does (overwrite may replace it), else why not, as a clause after the folder's
# name ("holds 'thesis.txt', which ...").
Replaceable = Callable[[Path], Optional[str]]


class OutputError(FileAccessError):
    """The output path cannot be used: a name that does not fit what is written, a missing
    parent folder, an existing file or folder without overwrite, a folder that holds
    something else, or one of the command's own inputs."""


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


def _spelled(suffixes: Tuple[str, ...]) -> str:
    return " or ".join(suffixes)


def check_suffix(output: PathLike, kind: Optional[str], *, folder: bool = False, flag: str = "--output") -> None:
    """`output`'s name fits what is written there (OUTPUT_KINDS), or OutputError naming `flag`.

    :param kind: a key of OUTPUT_KINDS for a file output; None for no rule.
    :param folder: the output is a folder: it must not be named like one of those files.
    """
    output = Path(output)
    suffix = output.suffix.lower()
    if folder:
        if suffix in _FILE_SUFFIXES:
            raise OutputError(f"{flag} {output}: a folder is written there, not a {suffix} file; "
                              f"give a folder name without {output.suffix}")
        return
    if kind is None:
        return
    what, suffixes = OUTPUT_KINDS[kind]
    if suffix not in suffixes:
        raise OutputError(f"{flag} {output}: {what} is written to {_spelled(suffixes)}")


def check_output(
    output: PathLike,
    *,
    kind: Optional[str] = None,
    inputs: Iterable[PathLike] = (),
    overwrite: bool = False,
    folder: bool = False,
    replaceable: Optional[Replaceable] = None,
    existing_folder_ok: bool = False,
    flag: str = "--output",
) -> Path:
    """Check that `output` may be written; returns it as a Path.

    :param kind: what a file output holds (a key of OUTPUT_KINDS): its name must fit.
    :param inputs: what the command reads (see input_paths); never written over.
    :param folder: the output is a folder (else a file).
    :param replaceable: for a folder: None when an existing folder holds only this
        command's own output, else why not (see `Replaceable`). Without it, `overwrite`
        never replaces a non-empty folder.
    :param existing_folder_ok: a non-empty existing folder is the caller's to judge (a pack
        folder is resumed by compat.migrate.pack); still never one holding an input, and
        `overwrite` never for the current folder, its parents, home or `/`.
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
    _check_inputs(output, [Path(p) for p in inputs], where)  # first: the gravest mistake
    check_suffix(output, kind, folder=folder, flag=flag)

    present = output.exists() or output.is_symlink()
    if not present:
        return output
    if folder:
        _check_folder(output, where, overwrite, replaceable, existing_folder_ok)
        return output
    if output.is_dir():
        raise OutputError(f"{where} is a folder; give a file name")
    if not overwrite:
        raise OutputError(f"{where} already exists; pass --overwrite to replace it")
    return output


def _check_folder(output: Path, where: str, overwrite: bool, replaceable: Optional[Replaceable],
                  existing_folder_ok: bool) -> None:
    if not output.is_dir():
        raise OutputError(f"{where} exists and is not a folder; choose a folder path")
    special = _special_folder(output)
    if existing_folder_ok:
        if special and overwrite and _has_entries(output):
            raise OutputError(f"{where} is {special}, which --overwrite never replaces; "
                              "run without --overwrite, or choose another folder")
        return
    if output.is_symlink():
        raise OutputError(f"{where} is a symbolic link; give the folder it points to, or a new path")
    if special:
        raise OutputError(f"{where} is {special}, which is never replaced; give a new folder's path")
    if not _has_entries(output):
        return  # empty: nothing to lose
    why = replaceable(output) if replaceable is not None else "is not empty and was not written by this command"
    if why is not None:
        raise OutputError(f"{where} {why}; --overwrite never replaces such a folder: choose a new or empty one")
    if not overwrite:
        raise OutputError(f"{where} already exists and is not empty; pass --overwrite to replace it")


def _has_entries(folder: Path) -> bool:
    with os.scandir(folder) as entries:
        return next(entries, None) is not None


def _special_folder(folder: Path) -> Optional[str]:
    """What `folder` is when it is one a command never replaces (the current folder, a
    folder holding it, home, `/`), else None."""
    target = folder.resolve()
    try:
        cwd = Path.cwd().resolve()
    except OSError:  # the current folder was deleted under us
        cwd = None
    if cwd is not None and target == cwd:
        return "the current folder"
    if target == Path(target.anchor):
        return "the root folder"
    if cwd is not None and target in cwd.parents:
        return "a folder holding the current folder"
    try:
        home = Path.home().resolve()
    except (RuntimeError, KeyError, OSError):  # no home folder known
        home = None
    if home is not None and target == home:
        return "your home folder"
    return None


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
    with sigint_held():  # a Ctrl-C here would leave the old folder aside and none in place
        aside = Path(tempfile.mkdtemp(prefix=f".{output.name}.old.", dir=output.parent))
        old = aside / output.name
        os.replace(output, old)
        try:
            publish(produced, output)
        except BaseException:
            os.replace(old, output)
            shutil.rmtree(aside, ignore_errors=True)
            raise
        aside = record_scratch(aside)  # replaced: now ours to remove, even if interrupted below
    shutil.rmtree(aside, ignore_errors=True)
    forget(aside)
