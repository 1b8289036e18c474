"""Knob and automation messages as people read them.

* The library's messages name no option: a remedy is a `hint` kind the CLI spells as its
  flag (`(pass --extrapolate to run it anyway)`), the API docs as its argument.
* A bad automation point is named by its number, time and value as written
  (`--automate drive point 2 (1 s: 2)`), a CSV one by its row.
* Values print with every digit they need and no more (1 not 1.0; 1.0000000001 is not 1).
* true/false are for switches: refused for continuous knobs.
* Automation points after the input's end warn; the summary counts "1 point".
"""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, strategies as st

import compat
import compat.stream as stream
from compat.audio import write_audio
from compat.knobs import KnobError, KnobSpec, _num, knob_vector, parse_named
from golden import FIXTURES
from tools.cli import main

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "tools" / "example" / "catlstm-0.7.4.nam"  # bright (switch), drive and tone (0 to 1)
RATE = 48_000
DRIVE = KnobSpec("drive", "continuous", 0.3, 0.0, 1.0)
BRIGHT = KnobSpec("bright", "boolean", 0.0)


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def di(tmp_path):
    path = tmp_path / "di.wav"
    write_audio(path, np.full(RATE // 20, 0.1, np.float32), RATE)  # 0.05 s
    return path


def render(capsys, tmp_path, di, *extra):
    return run(capsys, "render", MODEL, "--input", di, "--output", tmp_path / "o.wav", *extra)


# --- hints: neutral library messages, CLI flags ---


def test_out_of_range_is_neutral_in_the_library_with_a_hint():
    with pytest.raises(KnobError) as caught:
        DRIVE.check(1.5)
    assert str(caught.value) == "knob drive = 1.5 is outside its range 0 to 1"
    assert caught.value.hint == "extrapolate"
    with pytest.raises(KnobError) as caught:
        stream.open(compat.load(MODEL), RATE, knobs={"drive": 2})
    assert "--" not in str(caught.value) and "allow_out_of_range" not in str(caught.value)
    assert caught.value.hint == "extrapolate"


def test_the_cli_adds_its_flag(capsys, tmp_path, di):
    code, _, err = render(capsys, tmp_path, di, "--knob", "drive=1.5")
    assert code == 2
    assert err == "nam-legacy: error: knob drive = 1.5 is outside its range 0 to 1 (pass --extrapolate to run it anyway)\n"


def test_missing_knob_names_hint_the_param_config_flag(capsys, tmp_path):
    d = FIXTURES / "0.7.4" / "catlstm"
    code, _, err = run(capsys, "export", d / "model.ckpt", "--config", d / "model.json", "--format", "parametric-nam",
                       "--output", tmp_path / "p.nam")
    assert code == 2
    assert err == ("nam-legacy: error: a parametric-nam export needs the knob names, types, ranges and defaults, which "
                   "this file does not carry (give them with --param-config)\n")
    legacy = compat.load(d / "model.ckpt", config=d / "model.json")
    with pytest.raises(compat.ConfigError) as caught:
        compat.export(legacy, "parametric-nam", tmp_path / "p.nam")
    assert caught.value.hint == "param-config" and "--" not in str(caught.value)


@pytest.mark.parametrize("how", ["--automate", "--automation"])
def test_automating_a_model_without_knob_names_hints_the_param_config_flag(capsys, tmp_path, di, how):
    # not "pass --params": --params sets every knob, which automation refuses (a circle)
    csv = tmp_path / "moves.csv"
    csv.write_text("time,drive\n0,0\n1,1\n")
    example = ROOT / "tools" / "example"
    code, out, err = run(capsys, "render", example / "catlstm-0.7.4.ckpt", "--config", example / "catlstm.json",
                         "--input", di, "--output", tmp_path / "o.wav",
                         *(["--automate", "drive=0:0,1:1"] if how == "--automate" else ["--automation", csv]))
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "--params" not in err
    assert "knob names are unknown" in err and err.endswith(" (give them with --param-config)\n"), err


# --- numbers ---


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_values_print_as_the_shortest_text_that_reads_back(v):
    text = _num(v)
    assert float(text) == v
    assert not text.endswith(".0")


@pytest.mark.parametrize("value, text", [(1.0, "1"), (0.25, "0.25"), (1e-06, "1e-06"), (1.0000000001, "1.0000000001"),
                                         (-3.0, "-3"), (1e20, "1e+20"), (float("nan"), "nan"), (float("-inf"), "-inf")])
def test_value_texts(value, text):
    assert _num(value) == text


def test_a_value_just_outside_its_range_never_prints_as_the_bound(capsys, tmp_path, di):
    code, _, err = render(capsys, tmp_path, di, "--knob", "tone=1.0000000001")
    assert code == 2 and "knob tone = 1.0000000001 is outside its range 0 to 1" in err


# --- automation points ---


@pytest.mark.parametrize("extra, line", [
    (["--automate", "drive=0:0,1:2"],
     "--automate drive point 2 (1 s: 2): knob drive = 2 is outside its range 0 to 1 (pass --extrapolate to run it anyway)"),
    (["--automate", "bright=0:0,0.5:1,2:0.5"],
     "--automate bright point 3 (2 s: 0.5): knob bright is boolean and takes 0 or 1 (false/true), got 0.5"),
    (["--automate", "drive=0:yes"], "--automate drive point 1 value: 'yes' is neither a number nor true/false"),
    (["--automate", "drive=true:1"], "--automate drive point 1 time: 'true' is not a number"),
    (["--automate", "drive=0:0,0:1"], "--automate drive: the times of knob drive must increase strictly (0 is followed by 0)"),
    (["--knob", "bright=yes"], "--knob bright: 'yes' is neither a number nor true/false"),
])
def test_bad_points_are_named_as_written(capsys, tmp_path, di, extra, line):
    code, out, err = render(capsys, tmp_path, di, *extra)
    assert (code, out, err) == (2, "", f"nam-legacy: error: {line}\n")


def test_csv_points_are_named_by_row(capsys, tmp_path, di):
    csv = tmp_path / "moves.csv"
    csv.write_text("time,drive,bright\n0,0,0\n0.01,,1\n0.02,3,\n")
    code, _, err = render(capsys, tmp_path, di, "--automation", csv)
    assert code == 2
    assert err == (f"nam-legacy: error: {csv} row 4 (drive at 0.02 s: 3): knob drive = 3 is outside its range 0 to 1 "
                   "(pass --extrapolate to run it anyway)\n")


@pytest.mark.parametrize("cells", ["0,0,0,start\n0.01,,1,x\n", "0,0,0,5\n0.01,,1,\n"])
def test_a_csv_column_that_is_no_knob_is_an_unknown_knob_whatever_its_cells(capsys, tmp_path, di, cells):
    # the header is the mistake: it is checked before any cell, and the message names the file and the column
    csv = tmp_path / "moves.csv"
    csv.write_text("time,drive,bright,comment\n" + cells)
    code, _, err = render(capsys, tmp_path, di, "--automation", csv)
    assert (code, err) == (2, f"nam-legacy: error: {csv} column 4: cannot automate unknown knob 'comment'; this model's "
                              "knobs: bright, drive, tone\n")


def test_a_wrong_case_csv_header_names_the_file(capsys, tmp_path, di):
    csv = tmp_path / "moves.csv"
    csv.write_text("time,Drive\n0,0.2\n")
    code, _, err = render(capsys, tmp_path, di, "--automation", csv)
    assert code == 2 and err.startswith(f"nam-legacy: error: {csv} column 2: cannot automate unknown knob 'Drive'"), err


def test_the_api_names_a_point_by_number():
    curve = stream.Curve("drive", np.array([0.0, 1.0]), np.array([0.0, 2.0]))
    with pytest.raises(KnobError, match=r"^automation of knob drive, point 2 \(1 s: 2\): knob drive = 2 is outside"):
        stream.Automation([curve], [DRIVE])


def test_extrapolating_a_curve_warns_once_with_its_span(capsys, tmp_path, di):
    # both ends of the curve are out of range: the warning gives its min and max, not one value
    code, _, err = render(capsys, tmp_path, di, "--automate", "drive=0:-1,0.02:0.5,0.04:3", "--extrapolate")
    assert (code, err) == (0, "nam-legacy: warning: knob drive moves between -1 and 3, outside its range 0 to 1: "
                              "extrapolating\n")


# --- true/false are for switches ---


@pytest.mark.parametrize("extra, line", [
    (["--automate", "drive=0:true"], "--automate drive point 1 (0 s: true): knob drive is continuous and takes a number "
                                     "(0 to 1); true/false are for switches"),
    (["--automate", "drive=0:0,1:false"], "--automate drive point 2 (1 s: false): knob drive is continuous and takes a "
                                          "number (0 to 1); true/false are for switches"),
    (["--knob", "drive=true"], "--knob drive=true: knob drive is continuous and takes a number (0 to 1); true/false are "
                               "for switches"),
])
def test_true_and_false_are_refused_for_continuous_knobs(capsys, tmp_path, di, extra, line):
    code, _, err = render(capsys, tmp_path, di, *extra)
    assert (code, err) == (2, f"nam-legacy: error: {line}\n")


def test_true_and_false_in_a_csv_column_of_a_continuous_knob(capsys, tmp_path, di):
    csv = tmp_path / "moves.csv"
    csv.write_text("time,drive\n0,0\n0.01,TRUE\n")
    code, _, err = render(capsys, tmp_path, di, "--automation", csv)
    assert code == 2 and f"{csv} row 3 (drive at 0.01 s: true): knob drive is continuous" in err


def test_switches_take_true_and_false(capsys, tmp_path, di):
    code, _, err = render(capsys, tmp_path, di, "--automate", "bright=0:false,0.01:true", "--knob", "drive=1")
    assert (code, err) == (0, "")
    assert knob_vector([BRIGHT, DRIVE], 2, named=parse_named(["bright=true", "drive=0.5"])) == [1.0, 0.5]
    with pytest.raises(KnobError, match="continuous"):
        knob_vector([BRIGHT, DRIVE], 2, named=parse_named(["drive=false"]))


# --- points after the input's end; the summary ---


def test_points_after_the_end_warn_once_per_curve(capsys, tmp_path, di):
    # the README's example on a short take: drive sweeps only a part of its range, bright never switches
    code, out, err = render(capsys, tmp_path, di, "--automate", "drive=0:0,30:1", "--automate", "bright=0:false,12:true",
                            "--knob", "tone=0.3")
    assert code == 0
    assert err.splitlines() == [
        "nam-legacy: warning: --automate drive: points after 0.05 s (the input's end) are never reached (1 of 2: 30 s)",
        "nam-legacy: warning: --automate bright: points after 0.05 s (the input's end) are never reached (1 of 2: 12 s)",
    ]
    assert "drive automated, 2 points from 0 s to 30 s" in out


def test_csv_points_after_the_end_name_the_knob(capsys, tmp_path, di):
    csv = tmp_path / "moves.csv"
    csv.write_text("time,drive,bright\n0,0,0\n0.02,,1\n0.1,1,\n0.2,0,\n0.3,1,\n0.4,0,\n")
    code, _, err = render(capsys, tmp_path, di, "--automation", csv)
    assert code == 0
    assert err == (f"nam-legacy: warning: {csv} (knob drive): points after 0.05 s (the input's end) are never reached "
                   "(4 of 5: 0.1 s, 0.2 s, 0.3 s, …)\n")


def test_a_point_at_the_end_or_before_does_not_warn(capsys, tmp_path, di):
    code, out, err = render(capsys, tmp_path, di, "--automate", "drive=0:0,0.05:1", "--automate", "tone=0.02:0.1")
    assert (code, err) == (0, "")
    assert "tone automated, 1 point at 0.02 s" in out and "1 points" not in out
