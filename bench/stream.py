"""Streaming engine speed (compat.stream) against the offline forward, same run, 1 torch thread.

Models (random weights, stock sizes):
* CatLSTM: upstream's bin/train/inputs/models/catlstm.json (4 layers x 32, 3 knobs).
* CatWaveNet: upstream's wavenet.json (two arrays of 10 layers, channels 16 and 8,
  kernel 3, dilations 1..512) with input and condition size 4 (3 knobs).
* HyperConvNet: channels 8, dilations 1..128, batchnorm, hypernet 3 x 64 (upstream's own
  hyper_net tests use 3-7 channels, dilations [1, 2, 4], 11 units).

Figures:
* throughput: samples/s of `process` at block 4096 over 10 s of audio, divided by the
  samples/s of one offline `forward(params, x, pad_start=True)` on the same audio
  (target >= 0.8). Medians of alternating repeats.
* real-time factor at blocks 64, 128, 512 (48 kHz): processing time / audio time, and
  the 99th-percentile block time against the block's deadline (block / 48 kHz).
  Goal: RTF < 1 and p99 within the deadline at block 128. Both wall-clock time and the
  thread's CPU time are reported: on a shared machine the wall-clock p99 mostly measures
  how long the scheduler kept us waiting, the CPU time what a block costs.
* the same at block 128 with every knob automated (a new value each sample), where
  HyperConvNet recomputes its weights every control period (32 samples).

    python bench/stream.py [--seconds 10] [--repeats 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import compat.stream as stream  # noqa: E402
from compat import architectures  # noqa: E402
from nam_legacy.releases import DEFAULT  # noqa: E402

RATE = 48_000
KNOBS = 3
DILATIONS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
CASES = {
    "CatLSTM": {"num_layers": 4, "hidden_size": 32, "train_burn_in": 4096, "train_truncate": 512, "input_size": 1 + KNOBS},
    "CatWaveNet": {
        "layers_configs": [
            {"condition_size": 1 + KNOBS, "input_size": 1 + KNOBS, "channels": 16, "head_size": 8, "kernel_size": 3,
             "dilations": DILATIONS, "activation": "Tanh", "gated": False, "head_bias": False},
            {"condition_size": 1 + KNOBS, "input_size": 16, "channels": 8, "head_size": 1, "kernel_size": 3,
             "dilations": DILATIONS, "activation": "Tanh", "gated": False, "head_bias": True},
        ],
        "head_scale": 0.02,
    },
    "HyperConvNet": {
        "net": {"channels": 8, "dilations": [1, 2, 4, 8, 16, 32, 64, 128], "batchnorm": True, "activation": "Tanh"},
        "hyper_net": {"num_inputs": KNOBS, "num_layers": 3, "num_units": 64, "batchnorm": True},
    },
}


def build(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    model = architectures.build(name, CASES[name], DEFAULT)
    with torch.no_grad():  # move every value off its init so nothing is special (zero states, unit BN)
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    return model.eval()


def offline_time(model, params, x, clock=time.perf_counter) -> float:
    t0 = clock()
    with torch.no_grad():
        model(params, x, pad_start=True)
    return clock() - t0


def stream_times(model, params, x: np.ndarray, block: int, automate: bool = False) -> np.ndarray:
    """(wall, cpu) seconds per block over the whole signal (a fresh stream), shape (2, blocks)."""
    proc = stream.open(model, RATE, knobs=params.tolist())
    times = np.empty((2, (len(x) + block - 1) // block))
    curves = np.random.default_rng(0).uniform(0.0, 1.0, (len(x), KNOBS)) if automate else None
    for i, a in enumerate(range(0, len(x), block)):
        knobs = None if curves is None else list(curves[a : a + block].T)
        w0, c0 = time.perf_counter(), time.thread_time()
        proc.process(x[a : a + block], knobs=knobs)
        times[:, i] = time.perf_counter() - w0, time.thread_time() - c0
    return times


def measure(name: str, seconds: float, repeats: int) -> dict:
    model = build(name)
    rng = np.random.default_rng(1)
    x = (0.3 * rng.standard_normal(int(seconds * RATE))).astype(np.float32)
    params = torch.tensor([0.5] * KNOBS)
    offline, streamed, offline_cpu, streamed_cpu = [], [], [], []
    stream_times(model, params, x[:RATE], 4096)  # warm-up
    offline_time(model, params, torch.from_numpy(x[:RATE]))
    for _ in range(repeats):  # alternate, so machine noise falls on both alike
        offline.append(offline_time(model, params, torch.from_numpy(x)))
        offline_cpu.append(offline_time(model, params, torch.from_numpy(x), time.thread_time))
        wall, cpu = stream_times(model, params, x, 4096).sum(axis=1)
        streamed.append(wall)
        streamed_cpu.append(cpu)
    result = {
        "offline_samples_per_s": len(x) / statistics.median(offline),
        "stream4096_samples_per_s": len(x) / statistics.median(streamed),
        "offline_samples_per_cpu_s": len(x) / statistics.median(offline_cpu),
        "stream4096_samples_per_cpu_s": len(x) / statistics.median(streamed_cpu),
    }
    result["throughput_ratio"] = result["stream4096_samples_per_s"] / result["offline_samples_per_s"]
    result["throughput_ratio_cpu"] = result["stream4096_samples_per_cpu_s"] / result["offline_samples_per_cpu_s"]
    for block in (64, 128, 512):
        result[f"block{block}"] = _realtime(stream_times(model, params, x, block), len(x), block)
    result["block128_automated"] = _realtime(stream_times(model, params, x, 128, automate=True), len(x), 128)
    return result


def _realtime(times: np.ndarray, samples: int, block: int) -> dict:
    deadline = block / RATE
    out = {"deadline_ms": 1e3 * deadline}
    for clock, t in zip(("wall", "cpu"), times):
        p99 = float(np.percentile(t, 99))
        out[clock] = {"rtf": float(t.sum() / (samples / RATE)), "p99_ms": 1e3 * p99, "p99_within_deadline": p99 <= deadline,
                      "max_ms": 1e3 * float(t.max())}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="audio length per measurement")
    parser.add_argument("--repeats", type=int, default=5, help="alternating offline/stream repeats for the throughput ratio")
    parser.add_argument("--only", choices=sorted(CASES), action="append", help="measure only these classes")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = {name: measure(name, args.seconds, args.repeats) for name in (args.only or CASES)}
    if args.json:
        print(json.dumps({"load_average": os.getloadavg()[0], "results": results}, indent=2))
        return
    load = os.getloadavg()[0]
    print(f"load average {load:.1f} on {os.cpu_count()} cores; 1 torch thread")
    for name, r in results.items():
        ok = "ok" if r["throughput_ratio"] >= 0.8 else "BELOW 0.8"
        print(f"{name}: offline {r['offline_samples_per_s'] / 1e3:.0f} k samples/s, stream@4096 "
              f"{r['stream4096_samples_per_s'] / 1e3:.0f} k samples/s, ratio {r['throughput_ratio']:.2f} ({ok}); "
              f"CPU-time ratio {r['throughput_ratio_cpu']:.2f}")
        for key in ("block64", "block128", "block512", "block128_automated"):
            b = r[key]
            parts = []
            for clock in ("wall", "cpu"):
                c = b[clock]
                flag = "real-time" if c["rtf"] < 1 and c["p99_within_deadline"] else "NOT real-time"
                parts.append(f"{clock} RTF {c['rtf']:.3f} p99 {c['p99_ms']:.2f} ms ({flag})")
            print(f"  {key:>18} (deadline {b['deadline_ms']:.2f} ms): " + "; ".join(parts))


if __name__ == "__main__":
    main()
