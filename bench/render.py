"""`nam-legacy render` on long files: peak memory and time against length, same run.

Each render runs the real CLI in a child process (one torch thread, as the CLI sets), on a
48 kHz float WAV of 1 minute and one of 10 minutes, and reports:

* peak RSS, 10 min / 1 min (target <= 1.2: memory does not grow with the length);
* wall-clock time of 10 min / (10 x the 1-minute time) (target <= 1.1: time is linear),
  and the same in the child's CPU time (user + system), which a shared machine disturbs less.

Models:
* the bundled genuine CatLSTM .nam (tools/example/catlstm-0.7.4.nam: 2 layers x 8, 3 knobs),
  at fixed knobs and with drive automated over the whole file (--automate);
* the stock size of upstream's catlstm.json (4 layers x 32, 3 knobs), random weights,
  written as a 0.7.4 .nam by compat.export into the temporary folder.

For contrast, `--offline` (the former whole-file render: the model's forward on the whole
signal) of the bundled model on the 1-minute file; add --offline-long to also run it on
10 minutes (needs about 7 GB of free memory).

    python bench/render.py [--short 60] [--long 600] [--repeats 1] [--offline-long] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RATE = 48_000
BUNDLED = ROOT / "tools" / "example" / "catlstm-0.7.4.nam"
PARAMS = ROOT / "tools" / "example" / "params.json"
STOCK = {"num_layers": 4, "hidden_size": 32, "train_burn_in": 4096, "train_truncate": 512, "input_size": 4}

# The child reports its own high-water mark (VmHWM, reset at exec) as it exits: wait4's
# ru_maxrss would include the parent's size, which fork hands down.
_MARK = "@@vmhwm "
_CHILD = ("import atexit, sys\n"
          "def _hwm():\n"
          "    kb = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]\n"
          f"    sys.__stderr__.write('\\n{_MARK}' + kb + '\\n')\n"
          "atexit.register(_hwm)\n"
          "from tools.cli import main\n"
          "sys.exit(main(sys.argv[1:]))\n")


def cli(args) -> dict:
    """One `nam-legacy ARGS` in a child: wall and CPU seconds, peak RSS in bytes."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, *map(str, args)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode("utf-8", "replace")
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0 or _MARK not in err:
        raise SystemExit(f"render failed: {' '.join(map(str, args))}\n{err}")
    peak = int(err.rpartition(_MARK)[2].split()[0]) * 1024
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "peak_rss": peak}


def write_wav(path: Path, seconds: int) -> Path:
    from compat.audio import open_audio_writer

    rng = np.random.default_rng(0)
    t = np.arange(RATE) / RATE
    with open_audio_writer(path, RATE) as writer:
        for s in range(seconds):  # a second at a time: the bench itself stays small
            note = 0.3 * np.sin(2 * np.pi * (110 + 10 * (s % 12)) * t) * np.exp(-2 * t)
            writer.write((note + 0.01 * rng.standard_normal(RATE)).astype(np.float32))
    return path


def stock_nam(path: Path) -> Path:
    """The stock-size CatLSTM (random weights, moved off their init) as a 0.7.4 .nam."""
    import torch

    import compat
    from compat.detect import ReleaseRange
    from compat.knobs import specs_from_param_config
    from nam_legacy.models.parametric.catnets import CatLSTM
    from nam_legacy.releases import DEFAULT, use_release

    torch.set_num_threads(1)
    torch.manual_seed(0)
    params = json.loads(PARAMS.read_text())
    with use_release(DEFAULT):
        model = CatLSTM.init_from_config(dict(STOCK))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    legacy = compat.LegacyModel(model=model.eval(), architecture="CatLSTM", format="synthetic",
                                detected=ReleaseRange(DEFAULT, DEFAULT, ("bench",)), release=DEFAULT, net_config=dict(STOCK),
                                knobs=specs_from_param_config(params), param_config=params, sample_rate=48_000.0,
                                initial_state="learned")
    return compat.export(legacy, "nam", path, release="0.7.4")


def measure(name, model, extra, short_wav, long_wav, short, long, repeats, tmp) -> dict:
    runs = {"short": [], "long": []}
    for _ in range(repeats):  # alternate, so that a busy spell of the machine hits both
        for which, wav, seconds in (("short", short_wav, short), ("long", long_wav, long)):
            automate = [a.replace("{s}", str(seconds)) for a in extra]
            out = tmp / f"out-{which}.wav"
            runs[which].append(cli(["render", model, "--input", wav, "--output", out, "--overwrite", *automate]))
            out.unlink()
    best = {k: {m: min(r[m] for r in v) for m in ("wall", "cpu", "peak_rss")} for k, v in runs.items()}
    scale = long / short
    row = {
        "case": name,
        "short_s": short, "long_s": long,
        "peak_rss_short_mib": best["short"]["peak_rss"] / 2**20,
        "peak_rss_long_mib": best["long"]["peak_rss"] / 2**20,
        "rss_ratio": best["long"]["peak_rss"] / best["short"]["peak_rss"],
        "wall_short_s": best["short"]["wall"], "wall_long_s": best["long"]["wall"],
        "wall_ratio": best["long"]["wall"] / (scale * best["short"]["wall"]),
        "cpu_short_s": best["short"]["cpu"], "cpu_long_s": best["long"]["cpu"],
        "cpu_ratio": best["long"]["cpu"] / (scale * best["short"]["cpu"]),
        "realtime_factor_long": best["long"]["wall"] / long,
    }
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--short", type=int, default=60, help="seconds of the short file (default 60)")
    ap.add_argument("--long", type=int, default=600, help="seconds of the long file (default 600)")
    ap.add_argument("--repeats", type=int, default=1, help="runs of each render; the best is kept (default 1)")
    ap.add_argument("--offline-long", action="store_true", help="also run --offline on the long file (about 7 GB)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="nam-legacy-bench-render.") as folder:
        tmp = Path(folder)
        short_wav, long_wav = write_wav(tmp / "short.wav", args.short), write_wav(tmp / "long.wav", args.long)
        stock = stock_nam(tmp / "catlstm-4x32.nam")
        cases = [
            ("bundled CatLSTM 2x8 .nam", BUNDLED, []),
            ("bundled CatLSTM 2x8 .nam, drive automated", BUNDLED, ["--automate", "drive=0:0,{s}:1"]),
            ("stock CatLSTM 4x32 .nam", stock, []),
        ]
        rows = [measure(name, model, extra, short_wav, long_wav, args.short, args.long, args.repeats, tmp)
                for name, model, extra in cases]
        offline = {"short": cli(["render", BUNDLED, "--input", short_wav, "--output", tmp / "o.wav", "--overwrite",
                                 "--offline"])}
        if args.offline_long:
            offline["long"] = cli(["render", BUNDLED, "--input", long_wav, "--output", tmp / "o.wav", "--overwrite",
                                   "--offline"])

    if args.json:
        print(json.dumps({"rows": rows, "offline_bundled": offline}, indent=2))
        return
    print(f"nam-legacy render, {args.short} s vs {args.long} s of 48 kHz audio, 1 torch thread, best of {args.repeats}")
    print(f"{'case':<44} {'peak RSS short/long (MiB)':>26} {'ratio':>6} {'wall short/long (s)':>20} "
          f"{'ratio':>6} {'CPU ratio':>9} {'RTF':>6}")
    for r in rows:
        print(f"{r['case']:<44} {r['peak_rss_short_mib']:>12.0f} / {r['peak_rss_long_mib']:<11.0f} {r['rss_ratio']:>6.3f} "
              f"{r['wall_short_s']:>9.1f} / {r['wall_long_s']:<8.1f} {r['wall_ratio']:>6.3f} {r['cpu_ratio']:>9.3f} "
              f"{r['realtime_factor_long']:>6.3f}")
    print("targets: RSS ratio <= 1.2; time ratio (long / (scale x short)) <= 1.1")
    line = f"for contrast, --offline (whole file in memory), bundled model: {offline['short']['peak_rss'] / 2**30:.2f} GB peak " \
           f"for {args.short} s"
    if "long" in offline:
        line += f", {offline['long']['peak_rss'] / 2**30:.2f} GB for {args.long} s"
    print(line)


if __name__ == "__main__":
    main()
