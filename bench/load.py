"""Load time of genuine checkpoints: compat against a bare `torch.load(weights_only=True)`, same run.

For each genuine fixture checkpoint of 0.7.4 (one per class) and a larger synthetic one (the CatWaveNet of
bench/forward.py after a few Adam steps, re-saved by torch), alternating calls, one torch thread:

- `torch.load`: `torch.load(path, weights_only=True)`, the baseline (no model is built);
- `read`: `compat.read_checkpoint(path)`, our safe reader alone;
- `load`: `compat.open_checkpoint(path, config)`, the whole load: read, validate, migrate, build, load_state_dict.

Prints the median time of each and the median of the pairwise ratios to the baseline.

    python bench/load.py [--repeats 15] [--json]
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

import compat  # noqa: E402
from compat import architectures  # noqa: E402
from nam_legacy.releases import get_release  # noqa: E402

FIXTURES = HERE.parent / "tests" / "fixtures" / "0.7.4"
BIG_WAVENET = {"name": "CatWaveNet", "config": {"layers_configs": [
    {"input_size": 4, "condition_size": 4, "head_size": 8, "channels": 16, "kernel_size": 3,
     "dilations": [1, 2, 4, 8, 16, 32, 64, 128, 256, 512], "activation": "Tanh", "gated": False, "head_bias": False},
    {"input_size": 16, "condition_size": 4, "head_size": 1, "channels": 8, "kernel_size": 3,
     "dilations": [1, 2, 4, 8, 16, 32, 64, 128, 256, 512], "activation": "Tanh", "gated": False, "head_bias": True}],
    "head_scale": 0.02}}


def _big_checkpoint(folder: Path):
    """A Lightning-shaped checkpoint of a bench-sized CatWaveNet: net weights, Adam state, loops."""
    torch.manual_seed(0)
    net = architectures.build("CatWaveNet", BIG_WAVENET["config"], get_release("ae86979"))
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    for _ in range(2):
        out = net(torch.rand(3), torch.randn(2000))
        out.square().mean().backward()
        opt.step()
    state = {f"_net.{k}": v for k, v in net.state_dict().items()}
    path = folder / "big.ckpt"
    torch.save({"epoch": 0, "global_step": 2, "pytorch-lightning_version": "2.1.3", "state_dict": state,
                "optimizer_states": [opt.state_dict()], "lr_schedulers": [], "sample_rate": None}, path)
    config = folder / "big.json"
    config.write_text(json.dumps({"net": BIG_WAVENET}))
    return path, config


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        cases = [(case.name, case / "model.ckpt", case / "model.json") for case in sorted(FIXTURES.iterdir())]
        cases.append(("catwavenet_big", *_big_checkpoint(Path(tmp))))
        results = {}
        for name, path, config in cases:
            calls = {
                "torch.load": lambda: torch.load(path, weights_only=True),
                "read": lambda: compat.read_checkpoint(path),
                "load": lambda: compat.open_checkpoint(path, config),
            }
            for fn in calls.values():  # warm up: imports, first-call caches
                fn()
            times = {k: [] for k in calls}
            for _ in range(args.repeats):
                for key, fn in calls.items():
                    times[key].append(_time(fn))
            base = times["torch.load"]
            results[name] = {
                "bytes": path.stat().st_size,
                **{f"{k}_ms": 1000 * statistics.median(v) for k, v in times.items()},
                **{f"{k}_ratio": statistics.median(a / b for a, b in zip(v, base)) for k, v in times.items()
                   if k != "torch.load"},
            }
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        for name, r in results.items():
            print(f"{name:20s} {r['bytes']:>8d} B  torch.load {r['torch.load_ms']:6.2f} ms  "
                  f"read {r['read_ms']:6.2f} ms ({r['read_ratio']:.2f}x)  load {r['load_ms']:6.2f} ms ({r['load_ratio']:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
