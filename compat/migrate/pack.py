"""Packs: one current-NAM `.nam` per point of a knob grid, with a manifest and a plot.

A legacy parametric model folded at each point of a grid (compat.migrate.fold) gives a
folder a player can page through:

    <dir>/drive-1-0.25_tone-2-1.nam    one file per grid point: each grid knob (in --grid order)
                                       with its grid index and value (file_names: byte order = grid order)
    <dir>/manifest.json                    source, provenance, grid, identity, per file: knobs, loudness, gain, sha256
    <dir>/loudness.png                     loudness and gain against the first grid knob (matplotlib, optional)

Every file is written under a temporary name and renamed into place, so a killed run never
leaves a partial file at a final name. A journal (`.pack-state.json`, written first and
rewritten atomically after each file) records what was written; a re-run skips files whose
content is known to be what it would write again (same key, same sha256 on disk), removes
temporaries a killed run left, and finishes the pack. The journal is removed once the
manifest is in place; a later re-run takes the same facts from the manifest.

A folder is resumed only when it holds a pack of the same model (a content hash of the
model itself) and the same settings (source file, knob specs, grid, file version, initial
state, a pinned date). Otherwise it is refused (PackFolderError), or with `overwrite`
replaced whole: the new pack is built beside it and swapped in atomically. A folder that
is not a pack of ours is never written into nor deleted. docs/migration.md has the rules.

Metadata (date, loudness, gain) comes from compat.migrate.metadata, called on chunks of
folded models; without upstream's recording the files carry the date only and one
LoudnessSkippedWarning says how to add it.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import itertools
import json
import math
import os
import re
import sys
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ..atomic import atomic_write_bytes, sigint_held
from ..errors import ConfigError, FileAccessError, UnsupportedReleaseError
from ..finite import check_finite_weights
from ..knobs import KnobSpec, OutOfRangeWarning, knob_text
from ..text import clip, quote
from .current_nam import MODEL_VERSION, dumps, nam_document, provenance
from .fold import Folded, fold
from .metadata import LoudnessSkippedWarning

__all__ = [
    "MAX_POINTS",
    "NAM_VERSIONS",
    "Grid",
    "PackFolderError",
    "check_grid",
    "check_version",
    "format_value",
    "grid_points",
    "migrated_document",
    "model_sha256",
    "pack",
    "parse_grid",
    "point_filename",
    "file_names",
    "value_labels",
    "source_sha256",
]

MANIFEST = "manifest.json"
PLOT = "loudness.png"
JOURNAL = ".pack-state.json"
PACK_FORMAT = "nam-legacy pack"
MAX_POINTS = 10_000
BATCH = 16  # folded models per current_metadata call

# File versions we write, and the architectures each can hold. LSTM and ConvNet configs and
# weight layouts are unchanged since "0.5.x"; WaveNet's layer-array format changed in
# "0.6.0" (head / gating_mode / FiLM keys), so a folded WaveNet is only written as "0.7.0".
NAM_VERSIONS: Dict[str, Tuple[str, ...]] = {
    "0.7.0": ("LSTM", "WaveNet", "ConvNet"),
    "0.5.4": ("LSTM", "ConvNet"),
}

Grid = List[Tuple[str, List[float]]]  # (knob name, values) in the order given


# --------------------------------------------------------------------------------------
# grid
# --------------------------------------------------------------------------------------

_NAME = re.compile(r"^[A-Za-z0-9_.+-]+$")


def _number(text: str, what: str) -> float:
    t = text.strip().lower()
    if t in ("true", "false"):
        return 1.0 if t == "true" else 0.0
    try:
        v = float(t)
    except ValueError:
        raise ConfigError(f"--grid {what}: {text.strip()!r} is not a number") from None
    if not math.isfinite(v):
        raise ConfigError(f"--grid {what}: {text.strip()!r} is not a finite number")
    return v


def _tidy(v: float) -> float:
    """Grid values rounded to 12 significant digits (0.30000000000000004 → 0.3); -0 → 0."""
    v = float(f"{v:.12g}")
    return 0.0 if v == 0 else v


def parse_grid(specs: Sequence[str]) -> Grid:
    """`["drive=0:1:5", "tone=0,0.5,1"]` → [("drive", [0, .25, .5, .75, 1]), ("tone", [0, .5, 1])].

    `name=start:stop:count` is `count` evenly spaced values, both ends included;
    `name=v1,v2,...` lists them (true/false allowed for boolean knobs).
    """
    if not specs:
        raise ConfigError("give at least one --grid NAME=START:STOP:COUNT or NAME=V1,V2,...")
    grid: Grid = []
    seen = set()
    for spec in specs:
        name, sep, body = spec.partition("=")
        name = name.strip()
        if not sep or not name or not body.strip():
            raise ConfigError(f"--grid takes NAME=START:STOP:COUNT or NAME=V1,V2,..., got {spec!r}")
        if not _NAME.match(name):
            raise ConfigError(f"--grid {name!r}: knob names here may use letters, digits and _ . + - only")
        if name in seen:
            raise ConfigError(f"--grid {name} is given twice")
        seen.add(name)
        if ":" in body:
            parts = body.split(":")
            if len(parts) != 3:
                raise ConfigError(f"--grid {name}: a range is START:STOP:COUNT, got {body!r}")
            start, stop = _number(parts[0], name), _number(parts[1], name)
            try:
                count = int(parts[2].strip())
            except ValueError:
                raise ConfigError(f"--grid {name}: COUNT must be a whole number, got {parts[2].strip()!r}") from None
            if count < 1:
                raise ConfigError(f"--grid {name}: COUNT must be at least 1, got {count}")
            if count == 1 and start != stop:
                raise ConfigError(f"--grid {name}: a single value needs START == STOP (or list it: {name}={parts[0].strip()})")
            values = [_tidy(v) for v in np.linspace(start, stop, count)]
        else:
            values = [_tidy(_number(v, name)) for v in body.split(",")]
        if len(set(values)) != len(values):
            raise ConfigError(f"--grid {name}: values repeat after rounding to 12 digits")
        grid.append((name, values))
    total = math.prod(len(v) for _, v in grid)
    if total > MAX_POINTS:
        raise ConfigError(f"the grid has {total} points; at most {MAX_POINTS} per pack")
    return grid


def grid_points(grid: Grid) -> List[Dict[str, float]]:
    """Every point of the grid, the last knob varying fastest."""
    names = [n for n, _ in grid]
    return [dict(zip(names, combo)) for combo in itertools.product(*(v for _, v in grid))]


def format_value(v: float) -> str:
    """Shortest round-trip decimal, no exponent for ordinary values: 0.25, 1, -0.5, 1e-07
    (compat.knobs.knob_text)."""
    return knob_text(v)


# How files are named; recorded in the identity, so a folder written with another naming
# is told apart (an earlier nam-legacy wrote 1: `drive-0.25_tone-1.nam`, which does not
# sort in grid order: `drive-0.25` < `drive-0_`, `tone-0.5` < `tone-0`).
NAMING = 2
_SHOWN_DIGITS = 3  # significant digits of a value in a file name, more only where needed


def value_labels(values: Sequence[float]) -> List[str]:
    """Short texts for one knob's grid values: 3 significant digits (0.0526, 0.111, -0.5,
    1000), more only where two values would read the same. The exact values are in the
    manifest."""
    for digits in range(_SHOWN_DIGITS, 18):
        texts = [knob_text(v, digits) for v in values]
        if len(set(texts)) == len(texts):
            return texts
    return [format_value(v) for v in values]


def file_names(grid: Grid) -> List[str]:
    """The file of every point, in grid_points' order: for each grid knob in the order
    given, `name-INDEX-VALUE` with the value's zero-based grid index padded to one width
    per knob and the value rounded for reading (value_labels), e.g.
    `drive-02-0.5_tone-1-0.5.nam`.

    The indices make plain byte order (`ls`, sorted(), file browsers, `ls -v`) the grid
    order, negative values included: all files share the knob names, each index has a
    fixed width, and one index always comes with the same value text. So the files sort
    as grid_points lists them, and a player's previous/next buttons turn the last grid
    knob one step at a time.
    """
    parts = []
    for name, values in grid:
        width = len(str(len(values) - 1))
        parts.append((name, {float(v): f"{name}-{i:0{width}d}-{t}" for i, (v, t) in enumerate(zip(values, value_labels(values)))}))
    return ["_".join(labels[float(point[name])] for name, labels in parts) + ".nam" for point in grid_points(grid)]


def point_filename(point: Mapping[str, float], grid: Grid) -> str:
    """The file name of one grid point (`point` holds at least the grid knobs); see file_names."""
    names = dict(zip((tuple(p[n] for n, _ in grid) for p in grid_points(grid)), file_names(grid)))
    return names[tuple(float(point[n]) for n, _ in grid)]


def _naming_1(point: Mapping[str, float]) -> str:
    """An earlier nam-legacy's names (NAMING 1), to recognise and replace such packs:
    `bright-0_drive-0.25_tone-1.nam`."""
    return "_".join(f"{name}-{format_value(point[name])}" for name in sorted(point)) + ".nam"


# --------------------------------------------------------------------------------------
# one file
# --------------------------------------------------------------------------------------


def check_version(architecture: str, version: str) -> None:
    allowed = NAM_VERSIONS.get(version)
    if allowed is None:
        raise UnsupportedReleaseError(f"--nam-version {version} is not written; choose one of {', '.join(NAM_VERSIONS)}")
    if architecture not in allowed:
        raise UnsupportedReleaseError(f"a migrated {architecture} cannot be written as .nam {version} "
                                      f"(its config format changed in 0.6.0); use --nam-version {MODEL_VERSION}")


def source_sha256(path: Union[str, Path]) -> str:
    """sha256 of the source file; of a folder: over its files' names and sha256s, sorted."""
    path = Path(path)
    if path.is_dir():
        h = hashlib.sha256()
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(f"{f.relative_to(path).as_posix()}\0{_file_sha256(f)}\n".encode())
        return h.hexdigest()
    return _file_sha256(path)


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _source_block(legacy, source: Optional[Union[str, Path]], sha: Optional[str]) -> Dict[str, Any]:
    block: Dict[str, Any] = {"source_architecture": legacy.architecture}
    if source is not None:
        block["source_file"] = Path(source).name
        block["source_sha256"] = sha if sha is not None else source_sha256(source)
    return block


def migrated_document(
    folded: Folded,
    legacy,
    metadata: Mapping[str, Any],
    *,
    version: str = MODEL_VERSION,
    source: Optional[Union[str, Path]] = None,
    sha256: Optional[str] = None,
) -> Dict[str, Any]:
    """The `.nam` document `migrate` and `pack` write for one folded knob setting:
    `metadata` (from current_metadata) plus our provenance (source file and sha256,
    detected releases, architecture, knob settings) at metadata["nam_legacy"]."""
    check_version(folded.architecture, version)
    extra = {k: v for k, v in _source_block(legacy, source, sha256).items() if k != "source_architecture"}
    block = provenance(folded, legacy, **extra)
    return nam_document(folded, version=version, metadata=metadata, provenance=block)


def current_metadata(folded: Sequence[Folded], *, date: Optional[datetime] = None) -> List[Dict[str, Any]]:
    """The metadata current NAM writes (date, loudness, gain) for each folded model; without
    upstream's recording, the date alone and one LoudnessSkippedWarning (metadata.py)."""
    from .metadata import metadata_or_date

    out = list(metadata_or_date(list(folded), date=date))
    if len(out) != len(folded):
        raise RuntimeError(f"current_metadata returned {len(out)} entries for {len(folded)} models")
    return out


# --------------------------------------------------------------------------------------
# the pack
# --------------------------------------------------------------------------------------


class PackFolderError(FileAccessError):
    """The pack's output folder cannot be used as asked: not empty and not a pack, a pack
    of another model or settings (without overwrite), or a pack holding other files."""


@dataclass
class _Entry:
    file: str
    knobs: Dict[str, float]  # every knob of the model (grid knobs and defaults)
    key: str
    sha256: Optional[str] = None
    loudness: Any = None
    gain: Any = None

    def to_json(self) -> Dict[str, Any]:
        return {"file": self.file, "knobs": self.knobs, "loudness": self.loudness, "gain": self.gain,
                "sha256": self.sha256, "key": self.key}


def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _write_json(path: Path, value) -> None:
    atomic_write_bytes(path, (json.dumps(value, indent=2) + "\n").encode("utf-8"))


def model_sha256(legacy) -> str:
    """A content hash of the model itself (architecture, config, release, every tensor of
    its state), whatever file it was read from."""
    h = hashlib.sha256()
    head = {"architecture": legacy.architecture, "net_config": getattr(legacy, "net_config", None),
            "release": getattr(getattr(legacy, "release", None), "name", None),
            "initial_state": getattr(legacy, "initial_state", None), "sample_rate": getattr(legacy, "sample_rate", None)}
    h.update(_canonical(head).encode())
    for name, tensor in sorted(legacy.model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(f"\n{name}\0{t.dtype}\0{tuple(t.shape)}\0".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def check_grid(specs: Sequence[KnobSpec], grid: Grid, *, allow_out_of_range: bool = False) -> None:
    """Every grid value against its knob's spec (compat.knobs), before any work: KnobError
    for non-finite values, booleans other than 0/1, and continuous values outside the
    range unless `allow_out_of_range` (then one OutOfRangeWarning per knob)."""
    by_name = {s.name: s for s in specs}
    report = []
    for name, values in grid:
        spec = by_name.get(name)
        if spec is None:  # pack() names the model's knobs
            continue
        outside = []
        for v in values:
            with warnings.catch_warnings():
                warnings.simplefilter("error", OutOfRangeWarning)
                try:
                    spec.check(v, allow_out_of_range=allow_out_of_range)
                except OutOfRangeWarning:
                    outside.append(format_value(v))
        if outside:
            report.append(f"knob {name}: grid value{'s' if len(outside) > 1 else ''} {', '.join(outside)} "
                          f"outside its range {spec.allowed}: extrapolating")
    for text in report:  # only once every value has passed
        warnings.warn(text, OutOfRangeWarning, stacklevel=3)


def _read_state(folder: Path) -> Optional[Dict[str, Any]]:
    """The journal of an unfinished run in `folder`, else its manifest; None when neither
    is a pack of ours."""
    for name in (JOURNAL, MANIFEST):
        try:
            data = json.loads((folder / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("format") == PACK_FORMAT and isinstance(data.get("files"), list):
            return data
    return None


def _state_files(state: Optional[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    if not state:
        return {}
    return {e["file"]: e for e in state["files"] if isinstance(e, dict) and isinstance(e.get("file"), str) and "key" in e}


def _our_names(state: Dict[str, Any]) -> set:
    """The names a pack with this manifest/journal may hold: its files, every file of its
    grid (a killed run's last file may be missing from the journal), manifest, plot."""
    names = {MANIFEST, JOURNAL, PLOT, *_state_files(state)}
    try:
        grid = [(g["name"], [float(v) for v in g["values"]]) for g in state.get("grid", [])]
        if math.prod(len(v) for _, v in grid) <= MAX_POINTS:
            naming = (state.get("identity") or {}).get("naming", 1)
            if naming == NAMING:
                names.update(file_names(grid))
            elif naming == 1:
                names.update(_naming_1(p) for p in grid_points(grid))
    except (AttributeError, KeyError, TypeError, ValueError):
        pass
    return names


def _is_our_temporary(name: str, ours: set) -> bool:
    """atomic_write_bytes' temporaries: .<name>.<random>.part for one of our names."""
    return name.startswith(".") and name.endswith(".part") and any(name.startswith(f".{n}.") for n in ours)


def _foreign(folder: Path, state: Dict[str, Any]) -> List[str]:
    ours = _our_names(state)
    return sorted(p.name for p in folder.iterdir()
                  if not (p.is_file() and not p.is_symlink() and (p.name in ours or _is_our_temporary(p.name, ours))))


def _remove_temporaries(folder: Path, state: Optional[Dict[str, Any]]) -> None:
    """Temporaries a killed run left behind (of our own names only)."""
    ours = _our_names(state) if state else {MANIFEST, JOURNAL, PLOT}
    for p in folder.glob(".*.part"):
        if p.is_file() and _is_our_temporary(p.name, ours):
            p.unlink(missing_ok=True)


def _remove_pack(folder: Path) -> bool:
    """Delete a pack folder of ours: only the files it may hold, then the folder itself
    (which fails, and keeps the folder, if anything else appeared in it)."""
    state = _read_state(folder)
    if state is None:
        return False
    ours = _our_names(state)
    for p in folder.iterdir():
        if p.is_file() and not p.is_symlink() and (p.name in ours or _is_our_temporary(p.name, ours)):
            p.unlink(missing_ok=True)
    try:
        folder.rmdir()
        return True
    except OSError:
        return False


def _mismatch(state: Dict[str, Any], identity: Dict[str, Any], date: Optional[datetime]) -> Optional[str]:
    """Why the pack in a folder is not the one asked for (None: it is, resume it)."""
    old = state.get("identity")
    if not isinstance(old, dict):
        return "unknown settings (made by an earlier nam-legacy)"
    if old.get("model_sha256") != identity["model_sha256"]:
        return f"another model (model sha256 {str(old.get('model_sha256'))[:12]}..., this one {identity['model_sha256'][:12]}...)"
    if old.get("source") != identity["source"]:
        return "the same model read from another file"
    if old.get("grid") != identity["grid"]:
        return f"another grid ({_grid_text(old.get('grid'))}; asked for {_grid_text(identity['grid'])})"
    if old.get("knobs") != identity["knobs"]:
        return "other knob defaults or ranges (param config)"
    for key, flag in (("version", "--nam-version"), ("initial_state", "--initial-state")):
        if old.get(key) != identity[key]:
            return f"{flag} {old.get(key)} (asked for {identity[key]})"
    if old.get("naming", 1) != identity["naming"]:
        return "an earlier nam-legacy, whose file names (drive-0.25_tone-1.nam) do not sort in grid order"
    if old != identity:
        return "other settings"
    if date is not None and state.get("date") != date.isoformat():
        return f"date {state.get('date')} (asked for --date {date.isoformat()})"
    return None


def _grid_text(grid) -> str:
    """A grid for a message, bounded: long value lists show their ends and their count."""
    try:
        return " ".join(f"{clip(str(n), 40)}={_values_text(values)}" for n, values in grid[:4]) + (" …" if len(grid) > 4 else "")
    except (TypeError, ValueError):
        return "?"


def _values_text(values) -> str:
    shown = [format_value(v) for v in values]
    if len(shown) <= 5:
        return ",".join(shown)
    return f"{shown[0]},{shown[1]},…,{shown[-1]} ({len(shown)} values)"


def _shown(path) -> str:
    """A path in a message: clipped (keeping its start and end) so the advice after it survives."""
    return clip(str(path), 80)


def _claim(out: Path, identity: Dict[str, Any], date: Optional[datetime], overwrite: bool):
    """Where to build the pack: (folder, earlier state to resume or None, replace out?)."""
    where = f"--output {_shown(out)}"
    if not out.parent.is_dir():
        raise PackFolderError(f"{where}: the folder {_shown(out.parent)} does not exist (create it first)")
    staging = out.parent / f".{out.name}.pack-new"
    stale = out.parent / f".{out.name}.pack-old"
    if stale.is_dir():
        _remove_pack(stale)  # a replaced pack a killed run did not finish deleting
    if out.exists() and not out.is_dir():
        raise PackFolderError(f"{where} exists and is not a folder")
    if not out.exists():
        out.mkdir()
        return out, None, False
    state = _read_state(out)
    if state is None and all(_is_our_temporary(p.name, {JOURNAL}) for p in out.iterdir()):
        return out, None, False  # empty, or a run killed while writing its first journal
    if state is None:
        raise PackFolderError(f"{where} is not empty and holds no nam-legacy pack (no {MANIFEST}); "
                              "choose a new or empty folder (--overwrite only replaces a pack)")
    why = _mismatch(state, identity, date)
    if why is None:
        return out, state, False
    if not overwrite:
        raise PackFolderError(f"{where} holds a pack of {why}; pass --overwrite to replace it whole, or choose another folder")
    foreign = _foreign(out, state)
    if foreign:
        raise PackFolderError(f"{where} holds a pack and also {quote(foreign[0], 60)}, which is not part of it; "
                              "not replacing it (move that away, or choose another folder)")
    if staging.exists():
        earlier = _read_state(staging) if staging.is_dir() else None
        if earlier is not None and _mismatch(earlier, identity, date) is None:
            return staging, earlier, True  # an interrupted replacement: finish it
        if earlier is None and staging.is_dir() and not any(staging.iterdir()):
            return staging, None, True
        if earlier is None or not _remove_pack(staging):
            raise PackFolderError(f"{_shown(staging)} is in the way (it is where the new pack is built); remove it")
    staging.mkdir()
    return staging, None, True


def _swap(new: Path, out: Path) -> None:
    """Put the finished pack `new` at `out` and delete the old pack: the folder at `out`
    is always one whole pack, old or new (an atomic exchange where the system has one)."""
    if _exchange(new, out):
        old = new
    else:
        old = out.parent / f".{out.name}.pack-old"
        with sigint_held():  # never between the two: no pack at `out`
            os.rename(out, old)
            os.rename(new, out)
    if not _remove_pack(old):
        warnings.warn(f"the replaced pack was left at {old} (it holds files that are not part of it)", stacklevel=3)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    at_fdcwd, rename_exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EPERM):
        return False
    raise OSError(err, os.strerror(err), str(b))


def pack(
    legacy,
    grid: Union[Grid, Sequence[str]],
    output: Union[str, Path],
    *,
    source: Optional[Union[str, Path]] = None,
    version: str = MODEL_VERSION,
    date: Optional[datetime] = None,
    initial_state: str = "burn-in",
    batch_size: int = BATCH,
    progress: bool = False,
    metadata_fn: Optional[Callable[..., List[Dict[str, Any]]]] = None,
    overwrite: bool = False,
    allow_out_of_range: bool = False,
) -> Dict[str, Any]:
    """Write the pack of `legacy` (a compat.LegacyModel with knob names) over `grid` into the
    folder `output`; returns the manifest (plus "written", "skipped" and "warnings").
    Knobs not on the grid keep their defaults.

    :param grid: parse_grid's result, or the --grid strings.
    :param source: the legacy file (its name and sha256 go into provenance and manifest).
    :param date: the metadata date of every file; default: the date of the pack already
        in `output` (so a resumed pack is consistent), else now.
    :param overwrite: replace a pack of another model or other settings in `output`, whole
        (built beside it, then swapped in). A folder that is not a pack of ours is never
        replaced; a pack of the same model and settings is resumed either way.
    :param allow_out_of_range: fold continuous knobs outside their param-config range
        (one OutOfRangeWarning per knob), instead of refusing them (KnobError).
    :param metadata_fn: computes the metadata (default: loudness and gain measured on
        upstream's recording; without it, the date only and a LoudnessSkippedWarning).
    """
    if not isinstance(grid, list) or (grid and isinstance(grid[0], str)):
        grid = parse_grid(list(grid))
    specs = tuple(getattr(legacy, "knobs", ()) or ())
    if not specs:
        raise ConfigError("knob names are unknown for this file: pass --param-config")
    names = [s.name for s in specs]
    for name, _ in grid:
        if name not in names:
            raise ConfigError(f"unknown knob {name!r}; this model's knobs: {', '.join(names)}")
    check_grid(specs, grid, allow_out_of_range=allow_out_of_range)
    check_finite_weights(legacy, "pack")  # before the folder is claimed
    check_version(_target_architecture(legacy.architecture), version)
    if batch_size < 1:
        raise ConfigError("batch_size must be at least 1")
    out = Path(output)
    sha = source_sha256(source) if source is not None else None
    identity = {
        "model_sha256": model_sha256(legacy),
        "source": None if source is None else {"file": Path(source).name, "sha256": sha},
        "knobs": [s.to_json() for s in specs],
        "grid": [[n, list(v)] for n, v in grid],
        "version": version,
        "initial_state": initial_state,
        "naming": NAMING,
    }
    folder, state, replacing = _claim(out, identity, date, overwrite)
    _remove_temporaries(folder, state)
    previous = _state_files(state)
    if date is None:
        date = _state_date(state) or datetime.now().replace(microsecond=0)

    said: List[str] = []
    if metadata_fn is not None:
        compute, measured = metadata_fn, "custom"
    else:
        from .metadata import recording_missing

        reason = recording_missing()
        if reason is None:
            compute, measured = current_metadata, "measured"
        else:
            compute, measured = _date_only, "skipped"
            said.append(f"{reason}; {PLOT} is drawn from them, so it is skipped too")
            warnings.warn(said[-1], LoudnessSkippedWarning, stacklevel=2)
    settings = {**identity, "date": date.isoformat(), "metadata": measured, "nam_legacy": _our_version()}
    entries: List[_Entry] = []
    files = set()
    defaults = {s.name: float(s.default) for s in specs}
    for point, name in zip(grid_points(grid), file_names(grid)):
        if name in files:
            raise ConfigError(f"two grid points give the same file name {name}")
        files.add(name)
        knobs = {**defaults, **point}
        key = hashlib.sha256(_canonical({**settings, "knobs": knobs}).encode()).hexdigest()
        entries.append(_Entry(name, knobs, key))

    todo: List[_Entry] = []
    for e in entries:
        old = previous.get(e.file)
        target = folder / e.file
        if old and old.get("key") == e.key and target.is_file() and _file_sha256(target) == old.get("sha256"):
            e.sha256, e.loudness, e.gain = old["sha256"], old.get("loudness"), old.get("gain")
        else:
            todo.append(e)

    header = {
        "format": PACK_FORMAT,
        "source": {
            "file": None if source is None else Path(source).name,
            "sha256": sha,
            "format": getattr(legacy, "format", None),
            "releases": None if getattr(legacy, "detected", None) is None else str(legacy.detected),
            "architecture": legacy.architecture,
        },
        "target": {"architecture": _target_architecture(legacy.architecture), "version": version},
        "provenance": _pack_provenance(legacy, source, sha, initial_state),
        "date": date.isoformat(),
        "knobs": [s.to_json() for s in specs],
        "grid": [{"name": n, "values": v} for n, v in grid],
        "identity": identity,
        "metadata": {"loudness_and_gain": measured, "note": said[0] if said else None},
    }
    # the journal first: from now on the folder says it is a pack (and which one)
    _write_json(folder / JOURNAL, {**header, "files": [x.to_json() for x in entries if x.sha256]})
    bar = _progress(len(entries), len(entries) - len(todo), progress)
    try:
        for start in range(0, len(todo), batch_size):
            chunk = todo[start:start + batch_size]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", OutOfRangeWarning)  # check_grid said it once per knob
                folded = [fold(legacy, e.knobs, initial_state=initial_state, allow_out_of_range=allow_out_of_range)
                          for e in chunk]
            metas = list(compute(folded, date=date))
            if len(metas) != len(chunk):
                raise RuntimeError(f"metadata: {len(metas)} entries for {len(chunk)} models")
            for e, f, meta in zip(chunk, folded, metas):
                doc = migrated_document(f, legacy, meta, version=version, source=source, sha256=sha)
                payload = dumps(doc).encode("utf-8")
                atomic_write_bytes(folder / e.file, payload)
                e.sha256 = hashlib.sha256(payload).hexdigest()
                e.loudness, e.gain = meta.get("loudness"), meta.get("gain")
                _write_json(folder / JOURNAL, {**header, "files": [x.to_json() for x in entries if x.sha256]})
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()

    plot_note = _draw(folder, grid, entries, legacy, source, specs, measured, said)
    manifest = {**header, "plot": None if plot_note else PLOT, "plot_note": plot_note,
                "files": [e.to_json() for e in entries]}
    _write_json(folder / MANIFEST, manifest)
    (folder / JOURNAL).unlink(missing_ok=True)
    if replacing:
        _swap(folder, out)
    manifest["written"] = [e.file for e in todo]
    manifest["skipped"] = len(entries) - len(todo)
    manifest["warnings"] = said
    return manifest


def _date_only(folded, *, date=None) -> List[Dict[str, Any]]:
    from .metadata import metadata_or_date

    return metadata_or_date(folded, date=date, warn=False)


def _draw(folder: Path, grid: Grid, entries, legacy, source, specs, measured: str, said: List[str]) -> Optional[str]:
    """Draw loudness.png; None when drawn, else why not (an old plot is removed then)."""
    from .plot import PlotSkippedWarning, PlotUnavailable, loudness_png

    note = None
    if measured == "skipped":
        note = "no plot: without upstream's loudness_input.wav there is no loudness or gain to plot"
    elif not any(_finite(e.loudness) for e in entries):
        note = "no plot: the metadata has no loudness values"
    else:
        name = Path(source).name if source is not None else "legacy model"
        title = f"{name} ({legacy.architecture}): the pack's {len(entries)} files"
        on_grid = {n for n, _ in grid}
        fixed = {s.name: float(s.default) for s in specs if s.name not in on_grid}
        try:
            png = loudness_png(grid, [(e.knobs, e.loudness, e.gain) for e in entries], title=title,
                               knobs=[s.to_json() for s in specs], fixed=fixed)
        except PlotUnavailable as e:
            note = f"{PLOT} skipped: {e}"
            said.append(note)
            warnings.warn(note, PlotSkippedWarning, stacklevel=3)
        else:
            atomic_write_bytes(folder / PLOT, png)
    if note is not None:
        (folder / PLOT).unlink(missing_ok=True)
    return note


def _finite(v) -> bool:
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def _pack_provenance(legacy, source, sha, initial_state) -> Dict[str, Any]:
    """What every file's metadata["nam_legacy"] holds, less the knobs."""
    block: Dict[str, Any] = {"version": _our_version(), "source_architecture": legacy.architecture}
    if legacy.architecture == "CatLSTM":
        block["initial_state"] = initial_state
    if getattr(legacy, "format", None) is not None:
        block["source_format"] = legacy.format
    if getattr(legacy, "detected", None) is not None:
        block["source_releases"] = str(legacy.detected)
    if source is not None:
        block["source_file"] = Path(source).name
        block["source_sha256"] = sha
    return block


def _state_date(state: Optional[Dict[str, Any]]) -> Optional[datetime]:
    try:
        return datetime.fromisoformat(state["date"]) if state else None
    except (KeyError, TypeError, ValueError):
        return None


def _target_architecture(source_architecture: str) -> str:
    return {"CatLSTM": "LSTM", "CatWaveNet": "WaveNet", "HyperConvNet": "ConvNet"}.get(source_architecture, source_architecture)


def _our_version() -> str:
    from nam_legacy import __version__

    return __version__


def _progress(total: int, done: int, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, initial=done, unit="file", desc="pack", leave=False)
