"""compat.outputs: the one policy for where a command may write, and compat.export keeping it."""

import os
from pathlib import Path

import pytest

import compat
from compat import outputs
from compat.outputs import OutputError, check_output, input_paths, put_in_place
from golden import FIXTURES

CASE = FIXTURES / "0.7.4" / "catlstm"


def test_the_parent_folder_must_exist(tmp_path):
    with pytest.raises(OutputError, match="does not exist"):
        check_output(tmp_path / "a" / "b" / "out.wav")
    assert not (tmp_path / "a").exists()
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputError, match="not a folder"):
        check_output(tmp_path / "f" / "out.wav")


def test_existing_files_need_overwrite(tmp_path):
    out = tmp_path / "out.wav"
    assert check_output(out) == out
    out.write_text("x")
    with pytest.raises(OutputError, match="--overwrite"):
        check_output(out)
    assert check_output(out, overwrite=True) == out
    os.symlink(tmp_path / "nowhere", tmp_path / "dangling")
    with pytest.raises(OutputError, match="already exists"):
        check_output(tmp_path / "dangling")


def test_files_and_folders_never_replace_each_other(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputError, match="is a folder"):
        check_output(tmp_path / "d", overwrite=True)
    with pytest.raises(OutputError, match="not a folder"):
        check_output(tmp_path / "f", overwrite=True, folder=True)


def test_folder_outputs(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    assert check_output(folder, folder=True) == folder  # empty: nothing to lose
    (folder / "x").write_text("x")
    for overwrite in (False, True):  # nobody said the folder is this command's: never replaced
        with pytest.raises(OutputError, match="not empty and was not written by this command"):
            check_output(folder, folder=True, overwrite=overwrite)
    assert check_output(folder, folder=True, existing_folder_ok=True) == folder
    os.symlink(folder, tmp_path / "link")
    with pytest.raises(OutputError, match="symbolic link"):
        check_output(tmp_path / "link", folder=True, overwrite=True)


def test_overwrite_replaces_only_a_folder_the_command_wrote(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "ours.txt").write_text("x")
    seen = []

    def replaceable(path):
        seen.append(path)
        names = {p.name for p in path.iterdir()}
        return None if names == {"ours.txt"} else f"holds {sorted(names - {'ours.txt'})[0]!r}, which is not ours"

    with pytest.raises(OutputError, match="already exists and is not empty; pass --overwrite"):
        check_output(folder, folder=True, replaceable=replaceable)
    assert check_output(folder, folder=True, replaceable=replaceable, overwrite=True) == folder
    (folder / "thesis.txt").write_text("precious")
    for overwrite in (False, True):
        with pytest.raises(OutputError, match="holds 'thesis.txt', which is not ours; --overwrite never replaces"):
            check_output(folder, folder=True, replaceable=replaceable, overwrite=overwrite)
    assert seen and all(p == folder for p in seen)
    assert (folder / "thesis.txt").read_text() == "precious"


@pytest.mark.parametrize("which", ["cwd", "parent", "home", "root"])
def test_special_folders_are_never_replaced(tmp_path, monkeypatch, which):
    """The current folder, a folder holding it, home and / : never replaced, even when the
    command's own test would allow it, and even empty (replacing renames the folder away)."""
    cwd = tmp_path / "a" / "b"
    cwd.mkdir(parents=True)
    monkeypatch.chdir(cwd)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    target = {"cwd": Path("."), "parent": Path(".."), "home": home, "root": Path("/")}[which]
    what = {"cwd": "the current folder", "parent": "a folder holding the current folder", "home": "your home folder",
            "root": "the root folder"}[which]
    if which == "root" and not os.access("/", os.W_OK):  # refused earlier: cannot write into /
        assert outputs._special_folder(target) == what
        return
    for overwrite in (False, True):
        with pytest.raises(OutputError, match=f"is {what}, which is never replaced"):
            check_output(target, folder=True, overwrite=overwrite, replaceable=lambda p: None)
    # a pack resumes in place there, but --overwrite would replace it
    (cwd / "x").write_text("x")
    assert check_output(Path("."), folder=True, existing_folder_ok=True) == Path(".")
    if which in ("cwd", "parent"):
        with pytest.raises(OutputError, match=f"is {what}, which --overwrite never replaces"):
            check_output(target, folder=True, existing_folder_ok=True, overwrite=True)


@pytest.mark.parametrize("kind, good, bad", [
    ("nam", ["a.nam", "A.NAM"], ["a.wav", "a.h", "a", "a.nam.json"]),
    ("header", ["a.h", "a.hpp"], ["a.nam", "a.hh", "a"]),
    ("plot", ["a.png"], ["a.jpg", "a.svg", "a"]),
    ("audio", ["a.wav", "a.npy", "a.WAV"], ["a.mp3", "a.flac", "a"]),
])
def test_an_outputs_name_fits_what_is_written(tmp_path, kind, good, bad):
    what, suffixes = outputs.OUTPUT_KINDS[kind]
    for name in good:
        assert check_output(tmp_path / name, kind=kind) == tmp_path / name
    for name in bad:
        with pytest.raises(OutputError) as caught:
            check_output(tmp_path / name, kind=kind, flag="--plot")
        assert str(caught.value) == f"--plot {tmp_path / name}: {what} is written to {' or '.join(suffixes)}"
    # folders are not named like those files; any other name is theirs
    for name in ("out.nam", "out.h", "out.png", "out.wav"):
        with pytest.raises(OutputError, match="a folder is written there"):
            check_output(tmp_path / name, folder=True)
    assert check_output(tmp_path / "amp-pack.v2", folder=True) == tmp_path / "amp-pack.v2"
    assert list(tmp_path.iterdir()) == []


def test_inputs_are_never_outputs(tmp_path):
    src = tmp_path / "sub" / "in.wav"
    src.parent.mkdir()
    src.write_text("input")
    os.link(src, tmp_path / "hard.wav")
    os.symlink(src, tmp_path / "soft.wav")
    for out in (src, tmp_path / "sub" / ".." / "sub" / "in.wav", tmp_path / "hard.wav", tmp_path / "soft.wav"):
        with pytest.raises(OutputError, match="inputs"):
            check_output(out, inputs=[src], overwrite=True)
    with pytest.raises(OutputError, match="holds this command's input"):
        check_output(tmp_path / "sub", inputs=[src], overwrite=True, folder=True)
    with pytest.raises(OutputError, match="holds this command's input"):
        check_output(tmp_path, inputs=[src], folder=True, existing_folder_ok=True)
    assert check_output(tmp_path / "sub" / "new.wav", inputs=[src]) == tmp_path / "sub" / "new.wav"
    assert src.read_text() == "input"


def test_input_paths_lists_an_export_folders_files():
    folder = FIXTURES / "0.7.4" / "hyperconvnet_nobn" / "export"
    paths = input_paths(folder, None, CASE / "params.json")
    assert paths[0] == folder and paths[-1] == CASE / "params.json"
    assert {p.name for p in paths[1:-1]} == {"config.json", "weights.npy", "model.h"}
    with pytest.raises(OutputError, match="inputs"):
        check_output(folder / "weights.npy", inputs=paths, overwrite=True)


def test_put_in_place_replaces_a_folder_whole_or_not_at_all(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old").write_text("old")
    new = tmp_path / ".staging"
    new.mkdir()
    (new / "new").write_text("new")

    def broken(produced, output):
        raise OSError("disk gone")

    monkeypatch.setattr(outputs, "publish", broken)
    with pytest.raises(OSError):
        put_in_place(new, out)
    assert [p.name for p in out.iterdir()] == ["old"]  # put back
    monkeypatch.undo()
    put_in_place(new, out)
    assert [p.name for p in out.iterdir()] == ["new"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_compat_export_keeps_the_policy(tmp_path):
    legacy = compat.load(CASE / "model.ckpt", config=CASE / "model.json", param_config=CASE / "params.json")
    with pytest.raises(OutputError, match="does not exist"):
        compat.export(legacy, "header", tmp_path / "missing" / "model.h")
    assert not (tmp_path / "missing").exists()
    out = tmp_path / "model.h"
    out.write_text("mine")
    with pytest.raises(OutputError, match="--overwrite"):
        compat.export(legacy, "header", out)
    assert out.read_text() == "mine"
    compat.export(legacy, "header", out, overwrite=True)
    assert out.read_text().startswith("#pragma once")
    params = tmp_path / "params.h"
    params.write_bytes((CASE / "params.json").read_bytes())
    with pytest.raises(OutputError, match="inputs"):
        compat.export(legacy, "header", params, overwrite=True, inputs=[params])
    assert params.read_bytes() == (CASE / "params.json").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.h", "params.h"]
