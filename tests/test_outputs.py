"""compat.outputs: the one policy for where a command may write, and compat.export keeping it."""

import os

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
    with pytest.raises(OutputError, match="not empty"):
        check_output(folder, folder=True)
    assert check_output(folder, folder=True, overwrite=True) == folder
    assert check_output(folder, folder=True, existing_folder_ok=True) == folder
    os.symlink(folder, tmp_path / "link")
    with pytest.raises(OutputError, match="symbolic link"):
        check_output(tmp_path / "link", folder=True, overwrite=True)


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
