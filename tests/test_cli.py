"""The command line: verbs, output files, JSON, and one-line errors with exit code 2."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import compat
from compat.audio import read_audio, write_audio
from golden import FIXTURES, export_file_mismatch
from compat.stream import forward_augmented
from tools import demo
from tools.cli import main

CASE = FIXTURES / "0.5.1" / "catlstm"
CKPT, CONFIG = str(CASE / "model.ckpt"), str(CASE / "model.json")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_inspect_json(capsys):
    code, out, err = run(capsys, "inspect", CKPT, "--config", CONFIG, "--json")
    facts = json.loads(out)
    assert code == 0 and err == ""
    assert facts["architecture"] == "CatLSTM" and facts["knob_count"] == 3 and facts["receptive_field"] == 1
    assert facts["format"] == "ckpt" and facts["initial_state"] == "learned" and facts["knobs"] == []
    assert facts["release_detected"] == "0.4.0..0.7.3"
    model = compat.load_checkpoint(CKPT, CONFIG)
    assert facts["parameters"] == sum(p.numel() for p in model.parameters())


STREAM_BOUND = 1e-6  # streamed vs the offline forward (docs/streaming.md): last float places only


@pytest.mark.parametrize("suffix", [".npy", ".wav"])
@pytest.mark.parametrize("pad", [True, False])
@pytest.mark.parametrize("offline", [False, True])
def test_render_writes_the_models_output(capsys, tmp_path, suffix, pad, offline):
    """Streamed (the default): the model's forward within 1e-6; --offline: its exact bits."""
    x = (0.3 * np.random.default_rng(0).standard_normal(300)).astype(np.float32)
    write_audio(tmp_path / f"in{suffix}", x)
    argv = ["render", CKPT, "--config", CONFIG, "--params", "1,0.25,0.75", "--input", str(tmp_path / f"in{suffix}"), "--output", str(tmp_path / f"out{suffix}")]
    code, out, err = run(capsys, *(argv + ([] if pad else ["--no-pad-start"]) + (["--offline"] if offline else [])))
    assert code == 0, err
    model = compat.load_checkpoint(CKPT, CONFIG)
    with torch.no_grad():
        expected = model(torch.tensor([1.0, 0.25, 0.75]), torch.from_numpy(x), pad_start=pad).numpy()
    got = read_audio(tmp_path / f"out{suffix}").samples
    assert got.shape == expected.shape
    if offline:
        assert np.array_equal(got, expected)
    else:
        assert np.abs(got - expected).max() <= STREAM_BOUND


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["inspect", "missing.ckpt", "--config", CONFIG], "missing.ckpt"),
        (["inspect", CONFIG, "--config", CONFIG], "config"),
        (["inspect", CKPT, "--config", str(FIXTURES / "0.5.1" / "catwavenet" / "model.json")], "does not fit"),
        (["inspect", CKPT, "--config", CONFIG, "--release", "9.9.9"], "unknown release"),
        (["render", CKPT, "--config", CONFIG, "--params", "1,2,3", "--input", "x.npy", "--output", "y.npy"], "x.npy"),
        (["render", CKPT, "--config", CONFIG, "--params", "1,2", "--input", "x.npy", "--output", "y.npy"], "takes 3 knob values, got 2"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path, argv, fragment):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("nam-legacy: error: ") and fragment in err


def test_wrong_knob_count_leaves_no_output(capsys, tmp_path):
    write_audio(tmp_path / "in.npy", np.zeros(10, dtype=np.float32))
    code, _, err = run(capsys, "render", CKPT, "--config", CONFIG, "--params", "1,2", "--input", str(tmp_path / "in.npy"), "--output", str(tmp_path / "out.wav"))
    assert code == 2 and "takes 3 knob values, got 2" in err
    assert list(tmp_path.iterdir()) == [tmp_path / "in.npy"]


def test_console_script_help_and_usage_errors():
    help_text = subprocess.run([sys.executable, "-m", "tools.cli", "render", "--help"], capture_output=True, text=True)
    assert help_text.returncode == 0 and "sorted-name order" in help_text.stdout
    usage = subprocess.run([sys.executable, "-m", "tools.cli", "render"], capture_output=True, text=True)
    assert usage.returncode == 2


def test_demo_writes_sweep(capsys, tmp_path, monkeypatch):
    import compat.migrate.plot as plot

    drawn = {}
    real = plot.automation_png
    monkeypatch.setattr(plot, "automation_png", lambda *a, **kw: drawn.update(kw) or real(*a, **kw))
    code, out, _ = run(capsys, "demo", "--output", str(tmp_path), "--json")
    report = json.loads(out)
    assert code == 0 and len(report["outputs"]) == 2
    assert {f["format"] for f in report["formats"]} == {"nam", "dir", "header"}  # as --format spells them
    assert report["warnings"] == [] and "trained for 3 steps on synthetic audio" in report["note"]
    assert len(report["migration"]["pack_files"]) == 4 and (tmp_path / "pack" / "loudness.png").is_file()
    assert json.loads((tmp_path / "migrated-defaults.nam").read_text())["architecture"] == "LSTM"
    source, sweep = report["outputs"]
    x = read_audio(source["output"]).samples
    assert x.shape == (144_000,) and read_audio(sweep["output"]).sample_rate == 48_000
    # the streamed sweep: the checkpoint with drive moving linearly from 0 to 1 over the 3 s
    assert sweep["automation"] == {"drive": {"times": [0.0, 3.0], "values": [0.0, 1.0]}}
    assert sweep["knobs"] == {"bright": 0.0, "tone": 0.5}  # the constant ones: drive is not at one value
    legacy = compat.load(demo.CHECKPOINT, config=demo.MODEL_CONFIG, param_config=demo.PARAM_CONFIG)
    drive = np.arange(x.size) / 48_000 / 3.0
    curves = np.stack([np.zeros(x.size), drive, np.full(x.size, 0.5)], axis=1)  # bright, drive, tone
    expected = forward_augmented(legacy, x, curves).numpy()
    assert np.abs(read_audio(sweep["output"]).samples - expected).max() <= STREAM_BOUND
    assert sweep["plot"] == str(tmp_path / "drive-sweep.png") and (tmp_path / "drive-sweep.png").is_file()
    # the drive panel is drawn on drive's range from the param config, not on the curve's span
    assert [(k["name"], k["minval"], k["maxval"]) for k in drawn["knobs"]][1] == ("drive", 0.0, 1.0)
    # the live-knob export: a ConcatLSTM .nam that loads back as the same model
    parametric = report["parametric_nam"]
    if parametric["skipped"] is None:
        back = compat.load(parametric["output"])
        assert back.format == "parametric_nam" and json.loads(Path(parametric["output"]).read_text())["architecture"] == "ConcatLSTM"
        with torch.no_grad():
            a = back.model(torch.tensor([1.0, 0.7, 0.2]), torch.from_numpy(x[:4800]))
            b = legacy.model(torch.tensor([1.0, 0.7, 0.2]), torch.from_numpy(x[:4800]))
        # the file starts from the exporter's burn-in state, the checkpoint from its learned one:
        # compare after both have settled
        assert torch.allclose(a[-2400:], b[-2400:], atol=1e-4)
    else:
        assert "loudness_input.wav" in parametric["skipped"] and parametric["output"] is None


def test_demo_without_matplotlib_or_the_recording(capsys, tmp_path, monkeypatch):
    import compat.migrate.metadata as md
    import nam_legacy.models._resources as resources

    for name in [n for n in sys.modules if n == "matplotlib" or n.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setattr(resources, "DISTRIBUTION", "nam-legacy-test-no-such-distribution")
    monkeypatch.setattr(md, "_INPUT", None)  # read once per process: forget an earlier test's
    code, out, err = run(capsys, "demo", "--output", str(tmp_path / "d"))
    assert code == 0, err
    assert "pip install matplotlib" in out and "Skipped the parametric-nam export" in out
    said = [line for line in out.replace(str(tmp_path), "TMP").splitlines() if "matplotlib" in line]  # said once, plainly
    assert len(said) == 1 and said[0].count("(") == 1 and said[0].strip().startswith("no drive-sweep.png: plots need")
    assert len([line for line in out.splitlines() if "loudness_input.wav" in line]) == 3  # what each step left out
    assert "no loudness.png either" not in out and err == ""  # the pack's plot: no recording, nothing to plot
    files = sorted(p.name for p in (tmp_path / "d").iterdir())
    assert files == ["drive-sweep.wav", "input.wav", "migrated-defaults.nam", demo.MARKER, "pack"]


@pytest.mark.parametrize("path, fmt, arch", [
    (FIXTURES / "0.5.0" / "catwavenet" / "export" / "model.nam", "nam", "CatWaveNet"),
    (FIXTURES / "0.4.0" / "catlstm" / "export", "dir", "CatLSTM"),  # the --format names, not compat's
    (FIXTURES / "0.6.0" / "hyperconvnet_nobn" / "export" / "model.h", "header", "HyperConvNet"),
])
def test_inspect_detects_every_format(capsys, path, fmt, arch):
    code, out, err = run(capsys, "inspect", str(path), "--json")
    facts = json.loads(out)
    assert code == 0, err
    assert (facts["format"], facts["architecture"]) == (fmt, arch)


def test_render_by_knob_name_uses_defaults_for_the_rest(capsys, tmp_path):
    nam = FIXTURES / "0.7.4" / "catlstm" / "export" / "model.nam"
    x = np.linspace(-0.5, 0.5, 200, dtype=np.float32)
    write_audio(tmp_path / "in.npy", x)
    code, out, err = run(capsys, "render", str(nam), "--knob", "drive=0.9", "--input", str(tmp_path / "in.npy"), "--output", str(tmp_path / "o.npy"), "--json")
    assert code == 0, err
    assert json.loads(out)["knobs"] == {"bright": 0.0, "drive": 0.9, "tone": 0.5}
    legacy = compat.load(nam)
    with torch.no_grad():
        expected = legacy.model(torch.tensor([0.0, 0.9, 0.5]), torch.from_numpy(x)).numpy()
    got = np.load(tmp_path / "o.npy")
    assert got.shape == expected.shape and np.abs(got - expected).max() <= STREAM_BOUND


@pytest.mark.parametrize("mode", [[], ["--offline"]])
def test_render_refuses_a_wav_at_another_rate(capsys, tmp_path, mode):
    write_audio(tmp_path / "in.wav", np.zeros(100, dtype=np.float32), 44_100)
    code, _, err = run(capsys, "render", CKPT, "--config", CONFIG, "--params", "0,0,0", "--input", str(tmp_path / "in.wav"),
                       "--output", str(tmp_path / "o.wav"), *mode)
    assert code == 2 and err == (f"nam-legacy: error: --input {tmp_path / 'in.wav'}: the audio is 44100 Hz but legacy "
                                 "models were trained at 48000 Hz (resample it, or pass --ignore-rate)\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav"]
    code, _, err = run(capsys, "render", CKPT, "--config", CONFIG, "--params", "0,0,0", "--input", str(tmp_path / "in.wav"), "--output", str(tmp_path / "o.wav"), "--ignore-rate")
    assert code == 0, err


@pytest.mark.parametrize("mode", [[], ["--offline"]])
def test_render_refuses_stereo_naming_the_input_option_with_a_fix(capsys, tmp_path, mode):
    import soundfile

    soundfile.write(tmp_path / "in.wav", np.zeros((100, 2), dtype=np.float32), 48_000)
    code, _, err = run(capsys, "render", CKPT, "--config", CONFIG, "--params", "0,0,0", "--input", str(tmp_path / "in.wav"),
                       "--output", str(tmp_path / "o.wav"), *mode)
    assert code == 2 and err == (f"nam-legacy: error: --input {tmp_path / 'in.wav'}: 2 channels; models take mono audio "
                                 "(mix it down to mono or pick one channel first)\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav"]


def test_export_verb_writes_the_release_format(capsys, tmp_path):
    original = FIXTURES / "0.5.1" / "catlstm" / "export" / "model.nam"
    date = json.loads(original.read_text())["metadata"]["date"]
    iso = f"{date['year']:04d}-{date['month']:02d}-{date['day']:02d}T{date['hour']:02d}:{date['minute']:02d}:{date['second']:02d}"
    code, out, err = run(capsys, "export", CKPT, "--config", CONFIG, "--param-config", str(CASE / "params.json"),
                         "--format", "nam", "--as-release", "0.5.1", "--output", str(tmp_path / "model.nam"), "--date", iso)
    assert code == 0, err
    # byte for byte but for the burn-in state (a forward pass, computed here; golden.py)
    net = json.loads((CASE / "model.json").read_text())["net"]
    assert export_file_mismatch(tmp_path / "model.nam", original, net) is None
    # --release builds the model as a release; export then writes as that release too.
    code, _, err = run(capsys, "export", CKPT, "--config", CONFIG, "--param-config", str(CASE / "params.json"),
                       "--format", "nam", "--release", "0.5.1", "--output", str(tmp_path / "built.nam"), "--date", iso)
    assert code == 0, err
    assert export_file_mismatch(tmp_path / "built.nam", original, net) is None


def test_checkpoint_without_config_is_a_one_line_error(capsys):
    code, _, err = run(capsys, "inspect", CKPT)
    assert code == 2 and "--config" in err and err.count("\n") == 1


@pytest.mark.parametrize("fmt, output, fragment", [
    ("header", "model.h", "--date applies to .nam files only"),
    ("dir", "export", "--date applies to .nam files only"),
    ("nam-0.5.0", "model.nam", "--date: a 0.5.0 .nam carries no date"),
])
def test_export_refuses_a_date_it_would_not_write(capsys, tmp_path, fmt, output, fragment):
    """--date used to be ignored silently where nothing carries a date."""
    fmt, *release = fmt.split("-")
    argv = ["export", CKPT, "--config", CONFIG, "--param-config", str(CASE / "params.json"), "--format", fmt,
            "--output", str(tmp_path / output), "--date", "2024-01-14T12:00:00"]
    code, out, err = run(capsys, *argv, *(["--as-release", release[0]] if release else []))
    assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("nam-legacy: error: ")
    assert fragment in err
    assert list(tmp_path.iterdir()) == []


def test_inspect_shows_rate_in_hz_and_the_date_in_iso(capsys, tmp_path):
    legacy = compat.load(demo.CHECKPOINT, config=demo.MODEL_CONFIG, param_config=demo.PARAM_CONFIG)
    from datetime import datetime

    path = compat.export(legacy, "parametric-nam", tmp_path / "p.nam", date=datetime(2024, 1, 12, 10, 41, 3))
    document = json.loads(path.read_text())
    assert document["sample_rate"] == 48000 and document["metadata"]["date"]["hour"] == 10
    code, out, err = run(capsys, "inspect", str(path))
    assert code == 0, err
    assert "sample rate       48000 Hz\n" in out and "48000.0" not in out
    assert "metadata date: 2024-01-12 10:41:03\n" in out
    code, out, err = run(capsys, "inspect", str(path), "--json")  # JSON keeps the numbers and the dict
    facts = json.loads(out)
    assert facts["sample_rate"] == 48000 and facts["metadata"]["date"]["second"] == 3


def test_the_metadata_fix_is_one_command_everywhere():
    """The library's message, the CLI's warning and the README give the same command, and
    none offers `nam-legacy[metadata]` (nam-legacy is not on PyPI)."""
    import nam_legacy.models._resources as resources
    from compat.migrate.metadata import RECORDING_FIX

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    original = resources.DISTRIBUTION
    try:
        resources.DISTRIBUTION = "nam-legacy-test-no-such-distribution"
        with pytest.raises(resources.LoudnessInputMissing) as caught:
            resources.loudness_input_path()
    finally:
        resources.DISTRIBUTION = original
    message = str(caught.value).replace("nam-legacy-test-no-such-distribution", original)
    assert RECORDING_FIX == "pip install --no-deps neural-amp-modeler==0.7.4"
    assert RECORDING_FIX in message and " ".join(RECORDING_FIX.split()[:3]) in readme
    assert "nam-legacy[metadata]" not in message + readme
    assert "pip install -e '.[metadata]'" in readme


def test_a_cut_off_input_is_reported_once(capsys, tmp_path):
    """The input is opened more than once in a render (header, scan, stream); its warning is
    shown once, and listed once in --json."""
    x = (0.1 * np.sin(np.arange(4800) / 10)).astype(np.float32)
    write_audio(tmp_path / "take.wav", x, 48_000)
    whole = (tmp_path / "take.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(whole[: len(whole) - 400])  # 100 float samples missing
    code, out, err = run(capsys, "render", str(demo.EXAMPLE / "catlstm-0.7.4.nam"), "--input", str(tmp_path / "cut.wav"),
                         "--output", str(tmp_path / "y.wav"), "--json")
    assert code == 0, err
    lines = [line for line in err.splitlines() if "cut short" in line]
    assert len(lines) == 1 and "claims 4800 samples, the file holds 4700" in lines[0], err
    assert [w for w in json.loads(out)["warnings"] if "cut short" in w] == [lines[0].split("warning: ", 1)[1]]
    assert read_audio(tmp_path / "y.wav").samples.size == 4700
