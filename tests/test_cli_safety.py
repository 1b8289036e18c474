"""The CLI never loses a user's file and never calls a user's mistake an internal error.

Every case runs a verb and checks the exit code, that stderr is exactly one line, and the
files before and after (byte-identical, or absent). Cases that depend on the process
(a closed stdout pipe) run as subprocesses.
"""

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import compat
from compat.audio import read_audio, write_audio
from compat.migrate import pack as pack_module
from golden import FIXTURES
from tools import cli
from tools.cli import main

from test_pack import stub_metadata

ROOT = Path(__file__).resolve().parent.parent
CASE = FIXTURES / "0.7.4" / "catlstm"
CKPT, CONFIG, PARAMS = CASE / "model.ckpt", CASE / "model.json", CASE / "params.json"
NAM = CASE / "export" / "model.nam"
HYPER_DIR = FIXTURES / "0.7.4" / "hyperconvnet_nobn" / "export"
MODEL = [str(CKPT), "--config", str(CONFIG), "--param-config", str(PARAMS)]
DATE = "2026-01-02T03:04:05"


@pytest.fixture(autouse=True)
def cheap_metadata(monkeypatch):
    """migrate and pack measure loudness on upstream's recording; a stand-in keeps this fast."""
    monkeypatch.setattr(pack_module, "current_metadata", stub_metadata)


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_error(err, *fragments):
    assert err.count("\n") == 1 and err.startswith("nam-legacy: error: "), err
    for f in fragments:
        assert f in err, err


def snapshot(*paths):
    """Every file under the given paths → its bytes (a folder's files by relative path)."""
    out = {}
    for p in map(Path, paths):
        if p.is_dir():
            out.update({(str(p), str(f.relative_to(p))): f.read_bytes() for f in sorted(p.rglob("*")) if f.is_file()})
        elif p.exists():
            out[str(p)] = p.read_bytes()
    return out


@pytest.fixture
def di(tmp_path):
    path = tmp_path / "di.wav"
    write_audio(path, (0.3 * np.sin(np.arange(600) / 7)).astype(np.float32))
    return path


def render_args(di, out, *extra):
    return ["render", str(NAM), "--input", str(di), "--output", str(out), *extra]


# --------------------------------------------------------------------------------------
# never over an input
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_render_never_writes_over_its_input(capsys, di, overwrite):
    before = snapshot(di)
    code, out, err = run(capsys, *render_args(di, di, *overwrite))
    assert code == 2 and out == ""
    one_error(err, "inputs", "di.wav")
    assert snapshot(di) == before


@pytest.mark.parametrize("link", ["hard", "symbolic"])
def test_a_link_to_an_input_is_the_input(capsys, tmp_path, di, link):
    out = tmp_path / "out.wav"
    (os.link if link == "hard" else os.symlink)(di, out)
    before = snapshot(di)
    code, _, err = run(capsys, *render_args(di, out, "--overwrite"))
    assert code == 2
    one_error(err, "inputs")
    assert snapshot(di) == before


@pytest.mark.parametrize("verb", ["render", "migrate", "export"])
@pytest.mark.parametrize("which", ["model", "config", "param-config", "dir-file"])
def test_no_verb_writes_over_any_input(capsys, tmp_path, di, verb, which):
    # Copies, so that a failure of the policy cannot damage the fixtures.
    work = tmp_path / "w"
    work.mkdir()
    ckpt, config, params = (work / p.name for p in (CKPT, CONFIG, PARAMS))
    for src, dst in ((CKPT, ckpt), (CONFIG, config), (PARAMS, params)):
        dst.write_bytes(src.read_bytes())
    folder = work / "export"
    folder.mkdir()
    for f in HYPER_DIR.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    if which == "dir-file":
        model, target = [str(folder)], folder / "weights.npy"
    else:
        model = [str(ckpt), "--config", str(config), "--param-config", str(params)]
        target = {"model": ckpt, "config": config, "param-config": params}[which]
    # The output names the input by another spelling of its path.
    spelled = target.parent / ".." / target.parent.name / target.name
    argv = {"render": ["render", *model, "--input", di, "--output", spelled],
            "migrate": ["migrate", *model, "--output", spelled],
            "export": ["export", *model, "--format", "header", "--output", spelled]}[verb]
    before = snapshot(work, di)
    code, out, err = run(capsys, *argv, "--overwrite")
    assert code == 2 and out == ""
    one_error(err, "inputs")
    assert snapshot(work, di) == before


@pytest.mark.parametrize("verb", ["pack", "export"])
def test_a_folder_output_never_holds_an_input(capsys, tmp_path, verb):
    folder = tmp_path / "amp"
    folder.mkdir()
    model = folder / "amp.nam"
    model.write_bytes(NAM.read_bytes())
    argv = {"pack": ["pack", model, "--grid", "drive=0,1", "--output", folder],
            "export": ["export", HYPER_DIR, "--format", "dir", "--output", HYPER_DIR]}[verb]
    before = snapshot(folder, HYPER_DIR)
    code, _, err = run(capsys, *argv, "--overwrite")
    assert code == 2
    one_error(err)
    assert "input" in err
    assert snapshot(folder, HYPER_DIR) == before


# --------------------------------------------------------------------------------------
# existing outputs, folders, missing parents
# --------------------------------------------------------------------------------------


def _argv(verb, out, di=None):
    return {
        "render": render_args(di, out),
        "migrate": ["migrate", *MODEL, "--output", out, "--date", DATE],
        "export-nam": ["export", *MODEL, "--format", "nam", "--output", out, "--date", DATE],
        "export-header": ["export", *MODEL, "--format", "header", "--output", out],
    }[verb]


FILE_VERBS = [("render", "out.wav"), ("migrate", "out.nam"), ("export-nam", "out.nam"), ("export-header", "out.h")]


@pytest.mark.parametrize("verb, name", FILE_VERBS)
def test_an_existing_output_is_replaced_only_with_overwrite(capsys, tmp_path, di, verb, name):
    out = tmp_path / name
    out.write_bytes(b"the user's own file")
    code, stdout, err = run(capsys, *_argv(verb, out, di))
    assert code == 2 and stdout == ""
    one_error(err, "already exists", "--overwrite")
    assert out.read_bytes() == b"the user's own file"
    code, _, err = run(capsys, *_argv(verb, out, di), "--overwrite")
    assert code == 0, err
    assert out.read_bytes() != b"the user's own file" and out.stat().st_size > 100
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({"di.wav", name})  # no temporaries left


@pytest.mark.parametrize("verb, name", FILE_VERBS)
@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_an_output_naming_a_folder_is_an_input_error(capsys, tmp_path, di, verb, name, overwrite):
    folder = tmp_path / name
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    code, _, err = run(capsys, *_argv(verb, folder, di), *overwrite)
    assert code == 2
    one_error(err, "is a folder")
    assert snapshot(folder) == {(str(folder), "keep.txt"): b"mine"}


@pytest.mark.parametrize("verb", ["render", "migrate", "export-nam", "export-dir", "pack", "demo"])
def test_an_outputs_parent_must_exist(capsys, tmp_path, di, verb):
    missing = tmp_path / "missing"
    out = missing / "sub" / ("out.wav" if verb == "render" else "out.nam" if verb != "pack" else "pack")
    argv = {
        "export-dir": ["export", str(HYPER_DIR), "--format", "dir", "--output", out],
        "pack": ["pack", str(NAM), "--grid", "drive=0,1", "--output", out],
        "demo": ["demo", "--output", out],
    }.get(verb) or _argv(verb, out, di)
    code, _, err = run(capsys, *argv)
    assert code == 2
    one_error(err, "does not exist")
    assert not missing.exists()


def test_export_dir_replaces_a_folder_whole_only_with_overwrite(capsys, tmp_path):
    out = tmp_path / "export"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    code, _, err = run(capsys, "export", str(HYPER_DIR), "--format", "dir", "--output", out)
    assert code == 2
    one_error(err, "not empty", "--overwrite")
    assert snapshot(out) == {(str(out), "stale.txt"): b"old"}
    code, _, err = run(capsys, "export", str(HYPER_DIR), "--format", "dir", "--output", out, "--overwrite")
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "weights.npy"]
    assert [p.name for p in tmp_path.iterdir()] == ["export"]  # the old folder is gone, no temporaries


def test_pack_refuses_a_file_at_its_folder_path(capsys, tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("keep")
    code, _, err = run(capsys, "pack", str(NAM), "--grid", "drive=0,1", "--output", a_file, "--overwrite")
    assert code == 2
    one_error(err, "not a folder")
    assert a_file.read_text() == "keep"


def test_demo_output_policy(capsys, tmp_path):
    out = tmp_path / "demo"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    code, _, err = run(capsys, "demo", "--output", out)
    assert code == 2
    one_error(err, "--overwrite")
    assert snapshot(out) == {(str(out), "stale.txt"): b"old"}
    code, stdout, err = run(capsys, "demo", "--output", out, "--overwrite", "--json")
    assert code == 0, err
    report = json.loads(stdout)
    assert not (out / "stale.txt").exists() and (out / "pack" / "manifest.json").is_file()
    for item in report["outputs"]:  # the report names the final paths, not the staging folder
        assert Path(item["output"]).parent == out and Path(item["output"]).is_file()
    assert Path(report["migration"]["snapshot"]).is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["demo"]


def _failing_writes(monkeypatch, error, after=1):
    """AudioWriter.write raises `error` once `after` blocks have been written: a real partial file."""
    from compat.audio import AudioWriter

    real, calls = AudioWriter.write, []

    def write(self, samples):
        calls.append(len(samples))
        if len(calls) > after:
            raise error
        real(self, samples)

    monkeypatch.setattr(AudioWriter, "write", write)
    return calls


@pytest.mark.parametrize("mode, after", [([], 2), (["--offline"], 0)])
def test_an_interrupted_render_leaves_nothing(capsys, tmp_path, di, monkeypatch, mode, after):
    calls = _failing_writes(monkeypatch, KeyboardInterrupt(), after)
    code, _, err = run(capsys, *render_args(di, tmp_path / "out.wav", "--block", "100", "--plot", tmp_path / "o.png", *mode))
    assert code == 130 and err == "nam-legacy: interrupted\n"
    assert len(calls) == after + 1  # interrupted after `after` blocks were written to the temporary file
    assert [p.name for p in tmp_path.iterdir()] == ["di.wav"]


@pytest.mark.parametrize("code_", [errno.ENOSPC, errno.EROFS])
@pytest.mark.parametrize("mode", [[], ["--offline"]])
def test_a_write_the_system_refuses_is_an_input_error(capsys, tmp_path, di, monkeypatch, code_, mode):
    _failing_writes(monkeypatch, OSError(code_, os.strerror(code_)), after=0 if mode else 2)  # no file name: the CLI names it
    code, _, err = run(capsys, *render_args(di, tmp_path / "out.wav", "--block", "100", *mode))
    assert code == 2
    one_error(err, os.strerror(code_), "out.wav")
    assert [p.name for p in tmp_path.iterdir()] == ["di.wav"]


# --------------------------------------------------------------------------------------
# user mistakes that used to be internal errors
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["catlstm", "catwavenet", "hyperconvnet_bn", "hyperconvnet_nobn"])
@pytest.mark.parametrize("suffix", [".wav", ".npy"])
@pytest.mark.parametrize("pad", [[], ["--no-pad-start"]])
def test_audio_without_samples_is_an_input_error(capsys, tmp_path, name, suffix, pad):
    d = FIXTURES / "0.7.4" / name
    empty = tmp_path / f"empty{suffix}"
    write_audio(empty, np.zeros(0, dtype=np.float32))
    code, _, err = run(capsys, "render", d / "model.ckpt", "--config", d / "model.json", "--param-config", d / "params.json",
                       "--input", empty, "--output", tmp_path / "out.wav", *pad)
    assert code == 2
    one_error(err, "no audio samples", str(empty))
    assert [p.name for p in tmp_path.iterdir()] == [empty.name]


@pytest.mark.parametrize("name", ["catlstm", "catwavenet", "hyperconvnet_bn", "hyperconvnet_nobn"])
def test_render_library_refuses_empty_audio(name):
    from compat.render import render

    d = FIXTURES / "0.7.4" / name
    legacy = compat.load(d / "model.ckpt", config=d / "model.json", param_config=d / "params.json")
    with pytest.raises(compat.ConfigError, match="no samples"):
        render(legacy.model, [k.default for k in legacy.knobs], np.zeros(0, dtype=np.float32))
    with pytest.raises(compat.KnobError, match="finite"):
        render(legacy.model, [0.0, float("inf"), 0.5], np.zeros(10, dtype=np.float32))


def _closed_stdout(argv, cwd=ROOT):
    """Run the CLI with a stdout pipe whose reader is gone before anything is written."""
    proc = subprocess.Popen([sys.executable, "-m", "tools.cli", *map(str, argv)], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    return proc.wait(), err


@pytest.mark.parametrize("json_flag", [["--json"], []])
def test_a_closed_pipe_exits_quietly(json_flag):
    code, err = _closed_stdout(["inspect", NAM, *json_flag])
    assert err == "" and code == cli.EXIT_PIPE == 141


def test_a_closed_pipe_after_a_render_keeps_the_file(tmp_path, di):
    code, err = _closed_stdout(render_args(di, tmp_path / "out.wav", "--json"))
    assert err == "" and code == 141
    assert read_audio(tmp_path / "out.wav").samples.shape == (600,)


def test_head_reads_one_line_of_inspect():
    """The shell pipeline from the issue: no message, no traceback, whatever head's timing."""
    shell = f"{sys.executable} -m tools.cli inspect {NAM} --json | head -1"
    done = subprocess.run(["bash", "-c", shell], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout == "{\n" and done.stderr == ""


@pytest.mark.parametrize("argv", [
    ["export", *MODEL, "--format", "nam", "--as-release", "0.5.1", "--output", "{o}.nam"],
    ["export", *MODEL, "--format", "nam", "--release", "0.5.1", "--output", "{o}.nam"],
    ["migrate", *MODEL, "--output", "{o}.nam"],
    ["pack", *MODEL, "--grid", "drive=0,1", "--output", "{o}"],
])
def test_without_upstreams_recording_no_internal_error(capsys, tmp_path, monkeypatch, argv):
    """Without loudness_input.wav a verb either works (with one-line warnings) or fails with
    one line and exit 2, leaving nothing behind; never exit 3."""
    import nam_legacy.models._resources as resources

    monkeypatch.undo()  # the real metadata path
    monkeypatch.setattr(resources, "DISTRIBUTION", "no-such-distribution-here")
    out = tmp_path / "out"
    code, _, err = run(capsys, *[a.replace("{o}", str(out)) if isinstance(a, str) else a for a in argv])
    if code == 2:
        one_error(err, "loudness_input.wav")
        assert list(tmp_path.iterdir()) == []
    else:
        assert code == 0, err
        assert all(line.startswith("nam-legacy: warning: ") for line in err.splitlines())
        assert any(tmp_path.iterdir())


# --------------------------------------------------------------------------------------
# knob values
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("knobs, fragment", [
    (["--params", "0,nan,0.5"], "finite"),
    (["--params", "0,inf,0.5"], "finite"),
    (["--knob", "drive=5"], "0 to 1"),
    (["--knob", "tone=-0.1"], "0 to 1"),
    (["--knob", "bright=0.5"], "0 or 1"),
    (["--knob", "bright=0.5", "--extrapolate"], "0 or 1"),
    (["--knob", "drive=nan", "--extrapolate"], "finite"),
    (["--knob", "drive=0.5", "--knob", "drive=0.2"], "given twice"),
])
@pytest.mark.parametrize("verb", ["render", "migrate"])
def test_bad_knob_values_exit_2_before_any_output(capsys, tmp_path, di, verb, knobs, fragment):
    out = tmp_path / "out.wav"
    argv = render_args(di, out, *knobs) if verb == "render" else ["migrate", str(NAM), *knobs, "--output", tmp_path / "out.nam"]
    code, stdout, err = run(capsys, *argv)
    assert code == 2 and stdout == ""
    one_error(err, fragment)
    assert [p.name for p in tmp_path.iterdir()] == ["di.wav"]


def test_render_unnamed_knobs_are_checked_for_finiteness(capsys, tmp_path, di):
    code, _, err = run(capsys, "render", CKPT, "--config", CONFIG, "--params", "0,nan,0.5", "--input", di, "--output", tmp_path / "o.wav")
    assert code == 2
    one_error(err, "finite")
    assert not (tmp_path / "o.wav").exists()


@pytest.mark.parametrize("verb", ["render", "migrate"])
def test_extrapolate_warns_once_per_knob(capsys, tmp_path, di, verb):
    knobs = ["--knob", "drive=5", "--knob", "tone=-1", "--extrapolate"]
    argv = render_args(di, tmp_path / "o.wav", *knobs) if verb == "render" else ["migrate", NAM, *knobs, "--output", tmp_path / "o.nam"]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    lines = err.splitlines()
    assert len(lines) == 2 and all(line.startswith("nam-legacy: warning: ") for line in lines)
    assert "drive = 5" in lines[0] and "tone = -1" in lines[1] and "0 to 1" in err
    assert "OutOfRangeWarning" not in err and ".py:" not in err  # not Python's warning format
    assert "drive=5 tone=-1" in out


@pytest.mark.parametrize("grid, fragment", [
    (["drive=0,5"], "0 to 1"),
    (["drive=0:2:3"], "0 to 1"),
    (["bright=0,0.5"], "0 or 1"),
    (["drive=0,1", "bright=0,0.5"], "0 or 1"),
])
def test_pack_checks_the_grid_before_any_work(capsys, tmp_path, monkeypatch, grid, fragment):
    def no_work(*a, **k):
        raise AssertionError("fold ran before the grid was checked")

    monkeypatch.setattr(pack_module, "fold", no_work)
    args = [a for g in grid for a in ("--grid", g)]
    code, _, err = run(capsys, "pack", NAM, *args, "--output", tmp_path / "p")
    assert code == 2
    one_error(err, fragment)
    assert list(tmp_path.iterdir()) == []
    if fragment == "0 or 1":
        code, _, err = run(capsys, "pack", NAM, *args, "--output", tmp_path / "p", "--extrapolate")
        assert code == 2
        one_error(err, fragment)  # booleans other than 0/1 never, and no warning before the error
        assert list(tmp_path.iterdir()) == []


def test_pack_extrapolates_with_one_warning_per_knob(capsys, tmp_path):
    code, _, err = run(capsys, "pack", NAM, "--grid", "drive=0,2,3", "--grid", "tone=0,1.5", "--output", tmp_path / "p",
                       "--extrapolate", "--date", DATE)
    assert code == 0, err
    lines = err.splitlines()
    assert len(lines) == 2 and all(line.startswith("nam-legacy: warning: ") for line in lines), err
    assert "drive" in lines[0] and "2, 3" in lines[0] and "tone" in lines[1] and "1.5" in lines[1]
    assert all("0 to 1" in line and "extrapolating" in line for line in lines)
    manifest = json.loads((tmp_path / "p" / "manifest.json").read_text())
    assert len(manifest["files"]) == 6
    assert {f["knobs"]["drive"] for f in manifest["files"]} == {0.0, 2.0, 3.0}


# --------------------------------------------------------------------------------------
# one way to say things
# --------------------------------------------------------------------------------------


def test_knobs_print_the_same_way_in_every_verb(capsys, tmp_path, di):
    knobs = ["--knob", "drive=0.9"]
    code, render_text, err = run(capsys, *render_args(di, tmp_path / "a.wav", *knobs))
    assert code == 0, err
    code, migrate_text, err = run(capsys, "migrate", NAM, *knobs, "--output", tmp_path / "a.nam")
    assert code == 0, err
    for text in (render_text, migrate_text):
        assert text.rstrip().endswith("knobs bright=0 drive=0.9 tone=0.5)"), text
    code, render_json, _ = run(capsys, *render_args(di, tmp_path / "b.wav", *knobs, "--json"))
    code, migrate_json, _ = run(capsys, "migrate", NAM, *knobs, "--output", tmp_path / "b.nam", "--json")
    assert json.loads(render_json)["knobs"] == json.loads(migrate_json)["knobs"] == {"bright": 0.0, "drive": 0.9, "tone": 0.5}


def test_unnamed_knobs_print_as_params_take_them(capsys, tmp_path, di):
    argv = ["render", CKPT, "--config", CONFIG, "--params", "1,0.25,0.75", "--input", di]
    code, text, err = run(capsys, *argv, "--output", tmp_path / "a.wav")
    assert code == 0, err
    assert text.rstrip().endswith("knobs 1,0.25,0.75)")
    code, out, _ = run(capsys, *argv, "--output", tmp_path / "b.wav", "--json")
    assert json.loads(out)["knobs"] == [1.0, 0.25, 0.75]


def test_inspect_says_unknown_not_none(capsys):
    code, text, err = run(capsys, "inspect", NAM)
    assert code == 0, err
    assert json.loads(run(capsys, "inspect", NAM, "--json")[1])["sample_rate"] is None  # this file has none
    assert "sample rate       unknown" in text and "None" not in text
    assert "  drive   continuous, default 0.3, range 0 to 1" in text


def test_no_progress_bar_off_a_terminal(capsys, tmp_path):
    code, out, err = run(capsys, "pack", NAM, "--grid", "drive=0:1:3", "--output", tmp_path / "p", "--date", DATE)
    assert code == 0 and err == ""
    assert out.startswith("wrote 3 of 3 files")


def test_progress_bar_on_a_terminal(capsys, tmp_path, monkeypatch):
    seen = {}
    real = pack_module.pack

    def spy(*a, **k):
        seen["progress"] = k["progress"]
        return real(*a, **k)

    monkeypatch.setattr(pack_module, "pack", spy)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert run(capsys, "pack", NAM, "--grid", "drive=0,1", "--output", tmp_path / "p")[0] == 0
    assert seen["progress"] is True
    assert run(capsys, "pack", NAM, "--grid", "drive=0,1", "--output", tmp_path / "q", "--json")[0] == 0
    assert seen["progress"] is False


def _help(capsys, *argv):
    with pytest.raises(SystemExit) as done:
        main([*argv, "--help"])
    assert done.value.code == 0
    return " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("verb", [[], ["inspect"], ["render"], ["export"], ["migrate"], ["pack"], ["demo"]])
def test_every_help_documents_the_exit_codes(capsys, verb):
    text = _help(capsys, *verb)
    for code in ("0 done", "1 audit found drift", "2 an input error", "3 an internal error", "130 interrupted", "141"):
        assert code in text, (verb, code)


@pytest.mark.parametrize("verb", ["inspect", "render", "export", "migrate", "pack"])
def test_release_means_build_as_everywhere(capsys, verb):
    text = _help(capsys, verb)
    assert "--release RELEASE build the" in text and "model as this release did" in text
    assert ("--as-release" in text) == (verb == "export")


def test_export_as_release_and_release_differ(capsys, tmp_path):
    """--release builds the model as a release; --as-release picks the format written."""
    code, _, err = run(capsys, "export", *MODEL, "--format", "nam", "--release", "0.5.1", "--as-release", "0.7.4",
                       "--output", tmp_path / "a.nam", "--date", DATE)
    assert code == 0, err
    code, _, err = run(capsys, "export", *MODEL, "--format", "nam", "--output", tmp_path / "b.nam", "--date", DATE)
    assert code == 0, err
    assert (tmp_path / "a.nam").read_bytes() == (tmp_path / "b.nam").read_bytes()
    code, _, err = run(capsys, "export", *MODEL, "--format", "dir", "--release", "0.5.1", "--output", tmp_path / "c")
    assert code == 2
    one_error(err, "0.5.1")


def test_inspect_release_builds_as_that_release(capsys):
    code, out, err = run(capsys, "inspect", *MODEL, "--release", "0.5.1", "--json")
    assert code == 0, err
    assert json.loads(out)["built_as_release"] == "0.5.1"


def test_demo_help_describes_everything_the_demo_does(capsys):
    text = _help(capsys, "demo")
    for step in ("inspect", "checkpoint", ".nam", "export folder", "C++ header", "render --automate", "drive-sweep.wav",
                 "drive-sweep.png", "parametric-nam", "catlstm-parametric.nam",
                 "migrate", "migrated-defaults.nam", "pack", "manifest.json", "loudness.png", "loudness_input.wav",
                 "--overwrite"):
        assert step in text.replace("- ", "-"), step  # help lines may wrap after a hyphen
