"""Numeric audit: upstream's own code at each release against nam_legacy, bit for bit.

For each release, upstream's `nam/` tree is written from git's object database into a
temporary directory (no checkout) and put first on `sys.path` of `--python PY`, an
interpreter that has upstream's dependencies (torch, pytorch_lightning, ...). There a probe
builds each parametric model from a fixed config and seed, runs it, and saves weights,
inputs and outputs; here nam_legacy builds the same model under that release's profile,
loads the weights and must produce the same numbers (`torch.equal`).

Only this module imports torch and nam_legacy models, and only when --numeric is given.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

# (model, upstream module, class, "kwargs" (constructor) or "config" (init_from_config),
# payload, knob count). Small models, but through every stage of their forward pass.
CASES = (
    ("CatLSTM", "nam.models.parametric.catnets", "CatLSTM", "kwargs", {"hidden_size": 5, "input_size": 3, "num_layers": 2}, 2),
    (
        "CatWaveNet",
        "nam.models.parametric.catnets",
        "CatWaveNet",
        "kwargs",
        {
            "layers_configs": [
                {"input_size": 3, "condition_size": 3, "channels": 4, "head_size": 1, "kernel_size": 3,
                 "dilations": [1, 2], "activation": "Tanh", "gated": False, "head_bias": False},
            ],
            "head_scale": 0.02,
        },
        2,
    ),
    (
        "HyperConvNet",
        "nam.models.parametric.hyper_net",
        "HyperConvNet",
        "config",
        {
            "net": {"channels": 3, "dilations": [1, 2, 4], "batchnorm": False, "activation": "Tanh"},
            "hyper_net": {"num_inputs": 2, "num_layers": 2, "num_units": 6, "batchnorm": True},
        },
        2,
    ),
)

PROBE = r"""
import json, sys, importlib
sys.path.insert(0, sys.argv[1])
import numpy as np, torch
torch.set_num_threads(1)
out = {}
for name, module, cls, how, payload, n_knobs in json.loads(sys.argv[2]):
    try:
        mod = importlib.import_module(module)
        if not mod.__file__.startswith(sys.argv[1]):
            raise RuntimeError("imported " + mod.__file__ + ", not the release's source")
        if not hasattr(mod, cls):
            out[name] = {"status": "absent"}
            continue
        torch.manual_seed(0)
        C = getattr(mod, cls)
        model = C(**payload) if how == "kwargs" else C.init_from_config(payload)
        model.eval()
        params = torch.rand(n_knobs)
        x = torch.randn(512)
        with torch.no_grad():
            y = model(params, x)
        arrays = {"w/" + k: v.detach().numpy() for k, v in model.state_dict().items()}
        arrays.update({"params": params.numpy(), "x": x.numpy(), "y": y.numpy()})
        path = sys.argv[3] + "/" + name + ".npz"
        np.savez(path, **arrays)
        out[name] = {"status": "ok", "file": path}
    except Exception as e:
        out[name] = {"status": "error", "detail": type(e).__name__ + ": " + str(e)[:300]}
print(json.dumps(out))
"""


@dataclass
class NumericResult:
    release: str
    model: str
    status: str  # match | mismatch | absent | error
    detail: str = ""
    max_abs_diff: Optional[float] = None


def _materialize(repo, commit, dest: Path) -> None:
    """Write every blob under nam/ at `commit` into dest/nam (object database only)."""
    for item in (commit.tree / "nam").traverse():
        if item.type != "blob":
            continue
        target = dest / item.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(repo.read_blob(item.hexsha))


def _ours(release: str, name: str, how: str, payload: dict, data) -> "tuple":
    import copy

    import torch

    from nam_legacy.models.parametric.catnets import CatLSTM, CatWaveNet
    from nam_legacy.models.parametric.hyper_net import HyperConvNet
    from nam_legacy.releases import use_release

    torch.set_num_threads(1)
    cls = {"CatLSTM": CatLSTM, "CatWaveNet": CatWaveNet, "HyperConvNet": HyperConvNet}[name]
    with use_release(release):
        payload = copy.deepcopy(payload)
        model = cls(**payload) if how == "kwargs" else cls.init_from_config(payload)
    state = {k[2:]: torch.from_numpy(data[k]) for k in data.files if k.startswith("w/")}
    model.load_state_dict(state, strict=True)
    model.eval()
    with torch.no_grad():
        y = model(torch.from_numpy(data["params"]), torch.from_numpy(data["x"]))
    return y, torch.from_numpy(data["y"])


def numeric_audit(repo, targets, python: str, timeout: float = 600) -> List[NumericResult]:
    """targets: (release name, commit) pairs."""
    import numpy as np
    import torch

    results: List[NumericResult] = []
    cases = [list(c) for c in CASES]
    for release, commit in targets:
        with tempfile.TemporaryDirectory(prefix=f"nam-audit-{release}-") as tmp:
            src, outdir = Path(tmp) / "src", Path(tmp) / "out"
            src.mkdir()
            outdir.mkdir()
            _materialize(repo, commit, src)
            proc = subprocess.run(
                [python, "-c", PROBE, str(src), json.dumps(cases), str(outdir)],
                capture_output=True, text=True, timeout=timeout,
            )
            try:
                probe: Dict[str, dict] = json.loads(proc.stdout.strip().splitlines()[-1])
            except (ValueError, IndexError):
                tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
                results += [NumericResult(release, c[0], "error", f"probe failed: {tail}") for c in CASES]
                continue
            for name, _, _, how, payload, _ in CASES:
                got = probe.get(name, {"status": "error", "detail": "not run"})
                if got["status"] != "ok":
                    results.append(NumericResult(release, name, got["status"], got.get("detail", "")))
                    continue
                try:
                    with np.load(got["file"]) as data:
                        ours, theirs = _ours(release, name, how, payload, data)
                except Exception as e:  # our model refuses the config or the weights
                    results.append(NumericResult(release, name, "error", f"nam_legacy: {type(e).__name__}: {e}"[:300]))
                    continue
                if ours.shape == theirs.shape and torch.equal(ours, theirs):
                    results.append(NumericResult(release, name, "match", max_abs_diff=0.0))
                else:
                    diff = float((ours - theirs).abs().max()) if ours.shape == theirs.shape else None
                    shapes = "" if ours.shape == theirs.shape else f"shape {tuple(ours.shape)} vs {tuple(theirs.shape)}"
                    results.append(NumericResult(release, name, "mismatch", shapes, diff))
    return results
