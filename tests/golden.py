"""Comparing nam_legacy with references written by the real releases.

A case directory (tests/fixtures/<release>/<case>/, or one the live oracle test just
made) holds `model.ckpt` (a genuine Lightning checkpoint), `model.json` (the model config
it was trained with), `meta.json` and `reference.npz` (the release's own outputs); see
tests/fixtures/README.md. Everything is compared with torch.equal on one torch thread.
"""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Iterator, List, Tuple

import numpy as np
import torch

import compat
from nam_legacy.models.parametric.params import Param

FIXTURES = Path(__file__).parent / "fixtures"


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


def mismatches(model: torch.nn.Module, case: Path) -> List[str]:
    """Reference keys whose output is not bit-identical (empty when all match)."""
    torch.set_num_threads(1)
    bad = []
    for key, params, x, expected, pad, train in references(case):
        net = copy.deepcopy(model).train() if train else model.eval()
        with torch.no_grad():
            actual = net(params, x, pad_start=pad)
        if actual.shape != expected.shape or actual.dtype != expected.dtype or not torch.equal(actual, expected):
            diff = (actual - expected).abs().max().item() if actual.shape == expected.shape else "shape"
            bad.append(f"{key} (max abs diff {diff})")
    return bad


def _params(case):
    specs = json.loads((case / "params.json").read_text())
    return {name: Param.init_from_config(dict(spec)) for name, spec in specs.items()}


def _pin_date(model, nam_file: Path):
    date = json.loads(nam_file.read_text()).get("metadata", {}).get("date")
    if date:
        model._export_fixed_date = datetime(**date)


def _export(model, case, outdir: Path):
    """Call the model's export exactly as tests/oracle/make_fixtures.py called upstream's."""
    if type(model).__name__ == "HyperConvNet":
        model.export(outdir)
        model.export_cpp_header(outdir / "model.h")
    else:
        model.export(outdir, _params(case))
        if model._release.lstm_cpp_header:
            model.export_cpp_header(outdir / "model.h", _params(case))


def export_mismatches(case: Path, outdir: Path) -> List[str]:
    """Export files the release wrote that our export of the same checkpoint does not reproduce.

    The model is loaded under the case's own release profile and exported exactly as
    tests/oracle/make_fixtures.py exported upstream's; the `.nam` date is pinned to the
    release's. HyperConvNet snapshot files are unseeded randomness upstream, so only their
    presence counts; snapshot files the fixture dropped for size are compared by hash.
    """
    torch.set_num_threads(1)
    info = meta(case)
    model = load(case, release=info["release"])
    expected_dir = case / "export" if (case / "export").is_dir() else case / "export_patched"
    for nam_file in expected_dir.glob("*.nam"):
        _pin_date(model, nam_file)
    _export(model, case, outdir)
    bad = []
    for path in expected_dir.iterdir():
        produced = outdir / path.name
        random_snapshot = path.name.startswith("test_signal_") and type(model).__name__ == "HyperConvNet"
        if not produced.is_file() or (not random_snapshot and produced.read_bytes() != path.read_bytes()):
            bad.append(path.name)
    for removed in info.get("export_removed_files", []):
        produced = outdir / Path(removed["file"]).name
        if not produced.is_file() or hashlib.sha256(produced.read_bytes()).hexdigest() != removed["sha256"]:
            bad.append(removed["file"])
    return bad


def load(case: Path, release=None) -> torch.nn.Module:
    return compat.load_checkpoint(case / "model.ckpt", case / "model.json", release=release)


def meta(case: Path) -> dict:
    return json.loads((case / "meta.json").read_text())
