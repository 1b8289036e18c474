"""`migrate` and `pack` verbs (tools.migrate_commands) through a small argparse front end
that handles errors the way tools/cli.py does: a compat.LegacyError is one line, exit 2."""

import argparse
import json
import sys

import pytest
from pathlib import Path

import compat
from compat.migrate import pack as pack_module
from compat.migrate.pack import MANIFEST, PLOT
from tools.migrate_commands import add_parsers

from test_pack import DATE, case, stub_metadata

ISO = DATE.isoformat()


def main(argv):
    parser = argparse.ArgumentParser(prog="nam-legacy")
    add_parsers(parser.add_subparsers(dest="verb", required=True))
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except compat.LegacyError as e:
        print(f"nam-legacy: error: {e}", file=sys.stderr)
        return 2


@pytest.fixture(autouse=True)
def stub(monkeypatch):
    monkeypatch.setattr(pack_module, "current_metadata", stub_metadata)


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def model_args(name="catwavenet", release="0.7.4"):
    ckpt, config, params = case(name, release)
    return [ckpt, "--config", config, "--param-config", params]


def test_verbs_are_registered():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="verb")
    add_parsers(sub)
    assert set(sub.choices) == {"migrate", "pack"}
    for verb in ("migrate", "pack"):
        assert callable(parser.parse_args([verb, "x", "--output", "y"]).run)


def test_migrate_writes_one_file(capsys, tmp_path):
    out = tmp_path / "a.nam"
    code, stdout, err = run(capsys, "migrate", *model_args(), "--knob", "drive=0.7", "--output", out, "--date", ISO, "--json")
    assert code == 0 and err == ""
    facts = json.loads(stdout)
    assert facts["architecture"] == "WaveNet" and facts["knobs"] == {"bright": 0.0, "drive": 0.7, "tone": 0.5}
    doc = json.loads(out.read_text())
    assert doc["version"] == "0.7.0" and doc["metadata"]["date"]["year"] == 2026
    assert doc["metadata"]["nam_legacy"]["knobs"] == facts["knobs"]
    assert len(doc["metadata"]["nam_legacy"]["source_sha256"]) == 64
    # --params gives the same file as the named knobs.
    out2 = tmp_path / "b.nam"
    assert run(capsys, "migrate", *model_args(), "--params", "0,0.7,0.5", "--output", out2, "--date", ISO)[0] == 0
    assert out2.read_bytes() == out.read_bytes()


def test_pack_files_equal_migrate(capsys, tmp_path):
    grid = ["--grid", "drive=0:1:2", "--grid", "tone=0,1", "--grid", "bright=0,1"]
    code, stdout, err = run(capsys, "pack", *model_args("catlstm"), *grid, "--output", tmp_path / "p", "--date", ISO, "--json")
    assert code == 0 and err == ""
    facts = json.loads(stdout)
    assert facts["files"] == 8 and facts["written"] == 8 and facts["skipped"] == 0
    manifest = json.loads((tmp_path / "p" / MANIFEST).read_text())
    assert (tmp_path / "p" / PLOT).is_file()
    for entry in manifest["files"]:
        one = tmp_path / "one.nam"
        knobs = [f"--knob={k}={v}" for k, v in entry["knobs"].items()]
        assert run(capsys, "migrate", *model_args("catlstm"), *knobs, "--output", one, "--date", ISO, "--overwrite")[0] == 0
        assert (tmp_path / "p" / entry["file"]).read_bytes() == one.read_bytes(), entry["file"]
    code, stdout, _ = run(capsys, "pack", *model_args("catlstm"), *grid, "--output", tmp_path / "p", "--json")
    assert json.loads(stdout)["skipped"] == 8


@pytest.mark.parametrize("argv, message", [
    (["pack", "{m}", "--grid", "drive=0:1", "--output", "{o}"], "START:STOP:COUNT"),
    (["pack", "{m}", "--grid", "drive=0:1:zero", "--output", "{o}"], "COUNT"),
    (["pack", "{m}", "--output", "{o}"], "--grid"),
    (["pack", "{m}", "--grid", "level=0,1", "--output", "{o}"], "unknown knob 'level'"),
    (["migrate", "{m}", "--knob", "level=1", "--output", "{o}.nam"], "unknown knob 'level'"),
    (["migrate", "{m}", "--params", "1,2", "--output", "{o}.nam"], "3 knob values"),
    (["migrate", "{m}", "--output", "{o}.nam", "--nam-version", "0.5.4"], "0.5.4"),
    (["migrate", "{m}", "--output", "{o}.nam", "--nam-version", "0.6.0"], "0.6.0"),
    (["migrate", "{m}", "--output", "{o}.nam", "--date", "yesterday"], "--date"),
])
def test_bad_input_is_one_line_exit_2(capsys, tmp_path, argv, message):
    args = []
    for a in argv:
        if a == "{m}":
            args += model_args()
        else:
            args.append(a.replace("{o}", str(tmp_path / "out")))
    code, out, err = run(capsys, *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("nam-legacy: error: ") and message in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert not (tmp_path / "out.nam").exists()


@pytest.mark.parametrize("verb, extra", [("migrate", []), ("pack", ["--grid", "drive=0,1"])])
def test_checkpoint_needs_config(capsys, tmp_path, verb, extra):
    ckpt, _, params = case("catlstm")
    output = tmp_path / ("o.nam" if verb == "migrate" else "o")  # a migrate output is a .nam
    code, out, err = run(capsys, verb, ckpt, "--param-config", params, *extra, "--output", output)
    assert code == 2 and err.count("\n") == 1 and "--config" in err
    assert not output.exists()


def test_migrate_lstm_as_0_5_4(capsys, tmp_path):
    out = tmp_path / "old.nam"
    assert run(capsys, "migrate", *model_args("catlstm"), "--nam-version", "0.5.4", "--output", out)[0] == 0
    doc = json.loads(out.read_text())
    assert doc["version"] == "0.5.4" and doc["architecture"] == "LSTM"


@pytest.mark.skipif(not (Path(__file__).resolve().parent.parent / "compat" / "migrate" / "metadata.py").exists(),
                    reason="compat.migrate.metadata not written yet")
def test_pack_equals_migrate_with_real_metadata(capsys, tmp_path, monkeypatch):
    """The real current_metadata, in batches for the pack and one model at a time for migrate."""
    monkeypatch.undo()
    args = model_args("hyperconvnet_nobn")
    code, _, err = run(capsys, "pack", *args, "--grid", "drive=0,1", "--grid", "tone=0.5,1", "--output", tmp_path / "p",
                       "--date", ISO, "--json")
    assert code == 0, err
    manifest = json.loads((tmp_path / "p" / MANIFEST).read_text())
    for entry in manifest["files"]:
        assert -80 < entry["loudness"] < 20 and 0 <= entry["gain"] <= 1
        assert pack_module.current_metadata is not stub_metadata
        one = tmp_path / "one.nam"
        knobs = [f"--knob={k}={v}" for k, v in entry["knobs"].items()]
        assert run(capsys, "migrate", *args, *knobs, "--output", one, "--date", ISO, "--overwrite")[0] == 0
        assert (tmp_path / "p" / entry["file"]).read_bytes() == one.read_bytes(), entry["file"]
