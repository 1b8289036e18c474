"""Every export a release wrote (.nam, export folder, C++ header) is written again.

The fixtures' `export/` folders were written by the real releases (tests/oracle); here the
same checkpoint is loaded under that release's profile and exported with the same param
config. The `.nam` date is pinned to the one the release wrote. Layout and every number
that no forward pass computed must match exactly; the forward-computed numbers (CatLSTM
burn-in state, `.nam` loudness/gain, snapshot outputs) within the bound of
tests/fixtures/README.md, since the fixtures come from another machine
(tests/test_oracle_live.py checks the same exports byte for byte on this one). Snapshot
files above 64 KiB were not kept in the fixtures as such: their arrays are kept
xz-compressed in tests/fixtures/snapshots/; our export runs on the genuine input sine
and its output is compared with the genuine numbers (the wavs with np_to_wav of them).
"""

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

from golden import (
    FIXTURES, ULPS, case_id, cases, export_file_mismatch, export_mismatches, kept_snapshot, meta, tolerance, wav_bytes,
)

EXPORT_CASES = [c for c in cases() if (c / "export").is_dir() or (c / "export_patched").is_dir()]
NAM = FIXTURES / "0.7.4" / "catlstm" / "export" / "model.nam"
NET = json.loads((FIXTURES / "0.7.4" / "catlstm" / "model.json").read_text())["net"]


@pytest.mark.parametrize("case", EXPORT_CASES, ids=case_id)
def test_export_is_reproduced(case, tmp_path):
    assert export_mismatches(case, tmp_path) == []


def _dropped(suffix=".npy"):
    return [(c, r) for c in cases() for r in meta(c).get("export_removed_files", []) if r["file"].endswith(suffix)]


def test_dropped_snapshot_arrays_are_kept():
    dropped = _dropped()
    assert {case_id(c) for c, _ in dropped} == {"0.3.0/catlstm", "0.4.0/catlstm", "0.4.0/catwavenet"}
    assert {Path(r["file"]).name for _, r in dropped} == {"inputs.npy", "outputs.npy"}
    assert all(r.get("kept") == f"snapshots/{r['sha256']}.npy.xz" for _, r in dropped)
    # nothing else in the shared folder: every kept file is referenced
    assert {p.name for p in (FIXTURES / "snapshots").iterdir()} == {Path(r["kept"]).name for _, r in dropped}


@pytest.mark.parametrize("case, record", _dropped(), ids=lambda v: case_id(v) if isinstance(v, Path) else Path(v["file"]).name)
def test_kept_snapshots_are_the_releases_files(case, record):
    data = kept_snapshot(case, record)  # raises unless it has the recorded sha256
    assert len(data) == record["size"]
    # and the release's wav is np_to_wav of those numbers
    wav_name = {"inputs.npy": "input.wav", "outputs.npy": "output.wav"}[Path(record["file"]).name]
    wav = next(r for r in meta(case)["export_removed_files"] if Path(r["file"]).name == wav_name)
    assert hashlib.sha256(wav_bytes(np.load(io.BytesIO(data)))).hexdigest() == wav["sha256"]


# --- the file comparison can fail ---------------------------------------------------------


def _edit_weights(path, tmp_path, index, change):
    doc = json.loads(path.read_text())
    doc["weights"][index] = change(doc["weights"][index])
    out = tmp_path / path.name
    out.write_text(json.dumps(doc))  # the genuine 0.7.4 layout: compact
    assert json.dumps(json.loads(path.read_text())) == path.read_text()
    return out


def _ulps(value, n):
    return float(np.float32(value) + n * np.spacing(np.float32(abs(value))))


def test_nam_comparison_keeps_parameters_exact(tmp_path):
    # entry 0 is an LSTM input weight: not computed by a forward pass, no tolerance
    out = _edit_weights(NAM, tmp_path, 0, lambda v: _ulps(v, 1))
    assert "no forward pass" in export_file_mismatch(out, NAM, NET)


def test_nam_comparison_bounds_the_burn_in_state(tmp_path):
    # 416 = the first layer's hidden state (4H(in+H) + 4H with H=8, in=4)
    weights = np.asarray(json.loads(NAM.read_text())["weights"])
    state = np.r_[weights[416:432], weights[976:992]]
    step = tolerance(state.astype(np.float32)) / ULPS
    near = _edit_weights(NAM, tmp_path, 416, lambda v: v + (ULPS // 2) * step)
    assert export_file_mismatch(near, NAM, NET) is None
    assert export_file_mismatch(near, NAM, NET, exact=True) == "bytes differ"
    far = _edit_weights(NAM, tmp_path, 416, lambda v: v + 4 * ULPS * step)
    assert "forward-computed" in export_file_mismatch(far, NAM, NET)


def test_nam_comparison_keeps_the_layout_and_metadata(tmp_path):
    text = NAM.read_text()
    (tmp_path / "a.nam").write_text(json.dumps(json.loads(text), indent=2))
    assert export_file_mismatch(tmp_path / "a.nam", NAM, NET) == "layout differs"
    doc = json.loads(text)
    doc["metadata"]["date"]["second"] += 1
    (tmp_path / "b.nam").write_text(json.dumps(doc))
    assert "outside weights" in export_file_mismatch(tmp_path / "b.nam", NAM, NET)
    doc = json.loads(text)
    doc["metadata"]["loudness"] = _ulps(doc["metadata"]["loudness"], 4 * ULPS)
    (tmp_path / "c.nam").write_text(json.dumps(doc))
    assert "loudness" in export_file_mismatch(tmp_path / "c.nam", NAM, NET)


def test_header_comparison(tmp_path):
    header = FIXTURES / "0.7.4" / "catlstm" / "export" / "model.h"
    text = header.read_text()
    start = text.index("PARAMS{") + len("PARAMS{")
    end = text.index("}", start)
    values = text[start:end].split(",")
    numbers = np.array([float(v.strip().rstrip("f")) for v in values], np.float32)
    step = tolerance(np.r_[numbers[416:432], numbers[976:992]]) / ULPS  # the burn-in state's ulp
    edits = (
        (0, float(np.spacing(abs(numbers[0]))), "no forward pass"),  # a weight, 1 ulp off
        (416, 4 * ULPS * step, "forward-computed"),
        (416, ULPS // 2 * step, None),
    )
    for index, delta, verdict in edits:
        edited = list(values)
        old = edited[index].strip().rstrip("f")
        edited[index] = edited[index].replace(old, f"{np.float32(numbers[index] + np.float32(delta)):.16f}")
        (tmp_path / "model.h").write_text(text[:start] + ",".join(edited) + text[end:])
        problem = export_file_mismatch(tmp_path / "model.h", header, NET)
        assert (problem is None) if verdict is None else (verdict in (problem or "")), (index, delta, problem)
    (tmp_path / "model.h").write_text(text.replace("HIDDEN_SIZE = 8", "HIDDEN_SIZE = 9"))
    assert "outside the PARAMS" in export_file_mismatch(tmp_path / "model.h", header, NET)
