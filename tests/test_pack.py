"""Packs (compat.migrate.pack): grid parsing, file names, manifest, PNG plot, byte equality
with single migrations, atomic writes, batched metadata, and resuming after a kill."""

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
    check_version,
    format_value,
    grid_points,
    migrated_document,
    pack,
    parse_grid,
    point_filename,
)
from compat.migrate.plot import AXIS, BACKGROUND, COLORS, HEIGHT, WIDTH, decode_png, encode_png, loudness_png

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
    assert point_filename({"tone": 1.0, "drive": 0.25, "bright": 0.0}) == "bright-0_drive-0.25_tone-1.nam"
    assert point_filename({"drive": -0.5}) == "drive--0.5.nam"
    assert [format_value(v) for v in (0.0, 1.0, 0.1, 1 / 3, 1e-7, -2.0)] == ["0", "1", "0.1", "0.3333333333333333", "1e-07", "-2"]


def test_versions():
    check_version("LSTM", "0.5.4")
    check_version("WaveNet", "0.7.0")
    with pytest.raises(UnsupportedReleaseError):
        check_version("WaveNet", "0.5.4")
    with pytest.raises(UnsupportedReleaseError):
        check_version("LSTM", "0.6.1")


# -------------------------------------------------------------------------------- PNG


def test_png_round_trip_and_pixels():
    img = np.zeros((3, 4, 3), dtype=np.uint8)
    img[1, 2] = (1, 2, 3)
    data = encode_png(img)
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    assert np.array_equal(decode_png(data), img)
    with pytest.raises(ValueError):
        decode_png(data[:40] + bytes([data[40] ^ 1]) + data[41:])  # CRC catches corruption


def test_loudness_plot_draws_lines():
    grid = [("drive", [0.0, 1.0]), ("tone", [0.0, 1.0])]
    points = [({"drive": d, "tone": t}, -10 - d - 3 * t, None) for d in (0.0, 1.0) for t in (0.0, 1.0)]
    img = decode_png(loudness_png(grid, points))
    assert img.shape == (HEIGHT, WIDTH, 3)
    assert tuple(img[0, 0]) == BACKGROUND
    colors = {tuple(c) for c in img.reshape(-1, 3)}
    assert AXIS in colors and COLORS[0] in colors and COLORS[1] in colors and COLORS[2] not in colors
    # One panel (no gain): the x axis is the bottom margin's line, fully drawn.
    assert all(tuple(img[HEIGHT - 30, x]) == AXIS for x in range(50, WIDTH - 20))
    # tone=0 (colour 0) is louder (higher up) than tone=1 (colour 1) at drive=0.
    ys0 = np.nonzero((img[:, 60:100] == COLORS[0]).all(axis=2))[0]
    ys1 = np.nonzero((img[:, 60:100] == COLORS[1]).all(axis=2))[0]
    assert ys0.size and ys1.size and ys0.mean() < ys1.mean()


# -------------------------------------------------------------------------------- pack


GRID = ["drive=0:1:2", "tone=0,1", "bright=0,1"]


def test_pack_writes_files_manifest_and_plot(tmp_path, stub):
    legacy = load("hyperconvnet_bn")
    ckpt = case("hyperconvnet_bn")[0]
    out = tmp_path / "pack"
    manifest = pack(legacy, GRID, out, source=ckpt, date=DATE, batch_size=3)
    names = sorted(point_filename(p) for p in grid_points(parse_grid(GRID)))
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
        assert point_filename(entry["knobs"]) == entry["file"]
        folded = fold(legacy, entry["knobs"])
        assert np.array_equal(np.asarray(doc["weights"], dtype=np.float32), folded.weights)
    img = decode_png((out / PLOT).read_bytes())
    assert img.shape == (HEIGHT, WIDTH, 3) and (img != 255).any()


def test_pack_keeps_defaults_off_the_grid(tmp_path, stub):
    legacy = load("catwavenet")
    manifest = pack(legacy, ["drive=0,1"], tmp_path, date=DATE)
    assert [e["knobs"] for e in manifest["files"]] == [{"bright": 0.0, "drive": 0.0, "tone": 0.5},
                                                       {"bright": 0.0, "drive": 1.0, "tone": 0.5}]
    assert [e["file"] for e in manifest["files"]] == ["drive-0.nam", "drive-1.nam"]


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
    assert seen.count(JOURNAL) == 4 and not (tmp_path / JOURNAL).exists()


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
    # Other settings (here the date) are not mistaken for finished files.
    assert len(pack(legacy, GRID, out, date=datetime(2027, 1, 1))["written"]) == 8


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
    leftovers = [".drive-0.nam.abc123.part", f".{MANIFEST}.x1.part", f".{JOURNAL}.y2.part"]
    for name in leftovers + ["notes.txt", ".other.part"]:
        (tmp_path / name).write_text("partial")
    pack(load("hyperconvnet_nobn"), ["drive=0,1"], tmp_path, date=DATE)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([".other.part", "notes.txt", "drive-0.nam", "drive-1.nam", MANIFEST, PLOT])
