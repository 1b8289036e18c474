#!/usr/bin/env python3
"""Benchmark: a pack of folded CatLSTM snapshots with full current-NAM metadata.

Model: upstream's default CatLSTM (3 knobs, so input_size 4; hidden 32; 4 layers), random
weights. Grid: 5 x 5 x 5 knob settings in [0, 1]^3 = 125 `.nam` files.

* ours: `fold` each point (incl. current NAM's 48,000-sample burn-in state, bit for bit,
  stopped early once it repeats), then `current_metadata` on all of them at once
  (batched wavefront LSTM, compat/migrate/lstm_batch.py, with the native cell kernel if
  this machine can build it: the line "LSTM cell:" says; `--torch-ops` forces torch ops),
  then write the files.
* baseline: what a user of neural-amp-modeler 0.13.0 would do per snapshot, in the real
  0.13.0 environment (tests/current_nam.py): build its `LSTM`, `import_weights` the
  folded weights, `export()` (which runs the burn-in and computes loudness and gain
  itself, one model and one gain at a time).

Both sides run with one torch thread, one after the other in the same run. The baseline
is slow (~5 s a snapshot: 13 single-sequence LSTM passes over 48,000 samples), so `--baseline-points N` times it on the first N snapshots
and scales to the full grid (reported as such).

    python bench/pack.py [--grid 5] [--baseline-points 125] [--torch-ops]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from compat.migrate import fold, nam_document, write_nam  # noqa: E402
from compat.migrate import native  # noqa: E402
from compat.migrate.metadata import current_metadata  # noqa: E402
from nam_legacy.models.parametric.catnets import CatLSTM  # noqa: E402

_BASELINE = r"""
import json, sys, time, tempfile, os
import numpy as np
import torch
torch.set_num_threads(1)
from nam.models.recurrent import LSTM
payload = json.load(sys.stdin)
cfg = payload["config"]
weights = np.load(payload["weights"])
out = tempfile.mkdtemp()
t0 = time.perf_counter()
metas = []
for n, w in enumerate(weights):
    model = LSTM(cfg["hidden_size"], input_size=cfg["input_size"], num_layers=cfg["num_layers"], sample_rate=48000.0)
    model.import_weights(w)
    model.export(out, basename=f"snap{n}")
seconds = time.perf_counter() - t0
for n in range(len(weights)):
    with open(os.path.join(out, f"snap{n}.nam")) as fp:
        d = json.load(fp)
    metas.append({"loudness": d["metadata"]["loudness"], "gain": d["metadata"]["gain"]})
print(json.dumps({"seconds": seconds, "metadata": metas}))
"""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", type=int, default=5, help="points per knob (default 5: 125 snapshots)")
    ap.add_argument("--baseline-points", type=int, default=None, help="time the baseline on this many snapshots")
    ap.add_argument("--torch-ops", action="store_true", help="run the LSTM cell with torch ops, not the native kernel")
    args = ap.parse_args(argv)
    if args.torch_ops:
        os.environ["NAM_LEGACY_NATIVE"] = "0"
    print(f"LSTM cell: {native.status()}", flush=True)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = CatLSTM(32, input_size=4, num_layers=4).eval()
    axis = np.linspace(0.0, 1.0, args.grid)
    points = [list(p) for p in itertools.product(axis, axis, axis)]
    n = len(points)

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        folded = [fold(model, p) for p in points]
        t1 = time.perf_counter()
        metas = current_metadata(folded, date=datetime.now())
        t2 = time.perf_counter()
        for i, (f, m) in enumerate(zip(folded, metas)):
            write_nam(Path(tmp) / f"snap{i}.nam", nam_document(f, metadata=m, sample_rate=48_000))
        t3 = time.perf_counter()
    ours = t3 - t0
    print(f"ours: {n} snapshots in {ours:.1f} s (fold+burn-in {t1 - t0:.1f} s, metadata {t2 - t1:.1f} s, "
          f"write {t3 - t2:.1f} s)", flush=True)

    import current_nam

    k = n if args.baseline_points is None else max(1, min(n, args.baseline_points))
    python = current_nam.python_for()
    with tempfile.TemporaryDirectory() as tmp:
        wpath = Path(tmp) / "weights.npy"
        np.save(wpath, np.stack([f.weights for f in folded[:k]]))
        res = current_nam.run_in_env(python, _BASELINE, {"config": folded[0].config, "weights": str(wpath)},
                                     timeout=7200)
    base = res["seconds"] * n / k
    d_loud = max(abs(a["loudness"] - b["loudness"]) for a, b in zip(metas, res["metadata"]))
    d_gain = max(abs(a["gain"] - b["gain"]) for a, b in zip(metas, res["metadata"]))
    scaled = "" if k == n else f" (measured {res['seconds']:.1f} s on {k} snapshots, scaled x{n / k:.2f})"
    print(f"baseline (nam 0.13.0 export per snapshot): {base:.1f} s for {n}{scaled}")
    print(f"speed-up: {base / ours:.2f}x")
    print(f"metadata vs 0.13.0 on {k} snapshots: max |loudness diff| {d_loud:.3g} dB, max |gain diff| {d_gain:.3g}")
    print(json.dumps({"snapshots": n, "lstm_cell": native.status(), "ours_s": ours, "baseline_s": base, "baseline_measured_points": k,
                      "speedup": base / ours, "max_loudness_diff_db": d_loud, "max_gain_diff": d_gain}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
