"""Inner loop of bench/forward.py, run under the real release's interpreter.

Both implementations are imported into this one process (they live at the same module
paths under different top-level names: `nam` and `nam_legacy`), built from the same state
dict, and called alternately, so that machine noise falls on both alike.
"""

import argparse
import json
import statistics
import time
from pathlib import Path

import torch


def _classes(package):
    import importlib

    catnets = importlib.import_module(f"{package}.models.parametric.catnets")
    hyper_net = importlib.import_module(f"{package}.models.parametric.hyper_net")
    return {"CatLSTM": catnets.CatLSTM, "CatWaveNet": catnets.CatWaveNet, "HyperConvNet": hyper_net.HyperConvNet}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    torch.set_num_threads(1)
    impls = {"nam": _classes("nam"), "nam_legacy": _classes("nam_legacy")}
    spec = json.loads((args.work / "spec.json").read_text())
    inputs = torch.load(args.work / "inputs.pt")
    results = {}
    for case in spec:
        state = torch.load(args.work / f"{case['name']}.pt")
        models = {}
        for impl, classes in impls.items():
            model = classes[case["class"]].init_from_config(json.loads(json.dumps(case["config"])))
            model.load_state_dict(state)
            models[impl] = model.eval()
        params, x = inputs["params"][: case["knobs"]], inputs["x"]
        times = {impl: [] for impl in models}
        outputs = {}
        with torch.no_grad():
            for impl, model in models.items():
                outputs[impl] = model(params, x)  # warm-up
            order = list(models.items())
            for _ in range(args.repeats):
                order.reverse()  # ABBA: neither implementation always runs first
                for impl, model in order:
                    start = time.perf_counter()
                    outputs[impl] = model(params, x)
                    times[impl].append(time.perf_counter() - start)
        # Calls alternate, so each adjacent pair saw the same machine; the median of the
        # pairwise ratios cancels slow drifts that a ratio of medians would keep.
        pair_ratios = [ours / theirs for ours, theirs in zip(times["nam_legacy"], times["nam"])]
        results[case["name"]] = {
            "nam": statistics.median(times["nam"]),
            "nam_legacy": statistics.median(times["nam_legacy"]),
            "ratio": statistics.median(pair_ratios),
            "identical": bool(torch.equal(outputs["nam"], outputs["nam_legacy"])),
        }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
