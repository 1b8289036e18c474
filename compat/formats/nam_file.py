""".nam files of CatLSTM / CatWaveNet (releases 0.5.0 … ae86979).

A .nam is one JSON object. What each release wrote (upstream-facts §3.2):

| releases        | "version" | layout                                                            |
|-----------------|-----------|-------------------------------------------------------------------|
| 0.5.0           | "0.5.0"   | indent 4; version, architecture, config, weights                  |
| 0.5.1           | "0.5.1"   | compact; version, metadata, architecture, config, weights         |
| 0.5.2 … 0.6.0   | "0.5.1"   | same (the file version was decoupled from the package version)    |
| 0.7.0 … ae86979 | "0.5.2"   | same + trailing "sample_rate"                                     |

The "version" string decides the release range; the layout (metadata, sample_rate,
indentation, key order) is checked against it and any disagreement becomes a warning
(a file re-saved by another tool is still readable). HyperConvNet never had a .nam
format; plain LSTM/WaveNet .nam files belong to current NAM.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import numpy as np

from nam_legacy.releases import RELEASES, ReleaseProfile

from ..detect import ReleaseRange
from ..errors import CorruptFileError, LegacyError, UnknownFormatError, UnsafeFileError, UnsupportedReleaseError
from ..errors import WeightsMismatchError
from . import RawModel
from .configs import (
    MAX_CONFIG_BYTES,
    MAX_FILE_BYTES,
    MAX_TEXT_WEIGHTS,
    MAX_WEIGHTS,
    expected_weight_count,
    is_finite_number,
    json_type,
    load_json,
    read_file_bytes,
    show,
    translate_export_config,
)
from .json_stream import JsonStream
from .number_text import NumberSink, read_number_list
from .text_stream import Cursor, TextSource

__all__ = [
    "CAT_ARCHITECTURES",
    "header_version_releases",
    "nam_version_releases",
    "package_version_releases",
    "parse_nam_document",
    "read_nam",
    "stream_document",
    "weights_vector",
]

CAT_ARCHITECTURES = ("CatLSTM", "CatWaveNet")

Source = Union[str, os.PathLike, bytes, bytearray, memoryview]


# --- version strings → releases (derived from the release table) ------------------------------


def _groups(releases, key) -> Dict[str, Tuple[ReleaseProfile, ReleaseProfile]]:
    out: Dict[str, Tuple[ReleaseProfile, ReleaseProfile]] = {}
    for r in releases:
        k = key(r)
        if k is None:
            continue
        first, _ = out.get(k, (r, r))
        out[k] = (first, r)  # releases are oldest first and each group is contiguous
    return out


_NAM_VERSIONS = _groups([r for r in RELEASES if r.export_container == "nam"], lambda r: r.nam_file_version)
_PACKAGE_VERSIONS = _groups(RELEASES, lambda r: r.package_version)
# Cat* headers carry the "version" of the export they were made from: the package version
# while exports were directories (0.4.0), the .nam version after.
_HEADER_VERSIONS = _groups(
    [r for r in RELEASES if r.lstm_cpp_header], lambda r: r.nam_file_version or r.package_version
)


def nam_version_releases(version: Any) -> Optional[Tuple[ReleaseProfile, ReleaseProfile]]:
    """(first, last) release that wrote this .nam "version" string, or None."""
    return _NAM_VERSIONS.get(version) if isinstance(version, str) else None


def package_version_releases(version: Any) -> Optional[Tuple[ReleaseProfile, ReleaseProfile]]:
    """(first, last) release whose nam/_version.py said `version` (0.7.4 covers ae86979)."""
    return _PACKAGE_VERSIONS.get(version) if isinstance(version, str) else None


def header_version_releases(version: Any) -> Optional[Tuple[ReleaseProfile, ReleaseProfile]]:
    """(first, last) release whose CatLSTM/CatWaveNet header says PYTHON_MODEL_VERSION `version`."""
    return _HEADER_VERSIONS.get(version) if isinstance(version, str) else None


def span(pair: Tuple[ReleaseProfile, ReleaseProfile]) -> str:
    first, last = pair
    return first.name if first == last else f"{first.name}..{last.name}"


# --- shared helpers for every reader -------------------------------------------------------------


def source_bytes(source: Source, what: str) -> Tuple[bytes, Optional[str]]:
    """(content, file name or None) of a path or of bytes, within MAX_FILE_BYTES."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if len(data) > MAX_FILE_BYTES:
            raise UnsafeFileError(f"{what} is {len(data)} bytes, above the limit of {MAX_FILE_BYTES}")
        return data, None
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"expected a path or bytes, got {type(source).__name__}")
    return read_file_bytes(source, MAX_FILE_BYTES, what), os.path.basename(os.fspath(source))


def named(error: LegacyError, name: Optional[str]) -> LegacyError:
    """The same error with the file name in front (once)."""
    if name is None or str(error).startswith(f"{name}: "):
        return error
    return type(error)(f"{name}: {error}")


def weights_vector(values: Any, where: str = "weights") -> np.ndarray:
    """A JSON list of numbers → float64 array (ints allowed, booleans and the rest not)."""
    if type(values) is not list:
        raise CorruptFileError(f"{where}: expected an array of numbers, got {json_type(values)}")
    if len(values) > MAX_WEIGHTS:
        raise UnsafeFileError(f"{where}: {len(values)} values, above the limit of {MAX_WEIGHTS}")
    for i, v in enumerate(values):
        t = type(v)
        if t is not float and t is not int:
            raise CorruptFileError(f"{where}[{i}]: expected a number, got {json_type(v)} {show(v, 30)}")
    try:
        return np.array(values, dtype=np.float64).reshape(-1)
    except OverflowError:
        raise CorruptFileError(f"{where}: a value is too large for a float") from None


def float32_warning(weights: np.ndarray) -> Optional[str]:
    with np.errstate(over="ignore", invalid="ignore"):
        rounded = weights.astype(np.float32).astype(np.float64)
    changed = int(np.count_nonzero(~((rounded == weights) | (np.isnan(rounded) & np.isnan(weights)))))
    return _rounding_note(changed) if changed else None


def _rounding_note(changed: int) -> str:
    return f"{changed} weight(s) are not float32 values (every release wrote float32); they were rounded"


def check_count(architecture: str, net_config: Dict[str, Any], count: int, where: str = "weights") -> int:
    expected = expected_weight_count(architecture, net_config)
    if count != expected:
        raise WeightsMismatchError(f"{where}: {count} values, but this {architecture} config needs {expected}")
    return expected


# --- .nam ------------------------------------------------------------------------------------------

_KEYS = {
    "0.5.0": ("version", "architecture", "config", "weights"),
    "0.5.1": ("version", "metadata", "architecture", "config", "weights"),
    "0.5.2": ("version", "metadata", "architecture", "config", "weights", "sample_rate"),
}


def read_nam(source: Source) -> RawModel:
    """Read a CatLSTM/CatWaveNet .nam file (a path, or its bytes) into a `RawModel`.

    Nothing is built and nothing in the file is executed. The file is streamed: the
    small values (version, metadata, architecture, config, sample_rate) are captured as
    text (MAX_CONFIG_BYTES in all) and parsed as JSON; the weights are parsed in bulk
    into one float32 array, preallocated to the count the config needs when the config
    comes first (as in every release's layout), so a file can never make us hold more
    than the model it describes. Errors are `LegacyError` subclasses with one-line
    messages: `CorruptFileError` (not a well-formed .nam), `ConfigError` (bad config
    values, JSON path first), `WeightsMismatchError` (weight count ≠ what the config
    implies), `UnsafeFileError` (sizes over the limits), `UnknownFormatError` (a
    non-parametric model), `UnsupportedReleaseError`.
    """
    doc, indented = stream_document(source, _weights_sink)
    weights = doc.get("weights")
    try:
        return _document(doc, indented, weights if isinstance(weights, NumberSink) else None)
    except LegacyError as e:
        raise named(e, _file_name(source)) from None


_WHAT = "the .nam file"
MAX_KEYS = 4096


def _file_name(source: Source) -> Optional[str]:
    return os.path.basename(os.fspath(source)) if isinstance(source, (str, os.PathLike)) else None


def stream_document(source: Source, weights_sink: Callable[[Dict[str, Any]], NumberSink]) -> Tuple[Dict[str, Any], bool]:
    """(document, laid out on several lines?) of a .nam-shaped file, streamed.

    For every reader of JSON model files (this one, and any other architecture family's):
    the top-level values are captured as text (MAX_CONFIG_BYTES in all, keys included, at
    most MAX_KEYS keys) and parsed by `load_json`; a "weights" array of numbers goes into
    the `NumberSink` that `weights_sink(the document so far)` returns (size it from the
    config when the config came first), and doc["weights"] is that sink. Errors are
    `LegacyError`s naming the file.
    """
    text = TextSource(source, ".nam file", MAX_FILE_BYTES)
    try:
        return _stream(Cursor(text.chunks()), weights_sink)
    except LegacyError as e:
        raise named(e, text.name) from None


def _stream(cur: Cursor, weights_sink) -> Tuple[Dict[str, Any], bool]:
    js = JsonStream(cur, _WHAT, capture_limit=MAX_CONFIG_BYTES)
    js.space()
    first = cur.peek()
    if first == "":
        raise CorruptFileError(f"{_WHAT} is not valid JSON: it is empty")
    if first != "{":  # some other JSON value: say what it is, if it is small enough to tell
        doc = load_json(js.value(True), _WHAT)
        raise CorruptFileError(f"a .nam file is a JSON object, this one is {json_type(doc)}")
    cur.pos += 1
    doc: Dict[str, Any] = {}
    indented = js.space()
    if cur.peek() == "}":
        cur.pos += 1
    else:
        while True:
            key = js.string()
            if key in doc:
                raise CorruptFileError(f"{_WHAT} has the key {show(key, 40)} twice in one object")
            if len(doc) >= MAX_KEYS:
                raise UnsafeFileError(f"{_WHAT} has more than {MAX_KEYS} top-level keys (a .nam has 6)")
            indented |= js.space()
            js.take(":", "':'")
            indented |= js.space()
            if key == "weights" and cur.peek() == "[":
                cur.pos += 1
                sink = weights_sink(doc)
                stats = read_number_list(js.array_body(), sink, "json", _bad_weight, trailing_comma=False)
                indented |= stats.newlines > 0
                doc[key] = sink
            else:
                value = js.value(True)
                indented |= "\n" in value
                doc[key] = load_json(value, f"{_WHAT} (its {show(key, 30)})")
            indented |= js.space()
            found = cur.peek()
            cur.pos += 1
            if found == "}":
                break
            if found != ",":
                cur.pos -= 1
                raise js.fail(f"expected ',' or '}}' after the value of {show(key, 30)}")
            indented |= js.space()
    js.space()
    if cur.peek() != "":
        raise js.fail("extra data after the JSON object")
    return doc, indented


def _bad_weight(index: int, what: str) -> LegacyError:
    return CorruptFileError(f"weights[{index}]: expected a number, got {what}")


def _weights_sink(doc: Dict[str, Any]) -> NumberSink:
    """Where the weights go: preallocated to the config's count when the config came first
    (and is valid: otherwise the document check reports it in its own order)."""
    expected = None
    needs = ""
    architecture = doc.get("architecture")
    if architecture in CAT_ARCHITECTURES and "config" in doc:
        try:
            net_config, _ = translate_export_config(architecture, doc["config"], "config", [])
        except LegacyError:
            net_config = None
        if net_config is not None:
            expected = expected_weight_count(architecture, net_config)
            needs = f"this {architecture} config needs {expected}"
            if expected > MAX_TEXT_WEIGHTS:
                raise UnsafeFileError(
                    f"weights: {needs}, above the limit of {MAX_TEXT_WEIGHTS} for weights written as text"
                )
    return NumberSink("weights", MAX_TEXT_WEIGHTS, expected, needs, track_rounding=True)


def parse_nam_document(doc: Any, indented: Optional[bool] = None) -> RawModel:
    """The `RawModel` of an already-parsed .nam JSON object (`indented`: how it was laid out,
    if known)."""
    return _document(doc, indented, None)


def _document(doc: Any, indented: Optional[bool], streamed: Optional[NumberSink]) -> RawModel:
    """The checks and the release evidence of a .nam document; its weights were either
    streamed into `streamed` or are the list doc["weights"]."""
    if not isinstance(doc, dict):
        raise CorruptFileError(f"a .nam file is a JSON object, this one is {json_type(doc)}")
    if "architecture" not in doc or "weights" not in doc:
        raise CorruptFileError('not a .nam model: no "architecture" and "weights"')
    architecture = doc["architecture"]
    if not isinstance(architecture, str):
        raise CorruptFileError(f"architecture: expected a name, got {json_type(architecture)}")
    if architecture not in CAT_ARCHITECTURES:
        if architecture == "HyperConvNet":
            raise UnsupportedReleaseError(
                "no release wrote HyperConvNet as .nam (it always used export folders); this file is not genuine"
            )
        from .parametric_nam import FAMILY, FAMILY_NAME  # late: that reader builds on this module

        if architecture in FAMILY:  # sniffing only looks 16 MiB in for the architecture
            raise UnknownFormatError(
                f"{architecture} is a model of {FAMILY_NAME}, but its \"architecture\" comes after more than "
                "16 MiB of the file; nam-legacy reads such files when it comes first, as that line's exporter writes it"
            )
        raise UnknownFormatError(f"not a parametric model: {show(architecture, 40)} — use current NAM for it")
    if "config" not in doc:
        raise CorruptFileError('no "config"')
    warnings: List[str] = []
    evidence: List[str] = []

    version = doc.get("version")
    if "version" in doc and not isinstance(version, str):
        raise CorruptFileError(f"version: expected a string, got {json_type(version)}")
    layout = "0.5.2" if "sample_rate" in doc else "0.5.1" if "metadata" in doc else "0.5.0"
    known = nam_version_releases(version)
    if known is None:
        basis = layout
        what = "no version" if version is None else f"unknown file version {show(version, 30)}"
        warnings.append(f"{what}; releases inferred from the layout ({span(_NAM_VERSIONS[layout])})")
    else:
        basis = version
        evidence.append(f'version "{version}" ({span(known)})')
        if "metadata" in _KEYS[version] and "metadata" not in doc:
            warnings.append(f'version "{version}" files carry "metadata"; this one has none')
        if "metadata" not in _KEYS[version] and "metadata" in doc:
            warnings.append(f'version "{version}" files have no "metadata"; this one has')
        if "sample_rate" in _KEYS[version] and "sample_rate" not in doc:
            warnings.append(f'version "{version}" files end with "sample_rate"; this one has none')
        if "sample_rate" not in _KEYS[version] and "sample_rate" in doc:
            warnings.append(f'version "{version}" files have no "sample_rate"; this one has')
    first, last = _NAM_VERSIONS[basis]
    expected_keys = _KEYS[basis]
    if "metadata" in doc:
        evidence.append("metadata (0.5.1+)")
    if "sample_rate" in doc:
        evidence.append("sample_rate key (0.7.0+)")
    if indented is not None:
        want_indent = basis == "0.5.0"
        evidence.append("indented (0.5.0)" if indented else "compact (0.5.1+)")
        if indented != want_indent:
            warnings.append(
                f"laid out {'indented' if indented else 'compact'}, but {span((first, last))} wrote "
                f"{'indented' if want_indent else 'compact'} JSON (re-saved by another tool?)"
            )
    all_known = set(_KEYS["0.5.2"])
    extra = [k for k in doc if k not in all_known]
    if extra:
        warnings.append(f"ignored unknown top-level key(s) {', '.join(show(k, 30) for k in extra[:5])}")
    present = [k for k in doc if k in expected_keys]
    if present != [k for k in expected_keys if k in doc]:
        warnings.append(f"top-level keys are not in the order {span((first, last))} wrote (re-saved by another tool?)")
    if architecture == "CatWaveNet" and first.metadata_in_export:
        evidence.append("CatWaveNet .nam export crashed in 0.5.1+ unless patched (upstream bug)")

    metadata: Dict[str, Any] = {}
    if "metadata" in doc:
        if isinstance(doc["metadata"], dict):
            metadata = dict(doc["metadata"])
        else:
            warnings.append(f"metadata: expected an object, got {json_type(doc['metadata'])}; ignored")
    sample_rate = doc.get("sample_rate")
    if sample_rate is not None:
        if not (is_finite_number(sample_rate) and sample_rate > 0):
            raise CorruptFileError(f"sample_rate: expected a positive number or null, got {show(sample_rate, 30)}")
        sample_rate = float(sample_rate)

    config = doc["config"]
    if isinstance(config, dict) and list(config)[-1:] != ["parametric"] and "parametric" in config:
        warnings.append('config: "parametric" is not its last key, as every release wrote it')
    net_config, param_config = translate_export_config(architecture, config, "config", warnings)
    if streamed is not None:
        check_count(architecture, net_config, streamed.count)
        weights = streamed.result()
        if streamed.rounded:
            warnings.append(_rounding_note(streamed.rounded))
    else:
        weights = weights_vector(doc["weights"], "weights")
        check_count(architecture, net_config, len(weights))
        note = float32_warning(weights)
        if note:
            warnings.append(note)
    return RawModel(
        format="nam",
        architecture=architecture,
        net_config=net_config,
        releases=ReleaseRange(first, last, tuple(evidence)),
        weights=weights,
        param_config=param_config,
        sample_rate=sample_rate,
        metadata=metadata,
        file_version=version,
        warnings=warnings,
    )
