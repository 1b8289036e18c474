"""compat.load → compat.export reproduces every genuine legacy file byte for byte.

For each export a real release wrote (tests/fixtures/*/*/export*/), the file is loaded by
format sniffing and written again as that release: same bytes (the .nam date pinned to
the file's). Exporting the loaded checkpoint gives the same bytes too, and load → export
→ load → export is stable. The one exception: the CatLSTM burn-in state, which every
export recomputes by a forward pass, and which therefore matches the fixtures (made on
another machine) within the bound of tests/fixtures/README.md
(golden.export_file_mismatch; tests/test_oracle_live.py is byte for byte on this one).
"""

import json
from datetime import datetime
from pathlib import Path

import pytest

import compat
from golden import FIXTURES, case_id, cases, export_file_mismatch, meta
from nam_legacy.releases import get_release

FORMAT_OF = {".nam": "nam", ".h": "header"}


def _genuine_files():
    found = []
    for case in cases():
        for folder in ("export", "export_patched"):
            d = case / folder
            if not d.is_dir():
                continue
            if (d / "config.json").is_file():
                found.append(pytest.param(case, d, "dir", id=f"{case_id(case)}/{folder}"))
            for f in sorted(d.iterdir()):
                if f.suffix in FORMAT_OF:
                    found.append(pytest.param(case, f, FORMAT_OF[f.suffix], id=f"{case_id(case)}/{folder}/{f.name}"))
    return found


def _date_of(nam_file: Path):
    date = json.loads(nam_file.read_text()).get("metadata", {}).get("date")
    return datetime(**date) if date else None



def _same(produced: Path, original: Path, fmt: str, case: Path):
    net = json.loads((case / "model.json").read_text())["net"]
    if fmt != "dir":
        return export_file_mismatch(produced, original, net) is None
    return all(export_file_mismatch(produced / n, original / n, net) is None for n in ("config.json", "weights.npy"))


@pytest.mark.parametrize("case, original, fmt", _genuine_files())
def test_loading_and_exporting_a_genuine_file_gives_the_same_bytes(case, original, fmt, tmp_path):
    release = meta(case)["release"]
    legacy = compat.load(original, param_config=case / "params.json")
    assert legacy.architecture == meta(case)["class"]
    assert get_release(release) in legacy.detected.releases
    out = tmp_path / (original.name if fmt != "dir" else "out")
    compat.export(legacy, fmt, out, release=release, date=_date_of(original) if fmt == "nam" else None)
    assert _same(out, original, fmt, case)


@pytest.mark.parametrize("case, original, fmt", _genuine_files())
def test_checkpoint_exports_like_the_release(case, original, fmt, tmp_path):
    release = meta(case)["release"]
    legacy = compat.load(case / "model.ckpt", config=case / "model.json", param_config=case / "params.json")
    date = _date_of(original) if fmt == "nam" else None
    out = tmp_path / (original.name if fmt != "dir" else "out")
    compat.export(legacy, fmt, out, release=release, date=date)
    assert _same(out, original, fmt, case)


@pytest.mark.parametrize("fmt, release, name", [("nam", "0.5.0", "a.nam"), ("nam", "0.6.0", "a.nam"), ("nam", "ae86979", "a.nam"), ("header", "0.4.0", "a.h"), ("header", "ae86979", "a.h")])
def test_load_export_load_is_byte_stable(fmt, release, name, tmp_path):
    case = FIXTURES / "0.7.4" / "catlstm"
    date = datetime(2024, 1, 14, 12, 0, 0)
    first = compat.load(case / "model.ckpt", config=case / "model.json", param_config=case / "params.json")
    (tmp_path / "1").mkdir(), (tmp_path / "2").mkdir()  # compat.export never creates folders (compat.outputs)
    compat.export(first, fmt, tmp_path / "1" / name, release=release, date=date)
    second = compat.load(tmp_path / "1" / name)
    compat.export(second, fmt, tmp_path / "2" / name, release=release, date=date)
    assert (tmp_path / "1" / name).read_bytes() == (tmp_path / "2" / name).read_bytes()


@pytest.mark.parametrize(
    "architecture_case, fmt, release, fragment",
    [
        ("hyperconvnet_bn", "nam", "0.7.4", "never had a .nam"),
        ("catlstm", "nam", "0.4.0", "export folders"),
        ("catlstm", "dir", "0.5.1", "only in 0.3.0/0.4.0"),
        ("catlstm", "header", "0.3.0", r"could not write CatLSTM C\+\+ headers"),
    ],
)
def test_formats_a_release_never_wrote_are_refused(architecture_case, fmt, release, fragment, tmp_path):
    case = FIXTURES / "0.7.4" / architecture_case
    legacy = compat.load(case / "model.ckpt", config=case / "model.json", param_config=case / "params.json")
    with pytest.raises(compat.UnsupportedReleaseError, match=fragment):
        compat.export(legacy, fmt, tmp_path / ("x.nam" if fmt == "nam" else "x"), release=release)
    assert list(tmp_path.iterdir()) == []


def test_export_never_overwrites_and_leaves_nothing_on_failure(tmp_path):
    case = FIXTURES / "0.7.4" / "catlstm"
    legacy = compat.load(case / "model.ckpt", config=case / "model.json")  # no param config
    with pytest.raises(compat.ConfigError, match="param config"):
        compat.export(legacy, "nam", tmp_path / "a.nam")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "b.nam").write_text("keep")
    legacy = compat.load(case / "model.ckpt", config=case / "model.json", param_config=case / "params.json")
    with pytest.raises(compat.FileAccessError, match="already exists"):
        compat.export(legacy, "nam", tmp_path / "b.nam")
    assert (tmp_path / "b.nam").read_text() == "keep"
