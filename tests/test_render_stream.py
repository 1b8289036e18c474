"""`nam-legacy render` streams: block by block, knobs constant or automated, plot from an
envelope gathered while streaming, memory flat in the length.

References are computed independently of the CLI: the model's own offline forward
(constant knobs), compat.stream.forward_augmented / forward_control_rate on knob curves
interpolated here with numpy (automation). Streaming differs from them in the last float
places only: the bound is 1e-6 (docs/streaming.md).
"""

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import numpy as np
import pytest
import torch

import compat
import compat.stream as stream
import hostile
from compat.audio import open_audio_writer, read_audio, write_audio
from compat.stream.processor import StreamProcessor
from golden import FIXTURES
from tools.cli import main

ROOT = Path(__file__).resolve().parent.parent
TOL = 1e-6
RATE = 48_000
CASES = ("catlstm", "catwavenet", "hyperconvnet_bn", "hyperconvnet_nobn")


def model_args(case, release="0.7.4"):
    d = FIXTURES / release / case
    return [str(d / "model.ckpt"), "--config", str(d / "model.json"), "--param-config", str(d / "params.json")]


def load(case, release="0.7.4"):
    d = FIXTURES / release / case
    return compat.load(d / "model.ckpt", config=d / "model.json", param_config=d / "params.json")


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def signal(n, seed=0):
    t = np.arange(n) / RATE
    rng = np.random.default_rng(seed)
    return (0.4 * np.sin(2 * np.pi * 220 * t) * np.exp(-2 * t) + 0.05 * rng.standard_normal(n)).astype(np.float32)


@pytest.fixture
def di(tmp_path):
    path = tmp_path / "di.wav"
    write_audio(path, signal(3000), RATE)
    return path


def curve(times, values, n, boolean=False):
    """Knob values of samples 0 … n-1 (sample i at i / RATE s), independently of compat.stream:
    linear between points and held outside them; booleans step at each point."""
    t = np.arange(n) / RATE
    times, values = np.asarray(times, float), np.asarray(values, float)
    if boolean:
        return values[np.clip(np.searchsorted(times, t, side="right") - 1, 0, None)]
    return np.interp(t, times, values)


def reference(legacy, x, moving, fixed=None, control_period=32):
    """Offline output with knobs {name: per-sample values}; the others fixed or at their defaults."""
    fixed = fixed or {}
    k = np.stack([moving[s.name] if s.name in moving else np.full(x.size, fixed.get(s.name, s.default))
                  for s in legacy.knobs], axis=1)
    if legacy.architecture == "HyperConvNet":
        return stream.forward_control_rate(legacy, x, k, control_period=control_period).numpy()
    return stream.forward_augmented(legacy, x, k).numpy()


# ------------------------------------------------------------------------------------------
# constant knobs: the offline forward within 1e-6, whatever the block size
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("block", ["1", "37", "4096", "65536"])
@pytest.mark.parametrize("pad", [True, False])
def test_streamed_render_equals_the_offline_forward(capsys, tmp_path, di, case, block, pad):
    out = tmp_path / "out.wav"
    extra = ["--knob", "drive=0.8", "--knob", "bright=1"] + ([] if pad else ["--no-pad-start"])
    code, _, err = run(capsys, "render", *model_args(case), "--input", di, "--output", out, "--block", block, *extra)
    assert code == 0 and err == "", err
    legacy = load(case)
    x = read_audio(di).samples
    with torch.no_grad():
        expected = legacy.model(torch.tensor([1.0, 0.8, 0.5]), torch.from_numpy(x), pad_start=pad).numpy()
    got = read_audio(out).samples
    assert got.shape == expected.shape == (x.size - (0 if pad else legacy.model.receptive_field - 1),)
    assert np.abs(got - expected).max() <= TOL


@pytest.mark.parametrize("case", CASES)
def test_offline_flag_is_the_forward_bit_for_bit(capsys, tmp_path, di, case):
    code, _, err = run(capsys, "render", *model_args(case), "--input", di, "--output", tmp_path / "o.npy", "--offline",
                       "--knob", "tone=0.2")
    assert code == 0, err
    legacy = load(case)
    with torch.no_grad():
        expected = legacy.model(torch.tensor([0.0, 0.3, 0.2]), torch.from_numpy(read_audio(di).samples)).numpy()
    assert np.array_equal(np.load(tmp_path / "o.npy"), expected)


def test_offline_warns_above_its_documented_length(capsys, tmp_path, di, monkeypatch):
    """--offline holds the whole file (hundreds of bytes per sample): above OFFLINE_WARN_SECONDS
    (2 minutes; lowered here so a short take crosses it) it says so once, and still gives
    the forward's exact bits."""
    import tools.render_command as render_command

    assert render_command.OFFLINE_WARN_SECONDS == 120
    code, _, err = run(capsys, "render", *model_args("catlstm"), "--input", di, "--output", tmp_path / "a.npy", "--offline")
    assert (code, err) == (0, "")
    monkeypatch.setattr(render_command, "OFFLINE_WARN_SECONDS", 0.06)  # the take is 0.0625 s
    code, _, err = run(capsys, "render", *model_args("catlstm"), "--input", di, "--output", tmp_path / "b.npy", "--offline")
    assert code == 0
    assert err == ("nam-legacy: warning: --offline holds the whole input (0.00104 min) in memory at once (0.4 to 2.6 GB per "
                   "minute, by model), with no progress bar and Ctrl-C heard only at the end; without --offline it streams in "
                   "flat memory, equal within 1e-6\n")
    assert np.array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))


def test_streamed_nam_file_from_another_release(capsys, tmp_path, di):
    nam = FIXTURES / "0.5.1" / "catlstm" / "export" / "model.nam"
    code, _, err = run(capsys, "render", nam, "--input", di, "--output", tmp_path / "o.wav", "--block", "100")
    assert code == 0, err
    legacy = compat.load(nam)
    with torch.no_grad():
        expected = legacy.model(torch.tensor([k.default for k in legacy.knobs]), torch.from_numpy(read_audio(di).samples)).numpy()
    assert np.abs(read_audio(tmp_path / "o.wav").samples - expected).max() <= TOL


# ------------------------------------------------------------------------------------------
# automation: --automate and --automation CSV
# ------------------------------------------------------------------------------------------

DRIVE = ([0.0, 0.02, 0.05], [0.1, 0.9, 0.4])  # seconds, values: up, then down, then held
BRIGHT = ([0.0, 0.03], [0.0, 1.0])  # a switch at 30 ms


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("block", ["64", "4096"])
@pytest.mark.parametrize("form", ["automate", "csv"])
def test_automation_equals_the_offline_reference(capsys, tmp_path, di, case, block, form):
    if form == "automate":
        given = ["--automate", "drive=" + ",".join(f"{t}:{v}" for t, v in zip(*DRIVE)),
                 "--automate", "bright=" + ",".join(f"{t}:{'true' if v else 'false'}" for t, v in zip(*BRIGHT))]
    else:
        csv = tmp_path / "moves.csv"
        csv.write_text("time,drive,bright\n0,0.1,0\n0.02,0.9,\n0.03,,1\n0.05,0.4,\n")
        given = ["--automation", csv]
    code, out, err = run(capsys, "render", *model_args(case), "--input", di, "--output", tmp_path / "o.wav",
                         "--knob", "tone=0.7", "--block", block, *given, "--json")
    assert code == 0 and err == "", err
    report = json.loads(out)
    assert report["automation"] == {"drive": {"times": DRIVE[0], "values": DRIVE[1]},
                                    "bright": {"times": BRIGHT[0], "values": BRIGHT[1]}}
    assert report["knobs"] == {"tone": 0.7}  # the constant knobs; automated ones only in "automation"
    legacy = load(case)
    x = read_audio(di).samples
    moving = {"drive": curve(*DRIVE, x.size), "bright": curve(*BRIGHT, x.size, boolean=True)}
    expected = reference(legacy, x, moving, {"tone": 0.7})
    assert np.abs(read_audio(tmp_path / "o.wav").samples - expected).max() <= TOL


@pytest.mark.parametrize("case", ["catwavenet", "hyperconvnet_nobn"])
def test_automation_without_padding_drops_the_receptive_field(capsys, tmp_path, di, case):
    code, _, err = run(capsys, "render", *model_args(case), "--input", di, "--output", tmp_path / "o.npy",
                       "--automate", "tone=0:1,0.06:0", "--no-pad-start", "--block", "500")
    assert code == 0, err
    legacy = load(case)
    x = read_audio(di).samples
    expected = reference(legacy, x, {"tone": curve([0, 0.06], [1, 0], x.size)})[legacy.model.receptive_field - 1:]
    got = np.load(tmp_path / "o.npy")
    assert got.shape == expected.shape and np.abs(got - expected).max() <= TOL


@pytest.mark.parametrize("period", ["1", "7", "100"])
def test_control_period_of_hyperconvnet(capsys, tmp_path, di, period):
    code, _, err = run(capsys, "render", *model_args("hyperconvnet_bn"), "--input", di, "--output", tmp_path / "o.npy",
                       "--automate", "drive=0:0,0.06:1", "--control-period", period, "--block", "300")
    assert code == 0, err
    legacy = load("hyperconvnet_bn")
    x = read_audio(di).samples
    expected = reference(legacy, x, {"drive": curve([0, 0.06], [0, 1], x.size)}, control_period=int(period))
    assert np.abs(np.load(tmp_path / "o.npy") - expected).max() <= TOL


def test_control_period_elsewhere_is_ignored_with_a_warning(capsys, tmp_path, di):
    code, _, err = run(capsys, "render", *model_args("catlstm"), "--input", di, "--output", tmp_path / "o.npy",
                       "--control-period", "8")
    assert code == 0
    assert err.count("\n") == 1 and err.startswith("nam-legacy: warning: --control-period only applies to HyperConvNet")


def test_extrapolated_automation_warns_once_per_curve(capsys, tmp_path, di):
    code, _, err = run(capsys, "render", *model_args("catwavenet"), "--input", di, "--output", tmp_path / "o.npy",
                       "--automate", "drive=0:0,0.06:1.5", "--extrapolate", "--block", "64")
    assert code == 0
    assert err.count("\n") == 1 and err.startswith("nam-legacy: warning: ") and "drive" in err
    legacy = load("catwavenet")
    x = read_audio(di).samples
    expected = reference(legacy, x, {"drive": curve([0, 0.06], [0, 1.5], x.size)})
    assert np.abs(np.load(tmp_path / "o.npy") - expected).max() <= TOL


def test_automation_clock_is_the_input_rate(capsys, tmp_path):
    """At another rate (--ignore-rate), automation times are seconds of the input file."""
    x = signal(2205)
    write_audio(tmp_path / "in.wav", x, 44_100)
    code, out, err = run(capsys, "render", *model_args("catlstm"), "--input", tmp_path / "in.wav", "--output",
                         tmp_path / "o.wav", "--automate", "drive=0:0,0.05:1", "--ignore-rate", "--json")
    assert code == 0, err
    assert json.loads(out)["sample_rate"] == 44_100 and read_audio(tmp_path / "o.wav").sample_rate == 44_100
    moving = {"drive": np.interp(np.arange(x.size) / 44_100, [0, 0.05], [0, 1])}
    expected = reference(load("catlstm"), x, moving)
    assert np.abs(read_audio(tmp_path / "o.wav").samples - expected).max() <= TOL


def test_text_report_names_the_automation(capsys, tmp_path, di):
    code, out, err = run(capsys, "render", *model_args("catlstm"), "--input", di, "--output", tmp_path / "o.wav",
                         "--automate", "drive=0:0,0.05:1", "--knob", "tone=0.2")
    assert code == 0 and err == ""
    assert out == (f"wrote {tmp_path / 'o.wav'} (3000 samples at 48000 Hz; knobs bright=0 tone=0.2; "
                   "drive automated, 2 points from 0 s to 0.05 s)\n")


# ------------------------------------------------------------------------------------------
# bad input: exit 2, one line, nothing written, no audio processed
# ------------------------------------------------------------------------------------------

BAD = [
    (["--automate", "volume=0:0,1:1"], "volume"),
    (["--automate", "drive=0:nan"], "drive"),
    (["--automate", "drive=0:0,1:inf"], "drive"),
    (["--automate", "drive=0:0,1:1.5"], "drive"),  # out of range without --extrapolate
    (["--automate", "bright=0:0,1:0.5"], "bright"),  # a boolean takes 0 or 1, even with --extrapolate
    (["--automate", "bright=0:0,1:0.5", "--extrapolate"], "bright"),
    (["--automate", "drive=1:0,0.5:1"], "increase"),
    (["--automate", "drive=0:0,0:1"], "increase"),
    (["--automate", "drive=0:0", "--automate", "drive=1:1"], "twice"),
    (["--automate", "drive=0:0,1:1", "--knob", "drive=0.5"], "both"),
    (["--automate", "drive=0:0", "--params", "0,0.3,0.5"], "--params"),
    (["--automate", "drive"], "--automate"),
    (["--automate", "drive=0-1"], "SECONDS:VALUE"),
    (["--automate", "drive=zero:1"], "not a number"),
    (["--automate", "drive=0:0", "--offline"], "--offline"),
    (["--block", "0"], "--block"),
    (["--block", "65537"], "--block"),
    (["--block", "big"], "--block"),
    (["--control-period", "0"], "--control-period"),
    (["--knob", "drive=nan"], "drive"),
]


@pytest.fixture
def no_processing(monkeypatch):
    """Any audio processed fails the test (exit 3 instead of 2)."""
    def refuse(*a, **k):
        raise AssertionError("audio was processed")

    monkeypatch.setattr(StreamProcessor, "process", refuse)


@pytest.mark.parametrize("extra, fragment", BAD)
def test_bad_input_is_refused_before_any_audio(capsys, tmp_path, di, no_processing, extra, fragment):
    code, out, err = run(capsys, "render", *model_args("hyperconvnet_bn"), "--input", di, "--output", tmp_path / "o.wav",
                         "--plot", tmp_path / "o.png", *extra)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("nam-legacy: error: ") and fragment in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["di.wav"]


@pytest.mark.parametrize("text, fragment", [
    ("drive,time\n0,1\n", "header"),
    ("time,drive,drive\n0,1,1\n", "distinct"),
    ("time,drive\n0,0.2\n0,0.5\n", "increase"),
    ("time,drive\n0,0.2,9\n", "cells"),
    ("time,drive\n0,x\n", "neither a number nor true/false"),
    ("time,drive,volume\n0,0.2,1\n", "volume"),
    ("", "empty"),
])
def test_bad_automation_csv(capsys, tmp_path, di, no_processing, text, fragment):
    csv = tmp_path / "moves.csv"
    csv.write_text(text)
    code, _, err = run(capsys, "render", *model_args("catlstm"), "--input", di, "--output", tmp_path / "o.wav",
                       "--automation", csv)
    assert code == 2
    assert err.count("\n") == 1 and fragment in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["di.wav", "moves.csv"]


def test_csv_and_automate_of_the_same_knob(capsys, tmp_path, di, no_processing):
    csv = tmp_path / "moves.csv"
    csv.write_text("time,drive\n0,0.2\n")
    code, _, err = run(capsys, "render", *model_args("catlstm"), "--input", di, "--output", tmp_path / "o.wav",
                       "--automation", csv, "--automate", "drive=0:1")
    assert code == 2 and "twice" in err and err.count("\n") == 1


@pytest.mark.parametrize("output", ["moves.csv", "di.wav"])
def test_inputs_are_never_outputs(capsys, tmp_path, di, output):
    csv = tmp_path / "moves.csv"
    csv.write_text("time,drive\n0,0.2\n")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    for flag in ("--output", "--plot"):
        argv = ["--output", tmp_path / "o.wav", "--plot", tmp_path / output] if flag == "--plot" else \
               ["--output", tmp_path / output]
        code, _, err = run(capsys, "render", *model_args("catlstm"), "--input", di, "--automation", csv, *argv,
                           "--overwrite")
        assert code == 2 and err.startswith(f"nam-legacy: error: {flag}"), err
        assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_plot_and_output_must_differ(capsys, tmp_path, di):
    code, _, err = run(capsys, "render", *model_args("catlstm"), "--input", di, "--output", tmp_path / "o.wav",
                       "--plot", tmp_path / "o.wav", "--overwrite")
    assert code == 2 and err.startswith("nam-legacy: error: --plot") and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["di.wav"]


def test_an_existing_plot_is_kept_without_overwrite(capsys, tmp_path, di):
    (tmp_path / "o.png").write_bytes(b"mine")
    code, _, err = run(capsys, "render", *model_args("catlstm"), "--input", di, "--output", tmp_path / "o.wav",
                       "--plot", tmp_path / "o.png")
    assert code == 2 and "--overwrite" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["di.wav", "o.png"] and (tmp_path / "o.png").read_bytes() == b"mine"


@pytest.mark.parametrize("suffix", [".wav", ".npy"])
def test_empty_input_with_automation(capsys, tmp_path, suffix, no_processing):
    empty = tmp_path / f"empty{suffix}"
    write_audio(empty, np.zeros(0, dtype=np.float32))
    code, _, err = run(capsys, "render", *model_args("catwavenet"), "--input", empty, "--output", tmp_path / "o.wav",
                       "--automate", "drive=0:0,1:1", "--plot", tmp_path / "o.png")
    assert code == 2 and "no audio samples" in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [empty.name]


def test_too_short_for_no_pad_start(capsys, tmp_path, no_processing):
    write_audio(tmp_path / "short.wav", np.zeros(11, dtype=np.float32))  # the receptive field is 12
    code, _, err = run(capsys, "render", *model_args("catwavenet"), "--input", tmp_path / "short.wav",
                       "--output", tmp_path / "o.wav", "--no-pad-start")
    assert code == 2 and "11 samples" in err and "12" in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["short.wav"]


# ------------------------------------------------------------------------------------------
# --plot: from an envelope gathered while streaming
# ------------------------------------------------------------------------------------------


def test_plot_is_drawn_from_the_streamed_envelope(capsys, tmp_path, di, monkeypatch):
    from compat.migrate import plot

    drawn = {}
    real = plot.automation_png

    def spy(audio, rate, curves, title, **kw):
        drawn.update(audio=audio, rate=rate, curves=curves, title=title, **kw)
        return real(audio, rate, curves, title, **kw)

    monkeypatch.setattr(plot, "automation_png", spy)
    code, out, err = run(capsys, "render", *model_args("catwavenet"), "--input", di, "--output", tmp_path / "o.wav",
                         "--automate", "drive=0:0,0.06:1", "--knob", "tone=0.2", "--plot", tmp_path / "o.png",
                         "--no-pad-start", "--block", "128", "--json")
    assert code == 0 and err == "", err
    assert json.loads(out)["plot"] == str(tmp_path / "o.png")
    y = read_audio(tmp_path / "o.wav").samples
    envelope = drawn["audio"]
    edges = np.linspace(0, y.size, envelope.lo.size + 1).astype(int)
    assert envelope.total == y.size == 3000 - 11 and envelope.complete
    assert np.array_equal(envelope.lo, np.minimum.reduceat(y, edges[:-1]))
    assert np.array_equal(envelope.hi, np.maximum.reduceat(y, edges[:-1]))
    # the automated knob only, at the middle of each of its spans of the output (input sample + 11)
    (values,) = drawn["curves"].values()
    assert list(drawn["curves"]) == ["drive"] and values.size == 2989
    middle = ((np.arange(2989) + 0.5) * (2989 / 2989)).astype(int) + 11
    assert np.allclose(values, np.interp(middle / RATE, [0, 0.06], [0, 1]))
    assert "constant: bright=0 tone=0.2" in drawn["title"]
    assert drawn["knobs"] == [k.to_json() for k in load("catwavenet").knobs]  # each knob on its own range
    from PIL import Image

    image = Image.open(tmp_path / "o.png")
    assert image.format == "PNG" and image.size == (1000, 500)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["di.wav", "o.png", "o.wav"]


def test_plot_without_automation_shows_every_knob(capsys, tmp_path, di, monkeypatch):
    from compat.migrate import plot

    drawn = {}
    monkeypatch.setattr(plot, "automation_png", lambda audio, rate, curves, title, **kw: drawn.update(curves=curves) or b"png")
    code, _, err = run(capsys, "render", *model_args("catlstm"), "--input", di, "--output", tmp_path / "o.wav",
                       "--knob", "drive=0.9", "--plot", tmp_path / "o.png")
    assert code == 0, err
    assert {n: set(v) for n, v in drawn["curves"].items()} == {"bright": {0.0}, "drive": {0.9}, "tone": {0.5}}
    assert (tmp_path / "o.png").read_bytes() == b"png"


@pytest.mark.parametrize("given, stated", [
    (["--knob", "drive=0.7"], "constant: bright=0 drive=0.7 tone=0.5"),
    (["--params", "0,0.3,0.5"], "constant: 0,0.3,0.5 (knob 0 to knob 2, sorted-name order)"),
])
def test_plot_title_states_constant_knobs(capsys, tmp_path, di, monkeypatch, given, stated):
    """With nothing automated every knob is constant: the title says their setting, as it
    says the constant ones beside an automated knob (named, or as --params gives them)."""
    from compat.migrate import plot

    drawn = {}
    monkeypatch.setattr(plot, "automation_png", lambda audio, rate, curves, title, **kw: drawn.update(title=title) or b"png")
    d = FIXTURES / "0.7.4" / "catlstm"
    model = model_args("catlstm") if given[0] == "--knob" else [d / "model.ckpt", "--config", d / "model.json"]
    code, _, err = run(capsys, "render", *model, "--input", di, "--output", tmp_path / "o.wav", *given,
                       "--plot", tmp_path / "o.png")
    assert code == 0, err
    assert drawn["title"].splitlines()[1] == stated


def test_plot_without_matplotlib_warns_and_renders(capsys, tmp_path, di, monkeypatch):
    for name in [n for n in sys.modules if n == "matplotlib" or n.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code, out, err = run(capsys, "render", *model_args("catlstm"), "--input", di, "--output", tmp_path / "o.wav",
                         "--automate", "drive=0:0,0.06:1", "--plot", tmp_path / "o.png")
    assert code == 0
    assert err.count("\n") == 1 and err.startswith("nam-legacy: warning: --plot") and "pip install matplotlib" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["di.wav", "o.wav"]
    assert read_audio(tmp_path / "o.wav").samples.size == 3000


# ------------------------------------------------------------------------------------------
# progress on a terminal only; memory flat in the length
# ------------------------------------------------------------------------------------------


def _stderr_on_a_terminal(argv):
    """Run the CLI with stderr on a pseudo-terminal; returns (exit code, what the terminal got)."""
    leader, follower = pty.openpty()
    # a fresh pty is 0 x 0 characters, where tqdm draws an empty bar; a terminal has a size
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "tools.cli", *map(str, argv)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=follower, env={**os.environ, "PYTHONPATH": str(ROOT)})
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    return proc.wait(timeout=120), b"".join(chunks).decode("utf-8", "replace")


def test_progress_bar_only_on_a_terminal(tmp_path, di):
    argv = ["render", *model_args("catlstm"), "--input", di, "--block", "256"]
    code, shown = _stderr_on_a_terminal([*argv, "--output", tmp_path / "a.wav"])
    assert code == 0 and "render" in shown and "sample" in shown, shown
    code, shown = _stderr_on_a_terminal([*argv, "--output", tmp_path / "b.wav", "--json"])
    assert code == 0 and shown == ""
    piped = subprocess.run([sys.executable, "-m", "tools.cli", *map(str, argv), "--output", tmp_path / "c.wav"], cwd=ROOT,
                           capture_output=True, text=True)
    assert piped.returncode == 0 and piped.stderr == ""


def _long_wav(path, seconds):
    rng = np.random.default_rng(3)
    with open_audio_writer(path, RATE) as writer:
        for _ in range(seconds):
            writer.write((0.1 * rng.standard_normal(RATE)).astype(np.float32))
    return path


RSS_SLACK = 30 << 20  # allocator noise; the whole-file render of 60 s took ~0.9 GB before streaming


def test_render_memory_is_flat_in_length(tmp_path):
    """5 s and 60 s through the CLI (automation, plot) in child processes: the same peak RSS."""
    nam = FIXTURES / "0.7.4" / "catlstm" / "export" / "model.nam"
    runs = {}
    for seconds in (5, 60):
        wav = _long_wav(tmp_path / f"in{seconds}.wav", seconds)
        result = hostile.run_cli(["render", str(nam), "--input", str(wav), "--output", str(tmp_path / f"o{seconds}.wav"),
                                  "--automate", f"drive=0:0,{seconds}:1", "--plot", str(tmp_path / f"o{seconds}.png"),
                                  "--json"], wall=600.0)
        assert result.returncode == 0, result.describe()
        assert json.loads(result.stdout)["samples"] == seconds * RATE
        runs[seconds] = result
    assert runs[60].peak_rss <= runs[5].peak_rss + RSS_SLACK, f"5 s: {runs[5].describe()}; 60 s: {runs[60].describe()}"
