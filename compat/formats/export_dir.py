"""Export folders: `config.json` + `weights.npy` (+ optional snapshot files).

Who wrote them (upstream-facts §3.2):

* CatLSTM / CatWaveNet: only 0.3.0 and 0.4.0 (0.5.0 switched to .nam files); CatWaveNet
  exists from 0.4.0. Snapshot: `inputs.npy`, `outputs.npy`, `input.wav`, `output.wav`.
* HyperConvNet: every release (it never had a .nam format). Snapshot:
  `test_signal_{params,input,output}.npy` (always up to 0.4.0, on request from 0.5.0).

`config.json` is `{"version": <package version>, "architecture", "config"}` with indent 4,
so the version names the exact release (0.7.4 and ae86979 share "0.7.4").
`weights.npy` is a 1-D float32 array (float64 for HyperConvNet without main-net
BatchNorm, where numpy's float64 empty array promoted the concatenation).

The .npy header is parsed by a strict parser of our own (numpy's evaluates a Python
literal): dtype, shape and size are checked before any data is touched, object arrays
(pickles) are refused, and the data is then viewed with `np.frombuffer` — nothing is
ever unpickled.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Dict, List, Tuple, Union

import numpy as np

from nam_legacy.releases import RELEASES

from ..detect import ReleaseRange
from ..errors import CorruptFileError, FileAccessError, LegacyError, UnknownFormatError, UnsafeFileError
from ..errors import WeightsMismatchError
from . import RawModel
from .configs import MAX_CONFIG_BYTES, MAX_WEIGHTS, expected_weight_count, json_type, load_json, read_file_bytes, show
from .configs import translate_export_config
from .nam_file import CAT_ARCHITECTURES, check_count, float32_warning, package_version_releases, span

__all__ = ["SNAPSHOT_FILES", "parse_export_config", "read_export_dir", "read_weights_npy"]

CAT_SNAPSHOT = ("inputs.npy", "outputs.npy", "input.wav", "output.wav")
HYPER_SNAPSHOT = ("test_signal_params.npy", "test_signal_input.npy", "test_signal_output.npy")
SNAPSHOT_FILES = CAT_SNAPSHOT + HYPER_SNAPSHOT

_MAX_NPY_HEADER = 10_000


def read_export_dir(path: Union[str, os.PathLike]) -> RawModel:
    """Read an export folder (or its `config.json`) into a `RawModel`.

    Errors are `LegacyError` subclasses naming the folder: `FileAccessError` (missing
    files), `CorruptFileError`, `ConfigError`, `WeightsMismatchError`, `UnsafeFileError`,
    `UnknownFormatError` (not a parametric model).
    """
    folder = Path(path)
    if folder.is_file() and folder.name == "config.json":
        folder = folder.parent
    label = folder.name or str(folder)
    try:
        if not folder.is_dir():
            raise FileAccessError(f"{folder}: not a folder")
        config_path, weights_path = folder / "config.json", folder / "weights.npy"
        for p in (config_path, weights_path):
            if not p.is_file():
                raise FileAccessError(f"the export folder has no {p.name}")
        raw = parse_export_config(read_file_bytes(config_path, MAX_CONFIG_BYTES, "config.json"))
        expected = expected_weight_count(raw.architecture, raw.net_config)
        weights, dtype = _read_npy_file(weights_path, expected, raw.architecture)
        _finish(raw, weights, dtype)
        raw.metadata["snapshot_files"] = sorted(n for n in SNAPSHOT_FILES if (folder / n).is_file())
        return raw
    except LegacyError as e:
        if str(e).startswith(f"{label}: ") or str(e).startswith(f"{folder}"):
            raise
        raise type(e)(f"{label}: {e}") from None


def parse_export_config(source: Union[bytes, str, Dict[str, Any]]) -> RawModel:
    """The `RawModel` (without weights) of a `config.json`, as bytes, text or parsed dict."""
    doc = source if isinstance(source, dict) else load_json(source, "config.json")
    if not isinstance(doc, dict):
        raise CorruptFileError(f"config.json: expected a JSON object, got {json_type(doc)}")
    for key in ("architecture", "config"):
        if key not in doc:
            raise CorruptFileError(f'config.json: no "{key}"')
    architecture = doc["architecture"]
    if not isinstance(architecture, str):
        raise CorruptFileError(f"config.json: architecture: expected a name, got {json_type(architecture)}")
    if architecture not in CAT_ARCHITECTURES + ("HyperConvNet",):
        raise UnknownFormatError(f"not a parametric model: {show(architecture, 40)} — use current NAM for it")
    warnings: List[str] = []
    evidence: List[str] = []
    version = doc.get("version")
    if "version" in doc and not isinstance(version, str):
        raise CorruptFileError(f"config.json: version: expected a string, got {json_type(version)}")
    extra = [k for k in doc if k not in ("version", "architecture", "config")]
    if extra:
        warnings.append(f"config.json: ignored unknown key(s) {', '.join(show(k, 30) for k in extra[:5])}")

    # Releases that wrote this architecture as a folder.
    if architecture == "HyperConvNet":
        writers = list(RELEASES)
    else:
        writers = [r for r in RELEASES if r.export_container == "directory"]
        if architecture == "CatWaveNet":
            writers = [r for r in writers if r.has_catwavenet]
    by_version = package_version_releases(version)
    matching = [r for r in writers if by_version and by_version[0].version <= r.version <= by_version[1].version]
    if matching:
        first, last = matching[0], matching[-1]
        evidence.append(f'package version "{version}" ({span((first, last))})')
    else:
        first, last = writers[0], writers[-1]
        if version is None:
            why = "no version"
        elif by_version is None:
            why = f"unknown version {show(version, 30)}"
        else:
            why = f"version {show(version, 30)}, but {span(by_version)} did not write {architecture} export folders"
        warnings.append(f"config.json: {why}; assuming {span((first, last))}")
    if architecture != "HyperConvNet":
        evidence.append(f"{architecture} export folder (0.3.0/0.4.0; .nam from 0.5.0)")

    net_config, param_config = translate_export_config(architecture, doc["config"], "config", warnings)
    return RawModel(
        format="export_dir",
        architecture=architecture,
        net_config=net_config,
        releases=ReleaseRange(first, last, tuple(evidence)),
        param_config=param_config,
        file_version=version,
        warnings=warnings,
    )


_NPY_ITEM = re.compile(
    r"""\s*'(descr|fortran_order|shape)'\s*:\s*('[^']*'|True|False|\([0-9,\sL]*\))\s*,?""", re.ASCII
)


def _npy_header(data: bytes) -> Tuple[str, bool, Tuple[int, ...], int]:
    """(descr, fortran_order, shape, data offset) of a .npy, parsed strictly by us (numpy's
    own parser evaluates a Python literal; we only accept the three fields it writes)."""
    if not data.startswith(b"\x93NUMPY") or len(data) < 10:
        raise CorruptFileError("weights.npy is not a NumPy .npy file")
    major = data[6]
    if major == 1:
        length, start = int.from_bytes(data[8:10], "little"), 10
    elif major in (2, 3):
        length, start = int.from_bytes(data[8:12], "little"), 12
    else:
        raise CorruptFileError(f"weights.npy: unsupported .npy format version {major}.{data[7]}")
    if length > _MAX_NPY_HEADER or start + length > len(data):
        raise CorruptFileError("weights.npy: truncated or oversized header")
    try:
        text = data[start:start + length].decode("utf-8" if major == 3 else "latin-1")
    except UnicodeDecodeError:
        raise CorruptFileError("weights.npy: header is not text") from None
    body = text.strip()
    if not (body.startswith("{") and body.endswith("}")):
        raise CorruptFileError("weights.npy: header is not a dict")
    fields: Dict[str, str] = {}
    pos, body = 0, body[1:-1]
    while pos < len(body) and body[pos:].strip():
        m = _NPY_ITEM.match(body, pos)
        if m is None or m.group(1) in fields:
            raise CorruptFileError("weights.npy: header has unexpected content")
        fields[m.group(1)] = m.group(2)
        pos = m.end()
    if set(fields) != {"descr", "fortran_order", "shape"}:
        raise CorruptFileError("weights.npy: header lacks descr, fortran_order or shape")
    descr = fields["descr"][1:-1] if fields["descr"].startswith("'") else ""
    shape_text = fields["shape"]
    if not shape_text.startswith("("):
        raise CorruptFileError("weights.npy: bad shape in header")
    dims = [d.strip().rstrip("L") for d in shape_text[1:-1].split(",")]
    if dims and dims[-1] == "":
        dims = dims[:-1]
    if not all(d.isdigit() and len(d) <= 20 for d in dims):
        raise CorruptFileError("weights.npy: bad shape in header")
    return descr, fields["fortran_order"] == "True", tuple(int(d) for d in dims), start + length


def _read_npy_file(path: Path, expected: int, architecture: str) -> Tuple[np.ndarray, str]:
    """`read_weights_npy` of a file, reading only its header until the count it claims has
    been checked against the config's: a weights.npy can make us read no more than the
    model the config describes."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(12 + _MAX_NPY_HEADER)
            dtype, count, offset = _npy_claim(head)
            if count != expected:
                raise WeightsMismatchError(f"weights.npy: {count} values, but this {architecture} config needs {expected}")
            if size - offset != count * dtype.itemsize:
                raise CorruptFileError(f"weights.npy: header says {count} values ({count * dtype.itemsize} bytes), "
                                       f"the file holds {size - offset} bytes")
            fh.seek(0)
            data = fh.read(offset + count * dtype.itemsize + 1)
    except OSError as e:
        raise FileAccessError(f"cannot read {path}: {e.strerror or e}") from None
    return read_weights_npy(data)


def _npy_claim(data: bytes) -> Tuple[np.dtype, int, int]:
    """(dtype, count, data offset) a .npy header claims, checked to be a plain 1-D float
    vector within MAX_WEIGHTS."""
    descr, _, shape, offset = _npy_header(bytes(data))
    if descr.lstrip("<>|=") in ("O", "V") or descr.startswith("|O"):
        raise UnsafeFileError("weights.npy holds Python objects (a pickle), which we never load")
    if not re.fullmatch(r"[<>=]?f[48]", descr):
        raise CorruptFileError(f"weights.npy: dtype {show(descr, 20)}, expected float32 or float64")
    dtype = np.dtype(descr)
    if len(shape) != 1:
        raise CorruptFileError(f"weights.npy: shape {show(shape, 40)}, expected a 1-D vector")
    (count,) = shape
    if count > MAX_WEIGHTS:
        raise UnsafeFileError(f"weights.npy: {count} values, above the limit of {MAX_WEIGHTS}")
    return dtype, count, offset


def read_weights_npy(data: bytes) -> Tuple[np.ndarray, str]:
    """(float64 vector, original dtype name) of a `weights.npy`'s bytes.

    Only a plain 1-D float32/float64 array is accepted; the header is checked (and the
    payload length compared with it) before the data is read. No pickle is ever loaded.
    """
    dtype, count, offset = _npy_claim(data)
    payload = len(data) - offset
    if payload != count * dtype.itemsize:
        raise CorruptFileError(
            f"weights.npy: header says {count} values ({count * dtype.itemsize} bytes), the file holds {payload} bytes"
        )
    weights = np.frombuffer(data, dtype=dtype, count=count, offset=offset).astype(np.float64)
    return weights, dtype.name


def _finish(raw: RawModel, weights: np.ndarray, dtype: str) -> None:
    check_count(raw.architecture, raw.net_config, len(weights), "weights.npy")
    raw.weights = weights
    raw.metadata["weights_dtype"] = dtype
    expected = "float32"
    if raw.architecture == "HyperConvNet":
        net = raw.net_config["net"]
        if not (net["batchnorm"] and net["dilations"]):
            # No main-net BatchNorm: numpy's float64 empty array promoted the vector.
            expected = "float64"
    if dtype != expected:
        raw.warnings.append(f"weights.npy is {dtype}; the releases wrote {expected} for this model (re-saved?)")
    if dtype == "float64":
        note = float32_warning(weights)
        if note:
            raw.warnings.append(note)
