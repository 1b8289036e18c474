#!/usr/bin/env python3
"""How far this machine's forward outputs are from the stored fixtures, in float32 ulps of
each output's scale (the measure of golden.ULPS; tests/fixtures/README.md).

    python tests/oracle/fixture_drift.py                     # this CPU's kernels
    ONEDNN_MAX_CPU_ISA=SSE41 python tests/oracle/fixture_drift.py
    ATEN_CPU_CAPABILITY=default python tests/oracle/fixture_drift.py

One line: the worst case per class for the reference outputs (reference.npz, batch 1 and
batch 3, both profiles) and for the forward-computed numbers of exports (CatLSTM burn-in
state in the weight vector, snapshot outputs), and the overall worst.
"""

import io
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import golden  # noqa: E402


def ulps(actual, expected) -> float:
    a, e = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    step = golden.tolerance(np.asarray(expected)) / golden.ULPS
    return float(np.abs(a - e).max() / step) if a.size else 0.0


def reference_drift(worst: dict) -> None:
    for case in golden.cases():
        for profile in (None, golden.meta(case)["release"]):
            model = golden.load(case, release=profile)
            for key, params, x, expected, pad, train in golden.references(case):
                net = __import__("copy").deepcopy(model).train() if train else model.eval()
                with torch.no_grad():
                    actual = net(params, x, pad_start=pad)
                group = f"{case.name} b{1 if '_b1_' in key else 3}"
                worst[group] = max(worst.get(group, 0.0), ulps(actual.numpy(), expected.numpy()))


def export_drift(worst: dict) -> None:
    for case in golden.cases():
        info = golden.meta(case)
        net = json.loads((case / "model.json").read_text())["net"]
        folder = golden._expected_dir(case, "export")
        if not folder.is_dir():
            continue
        model = golden.load(case, release=info["release"])
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            for nam in folder.glob("*.nam"):
                golden._pin_date(model, nam)
            inputs = [r for r in info.get("export_removed_files", []) if r["file"].endswith("/inputs.npy")]
            genuine = np.load(io.BytesIO(golden.kept_snapshot(case, inputs[0]))) if inputs else None
            with golden.snapshot_input(genuine):  # as tests/test_exports.py does
                golden._export(model, case, out)
            if net["name"] == "CatLSTM":
                for name in ("weights.npy", "model.nam"):
                    if (folder / name).is_file():
                        a, e = _vector(out / name), _vector(folder / name)
                        mask = golden.forward_mask(net, len(e))
                        worst["catlstm state"] = max(worst.get("catlstm state", 0.0), ulps(a[mask], e[mask]))
            for record in info.get("export_removed_files", []):
                if record.get("kept") and record["file"].endswith("/outputs.npy"):
                    y = np.load(io.BytesIO(golden.kept_snapshot(case, record)))
                    group = f"{case.name} snapshot"
                    worst[group] = max(worst.get(group, 0.0), ulps(np.load(out / Path(record["file"]).name), y))


def _vector(path: Path) -> np.ndarray:
    if path.suffix == ".nam":
        return np.asarray(json.loads(path.read_text())["weights"], np.float32)
    return np.load(path)


def main() -> int:
    torch.set_num_threads(1)
    worst: dict = {}
    reference_drift(worst)
    export_drift(worst)
    kernels = f"ATen {torch.backends.cpu.get_cpu_capability()}, ONEDNN_MAX_CPU_ISA={os.environ.get('ONEDNN_MAX_CPU_ISA', '(unset)')}"
    print(f"{kernels}: worst {max(worst.values()):g} ulps (bound {golden.ULPS}); "
          + ", ".join(f"{k} {v:g}" for k, v in sorted(worst.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
