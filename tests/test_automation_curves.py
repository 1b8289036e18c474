"""Automation curves for the CLI: `--automate NAME=T0:V0,...` and a CSV, parsed, validated and
evaluated per sample (piecewise linear, held outside the points; booleans step)."""

import numpy as np
import pytest

import compat.stream as stream
from compat.errors import ConfigError
from compat.knobs import KnobError, KnobSpec
from compat.stream.automation import Automation, automation_from_args, parse_automate, parse_automation_csv, read_automation_csv
from stream_models import TOL, audio, load_fixture

SPECS = (KnobSpec("bright", "boolean", 0.0), KnobSpec("drive", "continuous", 0.3, 0.0, 1.0),
         KnobSpec("tone", "continuous", 0.5, 0.0, 1.0))


def test_parse_automate():
    curve = parse_automate("drive=0:0.2, 1.5:0.9,3:0.1")
    assert curve.name == "drive"
    assert curve.times.tolist() == [0, 1.5, 3] and curve.values.tolist() == [0.2, 0.9, 0.1]
    assert parse_automate("bright=0:false,2:true").values.tolist() == [0, 1]


@pytest.mark.parametrize("text, message", [
    ("drive", "NAME=T0:V0"), ("=0:1", "NAME=T0:V0"), ("drive=", "NAME=T0:V0"), ("drive=0.5", "SECONDS:VALUE"),
    ("drive=a:1", "not a number"), ("drive=0:nan", "not a finite number"), ("drive=1:0,1:1", "increase strictly"),
    ("drive=2:0,1:1", "increase strictly"),
])
def test_parse_automate_errors(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_automate(text)


def test_linear_between_points_and_held_outside():
    curve = parse_automate("drive=1:0.2,2:0.6")
    v = curve.evaluate(0, 3 * 10, 10)  # 10 samples per second: times 0.0 … 2.9
    t = np.arange(30) / 10
    expected = np.where(t <= 1, 0.2, np.where(t >= 2, 0.6, 0.2 + 0.4 * (t - 1)))
    assert np.allclose(v, expected, atol=1e-12)
    # evaluating in pieces is the same as at once
    assert np.array_equal(np.concatenate([curve.evaluate(0, 7, 10), curve.evaluate(7, 23, 10)]), v)


def test_booleans_step_at_point_times():
    automation = Automation([parse_automate("bright=0:0,1:1,1.5:0")], SPECS)
    v = automation.block(0, 20, 10)["bright"]
    assert v.tolist() == [0] * 10 + [1] * 5 + [0] * 5


def test_values_never_leave_the_point_range():
    curve = parse_automate("tone=0:0,0.3:1,0.7:0.999999,1:1")
    v = curve.evaluate(0, 100_000, 100_000)
    assert v.min() >= 0 and v.max() <= 1


def test_csv():
    text = "time,drive,tone\n0,0.1,\n1,0.5,0.2\n\n2,,0.8\n"
    curves = {c.name: c for c in parse_automation_csv(text)}
    assert curves["drive"].times.tolist() == [0, 1] and curves["drive"].values.tolist() == [0.1, 0.5]
    assert curves["tone"].times.tolist() == [1, 2] and curves["tone"].values.tolist() == [0.2, 0.8]


@pytest.mark.parametrize("text, message", [
    ("", "empty"), ("t,drive\n0,1\n", "header"), ("time\n0\n", "header"), ("time,drive,drive\n0,1,1\n", "distinct"),
    ("time,drive\n0,1,2\n", "row 2"), ("time,drive\nx,1\n", "row 2 time"), ("time,drive\n0,1\n0,0.5\n", "increase strictly"),
    ("time,drive,tone\n0,1,\n", "tone has no automation points"),
])
def test_csv_errors(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_automation_csv(text)


@pytest.mark.parametrize("text, cause", [
    ("time;drive\n0;0,2\n", True), ("time\tdrive\n0\t0.2\n", True), ('time,drive\n0,"0,2"\n', True),
    ('time,drive\n"0,5",0.2\n', True), ("t,drive\n0,1\n", False), ("time,drive\n0,x\n", False),
    ("time,drive\n0,1.2.3\n", False),
])
def test_csv_from_a_comma_decimal_locale_says_why(text, cause):
    # `;` or tab between columns and decimal commas: the first mistakes of a comma-decimal
    # spreadsheet; the cause is added only when the header or cell looks like that
    with pytest.raises(ConfigError) as caught:
        parse_automation_csv(text, "moves.csv")
    message = str(caught.value)
    assert message.startswith("moves.csv") and "\n" not in message and len(message) <= 300
    assert ("columns are separated by commas and decimals use a point" in message) == cause, message


def test_csv_file(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"\xef\xbb\xbftime,drive\n0,0\n1,1\n")  # a spreadsheet's BOM is fine
    assert read_automation_csv(path)[0].name == "drive"
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match="UTF-8"):
        read_automation_csv(path)
    with pytest.raises(Exception, match="cannot read"):
        read_automation_csv(tmp_path / "missing.csv")


@pytest.mark.parametrize("curves, error, message", [
    (["volume=0:1"], KnobError, "unknown knob 'volume'"), (["drive=0:0,1:2"], KnobError, "outside its range"),
    (["bright=0:0.5"], KnobError, "0 or 1"), (["drive=0:0", "drive=1:1"], ConfigError, "automated twice"),
])
def test_automation_is_validated_against_the_knobs(curves, error, message):
    with pytest.raises(error, match=message):
        Automation([parse_automate(c) for c in curves], SPECS)


def test_automation_from_args(tmp_path):
    csv = tmp_path / "a.csv"
    csv.write_text("time,tone\n0,0\n2,1\n")
    automation = automation_from_args(["drive=0:0,1:1"], csv, SPECS)
    assert sorted(automation.names) == ["drive", "tone"]
    assert automation_from_args([], None, SPECS) is None
    with pytest.raises(ConfigError, match="both set"):
        automation_from_args(["drive=0:0"], None, SPECS, fixed={"drive": 0.5})
    with pytest.raises(ConfigError, match="automated twice"):
        automation_from_args(["tone=0:0"], csv, SPECS)
    with pytest.warns(Warning, match="extrapolating"):
        automation_from_args(["drive=0:0,1:1.5"], None, SPECS, allow_out_of_range=True)


def test_an_automated_stream_is_the_augmented_forward():
    legacy = load_fixture("0.7.4/catlstm/export/model.nam")
    rate, n = 1000, 3000  # seconds are samples / 1000 here
    x = audio(1, n)
    automation = automation_from_args(["drive=0.5:0,2:1", "bright=1:0,1.2:1"], None, legacy.knobs)
    proc = stream.open(legacy, rate)
    out = []
    for a in range(0, n, 256):
        out.append(proc.process(x[a : a + 256], knobs=automation.block(proc.position, len(x[a : a + 256]), rate)))
    t = np.arange(n) / rate
    drive = np.clip((t - 0.5) / 1.5, 0, 1)
    bright = (t >= 1.2).astype(float)
    k = np.stack([bright, drive, np.full(n, 0.5)], 1).astype(np.float32)
    assert np.abs(np.concatenate(out) - stream.forward_augmented(legacy, x, k).numpy()).max() <= TOL
