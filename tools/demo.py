"""The main job's demo: genuine legacy files of every format, loaded, and a knob sweep rendered.

The bundled files in `tools/example/` were written by the real releases (see its README):
a CatLSTM Lightning checkpoint and its `.nam` export from 0.7.4, a HyperConvNet export
folder from 0.7.4 and a CatWaveNet C++ header from 0.5.0. They come from tiny models
trained for a few steps on synthetic audio, so they do not sound like amps: the point is
that genuine old files load and run.

Everything is written into a temporary folder beside the output folder and moved into
place at the end (compat.outputs), so an interrupted demo leaves nothing behind. The
folder's last file, `nam-legacy-demo.json`, lists every file the demo wrote with its size
and sha256: a re-run with --overwrite replaces the old demo folder whole only when it
still holds exactly those files, unchanged, and nothing else (`not_a_demo_folder`).
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path
from typing import Callable, Dict, List, Optional

import numpy as np
from tqdm import tqdm

import compat
from compat.atomic import forget, scratch_folder
from compat.audio import open_audio_writer, write_audio
from compat.outputs import check_output, input_paths, put_in_place

from .report import format_facts, format_knobs, inspect_facts, knobs_report, show_progress, user_format, warnings_said

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
SECONDS = 3.0
SWEPT = "drive"
SWEEP = f"{SWEPT}=0:0,{SECONDS:g}:1"  # as `render --automate` takes it: drive 0 -> 1 over the clip
BLOCK = 4096
TOY = "a toy model: trained for 3 steps on synthetic audio, so its outputs show the mechanics, not an amp's tone"
PACK_GRID = ("drive=0:1:2", "tone=0,1")
MARKER = "nam-legacy-demo.json"  # what the demo wrote, so that --overwrite knows its own folder
MARKER_FORMAT = "nam-legacy demo"
_MAX_ENTRIES = 1000  # a demo folder holds about a dozen; a folder with more is not one

DESCRIPTION = (
    "Show that genuine legacy files load and run, using the files bundled in tools/example "
    "(tiny models trained for a few steps with the real releases; they do not sound like amps). "
    "In order: (1) inspect the bundled CatLSTM Lightning checkpoint from nam 0.7.4 (read without "
    "executing pickled code) and print its facts and knobs; (2) load a genuine file of every other "
    "legacy format: a CatLSTM .nam (0.7.4), a HyperConvNet export folder (0.7.4) and a CatWaveNet C++ "
    f"header (0.5.0); (3) render a {SECONDS:g} s test signal of three plucked notes (input.wav) through the "
    "checkpoint, streamed, with drive automated from 0 to 1 over the clip, as `render --automate "
    f"{SWEEP}` does, into a 32-bit float 48 kHz WAV (drive-sweep.wav), and draw the drive curve over the "
    "output's waveform (drive-sweep.png; needs matplotlib); (4) export the checkpoint for live knobs: "
    "a ConcatLSTM .nam of the parametric NAM line (catlstm-parametric.nam, what `export --format "
    "parametric-nam` writes; its plugin turns the knobs while playing); (5) migrate the checkpoint at its "
    "default knobs to a current-NAM .nam (migrated-defaults.nam); (6) write a 2 x 2 knob-grid pack "
    "(drive x tone) of current-NAM files with manifest.json and loudness.png into pack/. Loudness and "
    "gain metadata need upstream's loudness_input.wav (pip install --no-deps neural-amp-modeler==0.7.4); "
    "without it the demo says what it skipped (the parametric export too, which needs them). Everything "
    f"goes into a new folder (--output), which appears only when the demo is complete, with {MARKER} "
    "listing its files; --overwrite replaces only such a folder, unchanged."
)


def test_signal(seconds: float = SECONDS) -> np.ndarray:
    """Plucked-string-like notes, one per second: 110, 165 and 220 Hz with harmonics, decaying."""
    t = np.arange(int(seconds * RATE)) / RATE
    out = np.zeros_like(t)
    for start, f0 in zip(range(int(seconds)), (110.0, 165.0, 220.0) * int(seconds)):
        u = np.clip(t - start, 0.0, None)
        note = sum(np.sin(2 * np.pi * f0 * k * u) / k for k in range(1, 6))
        out += np.where(t >= start, 0.4 * note * np.exp(-3.0 * u), 0.0)
    return out.astype(np.float32)


def run(outdir: Path, say: Callable[[str], None] = print, *, overwrite: bool = False,
        progress: Optional[bool] = None) -> Dict:
    """Load every bundled file, render the checkpoint's sweep, migrate and pack into the
    new folder outdir (with overwrite, an earlier demo's folder is replaced whole); returns a
    report naming the final paths."""
    outdir = Path(outdir)
    where = dict(inputs=input_paths(CHECKPOINT, MODEL_CONFIG, PARAM_CONFIG, *OTHER_FORMATS), overwrite=overwrite,
                 folder=True, replaceable=not_a_demo_folder)
    check_output(outdir, **where)
    staging = scratch_folder(outdir.parent, f".{outdir.name}.")
    try:
        work = staging / outdir.name
        work.mkdir()
        report = _run(work, outdir, say, say is print and show_progress() if progress is None else progress)
        _write_marker(work)
        check_output(outdir, **where)  # still so: nothing was added to the old folder meanwhile
        put_in_place(work, outdir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        forget(staging)
    return report


def _write_marker(work: Path) -> None:
    from compat.migrate.pack import source_sha256

    files = {p.relative_to(work).as_posix(): {"size": p.stat().st_size, "sha256": source_sha256(p)}
             for p in sorted(work.rglob("*")) if p.is_file()}
    about = ("written by `nam-legacy demo`: every file it wrote here; `nam-legacy demo --overwrite` replaces this "
             "folder only while it holds these files, unchanged, and nothing else")
    marker = {"format": MARKER_FORMAT, "about": about, "files": files}
    (work / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")


def not_a_demo_folder(folder: Path) -> Optional[str]:
    """None when `folder` holds only what an earlier demo wrote there (its MARKER lists
    each file, size and sha256), unchanged, and nothing else; else why not
    (compat.outputs.Replaceable)."""
    from compat.migrate.pack import source_sha256

    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        marker = None
    files = marker.get("files") if isinstance(marker, dict) and marker.get("format") == MARKER_FORMAT else None
    if not isinstance(files, dict) or not all(isinstance(v, dict) for v in files.values()):
        return f"is not a demo folder (no {MARKER})"
    folders = {parent.as_posix() for name in files for parent in Path(name).parents if parent != Path(".")}
    seen = 0
    for root, dirs, names in os.walk(folder):
        for name in sorted(dirs) + sorted(names):
            seen += 1
            path = Path(root) / name
            rel = path.relative_to(folder).as_posix()
            if seen > _MAX_ENTRIES:
                return f"holds more than {_MAX_ENTRIES} files, which the demo did not write"
            ours = rel in folders if path.is_dir() else path.is_file() and (rel in files or rel == MARKER)
            if path.is_symlink() or not ours:
                return f"holds {rel!r}, which the demo did not write"
    for rel, facts in files.items():  # a file since deleted holds nothing to lose
        path = folder / rel
        if path.is_file() and (path.stat().st_size != facts.get("size") or source_sha256(path) != facts.get("sha256")):
            return f"has its {rel!r} changed since the demo wrote it"
    return None


def _run(work: Path, outdir: Path, say: Callable[[str], None], progress: bool) -> Dict:
    from compat.describe import describe

    """Write into `work`; report and print paths as they will be under `outdir`."""
    final = lambda p: str(outdir / Path(p).relative_to(work))  # noqa: E731
    legacy = compat.load(CHECKPOINT, config=MODEL_CONFIG, param_config=PARAM_CONFIG)
    facts = describe(legacy)
    inspected = inspect_facts(facts)  # as `inspect --json` reports it, warnings said so far included
    say(f"Bundled checkpoint: {CHECKPOINT.name}")
    say(f"  {TOY}")
    for line in format_facts({k: v for k, v in facts.items() if k not in ("knobs", "metadata", "warnings")}, indent="  "):
        say(line)
    names = [k.name for k in legacy.knobs]
    say(f"  knobs (model input order, defaults): {format_knobs([k.default for k in legacy.knobs], names)}")

    formats = []
    for path in OTHER_FORMATS:
        other = compat.load(path)
        formats.append({"file": path.name, "format": user_format(other.format), "architecture": other.architecture,
                        "release_detected": str(other.detected), "knobs": [k.name for k in other.knobs]})
        say(f"Loaded {path.name}: {user_format(other.format)}, {other.architecture}, written by {other.detected}, "
            f"{other.knob_count} knobs")

    x = test_signal()
    outputs: List[Dict] = [{"output": final(write_audio(work / "input.wav", x, RATE)), "knobs": None, "automation": {}}]
    sweep = _sweep(legacy, x, work, final, progress=progress)
    outputs.append(sweep)
    others = sweep["knobs"]  # the constant ones
    say(f"Wrote input.wav and {Path(sweep['output']).name} (32-bit float, {RATE} Hz; {SWEPT} automated from 0 to 1 "
        f"over {SECONDS:g} s; the other knobs at their defaults: "
        f"{format_knobs(list(others.values()), list(others))}) "
        f"to {outdir}")
    say(f"  {sweep['plot']}: the {SWEPT} curve over the output's waveform" if sweep["plot"] else f"  {sweep['plot_note']}")
    parametric = _parametric(legacy, work, final, say)
    migration = _migrate(legacy, work, outdir, say, final, progress=progress, plot_said=sweep["plot_note"] is not None)
    return {"checkpoint": str(CHECKPOINT), "note": TOY, "inspect": inspected,
            "formats": formats, "outputs": outputs, "parametric_nam": parametric, "migration": migration,
            "warnings": warnings_said(*facts["warnings"])}


def _sweep(legacy, x: np.ndarray, work: Path, final, *, progress: bool) -> Dict:
    import compat.stream as stream
    from compat.render import render_blocks

    """The checkpoint on `x`, streamed in blocks with the drive knob automated (render --automate)."""
    from compat.migrate.plot import PlotUnavailable, WaveformEnvelope, automation_png

    automation = stream.automation_from_args([SWEEP], None, legacy.knobs)
    proc = stream.open(legacy, RATE)
    envelope = WaveformEnvelope(x.size)
    path = work / f"{SWEPT}-sweep.wav"
    blocks = (x[i:i + BLOCK] for i in range(0, x.size, BLOCK))
    peak = 0.0
    with tqdm(total=x.size, unit="sample", unit_scale=True, desc=f"rendering {SWEPT} sweep", leave=False,
              disable=not progress) as bar, open_audio_writer(path, RATE) as writer:
        def write(y):
            nonlocal peak
            writer.write(y)
            envelope.add(y)
            peak = max(peak, float(np.abs(y).max()))

        render_blocks(proc, blocks, write, automation=automation, progress=bar.update)
    names = [k.name for k in legacy.knobs]
    curve = automation.curves[SWEPT]
    middles = ((np.arange(1000) + 0.5) * (x.size / 1000)).astype(int)
    knobs = [0.0 if k.name == SWEPT else k.default for k in legacy.knobs]  # at the first sample
    report = {"output": final(path), **knobs_report(knobs, names, {SWEPT: {"times": curve.times.tolist(),
                                                                         "values": curve.values.tolist()}}),
              "peak": peak, "plot": None, "plot_note": None}
    try:
        png = automation_png(envelope, RATE, {SWEPT: np.array([curve.evaluate(int(i), 1, RATE)[0] for i in middles])},
                             f"{CHECKPOINT.name} (CatLSTM): {SWEPT} automated 0 to 1, streamed\n"
                             f"other knobs at their defaults: {format_knobs([v for n, v in zip(names, knobs) if n != SWEPT], [n for n in names if n != SWEPT])}",
                             knobs=[k.to_json() for k in legacy.knobs])  # each panel on its knob's range
    except PlotUnavailable as e:
        report["plot_note"] = f"no {SWEPT}-sweep.png: {e}"
    else:
        plot = work / f"{SWEPT}-sweep.png"
        plot.write_bytes(png)  # the whole folder appears atomically
        report["plot"] = final(plot)
    return report


def _parametric(legacy, work: Path, final, say) -> Dict:
    """The checkpoint as a ConcatLSTM .nam for the parametric NAM line's plugin (live knobs)."""
    from compat.migrate.metadata import RECORDING_FIX, recording_missing

    skipped = recording_missing()
    if skipped is not None:  # its loudness/gain metadata are measured on upstream's recording
        say(f"Skipped the parametric-nam export, whose metadata needs upstream's loudness_input.wav (add it with "
            f"`{RECORDING_FIX}` and run again)")
        return {"output": None, "skipped": skipped}
    path = compat.export(legacy, "parametric-nam", work / "catlstm-parametric.nam")
    say(f"Exported for live knobs (parametric NAM plugin, ConcatLSTM .nam 1.0.0): {final(path)}")
    return {"output": final(path), "skipped": None}


def _migrate(legacy, work: Path, outdir: Path, say, final, *, progress: bool, plot_said: bool = False) -> Dict:
    """A current-NAM snapshot at the default knobs and a small knob-grid pack with its plot."""
    from compat.migrate import fold, write_nam
    from compat.migrate.metadata import LoudnessSkippedWarning, recording_missing
    from compat.migrate.pack import current_metadata, migrated_document, pack
    from compat.migrate.plot import PlotSkippedWarning

    folded = fold(legacy, [k.default for k in legacy.knobs])
    # Loudness and gain are measured on upstream's recording, which we do not ship; without
    # it the files are written without them. The library's warnings (the recording, the
    # plot) are muted: the lines below say what was left out, once each.
    skipped = recording_missing()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LoudnessSkippedWarning)
        warnings.simplefilter("ignore", PlotSkippedWarning)
        (meta,) = current_metadata([folded])
        snapshot = write_nam(work / "migrated-defaults.nam",
                             migrated_document(folded, legacy, meta, version="0.7.0", source=CHECKPOINT))
        manifest = pack(legacy, list(PACK_GRID), work / "pack", source=CHECKPOINT, progress=progress)
    without = ", without loudness and gain metadata (no loudness_input.wav)" if skipped else ""
    say(f"Migrated to current NAM ({folded.architecture}, .nam 0.7.0) at the default knobs: {final(snapshot)}{without}")
    files = [f["file"] for f in manifest["files"]]
    plot = f" and {manifest['plot']}" if manifest["plot"] else ""
    note = "" if manifest["plot"] else "; no loudness.png either" if plot_said and "matplotlib" in manifest["plot_note"] \
        else f"; {manifest['plot_note']}"
    say(f"Wrote a {' x '.join(g.split('=')[0] for g in PACK_GRID)} pack of {len(files)} current-NAM files, "
        f"manifest.json{plot} to {outdir / 'pack'}{note}")
    return {"snapshot": final(snapshot), "pack": str(outdir / "pack"), "pack_files": files, "metadata_skipped": skipped}
