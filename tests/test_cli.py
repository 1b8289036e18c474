"""The command line: verbs, output files, JSON, and one-line errors with exit code 2."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import compat
from compat.audio import read_audio, write_audio
from golden import FIXTURES
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


@pytest.mark.parametrize("suffix", [".npy", ".wav"])
@pytest.mark.parametrize("pad", [True, False])
def test_render_writes_the_models_output(capsys, tmp_path, suffix, pad):
    x = (0.3 * np.random.default_rng(0).standard_normal(300)).astype(np.float32)
    write_audio(tmp_path / f"in{suffix}", x)
    argv = ["render", CKPT, "--config", CONFIG, "--params", "1,0.25,0.75", "--input", str(tmp_path / f"in{suffix}"), "--output", str(tmp_path / f"out{suffix}")]
    code, out, err = run(capsys, *(argv + ([] if pad else ["--no-pad-start"])))
    assert code == 0, err
    model = compat.load_checkpoint(CKPT, CONFIG)
    with torch.no_grad():
        expected = model(torch.tensor([1.0, 0.25, 0.75]), torch.from_numpy(x), pad_start=pad).numpy()
    assert np.array_equal(read_audio(tmp_path / f"out{suffix}").samples, expected)


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


def test_demo_writes_sweep(capsys, tmp_path):
    code, out, _ = run(capsys, "demo", "--output", str(tmp_path), "--json")
    report = json.loads(out)
    assert code == 0 and len(report["outputs"]) == 4
    assert {f["format"] for f in report["formats"]} == {"nam", "export_dir", "cpp_header"}
    assert len(report["migration"]["pack_files"]) == 4 and (tmp_path / "pack" / "loudness.png").is_file()
    assert json.loads((tmp_path / "migrated-defaults.nam").read_text())["architecture"] == "LSTM"
    for item in report["outputs"]:
        assert read_audio(item["file"]).samples.shape == (72_000,)


@pytest.mark.parametrize("path, fmt, arch", [
    (FIXTURES / "0.5.0" / "catwavenet" / "export" / "model.nam", "nam", "CatWaveNet"),
    (FIXTURES / "0.4.0" / "catlstm" / "export", "export_dir", "CatLSTM"),
    (FIXTURES / "0.6.0" / "hyperconvnet_nobn" / "export" / "model.h", "cpp_header", "HyperConvNet"),
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
    assert np.array_equal(np.load(tmp_path / "o.npy"), expected)


def test_render_refuses_a_wav_at_another_rate(capsys, tmp_path):
    write_audio(tmp_path / "in.wav", np.zeros(100, dtype=np.float32), 44_100)
    code, _, err = run(capsys, "render", CKPT, "--config", CONFIG, "--params", "0,0,0", "--input", str(tmp_path / "in.wav"), "--output", str(tmp_path / "o.wav"))
    assert code == 2 and "44100 Hz" in err and "--ignore-rate" in err
    code, _, err = run(capsys, "render", CKPT, "--config", CONFIG, "--params", "0,0,0", "--input", str(tmp_path / "in.wav"), "--output", str(tmp_path / "o.wav"), "--ignore-rate")
    assert code == 0, err


def test_export_verb_writes_the_release_format(capsys, tmp_path):
    original = FIXTURES / "0.5.1" / "catlstm" / "export" / "model.nam"
    date = json.loads(original.read_text())["metadata"]["date"]
    iso = f"{date['year']:04d}-{date['month']:02d}-{date['day']:02d}T{date['hour']:02d}:{date['minute']:02d}:{date['second']:02d}"
    code, out, err = run(capsys, "export", CKPT, "--config", CONFIG, "--param-config", str(CASE / "params.json"),
                         "--format", "nam", "--as-release", "0.5.1", "--output", str(tmp_path / "model.nam"), "--date", iso)
    assert code == 0, err
    assert (tmp_path / "model.nam").read_bytes() == original.read_bytes()
    # --release builds the model as a release; export then writes as that release too.
    code, _, err = run(capsys, "export", CKPT, "--config", CONFIG, "--param-config", str(CASE / "params.json"),
                       "--format", "nam", "--release", "0.5.1", "--output", str(tmp_path / "built.nam"), "--date", iso)
    assert code == 0, err
    assert (tmp_path / "built.nam").read_bytes() == original.read_bytes()


def test_checkpoint_without_config_is_a_one_line_error(capsys):
    code, _, err = run(capsys, "inspect", CKPT)
    assert code == 2 and "--config" in err and err.count("\n") == 1
