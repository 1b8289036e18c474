"""Forward-pass speed of nam_legacy vs the real nam 0.7.4, on identical weights, same run.

For each class (upstream's default CatLSTM config, a CatWaveNet, HyperConvNet with and
without batchnorm): eval forward on 48,000 samples, one torch thread, median of several
repeats.
Prints the median time of each, the median of the pairwise ratios
time(nam_legacy) / time(nam 0.7.4) of adjacent calls, and whether the outputs are
bit-identical. Both run in one process of the 0.7.4 environment (built with
tests/oracle/envs.py if missing), alternating calls.

    python bench/forward.py [--repeats 9] [--json]
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "tests" / "oracle"))
import envs  # noqa: E402

from nam_legacy.models.parametric.catnets import CatLSTM, CatWaveNet  # noqa: E402
from nam_legacy.models.parametric.hyper_net import HyperConvNet  # noqa: E402

KNOBS = 3
CASES = [
    # bin/train/inputs/models/catlstm.json of 0.4.0-ae86979
    {"name": "CatLSTM", "class": "CatLSTM", "knobs": KNOBS,
     "config": {"num_layers": 4, "hidden_size": 32, "train_burn_in": 4096, "train_truncate": 512, "input_size": 1 + KNOBS}},
    {"name": "CatWaveNet", "class": "CatWaveNet", "knobs": KNOBS,
     "config": {"layers_configs": [
         {"input_size": 1 + KNOBS, "condition_size": 1 + KNOBS, "head_size": 8, "channels": 16, "kernel_size": 3,
          "dilations": [1, 2, 4, 8, 16, 32, 64, 128, 256, 512], "activation": "Tanh", "gated": False, "head_bias": False},
         {"input_size": 16, "condition_size": 1 + KNOBS, "head_size": 1, "channels": 8, "kernel_size": 3,
          "dilations": [1, 2, 4, 8, 16, 32, 64, 128, 256, 512], "activation": "Tanh", "gated": False, "head_bias": True}],
         "head_scale": 0.02}},
    {"name": "HyperConvNet", "class": "HyperConvNet", "knobs": KNOBS,
     "config": {"net": {"channels": 8, "dilations": [1, 2, 4, 8, 16, 32, 64, 128], "batchnorm": True, "activation": "Tanh"},
                "hyper_net": {"num_inputs": KNOBS, "num_layers": 3, "num_units": 64, "batchnorm": True}}},
    {"name": "HyperConvNet_nobn", "class": "HyperConvNet", "knobs": KNOBS,
     "config": {"net": {"channels": 8, "dilations": [1, 2, 4, 8, 16, 32, 64, 128], "batchnorm": False, "activation": "ReLU"},
                "hyper_net": {"num_inputs": KNOBS, "num_layers": 3, "num_units": 64, "batchnorm": False}}},
]
CLASSES = {"CatLSTM": CatLSTM, "CatWaveNet": CatWaveNet, "HyperConvNet": HyperConvNet}


def _prepare(work: Path) -> None:
    torch.manual_seed(0)
    for case in CASES:
        model = CLASSES[case["class"]].init_from_config(json.loads(json.dumps(case["config"])))
        # Nudge every trained value so the zero initial LSTM state etc. are not special.
        state = {
            k: v + 0.01 * torch.randn_like(v) if v.is_floating_point() and k != "_sample_rate" else v
            for k, v in model.state_dict().items()
        }
        torch.save(state, work / f"{case['name']}.pt")
    torch.save({"params": torch.rand(KNOBS), "x": 0.5 * torch.randn(48_000)}, work / "inputs.pt")
    (work / "spec.json").write_text(json.dumps(CASES))


def _measure(python: str, work: Path, repeats: int) -> dict:
    out = subprocess.run(
        [python, str(HERE / "_time_forward.py"), "--work", str(work), "--repeats", str(repeats)],
        cwd=work, check=True, capture_output=True, text=True,
        env={"PYTHONPATH": str(HERE.parent), "PATH": "/usr/bin:/bin"},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=41, help="alternating timed calls per implementation")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    oracle = str(envs.python_for("0.7.4"))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        _prepare(work)
        results = _measure(oracle, work, args.repeats)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{'class':<20}{'nam 0.7.4':>12}{'nam_legacy':>12}{'ratio':>8}  bits")
    for name, r in results.items():
        print(f"{name:<20}{r['nam'] * 1e3:>10.2f}ms{r['nam_legacy'] * 1e3:>10.2f}ms{r['ratio']:>8.2f}  "
              f"{'identical' if r['identical'] else 'DIFFERENT'}")
    print(f"worst ratio: {max(r['ratio'] for r in results.values()):.2f} (target <= 1.0)")


if __name__ == "__main__":
    main()
