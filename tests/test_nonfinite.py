"""NaN and infinity: in a model's weights (a diverged training run) and in the audio.

Policy (compat/finite.py): such a model still loads, with a warning that `inspect` shows;
migrate, pack and every export refuse it with one typed line (exit 2) before any output
exists; render runs it and warns that its output is not finite. Audio holding NaN or
infinity is refused by render (the model would output NaN from that sample on), before
any output exists.
"""

import json
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile

import compat
import compat.stream as stream
from compat.audio import find_nonfinite, open_audio, write_audio
from compat.errors import ConfigError, NonFiniteWeightsError
from compat.finite import nonfinite_weights
from compat.migrate.current_nam import dumps
from compat.migrate.fold import fold
from compat.render import render
from craft import entries
from golden import FIXTURES
from tools.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "tools" / "example"
RATE = 48_000


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def nan_nam(folder: Path, where=(3,), value=float("nan")) -> Path:
    """The bundled CatLSTM .nam with some weights made NaN, spelled as json.dumps writes it."""
    doc = json.loads((EXAMPLE / "catlstm-0.7.4.nam").read_text())
    for i in where:
        doc["weights"][i] = value
    path = folder / "nanw.nam"
    path.write_text(json.dumps(doc))
    assert "NaN" in path.read_text() or "Infinity" in path.read_text()
    return path


def nan_export_dir(folder: Path) -> Path:
    """The bundled HyperConvNet export folder with one weight NaN."""
    out = folder / "hyper"
    out.mkdir()
    (out / "config.json").write_bytes((EXAMPLE / "hyperconvnet-0.7.4" / "config.json").read_bytes())
    w = np.load(EXAMPLE / "hyperconvnet-0.7.4" / "weights.npy")
    w[10] = np.nan
    np.save(out / "weights.npy", w)
    return out


def nan_checkpoint(folder: Path) -> Path:
    """A genuine 0.7.4 CatLSTM checkpoint with the first value of every float storage NaN."""
    source = FIXTURES / "0.7.4" / "catlstm" / "model.ckpt"
    prefix, found = entries(source)
    out = folder / "nan.ckpt"
    with zipfile.ZipFile(source) as z, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as w:
        for info in z.infolist():
            data = found[info.filename]
            if info.filename.startswith(f"{prefix}/data/") and len(data) % 4 == 0 and len(data) >= 16:
                data = struct.pack("<f", float("nan")) + data[4:]
            w.writestr(info, data)
    return out


def listing(folder: Path):
    return sorted(p.name for p in folder.iterdir())


# --- the model ---


def test_the_count_is_of_the_weights(tmp_path):
    legacy = compat.load(nan_nam(tmp_path, where=(3, 500, 900)))
    assert nonfinite_weights(legacy) == (3, sum(p.numel() for p in legacy.model.parameters()))
    assert nonfinite_weights(compat.load(EXAMPLE / "catlstm-0.7.4.nam"))[0] == 0


@pytest.mark.parametrize("make", [nan_nam, nan_export_dir])
def test_a_nan_model_loads_with_a_warning_inspect_shows(capsys, tmp_path, make):
    path = make(tmp_path)
    legacy = compat.load(path)
    (warning,) = [w for w in legacy.warnings if "NaN" in w]
    bad, total = nonfinite_weights(legacy)
    assert bad == 1 and warning.startswith(f"1 of {total} weights is NaN or infinite: the model outputs NaN")
    code, out, err = run(capsys, "inspect", path)
    assert code == 0 and err == ""
    assert [line for line in out.splitlines() if line.startswith("warnings")] == [f"warnings          {warning}"]
    code, out, _ = run(capsys, "inspect", path, "--json")
    assert code == 0 and json.loads(out)["warnings"] == [warning]


def test_a_nan_checkpoint_loads_with_a_warning(tmp_path):
    d = FIXTURES / "0.7.4" / "catlstm"
    legacy = compat.load(nan_checkpoint(tmp_path), config=d / "model.json", param_config=d / "params.json")
    bad, total = nonfinite_weights(legacy)
    assert bad > 0
    assert f"{bad} of {total} weights are NaN or infinite: the model outputs NaN" in legacy.warnings[-1]


def test_infinity_counts_too(tmp_path):
    legacy = compat.load(nan_nam(tmp_path, where=(7,), value=float("inf")))
    assert nonfinite_weights(legacy)[0] == 1 and any("NaN or infinite" in w for w in legacy.warnings)


@pytest.mark.parametrize("verb", [
    ["migrate", "--output", "{out}/m.nam"],
    ["migrate", "--knob", "drive=0.7", "--output", "{out}/m.nam"],
    ["pack", "--grid", "drive=0,1", "--output", "{out}/pack"],
    ["export", "--format", "nam", "--output", "{out}/e.nam"],
    ["export", "--format", "parametric-nam", "--output", "{out}/p.nam"],
    ["export", "--format", "header", "--output", "{out}/e.h"],
])
def test_migrate_pack_and_export_refuse_before_any_output(capsys, tmp_path, verb):
    model = nan_nam(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    argv = [verb[0], model, *(a.format(out=out) for a in verb[1:])]
    code, stdout, err = run(capsys, *argv)
    doing = "export" if verb[0] == "export" else verb[0]
    assert code == 2 and stdout == ""
    assert err == (f"nam-legacy: error: cannot {doing} this model: 1 of 1065 weights is NaN or infinite, so it outputs NaN "
                   "(a diverged training run?); use a checkpoint from before it diverged\n")
    assert listing(out) == []  # not even pack's state file


def test_export_of_a_nan_export_folder_is_refused(capsys, tmp_path):
    model = nan_export_dir(tmp_path)
    code, _, err = run(capsys, "export", model, "--format", "dir", "--output", tmp_path / "again")
    assert code == 2 and "cannot export this model: 1 of" in err and not (tmp_path / "again").exists()


def test_the_api_refuses_with_a_typed_error(tmp_path):
    legacy = compat.load(nan_nam(tmp_path))
    for call in (lambda: fold(legacy), lambda: fold(legacy.model, [0, 0.3, 0.5]),
                 lambda: compat.export(legacy, "nam", tmp_path / "x.nam")):
        with pytest.raises(NonFiniteWeightsError) as caught:
            call()
        assert isinstance(caught.value, (ConfigError, ValueError))  # ValueError: what the writers raised before
    from compat.migrate.pack import pack

    with pytest.raises(NonFiniteWeightsError):
        pack(legacy, ["drive=0,1"], tmp_path / "pack")
    assert not (tmp_path / "pack").exists() and not (tmp_path / "x.nam").exists()


def test_the_writer_guard_is_typed_too():
    # finite weights can still fold to infinity (an overflow): the writer's last guard
    with pytest.raises(NonFiniteWeightsError, match="cannot hold NaN or infinite weights"):
        dumps({"weights": [0.5, float("inf")]})


def test_render_of_a_nan_model_warns_about_its_output(capsys, tmp_path):
    model = nan_nam(tmp_path)
    write_audio(tmp_path / "di.wav", np.full(1000, 0.1, np.float32), RATE)
    for extra in ([], ["--offline"]):
        out = tmp_path / f"o{len(extra)}.wav"
        code, stdout, err = run(capsys, "render", model, "--input", tmp_path / "di.wav", "--output", out, *extra)
        assert code == 0 and stdout.startswith("wrote")
        assert err == (f"nam-legacy: warning: --output {out}: 1000 of 1000 samples are NaN or infinite "
                       "(the model: 1 of 1065 weights is NaN or infinite)\n")
        assert np.isnan(soundfile.read(out)[0]).all()
    code, stdout, _ = run(capsys, "render", model, "--input", tmp_path / "di.wav", "--output", tmp_path / "j.wav", "--json")
    assert code == 0 and json.loads(stdout)["nonfinite_samples"] == 1000


def test_render_of_a_finite_model_does_not_warn(capsys, tmp_path):
    write_audio(tmp_path / "di.wav", np.full(1000, 0.1, np.float32), RATE)
    code, _, err = run(capsys, "render", EXAMPLE / "catlstm-0.7.4.nam", "--input", tmp_path / "di.wav",
                       "--output", tmp_path / "o.wav")
    assert code == 0 and err == ""


# --- the audio ---


@pytest.mark.parametrize("suffix", [".wav", ".npy"])
@pytest.mark.parametrize("offline", [False, True])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_render_refuses_a_nonfinite_input_sample(capsys, tmp_path, suffix, offline, bad):
    x = np.full(20_000, 0.1, np.float32)
    x[12_345] = bad
    x[15_000] = np.nan  # only the first is named
    source = tmp_path / f"in{suffix}"
    write_audio(source, x, RATE)
    out = tmp_path / "out.wav"
    code, stdout, err = run(capsys, "render", EXAMPLE / "catlstm-0.7.4.nam", "--input", source, "--output", out,
                            "--block", "512", *(["--offline"] if offline else []))
    word = "NaN" if np.isnan(bad) else "+inf" if bad > 0 else "-inf"
    assert code == 2 and stdout == ""
    assert err == (f"nam-legacy: error: --input {source}: sample 12345 (at 0.257188 s) is {word}; a model would output "
                   "NaN from there on (repair or replace the audio)\n")
    assert listing(tmp_path) == [source.name]


def test_the_scan_reads_only_encodings_that_can_hold_nan(tmp_path):
    pcm, flt = tmp_path / "pcm.wav", tmp_path / "float.wav"
    soundfile.write(pcm, np.zeros(100), RATE, subtype="PCM_16")
    soundfile.write(flt, np.zeros(100), RATE, subtype="DOUBLE")
    with open_audio(pcm) as a, open_audio(flt) as b:
        assert (a.may_hold_nonfinite, b.may_hold_nonfinite) == (False, True)
    x = np.zeros(100)
    x[99] = np.nan
    soundfile.write(flt, x, RATE, subtype="DOUBLE")
    with pytest.raises(ConfigError, match=r"^float.wav: sample 99 \(at 0.0020625 s\) is NaN"):
        find_nonfinite(flt, source="float.wav")


def test_the_streaming_api_refuses_nonfinite_audio(tmp_path):
    legacy = compat.load(EXAMPLE / "catlstm-0.7.4.nam")
    x = np.full(3000, 0.1, np.float32)
    x[2500] = np.nan
    write_audio(tmp_path / "in.npy", x)
    with pytest.raises(ConfigError, match=r"in.npy: sample 2500 \(at 0.0520833 s\) is NaN"):
        stream.stream_file(stream.open(legacy, RATE), tmp_path / "in.npy", tmp_path / "out.wav", block=1000)
    assert listing(tmp_path) == ["in.npy"]
    with pytest.raises(ConfigError, match=r"^the input: sample 2500 is NaN"):
        render(legacy.model, [0, 0.3, 0.5], x)
