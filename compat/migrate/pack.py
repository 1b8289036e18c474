"""Packs: one current-NAM `.nam` per point of a knob grid, with a manifest and a plot.

A legacy parametric model folded at each point of a grid (compat.migrate.fold) gives a
folder a player can page through:

    <dir>/bright-0_drive-0.25_tone-1.nam   one file per grid point (grid knobs, sorted names)
    <dir>/manifest.json                    source, provenance, grid, per file: knobs, loudness, gain, sha256
    <dir>/loudness.png                     loudness (and gain) against the first grid knob

Every file is written under a temporary name and renamed into place, so a killed run never
leaves a partial file at a final name. A journal (`.pack-state.json`, rewritten atomically
after each file) records what was written; a re-run skips files whose content is known to
be what it would write again (same source, knobs, options and date, same sha256 on disk),
removes temporaries a killed run left, and finishes the pack. The journal is removed once
the manifest is in place; a later re-run takes the same facts from the manifest.

Metadata (date, loudness, gain) comes from compat.migrate.metadata.current_metadata, called
on chunks of folded models.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ..atomic import atomic_write_bytes
from ..errors import ConfigError, UnsupportedReleaseError
from .current_nam import MODEL_VERSION, dumps, nam_document, provenance
from .fold import Folded, fold

__all__ = [
    "MAX_POINTS",
    "NAM_VERSIONS",
    "Grid",
    "check_version",
    "format_value",
    "grid_points",
    "migrated_document",
    "pack",
    "parse_grid",
    "point_filename",
    "source_sha256",
]

MANIFEST = "manifest.json"
PLOT = "loudness.png"
JOURNAL = ".pack-state.json"
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
    """Shortest round-trip decimal, no exponent for ordinary values: 0.25, 1, -0.5, 1e-07."""
    v = float(v)
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def point_filename(point: Mapping[str, float]) -> str:
    """`{"tone": 1, "drive": .25, "bright": 0}` → `bright-0_drive-0.25_tone-1.nam` (sorted names)."""
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
    from .metadata import current_metadata as compute  # written alongside; imported when used

    out = list(compute(list(folded), date=date))
    if len(out) != len(folded):
        raise RuntimeError(f"current_metadata returned {len(out)} entries for {len(folded)} models")
    return out


# --------------------------------------------------------------------------------------
# the pack
# --------------------------------------------------------------------------------------


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


def _read_state(out: Path) -> Dict[str, Dict[str, Any]]:
    """What an earlier run wrote: file → entry, from the journal or else the manifest."""
    for name in (JOURNAL, MANIFEST):
        try:
            data = json.loads((out / name).read_text(encoding="utf-8"))
            files = data["files"]
            return {e["file"]: e for e in files if isinstance(e, dict) and "file" in e and "key" in e}
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return {}


def _remove_temporaries(out: Path) -> List[str]:
    """Temporaries (atomic_write_bytes: .<name>.<random>.part) a killed run left behind."""
    removed = []
    for p in out.glob(".*.part"):
        if p.is_file() and (".nam." in p.name or p.name.startswith((f".{MANIFEST}.", f".{PLOT}.", f".{JOURNAL}."))):
            p.unlink(missing_ok=True)
            removed.append(p.name)
    return removed


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
    folder `output`; returns the manifest. Knobs not on the grid keep their defaults.

    :param grid: parse_grid's result, or the --grid strings.
    :param source: the legacy file (its name and sha256 go into provenance and manifest).
    :param date: the metadata date of every file; default: an earlier unfinished run's
        (so a resumed pack is consistent), else now.
    :param overwrite: reserved for the pack-folder policy (replacing a folder that is not
        this pack to resume); not acted on yet.
    :param allow_out_of_range: fold continuous knobs outside their range (compat.knobs).
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
    check_version(_target_architecture(legacy.architecture), version)
    if batch_size < 1:
        raise ConfigError("batch_size must be at least 1")
    compute = metadata_fn or current_metadata
    out = Path(output)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--output {out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    _remove_temporaries(out)

    sha = source_sha256(source) if source is not None else None
    previous = _read_state(out)
    if date is None:
        date = _previous_date(out) or datetime.now().replace(microsecond=0)
    defaults = {s.name: float(s.default) for s in specs}
    settings = {
        "source_sha256": sha,
        "param_config": getattr(legacy, "param_config", None),
        "net_config": getattr(legacy, "net_config", None),
        "version": version,
        "date": date.isoformat(),
        "initial_state": initial_state,
        "nam_legacy": _our_version(),
    }
    entries: List[_Entry] = []
    files = set()
    for point in grid_points(grid):
        name = point_filename(point)
        if name in files:
            raise ConfigError(f"two grid points give the same file name {name}")
        files.add(name)
        knobs = {**defaults, **point}
        key = hashlib.sha256(_canonical({**settings, "knobs": knobs}).encode()).hexdigest()
        entries.append(_Entry(name, knobs, key))

    todo: List[_Entry] = []
    for e in entries:
        old = previous.get(e.file)
        target = out / e.file
        if old and old.get("key") == e.key and target.is_file() and _file_sha256(target) == old.get("sha256"):
            e.sha256, e.loudness, e.gain = old["sha256"], old.get("loudness"), old.get("gain")
        else:
            todo.append(e)

    header = {
        "format": "nam-legacy pack",
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
    }
    bar = _progress(len(entries), len(entries) - len(todo), progress)
    try:
        for start in range(0, len(todo), batch_size):
            chunk = todo[start:start + batch_size]
            folded = [fold(legacy, e.knobs, initial_state=initial_state, allow_out_of_range=allow_out_of_range) for e in chunk]
            metas = list(compute(folded, date=date))
            if len(metas) != len(chunk):
                raise RuntimeError(f"metadata: {len(metas)} entries for {len(chunk)} models")
            for e, f, meta in zip(chunk, folded, metas):
                doc = migrated_document(f, legacy, meta, version=version, source=source, sha256=sha)
                payload = dumps(doc).encode("utf-8")
                atomic_write_bytes(out / e.file, payload)
                e.sha256 = hashlib.sha256(payload).hexdigest()
                e.loudness, e.gain = meta.get("loudness"), meta.get("gain")
                _write_json(out / JOURNAL, {**header, "files": [x.to_json() for x in entries if x.sha256]})
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()

    manifest = {**header, "plot": PLOT, "files": [e.to_json() for e in entries]}
    from .plot import loudness_png

    atomic_write_bytes(out / PLOT, loudness_png(grid, [(e.knobs, e.loudness, e.gain) for e in entries]))
    _write_json(out / MANIFEST, manifest)
    (out / JOURNAL).unlink(missing_ok=True)
    manifest["written"] = [e.file for e in todo]
    manifest["skipped"] = len(entries) - len(todo)
    return manifest


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


def _previous_date(out: Path) -> Optional[datetime]:
    for name in (JOURNAL, MANIFEST):
        try:
            return datetime.fromisoformat(json.loads((out / name).read_text(encoding="utf-8"))["date"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
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
