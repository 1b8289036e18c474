"""`nam-legacy render`: run a legacy model on a file, streamed block by block.

The input is read, processed (compat.stream) and written one block at a time, so memory
does not depend on the file's length; the output appears atomically when complete. Knobs
are constant (`--knob`, `--params`) or automated (`--automate`, `--automation CSV`);
`--plot` draws the automation over the output's waveform, from a min/max envelope
gathered while streaming. Everything the user gave is checked before any audio is
processed. `--offline` keeps the whole-file path: the model's own forward, bit-exact with
the releases, memory linear in the length.
"""

from __future__ import annotations

import sys
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Optional

import numpy as np
from tqdm import tqdm

import compat
from compat.atomic import atomic_write_bytes
from compat.audio import check_finite, find_nonfinite, open_audio, open_audio_writer, read_audio, write_audio
from compat.errors import FileAccessError, naming
from compat.knobs import OutOfRangeWarning, knob_vector, parse_named, parse_positional
from compat.outputs import check_output, input_paths

from .flags import add_extrapolate, add_overwrite, epilog
from .output import json_text, message_line
from .report import format_knobs, knobs_report, note_warning, number, show_progress, warnings_said

PROG = "nam-legacy"
TRAINING_RATE = 48_000  # every legacy release trained at 48 kHz unless the file says otherwise
DEFAULT_BLOCK = 4096
MAX_BLOCK = 65_536
DEFAULT_CONTROL_PERIOD = 32
PLOT_POINTS = 4000  # knob values drawn per curve
# --offline holds the whole signal and every layer's output over it: measured 130 to 900
# bytes per sample (0.4 to 2.6 GB per minute at 48 kHz) for the fixtures and stock-size
# models (docs/streaming.md); above this length it says so once.
OFFLINE_WARN_SECONDS = 120

DESCRIPTION = (
    "Run a legacy model on mono audio (.wav, .flac, .aiff or float32 .npy). The file is streamed: read, "
    "processed and written one block at a time, so memory does not grow with its length, and the output "
    "(32-bit float WAV or .npy: no bit of the model's output lost) appears only when complete. Knobs are "
    "constant (--knob, --params; the others keep their defaults) or move over time (--automate, "
    "--automation). The streamed output equals the model's offline forward within 1e-6 (the last float "
    "places can differ; --offline gives the release's exact bits)."
)
AUTOMATE_HELP = (
    "move a knob over time: points SECONDS:VALUE, times increasing (e.g. drive=0:0,10:1 sweeps drive from 0 "
    "to 1 over the first 10 s). Continuous knobs move in straight lines between points, booleans switch at "
    "each point; before the first point and after the last the value holds. Times may be negative: points "
    "before 0 s shape the start (drive=-1:0,1:1 begins at 0.5). Applied as given, sample by sample (no smoothing). Repeatable, once per knob; a knob cannot also be set with --knob"
)
CONTROL_HELP = (
    "HyperConvNet only: its knobs make its weights, which follow automation every N samples "
    f"(default {DEFAULT_CONTROL_PERIOD}; each sample uses the knob values at the start of its period). "
    "Smaller follows the knobs more closely and costs more CPU"
)


def check_rate(wav_rate: Optional[int], model_rate: Optional[float], ignore: bool, path=None) -> int:
    expected = int(model_rate) if model_rate else TRAINING_RATE
    if wav_rate is not None and wav_rate != expected and not ignore:
        source = "the model was trained at" if model_rate else "legacy models were trained at"
        where = f"--input {path}: the audio" if path is not None else "the input"
        raise compat.ConfigError(f"{where} is {wav_rate} Hz but {source} {expected} Hz (resample it, or pass --ignore-rate)")
    return wav_rate or expected


def _whole(text: Optional[str], flag: str, low: int, high: Optional[int] = None) -> Optional[int]:
    """A whole-number option, checked here so that a bad one is a one-line error."""
    if text is None:
        return None
    span = f"from {low} to {high}" if high is not None else f"of at least {low}"
    try:
        value = int(text.strip())
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        raise compat.ConfigError(f"{flag} must be a whole number {span}, got {text!r}")
    return value


def _warn(text: str) -> None:
    if note_warning(text):  # for --json's "warnings"; once per run
        print(message_line(PROG, "warning", text), file=sys.stderr)


def cmd_render(args) -> int:
    import compat.stream as stream  # torch: loaded once a verb runs, not for --help

    # The arguments alone first, then the outputs, then the model: nothing is read twice
    # and nothing is written before everything the user gave has been checked.
    values, named = parse_positional(args.params), parse_named(args.knob)
    args.block = _whole(args.block, "--block", 1, MAX_BLOCK)
    args.control_period = _whole(args.control_period, "--control-period", 1)
    automating = bool(args.automate or args.automation)
    if automating and values is not None:
        raise compat.ConfigError("--params sets every knob, so none is left to automate; set the constant knobs with --knob")
    if automating and args.offline:
        raise compat.ConfigError("--offline renders at one knob setting; automation needs the streamed render (drop --offline)")
    inputs = input_paths(args.path, args.config, args.param_config, args.input, args.automation)
    check_output(args.output, kind="audio", inputs=inputs, overwrite=args.overwrite)
    if args.plot is not None:
        if Path(args.plot).resolve() == Path(args.output).resolve():
            raise compat.ConfigError(f"--plot {args.plot} is the --output file; give the plot its own .png path")
        # the output counts as an input here, so that a link to it is refused too
        check_output(args.plot, kind="plot", inputs=[*inputs, *input_paths(args.output)], overwrite=args.overwrite, flag="--plot")
    legacy = compat.load(args.path, config=args.config, param_config=args.param_config, release=args.release)
    # The automation first: on a model whose knob names are unknown it names the remedy
    # (--param-config), where the knob vector would ask for --params, which automation refuses.
    automation = stream.automation_from_args(args.automate, args.automation, legacy.knobs, fixed=named,
                                             allow_out_of_range=args.extrapolate)
    knobs = knob_vector(legacy.knobs, legacy.knob_count, values=values, named=named, allow_out_of_range=args.extrapolate)
    if args.control_period is not None and legacy.architecture != "HyperConvNet":
        _warn(f"--control-period only applies to HyperConvNet; a {legacy.architecture} follows its knobs every sample")
    render_file = _render_offline if args.offline else _render_streamed
    done = render_file(args, legacy, knobs, automation)
    _report(args, legacy, knobs, automation, done)
    if done["nonfinite"]:
        _warn_nonfinite(args, legacy, done)
    return 0


def _warn_nonfinite(args, legacy, done: Dict) -> None:
    from compat.finite import nonfinite_weights, weights_text

    bad, total = nonfinite_weights(legacy)
    why = f" (the model: {weights_text(bad, total)})" if bad else ""
    _warn(f"--output {args.output}: {done['nonfinite']} of {done['samples']} samples are NaN or infinite{why}")


def _check_length(args, frames: int, receptive_field: int) -> int:
    """Output samples to drop at the start: receptive_field - 1 without padding."""
    if frames == 0:
        raise compat.ConfigError(f"--input {args.input} has no audio samples")
    if args.pad_start:
        return 0
    if frames < receptive_field:
        raise compat.ConfigError(f"--input {args.input} has {frames} samples; without padding (--no-pad-start) "
                                 f"the model needs at least {receptive_field}")
    return receptive_field - 1


def _open_input(args):
    """The input's reader; a file that cannot be opened as mono audio is named as --input."""
    with naming(args.input, "input"):
        return open_audio(args.input)


def _render_streamed(args, legacy, knobs, automation) -> Dict:
    import compat.stream as stream
    from compat.render import render_blocks

    with _open_input(args) as reader:
        skip = _check_length(args, reader.frames, legacy.model.receptive_field)
        rate = check_rate(reader.sample_rate, legacy.sample_rate, args.ignore_rate, args.input)
        envelope = _envelope(args, reader.frames - skip)
        source = f"--input {args.input}"
        if automation is not None:  # the automation's clock is the input's: points after its end never play
            for line in automation.unreached(reader.frames / rate):
                _warn(line)
        find_nonfinite(args.input, source=source, sample_rate=rate)  # a float file is scanned first: refused before any output
        with warnings.catch_warnings():
            # Out-of-range values were reported once per knob and curve while checking them
            # above; the stream would report them again for every block.
            warnings.simplefilter("ignore", OutOfRangeWarning)
            proc = stream.open(legacy, rate, knobs=knobs, allow_out_of_range=args.extrapolate,
                               control_period=args.control_period or DEFAULT_CONTROL_PERIOD)
            bar = tqdm(total=reader.frames, unit="sample", unit_scale=True, desc="render", leave=False,
                       disable=not show_progress(args.json))
            with bar, open_audio_writer(args.output, rate) as writer:
                write = _writer(writer, args.output, envelope)
                samples = render_blocks(proc, reader.blocks(args.block or DEFAULT_BLOCK), write, automation=automation,
                                        skip=skip, progress=bar.update, source=source)
                png = _plot(args, legacy, knobs, automation, envelope, rate, skip)  # before the audio appears
    plot = _publish_plot(args, png)
    return {"output": Path(args.output), "samples": samples, "sample_rate": rate, "plot": plot,
            "nonfinite": write.nonfinite}


def _warn_offline_length(args, legacy) -> None:
    with _open_input(args) as reader:  # the header only: before anything is held in memory
        frames, rate = reader.frames, reader.sample_rate or legacy.sample_rate or TRAINING_RATE
    seconds = frames / rate
    if seconds > OFFLINE_WARN_SECONDS:
        _warn(f"--offline holds the whole input ({seconds / 60:.3g} min) in memory at once (0.4 to 2.6 GB per minute, by "
              "model), with no progress bar and Ctrl-C heard only at the end; without --offline it streams in flat memory, "
              "equal within 1e-6")


def _render_offline(args, legacy, knobs, automation) -> Dict:
    from compat.render import render

    _warn_offline_length(args, legacy)
    with naming(args.input, "input"):
        audio = read_audio(args.input)
    skip = _check_length(args, audio.samples.size, legacy.model.receptive_field)
    rate = check_rate(audio.sample_rate, legacy.sample_rate, args.ignore_rate, args.input)
    check_finite(audio.samples, sample_rate=rate, source=f"--input {args.input}")
    y = render(legacy.model, knobs, audio.samples, pad_start=args.pad_start)
    envelope = _envelope(args, y.size)
    if envelope is not None:
        envelope.add(y)
    png = _plot(args, legacy, knobs, automation, envelope, rate, skip)
    with _naming(args.output):
        out = write_audio(args.output, y, rate)
    return {"output": out, "samples": int(y.shape[0]), "sample_rate": rate, "plot": _publish_plot(args, png),
            "nonfinite": int(np.count_nonzero(~np.isfinite(y)))}


@contextmanager
def _naming(path):
    """A write the system refuses (a full disk) raises an OSError without a file name: name it."""
    try:
        yield
    except OSError as e:
        if e.filename is None:
            raise FileAccessError(f"cannot write {path}: {e.strerror or e}") from None
        raise


def _writer(writer, path, envelope):
    """The block writer; `write.nonfinite` counts the NaN or infinite samples written."""
    def write(block: np.ndarray) -> None:
        with _naming(path):
            writer.write(block)
        write.nonfinite += int(block.size - np.count_nonzero(np.isfinite(block)))
        if envelope is not None:  # a compressed file may decode to more than its header said
            envelope.add(block[: envelope.total - envelope.seen])

    write.nonfinite = 0
    return write


def _envelope(args, samples: int):
    if args.plot is None:
        return None
    from compat.migrate.plot import WaveformEnvelope  # numpy only; matplotlib is needed to draw

    return WaveformEnvelope(max(samples, 1))


def _plot(args, legacy, knobs, automation, envelope, rate: int, skip: int) -> Optional[bytes]:
    """The PNG of the knobs over the output's waveform; None (and a warning) without matplotlib."""
    if envelope is None:
        return None
    from compat.migrate.plot import PlotUnavailable, automation_png

    names = [k.name for k in legacy.knobs]
    total = envelope.total
    # one value per point, at the middle of its span of the output (plot_automation's layout);
    # output sample j is input sample j + skip, where the automation's clock runs
    points = min(total, PLOT_POINTS)
    where = ((np.arange(points) + 0.5) * (total / points)).astype(np.int64) + skip
    title = f"{shown_name(args.path)} ({legacy.architecture}) → {shown_name(args.output)}"
    if automation is not None:
        curves = {name: np.array([c.evaluate(int(i), 1, rate)[0] for i in where]) for name, c in automation.curves.items()}
        constant = [(n, v) for n, v in zip(names, knobs) if n not in automation.curves]
        if constant:
            title += "\nconstant: " + format_knobs([v for _, v in constant], [n for n, _ in constant])
    else:
        curves = {n: np.full(points, v) for n, v in zip(names or [f"knob {i}" for i in range(len(knobs))], knobs)}
        if len(knobs):  # every knob is constant: the title states the setting, as the text output does
            title += "\nconstant: " + format_knobs(knobs, names)
            if not names:  # values as --params takes them: knob 0, knob 1, ... in the panels below
                title += f" (knob 0 to knob {len(knobs) - 1}, sorted-name order)" if len(knobs) > 1 else " (knob 0)"
    if not curves:
        _warn(f"--plot {args.plot}: this model has no knobs to plot; no plot written")
        return None
    try:
        return automation_png(envelope, rate, curves, title, knobs=[k.to_json() for k in legacy.knobs])
    except PlotUnavailable as e:
        _warn(f"--plot {args.plot} not written: {e}")
        return None


def shown_name(path) -> str:
    from .output import shown

    return shown(Path(path).name, 80)


def _publish_plot(args, png: Optional[bytes]) -> Optional[Path]:
    if png is None:
        return None
    atomic_write_bytes(Path(args.plot), png)
    return Path(args.plot)


def _report(args, legacy, knobs, automation, done: Dict) -> None:
    names = [k.name for k in legacy.knobs]
    automated = automation.curves if automation is not None else {}
    if automated:  # the setting at the first sample
        knobs = [automated[n].evaluate(0, 1, done["sample_rate"])[0] if n in automated else v for n, v in zip(names, knobs)]
    if args.json:  # constant knobs in "knobs", automated ones (their points) in "automation": tools.report.knobs_report
        report = {"output": str(done["output"]), "samples": int(done["samples"]), "sample_rate": done["sample_rate"],
                  **knobs_report(knobs, names, {n: {"times": c.times.tolist(), "values": c.values.tolist()}
                                                for n, c in automated.items()}),
                  "plot": None if done["plot"] is None else str(done["plot"]),
                  "nonfinite_samples": done["nonfinite"],
                  "streamed": not args.offline, "warnings": warnings_said()}
        print(json_text(report))
        return
    constant = format_knobs([v for n, v in zip(names, knobs) if n not in automated], [n for n in names if n not in automated]) \
        if automated else format_knobs(knobs, names)
    line = f"wrote {done['output']} ({done['samples']} samples at {done['sample_rate']} Hz; knobs {constant}"
    for name, c in automated.items():
        span = f"1 point at {number(c.times[0])} s" if len(c.times) == 1 else \
            f"{len(c.times)} points from {number(c.times[0])} s to {number(c.times[-1])} s"
        line += f"; {shown_name(name)} automated, {span}"
    print(line + ")")
    if done["plot"] is not None:
        print(f"wrote {done['plot']}")


def add_parser(verbs, add_model_args) -> None:
    p = verbs.add_parser("render", help="run a legacy model on audio, streamed, with constant or automated knobs",
                         description=DESCRIPTION,
                         epilog=epilog("nam-legacy render model.nam --knob drive=0.7 --input di.wav --output out.wav",
                                       "nam-legacy render model.nam --automate drive=0:0,10:1 --knob tone=0.3 --input di.wav "
                                       "--output sweep.wav --plot sweep.png",
                                       "nam-legacy render model.ckpt --config catlstm.json --params 0,0.3,0.5 --input di.wav "
                                       "--output out.wav",
                                       note="Knob values given with --params are in sorted-name order, the order the models "
                                       "consume them."))
    add_model_args(p)
    p.add_argument("--params", metavar="V1,V2,...", help="all knob values in sorted-name order, e.g. 0,0.3,0.5 (constant)")
    p.add_argument("--knob", action="append", default=[], metavar="NAME=VALUE",
                   help="one knob by name, constant (repeatable, once per knob); knobs neither set nor automated keep their defaults")
    p.add_argument("--automate", action="append", default=[], metavar="NAME=T0:V0,T1:V1,...", help=AUTOMATE_HELP)
    p.add_argument("--automation", metavar="CSV", help="automation from a CSV file: header time,<knob>,<knob>,... and one row "
                   "per time in seconds; an empty cell means no point for that knob at that time. Same rules as --automate, "
                   "and combines with it (each knob from one place)")
    add_extrapolate(p)
    p.add_argument("--input", required=True, metavar="IN", help="mono .wav (PCM or float), .flac, .aiff or float32 .npy")
    p.add_argument("--output", required=True, metavar="OUT", help=".wav (32-bit float) or .npy, a new file; written atomically")
    p.add_argument("--plot", metavar="PNG", help="also draw the knobs (the automated ones, else all) over the output's "
                   "waveform into this PNG (needs matplotlib: the [plot] extra; without it, a warning and no plot)")
    add_overwrite(p, "existing output files (--output, --plot)")
    p.add_argument("--no-pad-start", dest="pad_start", action="store_false",
                   help="do not left-pad with receptive_field-1 zeros (output is shorter by that much)")
    p.add_argument("--ignore-rate", action="store_true", help="render even if the WAV's sample rate is not the model's")
    p.add_argument("--block", default=None, metavar="N",
                   help=f"samples per block, 1 to {MAX_BLOCK} (default {DEFAULT_BLOCK}); memory and speed only, the output "
                   "does not depend on it (beyond 1e-6)")
    p.add_argument("--control-period", default=None, metavar="N", help=CONTROL_HELP)
    p.add_argument("--offline", action="store_true",
                   help="run the model's own forward on the whole file at once: the exact bits of the release that made it. "
                   "Constant knobs only. Memory grows with the length (0.4 to 2.6 GB per minute of 48 kHz audio, by model), "
                   "there is no progress bar, and Ctrl-C is heard only when the forward ends; a warning above "
                   f"{OFFLINE_WARN_SECONDS // 60} minutes. Without it the render streams in flat memory, equal within 1e-6")
    p.set_defaults(run=cmd_render)
