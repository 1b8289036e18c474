"""Legacy models for the parametric-nam tests: genuine fixtures and hand-built models whose
knobs have ranges other than [0, 1], several booleans and more structure (heads, three
layer arrays, ungated layers, other activations)."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Tuple

import torch

import compat
from compat.detect import ReleaseRange
from compat.knobs import specs_from_param_config
from nam_legacy.models.parametric.catnets import CatLSTM, CatWaveNet
from nam_legacy.releases import DEFAULT, use_release

FIXTURES = Path(__file__).parent / "fixtures"

# Knobs of the hand-built models (sorted: bright, drive, gain, mode).
PARAMS = {
    "gain": {"type": "continuous", "default_value": -3.0, "minval": -12.0, "maxval": 6.0},
    "drive": {"type": "continuous", "default_value": 2.5, "minval": 1.0, "maxval": 10.0},
    "bright": {"type": "boolean", "default_value": True},
    "mode": {"type": "boolean", "default_value": False},
}


def fixture_cases(releases=None) -> List[Tuple[str, Path, Dict]]:
    """(id, path, load kwargs) for every genuine CatLSTM/CatWaveNet checkpoint and export."""
    out = []
    for case in sorted(FIXTURES.glob("*/cat*")):
        release = case.parent.name
        if releases is not None and release not in releases:
            continue
        kw = {"config": case / "model.json", "param_config": case / "params.json"}
        out.append((f"{release}-{case.name}-ckpt", case / "model.ckpt", kw))
        for export in sorted(case.glob("export*")):
            nam = export / "model.nam"
            target = nam if nam.is_file() else export / "config.json"
            if target.is_file():
                out.append((f"{release}-{case.name}-{export.name}", target, {"param_config": case / "params.json"}))
    return out


def _legacy(model, architecture: str, net_config) -> "compat.LegacyModel":
    return compat.LegacyModel(
        model=model.eval(), architecture=architecture, format="synthetic",
        detected=ReleaseRange(DEFAULT, DEFAULT, ("built in tests",)), release=DEFAULT, net_config=net_config,
        knobs=specs_from_param_config(PARAMS), param_config=dict(PARAMS), sample_rate=48_000.0,
        initial_state="learned" if architecture == "CatLSTM" else None,
    )


def random_catlstm(seed: int = 3) -> "compat.LegacyModel":
    torch.manual_seed(seed)
    config = {"hidden_size": 6, "num_layers": 3, "input_size": 1 + len(PARAMS), "train_burn_in": 50, "train_truncate": 80}
    with use_release(DEFAULT):
        model = CatLSTM.init_from_config(dict(config))
    with torch.no_grad():
        model._initial_hidden.normal_(0, 0.3)
        model._initial_cell.normal_(0, 0.3)
        for name, p in model._core.named_parameters():
            if name.startswith("bias_hh"):
                p.normal_(0, 0.2)  # distinct b_hh: the writer sums the two biases
    return _legacy(model, "CatLSTM", config)


def catwavenet_config(knobs: int) -> Dict:
    """A small CatWaveNet with more structure than the fixtures: three layer arrays (gated
    and not, with and without head bias, ReLU/LeakyReLU/ELU) and a two-layer head."""
    d = knobs
    arrays = [
        dict(input_size=1 + d, condition_size=1 + d, head_size=3, channels=4, kernel_size=3, dilations=[1, 2, 4],
             activation="ReLU", gated=True, head_bias=True),
        dict(input_size=4, condition_size=1 + d, head_size=2, channels=3, kernel_size=2, dilations=[1, 3],
             activation="LeakyReLU", gated=False, head_bias=False),
        dict(input_size=3, condition_size=1 + d, head_size=2, channels=2, kernel_size=1, dilations=[1, 1],
             activation="ELU", gated=False, head_bias=True),
    ]
    head = dict(in_channels=2, channels=3, activation="Tanh", num_layers=2, out_channels=1)
    return {"layers_configs": arrays, "head_config": head, "head_scale": 0.3}


def random_catwavenet(seed: int = 5) -> "compat.LegacyModel":
    torch.manual_seed(seed)
    config = catwavenet_config(len(PARAMS))
    with use_release(DEFAULT):
        model = CatWaveNet(config["layers_configs"], head_config=config["head_config"], head_scale=config["head_scale"])
    return _legacy(model, "CatWaveNet", config)


def knob_vectors(legacy) -> Dict[str, List[float]]:
    """The five settings the issue names, in model order (sorted names)."""
    specs = legacy.knobs
    defaults = [k.default for k in specs]
    lo = [0.0 if k.type == "boolean" else k.minval for k in specs]
    hi = [1.0 if k.type == "boolean" else k.maxval for k in specs]
    mixed = [(1.0 if i % 2 == 0 else 0.0) if k.type == "boolean" else k.minval + (0.8 if i % 2 else 0.15) * (k.maxval - k.minval)
             for i, k in enumerate(specs)]
    toggled = [1.0 - v if k.type == "boolean" else v for k, v in zip(specs, defaults)]
    return {"defaults": defaults, "all-min": lo, "all-max": hi, "mixed": mixed, "booleans-toggled": toggled}


def start_state(module):
    """(h, c), each (layers, hidden): where the legacy CatLSTM's forward starts."""
    if hasattr(module, "_initial_hidden"):
        return module._initial_hidden.detach().clone(), module._initial_cell.detach().clone()
    shape = (module._core.num_layers, module._core.hidden_size)
    return torch.zeros(shape), torch.zeros(shape)


def legacy_output(module, knobs, x: torch.Tensor, state=None) -> torch.Tensor:
    """The legacy model at `knobs` on x (pad_start), from `state` (CatLSTM) if given."""
    params = torch.tensor(knobs, dtype=torch.float32)
    with torch.no_grad():
        if state is None or not isinstance(module, CatLSTM):
            return module(params, x, pad_start=True)
        saved = start_state(module)
        try:
            module._initial_hidden.data, module._initial_cell.data = state[0].clone(), state[1].clone()
            return module(params, x, pad_start=True)
        finally:
            module._initial_hidden.data, module._initial_cell.data = saved


def stored_state(doc) -> Tuple[torch.Tensor, torch.Tensor]:
    """(h, c) stored in a ConcatLSTM document's weights."""
    cfg = doc["config"]
    hidden, layers = cfg["hidden_size"], cfg["num_layers"]
    width = 1 + sum(1 if p["type"] == "continuous" else len(p["enum_names"]) for p in cfg["params"])
    w = torch.tensor(doc["weights"], dtype=torch.float32)
    i, hs, cs = 0, [], []
    for k in range(layers):
        i += 4 * hidden * ((width if k == 0 else hidden) + hidden) + 4 * hidden
        hs.append(w[i : i + hidden])
        cs.append(w[i + hidden : i + 2 * hidden])
        i += 2 * hidden
    return torch.stack(hs), torch.stack(cs)
