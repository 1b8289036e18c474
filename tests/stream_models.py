"""Models and helpers for the streaming tests: genuine fixtures of several releases in every
format compat.load reads, stock-size random models, and running a stream over a partition."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch

import compat
from compat import architectures
from nam_legacy.releases import DEFAULT

FIXTURES = Path(__file__).parent / "fixtures"
RELEASES = ("0.3.0", "0.4.0", "0.5.1", "0.7.4")
CASES = ("catlstm", "catwavenet", "hyperconvnet_bn", "hyperconvnet_nobn")
TOL = 1e-6


def _sources(release: str, case: str) -> List[Tuple[str, dict]]:
    folder = FIXTURES / release / case
    if not folder.exists():
        return []
    params = folder / "params.json"
    found = [("ckpt", dict(path=folder / "model.ckpt", config=folder / "model.json", param_config=params))]
    for name in ("export/model.nam", "export_patched/model.nam", "export", "export/model.h", "export_patched/model.h"):
        path = folder / name
        if path.exists() and (path.is_file() or (path / "config.json").exists()):
            # Exports of 0.3.0/0.4.0 and headers name no knobs in some releases: give the param config.
            found.append((name, dict(path=path, param_config=params)))
    return found


def fixture_ids() -> List[str]:
    return [f"{r}/{c}/{fmt}" for r in RELEASES for c in CASES for fmt, _ in _sources(r, c)]


@functools.lru_cache(maxsize=None)
def load_fixture(fixture_id: str) -> compat.LegacyModel:
    release, case, fmt = fixture_id.split("/", 2)
    kwargs = dict(_sources(release, case))[fmt]
    return compat.load(kwargs.pop("path"), **kwargs)


def architecture_of(fixture_id: str) -> str:
    case = fixture_id.split("/")[1]
    return {"catlstm": "CatLSTM", "catwavenet": "CatWaveNet"}.get(case, "HyperConvNet")


KNOBS = 3
DILATIONS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
STOCK = {  # the sizes of bench/stream.py (upstream's catlstm.json, wavenet.json with 3 knobs)
    "CatLSTM": {"num_layers": 4, "hidden_size": 32, "input_size": 1 + KNOBS},
    "CatWaveNet": {"layers_configs": [
        {"condition_size": 4, "input_size": 4, "channels": 16, "head_size": 8, "kernel_size": 3, "dilations": DILATIONS,
         "activation": "Tanh", "gated": False, "head_bias": False},
        {"condition_size": 4, "input_size": 16, "channels": 8, "head_size": 1, "kernel_size": 3, "dilations": DILATIONS,
         "activation": "Tanh", "gated": True, "head_bias": True}], "head_scale": 0.02},
    "HyperConvNet": {"net": {"channels": 8, "dilations": [1, 2, 4, 8, 16, 32, 64, 128], "batchnorm": True, "activation": "Tanh"},
                     "hyper_net": {"num_inputs": KNOBS, "num_layers": 3, "num_units": 64, "batchnorm": True}},
}


@functools.lru_cache(maxsize=None)
def stock_model(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    model = architectures.build(name, STOCK[name], DEFAULT)
    with torch.no_grad():  # off the init values: nothing special about zero states or unit BN
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model.eval()


def audio(seed: int, n: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return (0.3 * rng.standard_normal(n) + 0.3 * np.sin(2 * np.pi * 220 * t / 48_000)).astype(np.float32)


def offline(model, knobs: Sequence[float], x: np.ndarray) -> np.ndarray:
    model = getattr(model, "model", model)
    with torch.no_grad():
        return model(torch.tensor(np.asarray(knobs, dtype=np.float32)), torch.from_numpy(x), pad_start=True).numpy()


def run_partition(proc, x: np.ndarray, sizes: Sequence[int], knob_curves: Dict[str, np.ndarray] = None) -> np.ndarray:
    """Process x in blocks of the given sizes (cycled), passing the matching slice of each curve."""
    out, i, j = [], 0, 0
    while i < len(x):
        n = sizes[j % len(sizes)]
        j += 1
        knobs = None if knob_curves is None else {k: v[i : i + n] for k, v in knob_curves.items()}
        out.append(proc.process(x[i : i + n], knobs=knobs))
        i += n
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def defaults(legacy) -> List[float]:
    return [s.default for s in legacy.knobs]
