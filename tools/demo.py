"""The main job's demo: genuine legacy files of every format, loaded, and a knob sweep rendered.

The bundled files in `tools/example/` were written by the real releases (see its README):
a CatLSTM Lightning checkpoint and its `.nam` export from 0.7.4, a HyperConvNet export
folder from 0.7.4 and a CatWaveNet C++ header from 0.5.0. They come from tiny models
trained for a few steps on synthetic audio, so they do not sound like amps: the point is
that genuine old files load and run.
"""

from __future__ import annotations

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
OTHER_FORMATS = (
    EXAMPLE / "catlstm-0.7.4.nam",
    EXAMPLE / "hyperconvnet-0.7.4",
    EXAMPLE / "catwavenet-0.5.0.h",
)
RATE = 48_000
SWEEP = (0.0, 0.5, 1.0)


def test_signal(seconds: float = 1.5) -> np.ndarray:
    """A plucked-string-like tone: 110 Hz with harmonics, decaying."""
    t = np.arange(int(seconds * RATE)) / RATE
    tone = sum(np.sin(2 * np.pi * 110.0 * k * t) / k for k in range(1, 6))
    return (0.4 * tone * np.exp(-3.0 * t)).astype(np.float32)


def run(outdir: Path, say: Callable[[str], None] = print) -> Dict:
    """Load every bundled file, render the checkpoint's sweep into outdir; returns a report."""
    legacy = compat.load(CHECKPOINT, config=MODEL_CONFIG, param_config=PARAM_CONFIG)
    facts = describe(legacy)
    say(f"Bundled checkpoint: {CHECKPOINT.name}")
    for line in format_facts({k: v for k, v in facts.items() if k not in ("knobs", "metadata", "warnings")}, indent="  "):
        say(line)
    names = [k.name for k in legacy.knobs]
    say(f"  knobs (model input order): {', '.join(f'{k.name}={k.default:g}' for k in legacy.knobs)}")

    formats = []
    for path in OTHER_FORMATS:
        other = compat.load(path)
        formats.append({"file": path.name, "format": other.format, "architecture": other.architecture,
                        "release_detected": str(other.detected), "knobs": [k.name for k in other.knobs]})
        say(f"Loaded {path.name}: {other.format}, {other.architecture}, written by {other.detected}, "
            f"{other.knob_count} knobs")

    x = test_signal()
    swept = next(k.name for k in legacy.knobs if k.type == "continuous")
    outputs: List[Dict] = [{"file": str(write_audio(outdir / "input.wav", x, RATE)), "knobs": None}]
    for value in tqdm(SWEEP, desc=f"rendering {swept} sweep", disable=say is not print):
        knobs = [value if k.name == swept else k.default for k in legacy.knobs]
        y = render(legacy.model, knobs, x)
        path = write_audio(outdir / f"{swept}-{value:.2f}.wav", y, RATE)
        outputs.append({"file": str(path), "knobs": dict(zip(names, knobs)), "peak": float(np.abs(y).max())})
    say(f"Wrote {len(outputs)} WAV files (32-bit float, {RATE} Hz) to {outdir.resolve()}:")
    for o in outputs:
        say(f"  {o['file']}")
    migration = _migrate(legacy, outdir, say)
    return {"checkpoint": str(CHECKPOINT), "inspect": facts, "formats": formats, "outputs": outputs, "migration": migration}


def _migrate(legacy, outdir: Path, say) -> Dict:
    """A current-NAM snapshot at the default knobs and a small knob-grid pack with its plot."""
    from compat.migrate import fold, write_nam
    from compat.migrate.pack import current_metadata, migrated_document, pack
    from nam_legacy.models._resources import LoudnessInputMissing

    folded = fold(legacy, [k.default for k in legacy.knobs])
    try:
        (meta,) = current_metadata([folded])
        metadata_fn, skipped = None, None
    except LoudnessInputMissing as e:
        # Loudness and gain are measured on upstream's recording, which we do not ship.
        skipped = str(e)
        meta = {}
        metadata_fn = lambda models, date=None: [{} for _ in models]  # noqa: E731
    snapshot = write_nam(outdir / "migrated-defaults.nam", migrated_document(folded, legacy, meta, version="0.7.0", source=CHECKPOINT))
    say(f"Migrated to current NAM ({folded.architecture}, .nam 0.7.0) at the default knobs: {snapshot}")
    grid = ["drive=0:1:2", "tone=0,1"]
    manifest = pack(legacy, grid, outdir / "pack", source=CHECKPOINT, progress=say is print, metadata_fn=metadata_fn)
    files = [f["file"] for f in manifest["files"]]
    say(f"Wrote a {' x '.join(g.split('=')[0] for g in grid)} pack of {len(files)} current-NAM files, "
        f"manifest.json and loudness.png to {(outdir / 'pack').resolve()}")
    if skipped:
        say(f"Loudness/gain metadata skipped: {skipped}")
    return {"snapshot": str(snapshot), "pack": str(outdir / "pack"), "pack_files": files, "metadata_skipped": skipped}
