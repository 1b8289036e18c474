"""One vocabulary across verbs (docs/formats.md, "JSON output"): written files under
"output", a "warnings" list in every report (the same lines stderr showed), knob settings
as {name: value} when the names are known else a list in model order, automated knobs as
their points (never at one value), format names as `--format` spells them, paths of one
kind, knob lists in one text format (CLI lines and plot titles); and inspect saying when
a model's knob names are unknown."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from compat.audio import write_audio
from compat.knobs import format_knobs as compat_format_knobs
from tools import cli
from tools.report import format_knobs, knobs_report

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
EXAMPLE = ROOT / "tools" / "example"
CKPT, CONFIG, PARAMS = EXAMPLE / "catlstm-0.7.4.ckpt", EXAMPLE / "catlstm.json", EXAMPLE / "params.json"
NAMED = [CKPT, "--config", CONFIG, "--param-config", PARAMS]
UNNAMED = [CKPT, "--config", CONFIG]
DATE = "2024-01-14T12:00:00"


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def report(capsys, *argv):
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out), err


def warning_lines(err: str):
    return [ln[len("nam-legacy: warning: "):] for ln in err.splitlines() if ln.startswith("nam-legacy: warning: ")]


@pytest.fixture
def di(tmp_path):
    path = tmp_path / "di.wav"
    write_audio(path, (0.2 * np.sin(np.arange(4800) / 20)).astype(np.float32), 48_000)
    return path


# -- every verb -----------------------------------------------------------------------------------------------


def test_every_verb_reports_output_and_warnings(capsys, tmp_path, di):
    reports = {
        "inspect": report(capsys, "inspect", *NAMED)[0],
        "render": report(capsys, "render", *NAMED, "--input", di, "--output", tmp_path / "r.wav")[0],
        "migrate": report(capsys, "migrate", *NAMED, "--output", tmp_path / "m.nam", "--date", DATE)[0],
        "export": report(capsys, "export", *NAMED, "--format", "nam", "--output", tmp_path / "e.nam", "--date", DATE)[0],
        "pack": report(capsys, "pack", *NAMED, "--grid", "drive=0,1", "--output", tmp_path / "p", "--date", DATE)[0],
    }
    for verb, facts in reports.items():
        assert facts["warnings"] == [], verb  # always there, a list
        if verb != "inspect":
            assert Path(facts["output"]).exists(), verb  # what was written: "output"
            assert "file" not in facts, verb


def test_warnings_in_json_are_the_lines_stderr_showed(capsys, tmp_path, di):
    facts, err = report(capsys, "render", *NAMED, "--knob", "drive=1.5", "--extrapolate", "--control-period", "8",
                        "--input", di, "--output", tmp_path / "r.wav")
    shown = warning_lines(err)
    assert len(shown) == 2 and facts["warnings"] == shown
    assert any("outside its range" in w for w in shown) and any("--control-period only applies" in w for w in shown)
    facts, err = report(capsys, "migrate", *NAMED, "--knob", "drive=1.5", "--extrapolate", "--output", tmp_path / "m.nam",
                        "--date", DATE)
    assert facts["warnings"] == warning_lines(err) and len(facts["warnings"]) == 1


def test_pack_paths_are_of_one_kind(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    facts, _ = report(capsys, "pack", *NAMED, "--grid", "drive=0,1", "--output", "pj", "--date", DATE)
    assert facts["output"] == "pj"
    assert facts["manifest"] == str(Path("pj") / "manifest.json") and Path(facts["manifest"]).is_file()
    assert facts["plot"] == str(Path("pj") / "loudness.png") and Path(facts["plot"]).is_file()


# -- knob settings ---------------------------------------------------------------------------------------------


def test_knob_settings_have_one_shape(capsys, tmp_path, di):
    named = report(capsys, "render", *NAMED, "--knob", "drive=0.7", "--input", di, "--output", tmp_path / "a.wav")[0]
    migrated = report(capsys, "migrate", *NAMED, "--knob", "drive=0.7", "--output", tmp_path / "a.nam", "--date", DATE)[0]
    assert named["knobs"] == migrated["knobs"] == {"bright": 0.0, "drive": 0.7, "tone": 0.5}
    unnamed = report(capsys, "render", *UNNAMED, "--params", "1,0.25,0.75", "--input", di, "--output", tmp_path / "b.wav")[0]
    assert unnamed["knobs"] == [1.0, 0.25, 0.75]  # names unknown: a list in model input order
    assert named["automation"] == unnamed["automation"] == {}


def test_automated_knobs_are_reported_as_automation(capsys, tmp_path, di):
    facts, _ = report(capsys, "render", *NAMED, "--automate", "drive=0:0,0.1:1", "--knob", "tone=0.2",
                      "--input", di, "--output", tmp_path / "s.wav")
    assert facts["knobs"] == {"bright": 0.0, "tone": 0.2}  # drive is not "at" any one value
    assert facts["automation"] == {"drive": {"times": [0.0, 0.1], "values": [0.0, 1.0]}}


def test_knobs_report():
    points = {"drive": {"times": [0.0, 1.0], "values": [0.0, 1.0]}}
    assert knobs_report([0, 0.5, 0.5], ["bright", "drive", "tone"], points) == {
        "knobs": {"bright": 0.0, "tone": 0.5}, "automation": points}
    assert knobs_report([0.5], ["drive"], points) == {"knobs": {}, "automation": points}
    assert knobs_report([1, 2], None) == {"knobs": [1.0, 2.0], "automation": {}}


def test_knob_lists_have_one_text_format():
    from compat.migrate.plot import loudness_figure

    fixed = {"tone": 0.5, "bright": 0.0}
    line = format_knobs(list(fixed.values()), list(fixed))
    assert line == compat_format_knobs(fixed) == "tone=0.5 bright=0"
    fig = loudness_figure([("drive", [0.0, 1.0])], [({"drive": d, **fixed}, -20.0, 0.0) for d in (0.0, 1.0)],
                          title="t", fixed=fixed)
    assert fig.get_suptitle().endswith(compat_format_knobs(dict(sorted(fixed.items()))))  # bright=0 tone=0.5
    assert ", " not in fig.get_suptitle().splitlines()[1]


# -- inspect ---------------------------------------------------------------------------------------------------


def test_inspect_format_names_are_the_format_option_names(capsys):
    parser = cli.build_parser()
    export = next(a for a in parser._subparsers._group_actions[0].choices["export"]._actions if a.dest == "format")
    allowed = set(export.choices) | {"ckpt"}  # a checkpoint is read, never written
    cases = [NAMED, [EXAMPLE / "catlstm-0.7.4.nam"], [EXAMPLE / "hyperconvnet-0.7.4"], [EXAMPLE / "catwavenet-0.5.0.h"]]
    seen = set()
    for argv in cases:
        facts, _ = report(capsys, "inspect", *argv)
        code, text, _ = run(capsys, "inspect", *argv)
        shown = re.search(r"^format +(\S+)$", text, re.M).group(1)
        assert facts["format"] == shown and shown in allowed
        seen.add(shown)
    assert seen == {"ckpt", "nam", "dir", "header"}


@pytest.mark.parametrize("argv", [UNNAMED, [EXAMPLE / "hyperconvnet-0.7.4"]])
def test_inspect_says_when_knob_names_are_unknown(capsys, argv):
    code, text, _ = run(capsys, "inspect", *argv)
    assert code == 0
    assert "knobs             3, names unknown (pass --param-config, or give --params in sorted-name order)" in text
    assert "knob count" not in text
    facts, _ = report(capsys, "inspect", *argv)
    assert facts["knobs"] == [] and facts["knob_count"] == 3 and facts["knob_names_known"] is False
    assert list(facts).index("knob_names_known") == list(facts).index("knobs") + 1


def test_inspect_with_knob_names(capsys):
    code, text, _ = run(capsys, "inspect", *NAMED)
    assert "knob count        3" in text and "names unknown" not in text and "  drive   continuous" in text
    facts, _ = report(capsys, "inspect", *NAMED)
    assert facts["knob_names_known"] is True and [k["name"] for k in facts["knobs"]] == ["bright", "drive", "tone"]


# -- demo ------------------------------------------------------------------------------------------------------


def test_demo_reports_inspect_as_inspect_does(capsys, tmp_path):
    """demo --json's "inspect" is `inspect --json` of the same checkpoint (docs/formats.md's
    shape, knob_names_known included), not a look-alike."""
    demo_report, _ = report(capsys, "demo", "--output", tmp_path / "d")
    inspected, _ = report(capsys, "inspect", *NAMED)
    assert demo_report["inspect"] == inspected
    assert list(demo_report["inspect"]) == list(inspected) and demo_report["inspect"]["knob_names_known"] is True


def test_demo_says_its_model_is_a_toy_and_uses_one_kind_of_path(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "demo", "--output", "d")
    assert code == 0, err
    toy = [ln for ln in out.splitlines() if "trained for 3 steps on synthetic audio" in ln]
    assert len(toy) == 1 and "not an amp's tone" in toy[0]
    assert str(tmp_path) not in out  # paths as given (relative), never resolved
    written = re.findall(r"(?:^|[ :])(d/[\w./-]+)", out)
    assert len(written) >= 4 and all((tmp_path / p.rstrip(".")).exists() for p in written)
