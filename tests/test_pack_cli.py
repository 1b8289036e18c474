"""`nam-legacy pack` / `migrate` through the real CLI (tools.cli.main) for what a pack folder
may be, knob values on the grid, and the two optional parts (upstream's recording for
loudness/gain, matplotlib for the plot): exit code, one line on stderr, the files before
and after."""

import json
import sys

import pytest

import compat.migrate.metadata as md
import nam_legacy.models._resources as resources
from compat.migrate import pack as pack_module
from compat.migrate.current_nam import date_metadata
from compat.migrate.pack import MANIFEST, PLOT
from tools.cli import main

from test_pack import DATE, case, stub_metadata

ISO = DATE.isoformat()
RECORDING_FIX = "pip install --no-deps neural-amp-modeler==0.7.4"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def model(name="hyperconvnet_nobn"):
    ckpt, config, params = case(name)
    return [ckpt, "--config", config, "--param-config", params]


def snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.exists() else None


@pytest.fixture
def stub(monkeypatch):
    monkeypatch.setattr(pack_module, "current_metadata", stub_metadata)


@pytest.fixture
def no_recording(monkeypatch):
    monkeypatch.setattr(resources, "DISTRIBUTION", "nam-legacy-test-no-such-distribution")
    monkeypatch.setattr(md, "_INPUT", None)


def one_line(err, kind):
    assert err.count("\n") == 1 and err.startswith(f"nam-legacy: {kind}: "), err
    return err


def test_pack_without_the_recording(capsys, tmp_path, no_recording):
    out = tmp_path / "p"
    code, stdout, err = run(capsys, "pack", *model(), "--grid", "drive=0,1", "--output", out, "--date", ISO, "--json")
    assert code == 0
    line = one_line(err, "warning")
    assert "loudness/gain metadata not written" in line and RECORDING_FIX in line and PLOT in line
    report = json.loads(stdout)
    assert report["written"] == 2 and report["plot"] is None and len(report["warnings"]) == 1
    assert sorted(snapshot(out)) == ["drive-0-0.nam", "drive-1-1.nam", MANIFEST]
    doc = json.loads((out / "drive-0-0.nam").read_text())
    assert list(doc["metadata"]) == ["date", "nam_legacy"] and doc["architecture"] == "ConvNet"


def test_pack_without_the_recording_text(capsys, tmp_path, no_recording):
    code, stdout, err = run(capsys, "pack", *model(), "--grid", "drive=0,1", "--output", tmp_path / "p", "--date", ISO)
    assert code == 0 and stdout.strip().endswith("manifest.json (no plot)")
    ours = [ln for ln in err.replace("\r", "\n").splitlines() if "nam-legacy:" in ln]  # (a progress bar aside)
    assert len(ours) == 1 and ours[0].startswith("nam-legacy: warning: ") and RECORDING_FIX in ours[0]


def test_migrate_without_the_recording(capsys, tmp_path, no_recording):
    out = tmp_path / "m.nam"
    code, stdout, err = run(capsys, "migrate", *model(), "--knob", "drive=0.5", "--output", out, "--date", ISO, "--json")
    assert code == 0 and RECORDING_FIX in one_line(err, "warning")
    doc = json.loads(out.read_text())
    assert doc["metadata"]["date"] == date_metadata(DATE) and "loudness" not in doc["metadata"]
    assert json.loads(stdout)["loudness"] is None


def test_pack_without_matplotlib(capsys, tmp_path, stub, monkeypatch):
    for name in [n for n in sys.modules if n == "matplotlib" or n.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    out = tmp_path / "p"
    code, stdout, err = run(capsys, "pack", *model(), "--grid", "drive=0,1", "--output", out, "--date", ISO, "--json")
    assert code == 0 and "loudness.png skipped" in one_line(err, "warning") and "pip install matplotlib" in err
    assert sorted(snapshot(out)) == ["drive-0-0.nam", "drive-1-1.nam", MANIFEST]
    assert "pip install matplotlib" in json.loads((out / MANIFEST).read_text())["plot_note"]


def test_another_models_pack_needs_overwrite(capsys, tmp_path, stub):
    out = tmp_path / "p"
    assert run(capsys, "pack", *model("hyperconvnet_bn"), "--grid", "drive=0:1:3", "--grid", "tone=0,1",
               "--output", out, "--date", ISO, "--json")[0] == 0
    before = snapshot(out)
    code, stdout, err = run(capsys, "pack", *model(), "--grid", "drive=0,1", "--output", out, "--date", ISO, "--json")
    assert code == 2 and stdout == "" and snapshot(out) == before
    assert "holds a pack of another model" in one_line(err, "error") and "--overwrite" in err
    code, stdout, err = run(capsys, "pack", *model(), "--grid", "drive=0,1", "--output", out, "--date", ISO, "--json",
                            "--overwrite")
    assert code == 0 and err == ""
    assert sorted(snapshot(out)) == sorted(["drive-0-0.nam", "drive-1-1.nam", MANIFEST, PLOT])  # replaced whole: no stale file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p"]


def test_a_folder_that_is_not_a_pack_is_refused_even_with_overwrite(capsys, tmp_path, stub):
    out = tmp_path / "music"
    out.mkdir()
    (out / "take1.wav").write_bytes(b"RIFF....")
    before = snapshot(out)
    code, stdout, err = run(capsys, "pack", *model(), "--grid", "drive=0,1", "--output", out, "--overwrite")
    assert code == 2 and "holds no nam-legacy pack" in one_line(err, "error") and snapshot(out) == before


@pytest.mark.parametrize("grid, message", [
    ("drive=0,5", "outside its range 0 to 1"),
    ("bright=0,0.5", "boolean and takes 0 or 1"),
])
def test_grid_values_out_of_range(capsys, tmp_path, stub, grid, message):
    code, stdout, err = run(capsys, "pack", *model(), "--grid", grid, "--output", tmp_path / "p")
    assert code == 2 and message in one_line(err, "error") and not (tmp_path / "p").exists()


def test_extrapolate(capsys, tmp_path, stub):
    out = tmp_path / "p"
    code, stdout, err = run(capsys, "pack", *model(), "--grid", "drive=0,5", "--output", out, "--extrapolate", "--json")
    assert code == 0 and "knob drive: grid value 5 outside its range 0 to 1: extrapolating" in one_line(err, "warning")
    assert sorted(snapshot(out)) == sorted(["drive-0-0.nam", "drive-1-5.nam", MANIFEST, PLOT])
