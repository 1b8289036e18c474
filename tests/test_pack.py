"""Packs (compat.migrate.pack): grid parsing and checking, file names, manifest, byte
equality with single migrations, atomic writes, batched metadata, resuming after a kill,
and what a pack folder may be (resumed only for the same model and settings, replaced
whole only with overwrite, never when it is not a pack of ours). The plot itself:
tests/test_plot.py."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

import compat
import compat.atomic
from compat.errors import ConfigError, UnsupportedReleaseError
from compat.migrate import fold
from compat.migrate import pack as pack_module
from compat.migrate.current_nam import date_metadata
from compat.migrate.pack import (
    JOURNAL,
    MANIFEST,
    PLOT,
    PackFolderError,
    check_version,
    file_names,
    format_value,
    grid_points,
    migrated_document,
    pack,
    parse_grid,
    point_filename,
    value_labels,
)

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parent.parent
DATE = datetime(2026, 1, 2, 3, 4, 5)


def case(name, release="0.7.4"):
    d = FIXTURES / release / name
    return d / "model.ckpt", d / "model.json", d / "params.json"


def load(name, release="0.7.4"):
    ckpt, config, params = case(name, release)
    return compat.load(ckpt, config=config, param_config=params)


def stub_metadata(folded, *, date=None):
    """A cheap, deterministic stand-in for current_metadata (same per model whatever the batch)."""
    return [{"date": date_metadata(date), "loudness": float(-20 + 10 * np.abs(f.weights).mean()),
             "gain": float(np.round(f.weights[:4].sum(), 6))} for f in folded]


@pytest.fixture
def stub(monkeypatch):
    calls = []

    def spy(folded, *, date=None):
        calls.append(len(folded))
        return stub_metadata(folded, date=date)

    monkeypatch.setattr(pack_module, "current_metadata", spy)
    return calls


# -------------------------------------------------------------------------------- grid


def test_parse_grid_ranges_and_lists():
    grid = parse_grid(["drive=0:1:5", "tone=0, 0.5 ,1", "bright=false,true", "x=0.1:0.3:3", "y=2:2:1"])
    assert grid == [("drive", [0.0, 0.25, 0.5, 0.75, 1.0]), ("tone", [0.0, 0.5, 1.0]), ("bright", [0.0, 1.0]),
                    ("x", [0.1, 0.2, 0.3]), ("y", [2.0])]
    assert parse_grid(["d=0:1:11"])[0][1][3] == 0.3  # not 0.30000000000000004
    assert parse_grid(["d=-1:0:3"])[0][1] == [-1.0, -0.5, 0.0]  # -0.0 would name a file "d--0"


@pytest.mark.parametrize("bad", [
    [], ["drive"], ["drive="], ["=0:1:2"], ["drive=0:1"], ["drive=0:1:2:3"], ["drive=0:1:x"], ["drive=0:1:0"],
    ["drive=0:1:1"], ["drive=a,b"], ["drive=0,,1"], ["drive=nan,1"], ["drive=0,0"], ["drive=0,1", "drive=1"],
    ["dr/ive=0,1"], ["a=0:1:101", "b=0:1:100"],
])
def test_parse_grid_rejects(bad):
    with pytest.raises(ConfigError) as e:
        parse_grid(bad)
    assert "\n" not in str(e.value)


def test_points_and_file_names():
    points = grid_points(parse_grid(["tone=0,1", "drive=0:1:3"]))
    assert len(points) == 6 and points[0] == {"tone": 0.0, "drive": 0.0} and points[1] == {"tone": 0.0, "drive": 0.5}
    grid = parse_grid(["drive=0:1:5", "tone=0,0.5,1", "bright=0,1"])
    assert point_filename({"tone": 1.0, "drive": 0.25, "bright": 0.0}, grid) == "drive-1-0.25_tone-2-1_bright-0-0.nam"
    assert point_filename({"drive": -0.5}, parse_grid(["drive=-1:1:5"])) == "drive-1--0.5.nam"
    assert [format_value(v) for v in (0.0, 1.0, 0.1, 1 / 3, 1e-7, -2.0)] == ["0", "1", "0.1", "0.3333333333333333", "1e-07", "-2"]


def test_versions():
    check_version("LSTM", "0.5.4")
    check_version("WaveNet", "0.7.0")
    with pytest.raises(UnsupportedReleaseError):
        check_version("WaveNet", "0.5.4")
    with pytest.raises(UnsupportedReleaseError):
        check_version("LSTM", "0.6.1")


# -------------------------------------------------------------------------------- pack


GRID = ["drive=0:1:2", "tone=0,1", "bright=0,1"]


def test_pack_writes_files_manifest_and_plot(tmp_path, stub):
    legacy = load("hyperconvnet_bn")
    ckpt = case("hyperconvnet_bn")[0]
    out = tmp_path / "pack"
    manifest = pack(legacy, GRID, out, source=ckpt, date=DATE, batch_size=3)
    names = file_names(parse_grid(GRID))
    assert sorted(p.name for p in out.iterdir()) == sorted(names + [MANIFEST, PLOT])
    assert stub == [3, 3, 2]  # metadata in batches
    on_disk = json.loads((out / MANIFEST).read_text())
    assert on_disk["files"] == manifest["files"] and len(on_disk["files"]) == 8
    sha = hashlib.sha256(ckpt.read_bytes()).hexdigest()
    assert on_disk["source"]["sha256"] == sha and on_disk["source"]["architecture"] == "HyperConvNet"
    assert on_disk["grid"] == [{"name": "drive", "values": [0.0, 1.0]}, {"name": "tone", "values": [0.0, 1.0]},
                               {"name": "bright", "values": [0.0, 1.0]}]
    assert [k["name"] for k in on_disk["knobs"]] == ["bright", "drive", "tone"]
    assert on_disk["provenance"]["source_sha256"] == sha and on_disk["provenance"]["source_format"] == "ckpt"
    for entry in on_disk["files"]:
        data = (out / entry["file"]).read_bytes()
        prov = json.loads(data)["metadata"]["nam_legacy"]
        assert {k: v for k, v in prov.items() if k != "knobs"} == on_disk["provenance"]
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        doc = json.loads(data)
        assert doc["version"] == "0.7.0" and doc["architecture"] == "ConvNet"
        assert doc["metadata"]["loudness"] == entry["loudness"] and doc["metadata"]["gain"] == entry["gain"]
        prov = doc["metadata"]["nam_legacy"]
        assert prov["knobs"] == entry["knobs"] and prov["source_sha256"] == sha and prov["source_file"] == "model.ckpt"
        assert prov["source_architecture"] == "HyperConvNet" and prov["source_releases"] == str(legacy.detected)
        assert point_filename(entry["knobs"], parse_grid(GRID)) == entry["file"]
        folded = fold(legacy, entry["knobs"])
        assert np.array_equal(np.asarray(doc["weights"], dtype=np.float32), folded.weights)
    assert (out / PLOT).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and on_disk["plot"] == PLOT
    assert on_disk["plot_note"] is None and on_disk["metadata"] == {"loudness_and_gain": "measured", "note": None}


def test_pack_keeps_defaults_off_the_grid(tmp_path, stub):
    legacy = load("catwavenet")
    manifest = pack(legacy, ["drive=0,1"], tmp_path, date=DATE)
    assert [e["knobs"] for e in manifest["files"]] == [{"bright": 0.0, "drive": 0.0, "tone": 0.5},
                                                       {"bright": 0.0, "drive": 1.0, "tone": 0.5}]
    assert [e["file"] for e in manifest["files"]] == ["drive-0-0.nam", "drive-1-1.nam"]


def test_pack_refuses(tmp_path, stub):
    legacy = load("catwavenet")
    with pytest.raises(ConfigError, match="unknown knob 'gain'"):
        pack(legacy, ["gain=0,1"], tmp_path / "a")
    with pytest.raises(UnsupportedReleaseError):
        pack(legacy, ["drive=0,1"], tmp_path / "b", version="0.5.4")
    bare = compat.load(case("catwavenet")[0], config=case("catwavenet")[1])
    with pytest.raises(ConfigError, match="param-config"):
        pack(bare, ["drive=0,1"], tmp_path / "c")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_pack_files_equal_single_migrations(tmp_path, stub):
    ckpt, config, params = case("catlstm")
    legacy = compat.load(ckpt, config=config, param_config=params)
    grid = ["drive=0,1", "bright=0,1"]
    manifest = pack(legacy, grid, tmp_path / "pack", source=ckpt, date=DATE, version="0.5.4", batch_size=2)
    for entry in manifest["files"]:
        folded = fold(legacy, entry["knobs"])
        (meta,) = stub_metadata([folded], date=DATE)
        doc = migrated_document(folded, legacy, meta, version="0.5.4", source=ckpt)
        from compat.migrate import dumps
        assert (tmp_path / "pack" / entry["file"]).read_bytes() == dumps(doc).encode()
        assert doc["version"] == "0.5.4" and doc["architecture"] == "LSTM"


def test_pack_is_atomic(tmp_path, stub, monkeypatch):
    """Every final name is produced by renaming a complete temporary from the same folder."""
    seen = []
    real = compat.atomic.os.replace

    def spy(src, dst):
        src, dst = Path(src), Path(dst)
        assert src.parent == dst.parent and src.name.startswith(f".{dst.name}.") and src.name.endswith(".part")
        if dst.suffix in (".nam", ".json"):
            json.loads(src.read_bytes())  # complete before it gets its name
        assert not any(p.suffix == ".part" for p in dst.parent.iterdir() if p != src)
        seen.append(dst.name)
        real(src, dst)

    monkeypatch.setattr(compat.atomic.os, "replace", spy)
    pack(load("hyperconvnet_nobn"), ["drive=0,1", "tone=0,1"], tmp_path, date=DATE)
    assert seen[-1] == MANIFEST and PLOT in seen and sum(n.endswith(".nam") for n in seen) == 4
    assert seen.count(JOURNAL) == 5 and not (tmp_path / JOURNAL).exists()  # first, then after each file


def _stamps(folder):
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.glob("*.nam")}


def test_pack_resumes_after_a_failure(tmp_path, stub, monkeypatch):
    legacy = load("hyperconvnet_bn")
    out = tmp_path / "pack"
    real = pack_module.atomic_write_bytes
    written = []

    def failing(path, payload):
        if Path(path).suffix == ".nam" and len(written) == 3:
            raise KeyboardInterrupt  # as if killed while writing the fourth file
        real(path, payload)
        if Path(path).suffix == ".nam":
            written.append(Path(path).name)

    monkeypatch.setattr(pack_module, "atomic_write_bytes", failing)
    with pytest.raises(KeyboardInterrupt):
        pack(legacy, GRID, out, date=DATE, batch_size=2)
    monkeypatch.setattr(pack_module, "atomic_write_bytes", real)
    assert sorted(p.name for p in out.glob("*.nam")) == sorted(written) and not (out / MANIFEST).exists()
    assert (out / JOURNAL).exists() and not list(out.glob(".*.part"))
    before = _stamps(out)
    stub.clear()
    manifest = pack(legacy, GRID, out)  # no date: the unfinished run's date is kept
    assert manifest["skipped"] == 3 and len(manifest["written"]) == 5 and sum(stub) == 5
    after = _stamps(out)
    assert all(after[name] == stamp for name, stamp in before.items())  # not rewritten
    # Same bytes as a pack made in one go.
    fresh = tmp_path / "fresh"
    pack(legacy, GRID, fresh, date=DATE)
    for p in fresh.glob("*.nam"):
        assert (out / p.name).read_bytes() == p.read_bytes()
    assert json.loads((out / MANIFEST).read_text())["files"] == json.loads((fresh / MANIFEST).read_text())["files"]
    # A finished pack re-run writes nothing; a changed file on disk is rewritten.
    victim = out / manifest["files"][0]["file"]
    victim.write_text("{}")
    again = pack(legacy, GRID, out)
    assert again["written"] == [victim.name] and again["skipped"] == 7
    assert victim.read_bytes() == (fresh / victim.name).read_bytes()
    # Other settings (here the date) are not mistaken for finished files: refused, or
    # replaced whole on request.
    with pytest.raises(PackFolderError, match="date 2026-01-02T03:04:05 .asked for --date 2027-01-01T00:00:00.; pass --overwrite"):
        pack(legacy, GRID, out, date=datetime(2027, 1, 1))
    assert len(pack(legacy, GRID, out, date=datetime(2027, 1, 1), overwrite=True)["written"]) == 8


_KILL_SCRIPT = r"""
import sys, time
sys.path[:0] = [sys.argv[1], sys.argv[1] + "/tests"]
import compat
from compat.migrate import pack as pack_module
from test_pack import stub_metadata, load, DATE

def slow(folded, *, date=None):
    time.sleep(0.3)
    return stub_metadata(folded, date=date)

pack_module.current_metadata = slow
pack_module.pack(load("hyperconvnet_nobn"), ["drive=0:1:4", "tone=0,1"], sys.argv[2], date=DATE, batch_size=1)
"""


def test_pack_survives_sigkill(tmp_path, stub):
    out = tmp_path / "pack"
    proc = subprocess.Popen([sys.executable, "-c", _KILL_SCRIPT, str(ROOT), str(out)], cwd=str(tmp_path))
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if len(json.loads((out / JOURNAL).read_text())["files"]) >= 2:
                    break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.02)
        assert proc.poll() is None, "the pack finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    finals = list(out.glob("*.nam"))
    assert 2 <= len(finals) < 8 and not (out / MANIFEST).exists()
    for p in finals:
        json.loads(p.read_bytes())  # nothing partial at a final name
    before = _stamps(out)
    legacy = load("hyperconvnet_nobn")
    manifest = pack(legacy, ["drive=0:1:4", "tone=0,1"], out)
    assert len(manifest["files"]) == 8 and manifest["skipped"] >= len(before) - 1  # the last may have missed its journal entry
    assert sorted(p.name for p in out.iterdir()) == sorted([e["file"] for e in manifest["files"]] + [MANIFEST, PLOT])
    after = _stamps(out)
    kept = [n for n in before if n not in manifest["written"]]
    assert kept and all(after[n] == before[n] for n in kept)
    for e in manifest["files"]:
        doc = json.loads((out / e["file"]).read_bytes())
        assert doc["metadata"]["date"] == date_metadata(DATE)


@pytest.mark.skipif(not (ROOT / "compat" / "migrate" / "metadata.py").exists(), reason="compat.migrate.metadata not written yet")
def test_pack_uses_current_metadata(tmp_path):
    legacy = load("hyperconvnet_nobn")
    manifest = pack(legacy, ["drive=0,1"], tmp_path, date=DATE)
    from compat.migrate.metadata import current_metadata

    expected = current_metadata([fold(legacy, e["knobs"]) for e in manifest["files"]], date=DATE)
    for e, meta in zip(manifest["files"], expected):
        doc = json.loads((tmp_path / e["file"]).read_bytes())
        assert {k: v for k, v in doc["metadata"].items() if k != "nam_legacy"} == meta


def test_pack_removes_leftover_temporaries(tmp_path, stub):
    """A killed run's temporaries go; files that are not ours stay (and keep the folder
    from ever being replaced)."""
    legacy = load("hyperconvnet_nobn")
    pack(legacy, ["drive=0,1"], tmp_path, date=DATE)
    (tmp_path / MANIFEST).rename(tmp_path / JOURNAL)  # as if killed before the manifest
    leftovers = [".drive-0-0.nam.abc123.part", f".{MANIFEST}.x1.part", f".{JOURNAL}.y2.part", f".{PLOT}.z.part"]
    for name in leftovers + ["notes.txt", ".other.part"]:
        (tmp_path / name).write_text("partial")
    pack(legacy, ["drive=0,1"], tmp_path, date=DATE)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([".other.part", "notes.txt", "drive-0-0.nam", "drive-1-1.nam", MANIFEST, PLOT])
    with pytest.raises(PackFolderError, match="also '.other.part', which is not part of it"):
        pack(legacy, ["drive=0,1,0.5"], tmp_path, date=DATE, overwrite=True)
    assert (tmp_path / "notes.txt").read_text() == "partial" and (tmp_path / "drive-1-1.nam").is_file()


# -------------------------------------------------------------------------------- folders


def _snapshot(folder):
    """Every entry of a folder: name → (bytes, mtime), to prove nothing changed."""
    return {p.name: (p.read_bytes() if p.is_file() else None, p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


def _names(folder):
    return sorted(p.name for p in folder.iterdir())


def _expected_names(grid):
    return sorted(file_names(parse_grid(grid)) + [MANIFEST, PLOT])


def test_another_models_pack_is_refused_then_replaced_whole(tmp_path, stub):
    out = tmp_path / "pack"
    pack(load("hyperconvnet_bn"), GRID, out, date=DATE)  # 8 files
    before = _snapshot(out)
    other = load("hyperconvnet_nobn")
    with pytest.raises(PackFolderError, match=r"holds a pack of another model .*; pass --overwrite to replace it whole") as e:
        pack(other, ["drive=0,1", "tone=0.5"], out, date=DATE)
    assert "\n" not in str(e.value) and isinstance(e.value, compat.LegacyError)
    assert _snapshot(out) == before
    manifest = pack(other, ["drive=0,1", "tone=0.5"], out, date=DATE, overwrite=True)
    assert _names(out) == _expected_names(["drive=0,1", "tone=0.5"])  # no stale file of the old pack
    assert manifest["skipped"] == 0 and len(manifest["written"]) == 2
    assert not list(tmp_path.glob(".pack.*"))  # nothing left beside it
    fresh = tmp_path / "fresh"
    pack(other, ["drive=0,1", "tone=0.5"], fresh, date=DATE)
    assert all((out / n).read_bytes() == (fresh / n).read_bytes() for n in _names(fresh) if n.endswith(".nam"))


def test_another_grid_is_refused_then_replaced_whole(tmp_path, stub):
    legacy = load("hyperconvnet_nobn")
    pack(legacy, ["drive=0:1:3", "tone=0,1"], tmp_path / "p", date=DATE)
    before = _snapshot(tmp_path / "p")
    with pytest.raises(PackFolderError, match=r"another grid \(drive=0,0.5,1 tone=0,1; asked for drive=0,1\)"):
        pack(legacy, ["drive=0,1"], tmp_path / "p", date=DATE)
    assert _snapshot(tmp_path / "p") == before
    pack(legacy, ["drive=0,1"], tmp_path / "p", date=DATE, overwrite=True)
    assert _names(tmp_path / "p") == _expected_names(["drive=0,1"])


@pytest.mark.parametrize("kwargs, why", [
    ({"version": "0.5.4"}, "--nam-version 0.7.0 .asked for 0.5.4."),
    ({"initial_state": "model"}, "--initial-state burn-in .asked for model."),
    ({"source": "other"}, "the same model read from another file"),
])
def test_other_settings_are_refused(tmp_path, stub, kwargs, why):
    legacy = load("catlstm")
    ckpt = case("catlstm")[0]
    pack(legacy, ["drive=0,1"], tmp_path / "p", source=ckpt, date=DATE)
    if kwargs.get("source") == "other":
        copy = tmp_path / "copy.ckpt"
        copy.write_bytes(ckpt.read_bytes() + b"\0")  # same model, another file
        kwargs = {"source": copy}
    kwargs = {"source": ckpt, **kwargs}
    with pytest.raises(PackFolderError, match=why):
        pack(legacy, ["drive=0,1"], tmp_path / "p", date=DATE, **kwargs)


def test_same_model_and_settings_resume_even_with_overwrite(tmp_path, stub):
    legacy = load("hyperconvnet_nobn")
    pack(legacy, ["drive=0,1"], tmp_path / "p", date=DATE)
    stamps = _stamps(tmp_path / "p")
    again = pack(legacy, ["drive=0,1"], tmp_path / "p", overwrite=True)  # no date: the pack's own
    assert again["written"] == [] and again["skipped"] == 2 and _stamps(tmp_path / "p") == stamps
    # the same model loaded again (another object, same contents) is the same model
    assert pack(load("hyperconvnet_nobn"), ["drive=0,1"], tmp_path / "p")["skipped"] == 2


def test_a_folder_that_is_not_a_pack_is_never_touched(tmp_path, stub):
    legacy = load("hyperconvnet_nobn")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "song.wav").write_bytes(b"RIFF")
    (mine / MANIFEST).write_text('{"my": "own manifest"}')
    before = _snapshot(mine)
    for overwrite in (False, True):
        with pytest.raises(PackFolderError, match="is not empty and holds no nam-legacy pack"):
            pack(legacy, ["drive=0,1"], mine, date=DATE, overwrite=overwrite)
        assert _snapshot(mine) == before
    (tmp_path / "file").write_text("x")
    with pytest.raises(PackFolderError, match="exists and is not a folder"):
        pack(legacy, ["drive=0,1"], tmp_path / "file", overwrite=True)
    with pytest.raises(PackFolderError, match="does not exist .create it first."):
        pack(legacy, ["drive=0,1"], tmp_path / "missing" / "p")
    assert not (tmp_path / "missing").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    pack(legacy, ["drive=0,1"], empty, date=DATE)  # an empty folder is fine
    assert _names(empty) == _expected_names(["drive=0,1"])


def test_a_pack_from_an_older_version_needs_overwrite(tmp_path, stub):
    legacy = load("hyperconvnet_nobn")
    pack(legacy, ["drive=0,1"], tmp_path, date=DATE)
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    del manifest["identity"]
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(PackFolderError, match="unknown settings .made by an earlier nam-legacy."):
        pack(legacy, ["drive=0,1"], tmp_path, date=DATE)


def test_replacing_is_all_or_nothing(tmp_path, stub, monkeypatch):
    """Killed while building the replacement: the old pack is whole at its name; a re-run
    finishes the replacement (resuming what was built) and leaves nothing beside it."""
    out = tmp_path / "pack"
    old_model, new_model = load("hyperconvnet_bn"), load("hyperconvnet_nobn")
    pack(old_model, GRID, out, date=DATE)
    before = _snapshot(out)
    real = pack_module.atomic_write_bytes
    count = []

    def failing(path, payload):
        if Path(path).suffix == ".nam" and len(count) == 2:
            raise KeyboardInterrupt
        real(path, payload)
        count.append(path) if Path(path).suffix == ".nam" else None

    monkeypatch.setattr(pack_module, "atomic_write_bytes", failing)
    with pytest.raises(KeyboardInterrupt):
        pack(new_model, ["drive=0:1:4"], out, date=DATE, overwrite=True)
    monkeypatch.setattr(pack_module, "atomic_write_bytes", real)
    assert _snapshot(out) == before  # the old pack, untouched
    staging = tmp_path / ".pack.pack-new"
    assert staging.is_dir() and len(list(staging.glob("*.nam"))) == 2
    manifest = pack(new_model, ["drive=0:1:4"], out, date=DATE, overwrite=True)
    assert manifest["skipped"] == 2 and len(manifest["written"]) == 2
    assert _names(out) == _expected_names(["drive=0:1:4"]) and _names(tmp_path) == ["pack"]


def test_replacing_without_an_atomic_exchange(tmp_path, stub, monkeypatch):
    monkeypatch.setattr(pack_module, "_exchange", lambda a, b: False)
    legacy = load("hyperconvnet_nobn")
    pack(legacy, ["drive=0,1"], tmp_path / "p", date=DATE)
    pack(legacy, ["tone=0,1"], tmp_path / "p", date=DATE, overwrite=True)
    assert _names(tmp_path / "p") == _expected_names(["tone=0,1"]) and _names(tmp_path) == ["p"]


def test_atomic_exchange_swaps(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_text("a")
    (b / "x").write_text("b")
    if not pack_module._exchange(a, b):
        pytest.skip("no atomic exchange on this system (the two-rename fallback is tested)")
    assert (a / "x").read_text() == "b" and (b / "x").read_text() == "a"


# -------------------------------------------------------------------------------- knob values


@pytest.mark.parametrize("grid, message", [
    (["drive=0,5"], r"^knob drive = 5 is outside its range 0 to 1$"),  # the CLI adds its flag (KnobError.hint)
    (["bright=0,0.5"], r"knob bright is boolean and takes 0 or 1"),
    (["drive=-1:1:3"], r"knob drive = -1 is outside its range 0 to 1"),
])
def test_grid_values_are_checked_before_any_work(tmp_path, stub, grid, message):
    from compat.knobs import KnobError

    with pytest.raises(KnobError, match=message):
        pack(load("catwavenet"), grid, tmp_path / "p", date=DATE)
    assert not (tmp_path / "p").exists() and stub == []


def test_extrapolating_warns_once_per_knob(tmp_path, stub):
    from compat.knobs import KnobError, OutOfRangeWarning

    with pytest.warns(OutOfRangeWarning) as caught:
        manifest = pack(load("catwavenet"), ["drive=0,1.5,2", "tone=-0.5,0.5"], tmp_path / "p", date=DATE,
                        allow_out_of_range=True)
    texts = [str(w.message) for w in caught if issubclass(w.category, OutOfRangeWarning)]
    assert texts == ["knob drive: grid values 1.5, 2 outside its range 0 to 1: extrapolating",
                     "knob tone: grid value -0.5 outside its range 0 to 1: extrapolating"]
    assert sorted(e["knobs"]["drive"] for e in manifest["files"]) == [0, 0, 1.5, 1.5, 2, 2]
    with pytest.raises(KnobError, match="boolean"):  # booleans never extrapolate
        pack(load("catwavenet"), ["bright=0.5"], tmp_path / "q", date=DATE, allow_out_of_range=True)


# -------------------------------------------------------------------------------- no recording / no matplotlib


@pytest.fixture
def no_recording(monkeypatch):
    """As if no neural-amp-modeler distribution were installed (the real locator, asked for
    a distribution that does not exist; the cached recording forgotten)."""
    import compat.migrate.metadata as md
    import nam_legacy.models._resources as resources

    monkeypatch.setattr(resources, "DISTRIBUTION", "nam-legacy-test-no-such-distribution")
    monkeypatch.setattr(md, "_INPUT", None)
    assert md.recording_missing() is not None


def test_pack_without_the_recording(tmp_path, no_recording, monkeypatch):
    import warnings as w

    from compat.migrate.metadata import LoudnessSkippedWarning

    legacy = load("hyperconvnet_nobn")
    out = tmp_path / "p"
    with w.catch_warnings(record=True) as caught:
        w.simplefilter("always")
        manifest = pack(legacy, ["drive=0,1", "tone=0,1"], out, date=DATE, batch_size=1)
    said = [str(x.message) for x in caught]
    assert len(said) == 1 and issubclass(caught[0].category, LoudnessSkippedWarning)
    assert "pip install --no-deps neural-amp-modeler==0.7.4" in said[0] and "\n" not in said[0]
    assert manifest["warnings"] == said and manifest["plot"] is None and "no loudness or gain to plot" in manifest["plot_note"]
    assert manifest["metadata"] == {"loudness_and_gain": "skipped", "note": said[0]}
    assert _names(out) == sorted(n for n in _expected_names(["drive=0,1", "tone=0,1"]) if n != PLOT)
    for e in manifest["files"]:
        doc = json.loads((out / e["file"]).read_bytes())
        assert list(doc["metadata"]) == ["date", "nam_legacy"] and doc["metadata"]["date"] == date_metadata(DATE)
        assert e["loudness"] is None and e["gain"] is None
        folded = fold(legacy, e["knobs"])
        assert np.array_equal(np.asarray(doc["weights"], dtype=np.float32), folded.weights)  # playable, complete
    # With the recording installed, the same command completes the metadata (not refused).
    monkeypatch.undo()
    again = pack(legacy, ["drive=0,1", "tone=0,1"], out)
    assert len(again["written"]) == 4 and again["warnings"] == [] and (out / PLOT).is_file()
    assert all(isinstance(e["loudness"], float) for e in again["files"])


def test_migrate_metadata_without_the_recording(no_recording):
    from compat.migrate.metadata import LoudnessSkippedWarning

    folded = fold(load("hyperconvnet_nobn"), None)
    with pytest.warns(LoudnessSkippedWarning, match="neural-amp-modeler==0.7.4"):
        (meta,) = pack_module.current_metadata([folded], date=DATE)
    assert meta == {"date": date_metadata(DATE)}


def test_pack_without_matplotlib(tmp_path, stub, monkeypatch):
    import sys as _sys

    from compat.migrate.plot import PlotSkippedWarning

    legacy = load("hyperconvnet_nobn")
    pack(legacy, ["drive=0,1"], tmp_path, date=DATE)
    assert (tmp_path / PLOT).is_file()
    for name in [n for n in _sys.modules if n == "matplotlib" or n.startswith("matplotlib.")]:
        monkeypatch.setitem(_sys.modules, name, None)
    monkeypatch.setitem(_sys.modules, "matplotlib", None)
    with pytest.warns(PlotSkippedWarning, match=r"loudness.png skipped: .*pip install matplotlib") as caught:
        manifest = pack(legacy, ["drive=0,1"], tmp_path)
    assert len(caught) == 1
    assert manifest["plot"] is None and "pip install matplotlib" in manifest["plot_note"]
    assert not (tmp_path / PLOT).exists()  # no stale plot of other numbers
    assert json.loads((tmp_path / MANIFEST).read_text())["plot_note"] == manifest["plot_note"]


# -------------------------------------------------------------------------------- byte stability


def test_pack_bytes_do_not_depend_on_the_native_kernel(tmp_path, monkeypatch):
    """`--date` gives the same bytes with the native LSTM kernel and without it
    (NAM_LEGACY_NATIVE=0): the torch path repeats the kernel's arithmetic (lstm_batch.py)."""
    from compat.migrate import native

    legacy = load("catlstm")
    made = {}
    try:
        for mode in ("1", "0"):
            monkeypatch.setenv("NAM_LEGACY_NATIVE", mode)
            native._reset()
            if mode == "1" and native.lstm_cell() is None:
                pytest.skip(f"the native kernel is not available here: {native.status()}")
            out = tmp_path / mode
            pack(legacy, ["drive=0,1"], out, source=case("catlstm")[0], date=DATE)
            made[mode] = {p.name: p.read_bytes() for p in sorted(out.iterdir())}  # plot included
    finally:
        native._reset()
    assert made["1"] == made["0"]
    loudness = [json.loads(made["1"][n])["metadata"]["loudness"] for n in ("drive-0-0.nam", "drive-1-1.nam")]
    assert all(isinstance(v, float) for v in loudness) and loudness[0] != loudness[1]
