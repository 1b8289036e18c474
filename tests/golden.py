"""Comparing nam_legacy with references written by the real releases.

A case directory (tests/fixtures/<release>/<case>/, or one the live oracle test just
made) holds `model.ckpt` (a genuine Lightning checkpoint), `model.json` (the model config
it was trained with), `meta.json` and `reference.npz` (the release's own outputs); see
tests/fixtures/README.md.

Two kinds of comparison, both on one torch thread:

* **exact** (`exact=True`): against artifacts a real release made on this machine, now
  (the live oracle, tests/test_oracle_live.py). Bit for bit, byte for byte.
* **bounded** (the default): against the stored fixtures, made on another machine.
  oneDNN and ATen choose kernels by CPU (and by batch size), so a number a forward pass
  produced may differ there in its last bits. Such numbers must agree within `ULPS`
  float32 ulps of the output's scale (the largest magnitude in the expected array); the
  evidence for the figure is in tests/fixtures/README.md. Everything else stays exact:
  shapes, dtypes, non-finite values, file layout, and every number that no forward pass
  computed (weights, configs, knob values, dates).
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import lzma
import re
import tempfile
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Iterator, List, Optional, Tuple
from unittest import mock

import numpy as np
import torch

import compat
from nam_legacy.data import np_to_wav
from nam_legacy.models.parametric.params import Param

FIXTURES = Path(__file__).parent / "fixtures"

# Forward outputs compared with stored fixtures may differ by this many float32 ulps of
# the output's scale, i.e. in the last 6 of the 24 significand bits at the output's peak
# (tests/fixtures/README.md: measured up to 28.5 across CPU kernel sets).
ULPS = 64


# --- numbers ------------------------------------------------------------------------------


def tolerance(expected) -> float:
    """Absolute bound for `expected`: ULPS float32 ulps at its largest finite magnitude."""
    e = np.asarray(expected, dtype=np.float64)
    finite = np.abs(e[np.isfinite(e)])
    scale = float(finite.max()) if finite.size else 0.0
    return ULPS * float(np.spacing(np.float32(scale)))


def _array(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def bounded_mismatch(actual, expected, exact: bool = False, scale_of=None) -> Optional[str]:
    """None when `actual` is `expected` (bit for bit if `exact`, else within the bound).

    Shape and dtype must be the same; NaN and infinities must be at the same places.
    `scale_of` (default `expected`) is the array whose largest magnitude sets the bound.
    """
    a, e = _array(actual), _array(expected)
    if a.shape != e.shape or a.dtype != e.dtype:
        return f"shape/dtype {a.shape} {a.dtype}, expected {e.shape} {e.dtype}"
    if exact:
        if a.tobytes() == e.tobytes():
            return None
        return f"not bit-identical (max abs diff {_max_diff(a, e)})"
    a64, e64 = a.astype(np.float64), e.astype(np.float64)
    finite = np.isfinite(e64)
    if not np.array_equal(np.isfinite(a64), finite) or not np.array_equal(a64[~finite], e64[~finite], equal_nan=True):
        return "non-finite values differ"
    bound = tolerance(e if scale_of is None else scale_of)
    diff = _max_diff(a64[finite], e64[finite])
    if diff > bound:
        return f"max abs diff {diff:.3g} > bound {bound:.3g} ({ULPS} ulps of the output scale)"
    return None


def _max_diff(a: np.ndarray, b: np.ndarray) -> float:
    if a.size == 0:
        return 0.0
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())


# --- forward references -------------------------------------------------------------------


def cases(root: Path = FIXTURES) -> List[Path]:
    return sorted(p.parent for p in root.glob("*/*/reference.npz"))


def case_id(case: Path) -> str:
    return f"{case.parent.name}/{case.name}"


def references(case: Path) -> Iterator[Tuple[str, torch.Tensor, torch.Tensor, torch.Tensor, bool, bool]]:
    """(key, params, x, expected, pad_start, train) for every reference in the case."""
    ref = np.load(case / "reference.npz")
    knobs, x, x3 = (torch.from_numpy(ref[k]) for k in ("knobs", "x", "x3"))
    for key in ref.files:
        parts = key.split("_")
        if parts[0] not in ("eval", "train"):
            continue
        train, pad = parts[0] == "train", parts[-1] == "pad1"
        if parts[1] == "b1":
            k = int(parts[2][1:])
            yield key, knobs[k], x, torch.from_numpy(ref[key]), pad, train
        else:
            yield key, knobs[:3], x3, torch.from_numpy(ref[key]), pad, train


def mismatches(model: torch.nn.Module, case: Path, exact: bool = False) -> List[str]:
    """Reference keys whose output does not match (empty when all do); see the module doc."""
    torch.set_num_threads(1)
    bad = []
    for key, params, x, expected, pad, train in references(case):
        net = copy.deepcopy(model).train() if train else model.eval()
        with torch.no_grad():
            actual = net(params, x, pad_start=pad)
        problem = bounded_mismatch(actual, expected, exact)
        if problem:
            bad.append(f"{key}: {problem}")
    return bad


def initial_state_mismatches(model: torch.nn.Module, case: Path, exact: bool = False) -> List[str]:
    """CatLSTM: the burn-in state `_get_initial_state()` gives under the case's param config
    (eval, no_grad, as reference.npz's `initial_state_h/_c` were computed)."""
    ref = np.load(case / "reference.npz")
    torch.set_num_threads(1)
    model.eval()
    with model._use_parametric_config(_params(case)), torch.no_grad():
        h, c = model._get_initial_state()
    bad = []
    for name, actual in (("initial_state_h", h), ("initial_state_c", c)):
        problem = bounded_mismatch(actual, ref[name], exact)
        if problem:
            bad.append(f"{name}: {problem}")
    return bad


# --- exported files -----------------------------------------------------------------------


def forward_mask(net: dict, length: int) -> np.ndarray:
    """Which entries of an exported weight vector a forward pass computed.

    `net` is model.json's {"name", "config"}. A CatLSTM vector holds per layer
    [W_ih|W_hh] (4H x (in+H)), b_ih+b_hh (4H), then the burn-in state h (H) and c (H),
    which the exporter computes by running the LSTM over silence; then the head (H + 1).
    Every other class exports parameters only.
    """
    mask = np.zeros(length, dtype=bool)
    if net["name"] != "CatLSTM":
        return mask
    config = net["config"]
    hidden, at = config["hidden_size"], 0
    for layer in range(config["num_layers"]):
        inputs = config["input_size"] if layer == 0 else hidden
        at += 4 * hidden * (inputs + hidden) + 4 * hidden
        mask[at : at + 2 * hidden] = True
        at += 2 * hidden
    if at + hidden + 1 != length:
        raise ValueError(f"a CatLSTM vector of this config has {at + hidden + 1} entries, not {length}")
    return mask


def vector_mismatch(actual: np.ndarray, expected: np.ndarray, mask: np.ndarray, exact: bool = False) -> Optional[str]:
    """Exact outside `mask`; inside it, bounded by the scale of the masked entries."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    if actual.shape != expected.shape or actual.dtype != expected.dtype:
        return f"vector shape/dtype {actual.shape} {actual.dtype}, expected {expected.shape} {expected.dtype}"
    if exact or not mask.any():
        return bounded_mismatch(actual, expected, exact=True)
    if actual[~mask].tobytes() != expected[~mask].tobytes():
        return f"entries no forward pass computed differ at {np.flatnonzero(actual != expected)[:8].tolist()}"
    problem = bounded_mismatch(actual[mask], expected[mask])
    return f"forward-computed entries: {problem}" if problem else None


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def _layout(text: str) -> str:
    """The text with every number replaced by its kind (integer I, float F)."""
    return _NUMBER.sub(lambda m: "I" if m.group(0).lstrip("-").isdigit() else "F", text)


def _nam_mismatch(produced: bytes, genuine: bytes, net: Optional[dict]) -> Optional[str]:
    a_text, e_text = produced.decode(), genuine.decode()
    if _layout(a_text) != _layout(e_text):
        return "layout differs"
    a, e = json.loads(a_text), json.loads(e_text)
    a_weights, e_weights = np.asarray(a.pop("weights"), np.float64), np.asarray(e.pop("weights"), np.float64)
    problems = []
    # Loudness and gain come from a forward pass (upstream's `_metadata_loudness`).
    for key in ("loudness", "gain"):
        a_value, e_value = a.get("metadata", {}).pop(key, None), e.get("metadata", {}).pop(key, None)
        if (a_value is None) != (e_value is None):
            problems.append(f"metadata {key}: {a_value!r} vs {e_value!r}")
        elif e_value is not None and bounded_mismatch(np.float64(a_value), np.float64(e_value), scale_of=np.float32(e_value)):
            problems.append(f"metadata {key}: {a_value!r} vs {e_value!r}")
    if json.dumps(a) != json.dumps(e):
        problems.append("document differs outside weights/loudness/gain")
    mask = forward_mask(net, len(e_weights)) if net else np.zeros(len(e_weights), bool)
    problem = vector_mismatch(a_weights, e_weights, mask)
    return "; ".join(problems + ([f"weights: {problem}"] if problem else [])) or None


_HEADER_PARAMS = re.compile(r"(PARAMS\{)([^}]*)(\})")


def _header_mismatch(produced: bytes, genuine: bytes, net: Optional[dict]) -> Optional[str]:
    a_text, e_text = produced.decode(), genuine.decode()
    a_match, e_match = _HEADER_PARAMS.search(a_text), _HEADER_PARAMS.search(e_text)
    if not a_match or not e_match:
        return "no PARAMS vector"
    outside = lambda t, m: t[: m.start(2)] + t[m.end(2) :]  # noqa: E731
    if outside(a_text, a_match) != outside(e_text, e_match) or _layout(a_match.group(2)) != _layout(e_match.group(2)):
        return "text differs outside the PARAMS numbers"
    a_values = np.array([float(v) for v in _NUMBER.findall(a_match.group(2))], np.float64)
    e_values = np.array([float(v) for v in _NUMBER.findall(e_match.group(2))], np.float64)
    mask = forward_mask(net, len(e_values)) if net else np.zeros(len(e_values), bool)
    # The numbers are float32 values printed with 16 decimals: compare them as float32.
    problem = vector_mismatch(a_values.astype(np.float32), e_values.astype(np.float32), mask)
    return f"PARAMS: {problem}" if problem else None


def _npy_parts(data: bytes):
    """(header bytes, array) of an .npy file's bytes; (None, None) if it is not one."""
    if not data.startswith(b"\x93NUMPY") or len(data) < 12:
        return None, None
    # Format 1.0: 2-byte little-endian header length after the version; 2.0/3.0: 4 bytes.
    size = 2 if data[6] == 1 else 4
    end = 8 + size + int.from_bytes(data[8 : 8 + size], "little")
    return data[:end], np.load(io.BytesIO(data), allow_pickle=False)


def _npy_mismatch(produced: bytes, genuine: bytes, mask_of) -> Optional[str]:
    (a_head, a), (e_head, e) = _npy_parts(produced), _npy_parts(genuine)
    if a_head is None or a_head != e_head:
        return "npy header differs"
    problem = vector_mismatch(a.ravel(), e.ravel(), mask_of(e.size))
    return problem


def _wav_mismatch(produced: bytes, genuine: bytes, tol: float) -> Optional[str]:
    """24-bit PCM of float samples: same header; samples within the float bound, +1 LSB
    for the truncation to integers."""
    head = genuine.find(b"data") + 8
    if head < 8 or produced[:head] != genuine[:head] or len(produced) != len(genuine):
        return "wav header or length differs"

    def int24(raw: bytes) -> np.ndarray:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        return np.where(v >= 1 << 23, v - (1 << 24), v)

    allowed = int(tol * 2**23) + 1
    worst = int(np.abs(int24(produced[head:]) - int24(genuine[head:])).max(initial=0))
    return f"samples differ by {worst} > {allowed} LSB" if worst > allowed else None


def export_file_mismatch(
    produced: Path, genuine, net: Optional[dict] = None, exact: bool = False, wav_tolerance: float = 0.0
) -> Optional[str]:
    """None when the file `produced` is the release's file `genuine` (a Path or its bytes).

    `exact`: byte for byte. Otherwise the layout and every number no forward pass computed
    must be identical, and the numbers torch computed within the bound: the CatLSTM
    burn-in state in weight vectors (`forward_mask`, needs model.json's `net`), `.nam`
    loudness/gain, snapshot arrays (other `.npy` files: the input sine is computed by
    torch too), and snapshot wavs (`.wav`, within `wav_tolerance` plus one LSB).
    """
    a = Path(produced).read_bytes()
    e = genuine if isinstance(genuine, bytes) else Path(genuine).read_bytes()
    if exact or a == e:
        return None if a == e else "bytes differ"
    name = Path(produced).name
    if name.endswith(".nam"):
        return _nam_mismatch(a, e, net)
    if name.endswith(".h"):
        return _header_mismatch(a, e, net)
    if name == "weights.npy":
        return _npy_mismatch(a, e, lambda n: forward_mask(net, n) if net else np.zeros(n, bool))
    if name.endswith(".npy"):
        return _npy_mismatch(a, e, lambda n: np.ones(n, bool))
    if name.endswith(".wav"):
        return _wav_mismatch(a, e, wav_tolerance)
    return "bytes differ"


# --- exports of a case --------------------------------------------------------------------


def _params(case):
    specs = json.loads((case / "params.json").read_text())
    return {name: Param.init_from_config(dict(spec)) for name, spec in specs.items()}


def _pin_date(model, nam_file: Path):
    date = json.loads(nam_file.read_text()).get("metadata", {}).get("date")
    if date:
        model._export_fixed_date = datetime(**date)


@contextmanager
def snapshot_input(x: Optional[np.ndarray]):
    """Within: the releases' snapshot sine (`_sine_snapshot_input`) is `x` (if given).

    The sine's float32 time base and `sin` of arguments up to 2*pi*220 round differently
    on other CPU kernels, moving samples by up to 1,024 ulps of the peak (measured with
    ATen's scalar kernels). To compare a stored snapshot's *output*, our export must run
    on the release's own input; the generator itself is checked exactly by the live
    oracle (0.5.0+ `test_inputs.npy` is the same sine).
    """
    if x is None:
        yield
        return
    from nam_legacy.models import _base, recurrent

    with mock.patch.object(_base, "_sine_snapshot_input", lambda: torch.from_numpy(x.copy())), \
            mock.patch.object(recurrent, "_sine_snapshot_input", lambda: torch.from_numpy(x.copy())):
        yield


def _export(model, case, outdir: Path, snapshot_seed: Optional[int] = None):
    """Call the model's export exactly as tests/oracle/make_fixtures.py called upstream's.

    With `snapshot_seed`, the `--snapshot-exports` call instead: the export with its
    snapshot (`include_snapshot=True` from 0.5.0) right after
    `torch.manual_seed(snapshot_seed)` (HyperConvNet draws its snapshot from the global
    RNG), and no header.
    """
    hyper = type(model).__name__ == "HyperConvNet"
    if snapshot_seed is not None:
        flag = {"include_snapshot": True} if model._release.export_include_snapshot_flag else {}
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(snapshot_seed)
            if hyper:
                model.export(outdir, **flag)
            elif flag:
                model.export(outdir, _params(case), **flag)
        return
    if hyper:
        model.export(outdir)
        model.export_cpp_header(outdir / "model.h")
    else:
        model.export(outdir, _params(case))
        if model._release.lstm_cpp_header:
            model.export_cpp_header(outdir / "model.h", _params(case))


def _expected_dir(case: Path, kind: str) -> Path:
    if kind == "export_snapshot":
        return case / kind
    return case / "export" if (case / "export").is_dir() else case / "export_patched"


def export_mismatches(case: Path, outdir: Path, exact: bool = False, kind: str = "export") -> List[str]:
    """Export files the release wrote that our export of the same checkpoint does not reproduce.

    The model is loaded under the case's own release profile and exported exactly as
    tests/oracle/make_fixtures.py exported upstream's (`kind` "export_snapshot": its
    `--snapshot-exports` call); the `.nam` date is pinned to the release's. Files are
    compared by `export_file_mismatch` (byte for byte if `exact`). HyperConvNet snapshot
    files of the plain export are unseeded randomness upstream, so only their presence
    counts. Snapshot files the fixture dropped for size are compared by hash if `exact`.
    Otherwise our export runs on the release's snapshot input (`snapshot_input`), and
    the files are compared with the genuine arrays the fixtures kept (the wavs with
    np_to_wav of them).
    """
    torch.set_num_threads(1)
    info = meta(case)
    net = json.loads((case / "model.json").read_text())["net"]
    model = load(case, release=info["release"])
    expected_dir = _expected_dir(case, kind)
    for nam_file in expected_dir.glob("*.nam"):
        _pin_date(model, nam_file)
    removed = {Path(r["file"]).name: r for r in info.get("export_removed_files", [])
               if Path(r["file"]).parts[0] == expected_dir.name}
    genuine_input = None
    if not exact and removed.get("inputs.npy", {}).get("kept"):
        genuine_input = np.load(io.BytesIO(kept_snapshot(case, removed["inputs.npy"])))
    with snapshot_input(genuine_input):
        _export(model, case, outdir, info.get("snapshot_seed") if kind == "export_snapshot" else None)
    bad = []
    random_snapshot = lambda name: (  # noqa: E731
        kind == "export" and name.startswith("test_signal_") and type(model).__name__ == "HyperConvNet"
    )
    for path in expected_dir.iterdir():
        produced = outdir / path.name
        if not produced.is_file():
            bad.append(f"{path.name}: missing")
        elif not random_snapshot(path.name):
            problem = export_file_mismatch(produced, path, net, exact)
            if problem:
                bad.append(f"{path.name}: {problem}")
    for name, record in removed.items():
        produced = outdir / name
        if not produced.is_file():
            bad.append(f"{name}: missing")
        elif hashlib.sha256(produced.read_bytes()).hexdigest() != record["sha256"]:
            genuine, tol = (None, 0.0) if exact else _genuine_dropped(case, name, removed)
            problem = export_file_mismatch(produced, genuine, net, wav_tolerance=tol) if genuine else "sha256 differs"
            if problem:
                bad.append(f"{name}: {problem}")
    return bad


_WAV_SOURCE = {"input.wav": "inputs.npy", "output.wav": "outputs.npy"}


def _genuine_dropped(case: Path, name: str, removed: dict):
    """(genuine bytes, wav tolerance) of a file the fixture dropped for size, where the
    arrays it kept (xz-compressed) give them; (None, 0) otherwise."""
    if removed[name].get("kept"):
        return kept_snapshot(case, removed[name]), 0.0
    source = removed.get(_WAV_SOURCE.get(name, ""))
    if source and source.get("kept"):
        # The release wrote the wav as np_to_wav(array): rebuild it from the genuine
        # numbers, and make sure that gives the release's bytes.
        y = np.load(io.BytesIO(kept_snapshot(case, source)))
        data = wav_bytes(y)
        if hashlib.sha256(data).hexdigest() != removed[name]["sha256"]:
            raise AssertionError(f"np_to_wav of {source['kept']} is not the release's {name}")
        return data, tolerance(y)
    return None, 0.0


def kept_snapshot(case: Path, record: dict) -> bytes:
    """The bytes of a dropped snapshot array the fixtures kept (`kept` is relative to the
    fixtures' root), checked against the sha256 the release's file had."""
    path = case.parent.parent / record["kept"]
    data = lzma.decompress(path.read_bytes())
    if hashlib.sha256(data).hexdigest() != record["sha256"]:
        raise AssertionError(f"{path} is not the file the release wrote")
    return data


def wav_bytes(y: np.ndarray) -> bytes:
    """The bytes of the releases' `np_to_wav(y, path)` (24-bit, 48 kHz)."""
    with tempfile.TemporaryDirectory() as tmp:
        np_to_wav(y, Path(tmp) / "out.wav")
        return (Path(tmp) / "out.wav").read_bytes()


def load(case: Path, release=None) -> torch.nn.Module:
    return compat.load_checkpoint(case / "model.ckpt", case / "model.json", release=release)


def meta(case: Path) -> dict:
    return json.loads((case / "meta.json").read_text())
