"""Comparing nam_legacy with references written by the real releases.

A case directory (tests/fixtures/<release>/<case>/, or one the live oracle test just
made) holds `model.ckpt` (a genuine Lightning checkpoint), `model.json` (the model config
it was trained with), `meta.json` and `reference.npz` (the release's own outputs); see
tests/fixtures/README.md. Everything is compared with torch.equal on one torch thread.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Iterator, List, Tuple

import numpy as np
import torch

import compat

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


def load(case: Path, release=None) -> torch.nn.Module:
    return compat.load_checkpoint(case / "model.ckpt", case / "model.json", release=release)


def meta(case: Path) -> dict:
    return json.loads((case / "meta.json").read_text())
