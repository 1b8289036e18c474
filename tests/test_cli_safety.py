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
    out = missing / "sub" / {"render": "out.wav", "export-dir": "out", "pack": "pack", "demo": "demo"}.get(verb, "out.nam")
    argv = {
        "export-dir": ["export", str(HYPER_DIR), "--format", "dir", "--output", out],
        "pack": ["pack", str(NAM), "--grid", "drive=0,1", "--output", out],
        "demo": ["demo", "--output", out],
    }.get(verb) or _argv(verb, out, di)
    code, _, err = run(capsys, *argv)
    assert code == 2
    one_error(err, "does not exist")
    assert not missing.exists()


def _export_dir(folder, *snapshot_names):
    """An export folder as a release wrote it: config.json, weights.npy and snapshot files."""
    folder.mkdir()
    for f in ("config.json", "weights.npy"):
        (folder / f).write_bytes((HYPER_DIR / f).read_bytes())
    for name in snapshot_names:
        (folder / name).write_bytes(b"an old snapshot")
    return folder


def test_export_dir_replaces_an_earlier_export_whole_only_with_overwrite(capsys, tmp_path):
    out = _export_dir(tmp_path / "export", "inputs.npy", "outputs.npy", "input.wav", "output.wav")
    before = snapshot(out)
    code, _, err = run(capsys, "export", str(HYPER_DIR), "--format", "dir", "--output", out)
    assert code == 2
    one_error(err, "not empty", "--overwrite")
    assert snapshot(out) == before
    code, _, err = run(capsys, "export", str(HYPER_DIR), "--format", "dir", "--output", out, "--overwrite")
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "weights.npy"]
    assert [p.name for p in tmp_path.iterdir()] == ["export"]  # the old folder is gone, no temporaries


@pytest.mark.parametrize("extra", ["thesis.txt", "model.h", "sub/", "link"])
def test_export_dir_never_replaces_a_folder_holding_anything_else(capsys, tmp_path, extra):
    """An export folder plus one thing no export writes (a user's file, a header, a folder,
    a link): refused with or without --overwrite, naming it; nothing touched."""
    out = _export_dir(tmp_path / "export", "inputs.npy")
    name = extra.rstrip("/")
    if extra.endswith("/"):
        (out / name).mkdir()
    elif extra == "link":
        os.symlink(out / "inputs.npy", out / name)
    else:
        (out / name).write_text("precious")
    before = snapshot(out)
    for overwrite in ([], ["--overwrite"]):
        code, stdout, err = run(capsys, "export", str(HYPER_DIR), "--format", "dir", "--output", out, *overwrite)
        assert code == 2 and stdout == ""
        one_error(err, f"--output {out} holds '{name}', which an export folder does not", "never replaces")
        assert snapshot(out) == before and sorted(p.name for p in tmp_path.iterdir()) == ["export"]


def test_export_dir_never_replaces_a_folder_without_an_export(capsys, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "input.wav").write_bytes(b"my DI recording")  # a name an export uses, but no export here
    code, _, err = run(capsys, "export", str(HYPER_DIR), "--format", "dir", "--output", out, "--overwrite")
    assert code == 2
    one_error(err, "is not an export folder")
    assert snapshot(out) == {(str(out), "input.wav"): b"my DI recording"}


def _users_folder(tmp_path):
    """The new user's trial: a folder with their thesis, a DI recording and a subfolder."""
    folder = tmp_path / "cwdtest"
    (folder / "sub").mkdir(parents=True)
    (folder / "thesis.txt").write_text("precious")
    (folder / "di.wav").write_bytes(b"RIFF my recording")
    (folder / "sub" / "notes.txt").write_text("more")
    return folder


PLACES = ["cwd-absolute", ".", "..", "a user's folder", "a user's export folder", "home"]


@pytest.mark.parametrize("verb, where", [("demo", w) for w in PLACES] +
                         [("export-dir", w) for w in PLACES if w != "a user's export folder"])  # that one: below
def test_overwrite_never_replaces_a_users_folder(capsys, tmp_path, monkeypatch, verb, where):
    """The issue's trial: `demo`/`export --format dir` with --overwrite at the current
    folder, `.`, `..`, a folder of the user's (their export folder too) or home: exit 2 with
    one line saying why, every file as it was, the current folder still there."""
    folder = _users_folder(tmp_path)
    monkeypatch.chdir(folder)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / ".bashrc").write_text("mine")
    not_ours = "is not a demo folder (no nam-legacy-demo.json)" if verb == "demo" else "which an export folder does not"
    target, why = {
        "cwd-absolute": (folder, f"--output {folder} is the current folder, which is never replaced"),
        ".": (".", "--output . is the current folder, which is never replaced"),
        "..": ("..", "--output .. is a folder holding the current folder, which is never replaced"),
        "a user's folder": (tmp_path / "other", not_ours),
        "a user's export folder": (tmp_path / "hyperconvnet-0.7.4", not_ours),
        "home": (tmp_path / "home", "is your home folder, which is never replaced"),
    }[where]
    if where == "a user's folder":
        _users_folder(tmp_path / "x").rename(target)
    if where == "a user's export folder":
        _export_dir(target, "inputs.npy")
    argv = ["demo", "--output", target] if verb == "demo" else ["export", HYPER_DIR, "--format", "dir", "--output", target]
    before = snapshot(tmp_path)
    code, stdout, err = run(capsys, *argv, "--overwrite")
    assert code == 2 and stdout == ""
    one_error(err, why)
    assert snapshot(tmp_path) == before
    assert Path.cwd() == folder and folder.is_dir()


def test_export_dir_over_a_users_export_folder_replaces_it(capsys, tmp_path):
    """The exception to the above: a folder holding only an export's files is an export's
    to replace (--overwrite), since nothing in it is anything else."""
    out = _export_dir(tmp_path / "hyperconvnet-0.7.4", "inputs.npy")
    source = FIXTURES / "0.7.4" / "hyperconvnet_bn" / "export"
    code, _, err = run(capsys, "export", source, "--format", "dir", "--output", out, "--overwrite")
    assert code == 0, err
    assert (out / "weights.npy").read_bytes() != (HYPER_DIR / "weights.npy").read_bytes()
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "weights.npy"]


def test_pack_refuses_a_file_at_its_folder_path(capsys, tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("keep")
    code, _, err = run(capsys, "pack", str(NAM), "--grid", "drive=0,1", "--output", a_file, "--overwrite")
    assert code == 2
    one_error(err, "not a folder")
    assert a_file.read_text() == "keep"


def _earlier_demo(folder):
    """A folder as an earlier demo left it: files, a pack subfolder, and the demo's marker."""
    from tools import demo

    (folder / "pack").mkdir(parents=True)
    (folder / "input.wav").write_bytes(b"an earlier demo's input")
    (folder / "pack" / "manifest.json").write_text("{}")
    demo._write_marker(folder)
    return folder


def test_demo_output_policy(capsys, tmp_path):
    out = _earlier_demo(tmp_path / "demo")
    before = snapshot(out)
    code, _, err = run(capsys, "demo", "--output", out)
    assert code == 2
    one_error(err, "--overwrite")
    assert snapshot(out) == before
    code, stdout, err = run(capsys, "demo", "--output", out, "--overwrite", "--json")
    assert code == 0, err
    report = json.loads(stdout)
    assert (out / "input.wav").read_bytes() != b"an earlier demo's input" and (out / "pack" / "manifest.json").is_file()
    for item in report["outputs"]:  # the report names the final paths, not the staging folder
        assert Path(item["output"]).parent == out and Path(item["output"]).is_file()
    assert Path(report["migration"]["snapshot"]).is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["demo"]
    # what it wrote is listed in its marker, so that the next --overwrite knows the folder
    from tools import demo

    marker = json.loads((out / demo.MARKER).read_text())
    assert set(marker["files"]) == {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()} - {demo.MARKER}
    assert demo.not_a_demo_folder(out) is None


@pytest.mark.parametrize("change", ["a file added", "a folder added", "a file changed", "a link added", "no marker"])
def test_demo_never_replaces_a_folder_it_did_not_write_alone(capsys, tmp_path, change):
    """An earlier demo's folder with anything else in it, or changed: refused, even with
    --overwrite, naming what; nothing touched."""
    from tools import demo

    out = _earlier_demo(tmp_path / "demo")
    why = {"a file added": "holds 'pack/thesis.txt', which the demo did not write",
           "a folder added": "holds 'mine', which the demo did not write",
           "a file changed": "has its 'input.wav' changed since the demo wrote it",
           "a link added": "holds 'pack/link', which the demo did not write",
           "no marker": f"is not a demo folder (no {demo.MARKER})"}[change]
    if change == "a file added":
        (out / "pack" / "thesis.txt").write_text("precious")
    elif change == "a folder added":
        (out / "mine").mkdir()
    elif change == "a file changed":
        (out / "input.wav").write_bytes(b"the user's own take")
    elif change == "a link added":
        os.symlink(tmp_path, out / "pack" / "link")
    else:
        (out / demo.MARKER).unlink()
    before = snapshot(out)
    code, stdout, err = run(capsys, "demo", "--output", out, "--overwrite")
    assert code == 2 and stdout == ""
    one_error(err, f"--output {out} {why}", "--overwrite never replaces such a folder")
    assert snapshot(out) == before and [p.name for p in tmp_path.iterdir()] == ["demo"]


def test_demo_may_replace_an_earlier_demo_with_files_deleted(tmp_path):
    from tools import demo

    out = _earlier_demo(tmp_path / "demo")
    (out / "input.wav").unlink()  # nothing of the user's is lost by replacing this
    assert demo.not_a_demo_folder(out) is None


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
# an output's name says what it holds
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv, message", [
    (["render", NAM, "--input", "{di}", "--output", "{o}/x.wav", "--plot", "{o}/x.jpg"], "--plot {o}/x.jpg: a plot (PNG) is written to .png"),
    (["render", NAM, "--input", "{di}", "--output", "{o}/x.wav", "--plot", "{o}/z.svg"], "--plot {o}/z.svg: a plot (PNG) is written to .png"),
    (["render", NAM, "--input", "{di}", "--output", "{o}/out.mp3"], "--output {o}/out.mp3: audio is written to .wav or .npy"),
    (["render", NAM, "--input", "{di}", "--output", "{o}/out.nam"], "--output {o}/out.nam: audio is written to .wav or .npy"),
    (["export", NAM, "--format", "header", "--output", "{o}/x.nam"], "--output {o}/x.nam: a C++ header is written to .h or .hpp"),
    (["export", NAM, "--format", "nam", "--output", "{o}/x.h"], "--output {o}/x.h: a .nam model is written to .nam"),
    (["export", NAM, "--format", "parametric-nam", "--output", "{o}/x.h"], "--output {o}/x.h: a .nam model is written to .nam"),
    (["migrate", NAM, "--output", "{o}/m.wav"], "--output {o}/m.wav: a .nam model is written to .nam"),
    (["export", HYPER_DIR, "--format", "dir", "--output", "{o}/x.nam"],
     "--output {o}/x.nam: a folder is written there, not a .nam file; give a folder name without .nam"),
    (["pack", NAM, "--grid", "drive=0,1", "--output", "{o}/p.nam"],
     "--output {o}/p.nam: a folder is written there, not a .nam file; give a folder name without .nam"),
    (["demo", "--output", "{o}/d.wav"], "--output {o}/d.wav: a folder is written there, not a .wav file; give a folder name without .wav"),
])
def test_an_outputs_name_must_fit_what_is_written(capsys, tmp_path, di, argv, message):
    """One rule for every verb (compat.outputs.OUTPUT_KINDS): exit 2, one line naming the flag, nothing written."""
    o = tmp_path / "o"
    o.mkdir()
    fill = lambda a: str(a).replace("{o}", str(o)).replace("{di}", str(di))  # noqa: E731
    code, stdout, err = run(capsys, *map(fill, argv))
    assert code == 2 and stdout == ""
    assert err == f"nam-legacy: error: {fill(message)}\n"
    assert list(o.iterdir()) == []


@pytest.mark.parametrize("name", ["x.h", "x.hpp", "X.H"])
def test_a_header_may_be_h_or_hpp(capsys, tmp_path, name):
    code, _, err = run(capsys, "export", NAM, "--format", "header", "--output", tmp_path / name)
    assert code == 0, err
    assert (tmp_path / name).read_text().startswith("#pragma once")


# --------------------------------------------------------------------------------------
# usage errors: one line, from the verb's own parser
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv, line", [
    (["migrate", NAM, "--automate", "drive=0:0,1:1", "--output", "x.nam"],
     "nam-legacy migrate: error: unrecognized arguments: --automate drive=0:0,1:1 (see nam-legacy migrate --help)"),
    (["migrate", NAM], "nam-legacy migrate: error: the following arguments are required: --output (see nam-legacy migrate --help)"),
    (["render", NAM], "nam-legacy render: error: the following arguments are required: --input, --output "
                      "(see nam-legacy render --help)"),
    (["export", NAM, "--format", "zip", "--output", "x"],
     "nam-legacy export: error: argument --format: invalid choice: 'zip' (choose from 'nam', 'dir', 'header', "
     "'parametric-nam') (see nam-legacy export --help)"),
    (["inspect", NAM, "--bogus"], "nam-legacy inspect: error: unrecognized arguments: --bogus (see nam-legacy inspect --help)"),
    ([], "nam-legacy: error: the following arguments are required: VERB (see nam-legacy --help)"),
    (["frobnicate"], "nam-legacy: error: argument VERB: invalid choice: 'frobnicate' (choose from 'inspect', 'render', "
                     "'export', 'migrate', 'pack', 'audit', 'demo') (see nam-legacy --help)"),
])
def test_usage_errors_are_one_line_from_the_verb(capsys, tmp_path, monkeypatch, argv, line):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as done:
        main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert done.value.code == 2 and out == ""
    assert err == line + "\n"
    assert list(tmp_path.iterdir()) == []


def test_usage_errors_are_one_line_from_the_console_script(tmp_path):
    done = subprocess.run([sys.executable, "-c", "import sys; from tools.entry import console; sys.exit(console())",
                           "migrate", str(NAM)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == ("nam-legacy migrate: error: the following arguments are required: --output "
                           "(see nam-legacy migrate --help)\n")


# --------------------------------------------------------------------------------------
# Ctrl-C from the first moment, a closed pipe after the demo's work
# --------------------------------------------------------------------------------------


def test_the_console_script_is_the_guarded_entry_point():
    import tomllib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"nam-legacy": "tools.entry:console"}


def test_help_and_usage_errors_answer_without_loading_torch():
    """`--help`, a verb's `--help` and a usage error build the parser only: torch (a second or
    more to import) is loaded once a verb runs."""
    child = ("import contextlib, io, sys; from tools.cli import main\n"
             "for argv in (['--help'], ['render', '--help'], ['pack', '--help'], ['render'], ['inspect', '--bogus']):\n"
             "    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
             "        try:\n"
             "            main(argv)\n"
             "        except SystemExit:\n"
             "            pass\n"
             "print(sorted(m for m in ('torch', 'matplotlib', 'soundfile') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", child], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout.strip()) == (0, "[]"), done.stderr[-2000:]


@pytest.mark.parametrize("entry", ["console", "main"])
def test_ctrl_c_after_the_command_finished_keeps_its_exit_code(entry):
    """A SIGINT during the interpreter's teardown (here: from an exit handler), after the
    command has done its work and said so: the console script exits with the command's own
    code and prints nothing more. `main` (for in-process callers) leaves SIGINT alone, so
    there the interrupt still surfaces: the test can tell the two apart."""
    child = ("import atexit, os, signal, sys; import tools.entry as entry; "
             "atexit.register(os.kill, os.getpid(), signal.SIGINT); "
             + ("sys.exit(entry.console())" if entry == "console" else "sys.exit(entry.main(sys.argv[1:]))"))
    done = subprocess.run([sys.executable, "-c", child, "inspect", str(NAM)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    if entry == "console":
        assert (done.returncode, done.stderr) == (0, ""), done.stderr[-2000:]
        assert "CatLSTM" in done.stdout
    else:
        assert (done.returncode, done.stderr) != (0, "")


@pytest.mark.parametrize("pause", ["30", "0"])
def test_ctrl_c_while_the_cli_is_still_importing(tmp_path, pause):
    """SIGINT while tools.cli (torch) is being imported: one line and exit 130, no traceback.
    The entry point's test hook says when it is about to import (a file appears), then waits
    `pause` seconds: 30 makes the signal land in the import phase for sure; with 0 it lands
    while torch is loading (about a second), or at worst once the verb runs, which says the
    same."""
    import signal
    import time

    ready = tmp_path / "ready"
    env = {**os.environ, "NAM_LEGACY_TEST_IMPORT_READY": str(ready), "NAM_LEGACY_TEST_IMPORT_PAUSE": pause}
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from tools.entry import console; sys.exit(console())",
                             "demo", "--output", str(tmp_path / "demo")], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.005)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == cli.EXIT_INTERRUPTED == 130, err
    assert err.decode() == "nam-legacy: interrupted\n" and out == b""
    assert time.monotonic() - started < 20  # the pause was interrupted, not waited out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ready"]  # no demo folder, no staging left


def test_a_closed_pipe_lets_the_demo_finish_its_files(tmp_path):
    """`demo | head -1`: the demo goes on writing every file, stops printing, exits 141 quietly."""
    from tools import demo

    code, err = _closed_stdout(["demo", "--output", tmp_path / "demo"])
    assert err == "" and code == 141
    assert demo.not_a_demo_folder(tmp_path / "demo") is None  # complete, marker written last
    assert (tmp_path / "demo" / "pack" / "manifest.json").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["demo"]


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
    for code in ("0 done", "2 an input error", "3 an internal error", "130 interrupted", "141"):
        assert code in text, (verb, code)
    assert "drift" not in text  # exit code 1 is the audit's alone


def test_render_help_says_negative_automation_times_shape_the_start(capsys):
    # they are accepted (the value at 0 s comes from the points around it), so the help says so
    assert "points before 0 s shape the start" in _help(capsys, "render")


@pytest.mark.parametrize("verb, count", [(["inspect"], 2), (["render"], 3), (["export"], 1), (["migrate"], 1), (["pack"], 1),
                                         (["audit"], 1)])
def test_help_shows_one_example_command_per_line(capsys, monkeypatch, verb, count):
    # argparse reflows an epilog: the commands used to run together in one paragraph
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit):
        main([*verb, "--help"])
    lines = capsys.readouterr().out.splitlines()
    examples = [line.strip() for line in lines if "nam-legacy " in line and line.strip().startswith("nam-legacy ")]
    assert len(examples) == count, lines
    for command in examples:  # each whole on its line, and nothing after it
        assert " | " not in command and command.startswith(f"nam-legacy {verb[0]} ") and not command.endswith(".")
        assert "Exit codes" not in command and "exit codes" not in command


def test_only_the_audit_help_speaks_of_drift(capsys):
    assert "1 drift" in _help(capsys, "audit")


def test_the_top_level_help_lists_every_export_format(capsys):
    text = _help(capsys)
    export_line = text[text.index("export write"):text.index("migrate write")]
    for fmt in (".nam", "export folder", "C++ header", "parametric-nam"):
        assert fmt in export_line, fmt


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
