"""The main job's demo: genuine legacy files of every format, loaded, and a knob sweep rendered.

The bundled files in `tools/example/` were written by the real releases (see its README):
a CatLSTM Lightning checkpoint and its `.nam` export from 0.7.4, a HyperConvNet export
folder from 0.7.4 and a CatWaveNet C++ header from 0.5.0. They come from tiny models
trained for a few steps on synthetic audio, so they do not sound like amps: the point is
that genuine old files load and run.

Everything is written into a temporary folder beside the output folder and moved into
place at the end (compat.outputs), so an interrupted demo leaves nothing behind and a
re-run with --overwrite replaces the old demo folder whole.
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Callable, Dict, List

import numpy as np
from tqdm import tqdm

import compat
from compat.audio import write_audio
from compat.describe import describe
from compat.outputs import check_output, input_paths, put_in_place
from compat.render import render

from .report import format_facts, format_knobs, knobs_json, show_progress

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
PACK_GRID = ("drive=0:1:2", "tone=0,1")

DESCRIPTION = (
    "Show that genuine legacy files load and run, using the files bundled in tools/example "
    "(tiny models trained for a few steps with the real releases; they do not sound like amps). "
    "In order: (1) inspect the bundled CatLSTM Lightning checkpoint from nam 0.7.4 (read without "
    "executing pickled code) and print its facts and knobs; (2) load a genuine file of every other "
    "legacy format: a CatLSTM .nam (0.7.4), a HyperConvNet export folder (0.7.4) and a CatWaveNet C++ "
    "header (0.5.0); (3) render a 1.5 s test tone (input.wav) through the checkpoint at drive 0, 0.5 "
    "and 1 into 32-bit float 48 kHz WAV files; (4) migrate the checkpoint at its default knobs to a "
    "current-NAM .nam (migrated-defaults.nam); (5) write a 2 x 2 knob-grid pack (drive x tone) of "
    "current-NAM files with manifest.json and loudness.png into pack/. Loudness and gain metadata "
    "need upstream's loudness_input.wav (pip install --no-deps neural-amp-modeler==0.7.4); without it "
    "the demo says what it skipped. Everything goes into a new folder (--output), which appears "
    "only when the demo is complete."
)


def test_signal(seconds: float = 1.5) -> np.ndarray:
    """A plucked-string-like tone: 110 Hz with harmonics, decaying."""
    t = np.arange(int(seconds * RATE)) / RATE
    tone = sum(np.sin(2 * np.pi * 110.0 * k * t) / k for k in range(1, 6))
    return (0.4 * tone * np.exp(-3.0 * t)).astype(np.float32)


def run(outdir: Path, say: Callable[[str], None] = print, *, overwrite: bool = False) -> Dict:
    """Load every bundled file, render the checkpoint's sweep, migrate and pack into the
    new folder outdir (replaced whole with overwrite); returns a report naming the final paths."""
    outdir = Path(outdir)
    check_output(outdir, inputs=input_paths(CHECKPOINT, MODEL_CONFIG, PARAM_CONFIG, *OTHER_FORMATS),
                 overwrite=overwrite, folder=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.", dir=outdir.parent))
    try:
        work = staging / outdir.name
        work.mkdir()
        report = _run(work, outdir, say)
        put_in_place(work, outdir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report


def _run(work: Path, outdir: Path, say: Callable[[str], None]) -> Dict:
    """Write into `work`; report and print paths as they will be under `outdir`."""
    final = lambda p: str(outdir / Path(p).relative_to(work))  # noqa: E731
    legacy = compat.load(CHECKPOINT, config=MODEL_CONFIG, param_config=PARAM_CONFIG)
    facts = describe(legacy)
    say(f"Bundled checkpoint: {CHECKPOINT.name}")
    for line in format_facts({k: v for k, v in facts.items() if k not in ("knobs", "metadata", "warnings")}, indent="  "):
        say(line)
    names = [k.name for k in legacy.knobs]
    say(f"  knobs (model input order, defaults): {format_knobs([k.default for k in legacy.knobs], names)}")

    formats = []
    for path in OTHER_FORMATS:
        other = compat.load(path)
        formats.append({"file": path.name, "format": other.format, "architecture": other.architecture,
                        "release_detected": str(other.detected), "knobs": [k.name for k in other.knobs]})
        say(f"Loaded {path.name}: {other.format}, {other.architecture}, written by {other.detected}, "
            f"{other.knob_count} knobs")

    x = test_signal()
    swept = next(k.name for k in legacy.knobs if k.type == "continuous")
    outputs: List[Dict] = [{"file": final(write_audio(work / "input.wav", x, RATE)), "knobs": None}]
    for value in tqdm(SWEEP, desc=f"rendering {swept} sweep", disable=not (say is print and show_progress())):
        knobs = [value if k.name == swept else k.default for k in legacy.knobs]
        y = render(legacy.model, knobs, x)
        path = write_audio(work / f"{swept}-{value:.2f}.wav", y, RATE)
        outputs.append({"file": final(path), "knobs": knobs_json(knobs, names), "peak": float(np.abs(y).max())})
    say(f"Wrote {len(outputs)} WAV files (32-bit float, {RATE} Hz) to {outdir.resolve()}:")
    for o in outputs:
        say(f"  {o['file']}" + ("" if o["knobs"] is None else f"  ({format_knobs(list(o['knobs'].values()), names)})"))
    migration = _migrate(legacy, work, outdir, say, final)
    return {"checkpoint": str(CHECKPOINT), "inspect": facts, "formats": formats, "outputs": outputs, "migration": migration}


def _migrate(legacy, work: Path, outdir: Path, say, final) -> Dict:
    """A current-NAM snapshot at the default knobs and a small knob-grid pack with its plot."""
    from compat.migrate import fold, write_nam
    from compat.migrate.metadata import LoudnessSkippedWarning, recording_missing
    from compat.migrate.pack import current_metadata, migrated_document, pack

    folded = fold(legacy, [k.default for k in legacy.knobs])
    # Loudness and gain are measured on upstream's recording, which we do not ship; without
    # it the files are written without them and the library warns (once: the pack's is muted).
    skipped = recording_missing()
    (meta,) = current_metadata([folded])
    snapshot = write_nam(work / "migrated-defaults.nam", migrated_document(folded, legacy, meta, version="0.7.0", source=CHECKPOINT))
    say(f"Migrated to current NAM ({folded.architecture}, .nam 0.7.0) at the default knobs: {final(snapshot)}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LoudnessSkippedWarning)
        manifest = pack(legacy, list(PACK_GRID), work / "pack", source=CHECKPOINT, progress=say is print and show_progress())
    files = [f["file"] for f in manifest["files"]]
    plot = f" and {manifest['plot']}" if manifest["plot"] else f" ({manifest['plot_note']})"
    say(f"Wrote a {' x '.join(g.split('=')[0] for g in PACK_GRID)} pack of {len(files)} current-NAM files, "
        f"manifest.json{plot} to {(outdir / 'pack').resolve()}")
    return {"snapshot": final(snapshot), "pack": str(outdir / "pack"), "pack_files": files, "metadata_skipped": skipped}
