"""The main job's demo: a genuine legacy checkpoint, inspected and rendered over a knob sweep.

The bundled files in `tools/example/` were made by `tests/oracle/make_fixtures.py` with the
real neural-amp-modeler 0.7.4 (a CatLSTM trained for a few steps on synthetic data), so the
sound is not a good amp: the point is that a genuine old file loads and runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Dict, List

import numpy as np
from tqdm import tqdm

import compat
from compat.audio import write_audio
from compat.describe import describe
from compat.render import render

from .report import format_facts

EXAMPLE = Path(__file__).with_name("example")
CHECKPOINT = EXAMPLE / "catlstm-0.7.4.ckpt"
MODEL_CONFIG = EXAMPLE / "catlstm.json"
PARAM_CONFIG = EXAMPLE / "params.json"
RATE = 48_000
SWEEP = (0.0, 0.5, 1.0)


def test_signal(seconds: float = 1.5) -> np.ndarray:
    """A plucked-string-like tone: 110 Hz with harmonics, decaying."""
    t = np.arange(int(seconds * RATE)) / RATE
    tone = sum(np.sin(2 * np.pi * 110.0 * k * t) / k for k in range(1, 6))
    return (0.4 * tone * np.exp(-3.0 * t)).astype(np.float32)


def run(outdir: Path, say: Callable[[str], None] = print) -> Dict:
    """Inspect the bundled checkpoint, render the sweep into outdir; returns a report."""

    loaded = compat.open_checkpoint(CHECKPOINT, MODEL_CONFIG)
    facts = describe(loaded)
    specs = json.loads(PARAM_CONFIG.read_text())
    names = sorted(specs)  # the order the model consumes knobs
    defaults = [float(specs[n]["default_value"]) for n in names]
    swept = next(n for n in names if specs[n]["type"] == "continuous")

    say(f"Bundled checkpoint: {CHECKPOINT.name}")
    for line in format_facts(facts, indent="  "):
        say(line)
    say(f"  knobs (sorted): {', '.join(names)}; defaults {defaults}")

    x = test_signal()
    outputs: List[Dict] = [{"file": str(write_audio(outdir / "input.wav", x, RATE)), "knobs": None}]
    for value in tqdm(SWEEP, desc=f"rendering {swept} sweep", disable=say is not print):
        knobs = list(defaults)
        knobs[names.index(swept)] = value
        y = render(loaded.model, knobs, x)
        path = write_audio(outdir / f"{swept}-{value:.2f}.wav", y, RATE)
        outputs.append({"file": str(path), "knobs": dict(zip(names, knobs)), "peak": float(np.abs(y).max())})
    say(f"Wrote {len(outputs)} WAV files (32-bit float, {RATE} Hz) to {outdir.resolve()}:")
    for o in outputs:
        say(f"  {o['file']}")
    return {"checkpoint": str(CHECKPOINT), "inspect": facts, "knob_names": names, "outputs": outputs}
