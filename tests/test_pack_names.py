"""Pack file names (compat.migrate.pack.file_names): plain byte order, `ls`, `ls -v` and
Python's sorted() list a pack in grid order, so a player's previous/next buttons turn the
last grid knob one step at a time; names stay short and readable; a folder written with
the earlier names (`drive-0.25_tone-1.nam`, which sort out of grid order) is told apart:
refused with a clear message, replaced whole with overwrite."""

import itertools
import json
import os
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import compat
from compat.migrate import pack as pack_module
from compat.migrate.current_nam import date_metadata
from compat.migrate.pack import (MANIFEST, NAMING, PLOT, PackFolderError, file_names, grid_points, pack, parse_grid,
                                 value_labels)

FIXTURES = Path(__file__).parent / "fixtures"
DATE = datetime(2026, 1, 2, 3, 4, 5)
README_GRID = ["drive=0:1:5", "tone=0,0.5,1"]


def load(name="hyperconvnet_nobn"):
    d = FIXTURES / "0.7.4" / name
    return compat.load(d / "model.ckpt", config=d / "model.json", param_config=d / "params.json")


@pytest.fixture
def stub(monkeypatch):
    def cheap(folded, *, date=None):
        return [{"date": date_metadata(date), "loudness": -20.0 + i, "gain": 0.0} for i, _ in enumerate(folded)]

    monkeypatch.setattr(pack_module, "current_metadata", cheap)


def grid_index(name: str):
    """The grid indices a file name carries, read back: (index of knob 1, index of knob 2, ...)."""
    return tuple(int(part.split("-")[1]) for part in name[:-len(".nam")].split("_"))


# -------------------------------------------------------------------------------- order


def test_the_readme_pack_sorts_in_grid_order():
    grid = parse_grid(README_GRID)
    names = file_names(grid)
    assert names == sorted(names)  # Python's sorted() is code-point (byte) order
    assert names[:4] == ["drive-0-0_tone-0-0.nam", "drive-0-0_tone-1-0.5.nam", "drive-0-0_tone-2-1.nam",
                         "drive-1-0.25_tone-0-0.nam"]
    # next/previous = the last knob one step, then the next value of the one before
    assert [grid_index(n) for n in names] == list(itertools.product(range(5), range(3)))
    # each name says its point's values (rounded) and is the point grid_points lists at that place
    for point, name in zip(grid_points(grid), names):
        assert name == f"drive-{[0, .25, .5, .75, 1].index(point['drive'])}-{point['drive']:g}_" \
                       f"tone-{[0, .5, 1].index(point['tone'])}-{point['tone']:g}.nam"


def _ls(folder: Path, *flags: str, locale: str = "C"):
    env = {**os.environ, "LC_ALL": locale}
    out = subprocess.run(["ls", "-1", *flags, str(folder)], capture_output=True, text=True, env=env, check=True)
    return [n for n in out.stdout.splitlines() if n.endswith(".nam")]


@pytest.mark.skipif(shutil.which("ls") is None, reason="no ls")
@pytest.mark.parametrize("grid", [README_GRID, ["drive=0:1:20", "tone=0:1:10"], ["x=-1:1:12", "b=true,false"],
                                  ["tone=1,0,0.5", "gain=-3:3:7", "bright=0,1"]])
def test_ls_lists_a_pack_in_grid_order(tmp_path, grid):
    names = file_names(parse_grid(grid))
    for n in reversed(names):  # created in reverse, so creation order cannot help
        (tmp_path / n).write_bytes(b"")
    assert _ls(tmp_path) == names
    assert _ls(tmp_path, "-v") == names  # version sort (natural order, as file browsers use)
    utf8 = subprocess.run(["locale", "-a"], capture_output=True, text=True).stdout.split() if shutil.which("locale") else []
    for loc in [x for x in utf8 if x.lower().replace("-", "") in ("c.utf8", "en_us.utf8")]:
        assert _ls(tmp_path, locale=loc) == names  # a locale's collation (punctuation ignored) too


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(finite, min_size=1, max_size=13, unique=True), min_size=1, max_size=3))
def test_any_grid_sorts_in_grid_order(values):
    specs = [f"k{i}={','.join(repr(v) for v in vs)}" for i, vs in enumerate(values)]
    try:
        grid = parse_grid(specs)
    except compat.ConfigError:  # values that repeat after rounding to 12 digits
        return
    names = file_names(grid)
    assert names == sorted(names) and len(set(names)) == len(names)
    assert [grid_index(n) for n in names] == list(itertools.product(*(range(len(v)) for _, v in grid)))


# -------------------------------------------------------------------------------- readable


def test_names_are_short_and_readable():
    names = file_names(parse_grid(["drive=0:1:20", "tone=0:1:10"]))
    assert names[1] == "drive-00-0_tone-1-0.111.nam" and names[10] == "drive-01-0.0526_tone-0-0.nam"
    assert names[-1] == "drive-19-1_tone-9-1.nam" and max(map(len, names)) <= len("drive-00-0.0526_tone-0-0.111.nam")


@pytest.mark.parametrize("values, labels", [
    ([0, 0.25, 0.5, 0.75, 1], ["0", "0.25", "0.5", "0.75", "1"]),
    ([1 / 19, 2 / 19, 1 / 9], ["0.0526", "0.105", "0.111"]),  # 3 significant digits
    ([0.1, 0.1001, 0.1002], ["0.1", "0.1001", "0.1002"]),  # more only where 3 would read the same
    ([-1, -0.5, 0], ["-1", "-0.5", "0"]),
    ([1234.5678, 123456789.0, 1e-7], ["1235", "123456789", "1e-07"]),  # whole digits are never rounded away
])
def test_value_labels(values, labels):
    assert value_labels(values) == labels


# -------------------------------------------------------------------------------- the pack


def test_a_pack_is_listed_in_grid_order_and_the_manifest_keeps_exact_values(tmp_path, stub):
    manifest = pack(load(), ["drive=0:1:4", "tone=0,1"], tmp_path / "p", date=DATE)
    files = [e["file"] for e in manifest["files"]]
    assert files == sorted(files) == sorted(p.name for p in (tmp_path / "p").glob("*.nam"))
    assert files[2] == "drive-1-0.333_tone-0-0.nam" and manifest["files"][2]["knobs"]["drive"] == 0.333333333333  # parse_grid: 12 digits
    assert manifest["identity"]["naming"] == NAMING


def _as_earlier_version(folder: Path):
    """Rewrite a pack as the earlier nam-legacy left it: `drive-0.25_tone-1.nam` names and an
    identity without "naming"."""
    manifest = json.loads((folder / MANIFEST).read_text())
    for e in manifest["files"]:
        old = "_".join(f"{n}-{e['knobs'][n]:g}" for n in sorted(g["name"] for g in manifest["grid"])) + ".nam"
        (folder / e["file"]).rename(folder / old)
        e["file"] = old
    del manifest["identity"]["naming"]
    (folder / MANIFEST).write_text(json.dumps(manifest))
    return sorted(p.name for p in folder.iterdir())


def test_a_pack_with_the_earlier_names_is_refused_then_replaced_whole(tmp_path, stub):
    legacy, out, grid = load(), tmp_path / "p", ["drive=0:1:5", "tone=0,0.5,1"]
    pack(legacy, grid, out, date=DATE)
    before = _as_earlier_version(out)
    assert "drive-0.25_tone-0.5.nam" in before and before != sorted(file_names(parse_grid(grid)) + [MANIFEST, PLOT])
    with pytest.raises(PackFolderError) as e:
        pack(legacy, grid, out, date=DATE)
    text = str(e.value)
    assert "an earlier nam-legacy, whose file names (drive-0.25_tone-1.nam) do not sort in grid order" in text
    assert "pass --overwrite to replace it whole" in text and len(text) < 280 and "\n" not in text
    assert sorted(p.name for p in out.iterdir()) == before  # untouched
    manifest = pack(legacy, grid, out, date=DATE, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == sorted(file_names(parse_grid(grid)) + [MANIFEST, PLOT])
    assert len(manifest["written"]) == 15 and sorted(p.name for p in tmp_path.iterdir()) == ["p"]


def test_an_unfinished_pack_with_the_earlier_names_is_replaced_whole(tmp_path, stub):
    """A journal without the manifest: the earlier names are still known as the pack's own
    (from the grid), so none survives the replacement."""
    legacy, out = load(), tmp_path / "p"
    pack(legacy, ["drive=0,1"], out, date=DATE)
    _as_earlier_version(out)
    state = json.loads((out / MANIFEST).read_text())
    state["files"] = state["files"][:1]  # the second file was written but not journalled
    (out / ".pack-state.json").write_text(json.dumps(state))
    (out / MANIFEST).unlink()
    (out / PLOT).unlink()
    assert sorted(p.name for p in out.iterdir()) == [".pack-state.json", "drive-0.nam", "drive-1.nam"]
    pack(legacy, ["drive=0,1"], out, date=DATE, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == sorted(["drive-0-0.nam", "drive-1-1.nam", MANIFEST, PLOT])
