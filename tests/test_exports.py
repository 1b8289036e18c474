"""Every export a release wrote (.nam, export folder, C++ header) is written again byte for byte.

The fixtures' `export/` folders were written by the real releases (tests/oracle); here the
same checkpoint is loaded under that release's profile and exported with the same param
config. The `.nam` date is pinned to the one the release wrote; everything else must match
byte for byte. Snapshot files above 64 KiB were not kept in the fixtures (meta.json lists
their hashes), so those are compared by hash.
"""

import hashlib
import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import torch

from golden import case_id, cases, load, meta
from nam_legacy.models.parametric.params import Param

EXPORT_CASES = [c for c in cases() if (c / "export").is_dir() or (c / "export_patched").is_dir()]


def _params(case):
    specs = json.loads((case / "params.json").read_text())
    return {name: Param.init_from_config(dict(spec)) for name, spec in specs.items()}


def _pin_date(model, nam_file: Path):
    date = json.loads(nam_file.read_text()).get("metadata", {}).get("date")
    if date:
        model._export_fixed_date = datetime(**date)


def _export(model, case, outdir: Path):
    """Call the model's export exactly as tests/oracle/make_fixtures.py called upstream's."""
    if type(model).__name__ == "HyperConvNet":
        model.export(outdir)
        model.export_cpp_header(outdir / "model.h")
    else:
        model.export(outdir, _params(case))
        if model._release.lstm_cpp_header:
            model.export_cpp_header(outdir / "model.h", _params(case))


@pytest.mark.parametrize("case", EXPORT_CASES, ids=case_id)
def test_export_is_byte_identical(case, tmp_path):
    torch.set_num_threads(1)
    info = meta(case)
    model = load(case, release=info["release"])
    expected_dir = case / "export" if (case / "export").is_dir() else case / "export_patched"
    for nam_file in expected_dir.glob("*.nam"):
        _pin_date(model, nam_file)
    _export(model, case, tmp_path)
    expected = {p.name: p for p in expected_dir.iterdir()}
    if type(model).__name__ == "HyperConvNet":
        # Snapshot files are unseeded randomness upstream; only their presence is checked.
        for name in [n for n in expected if n.startswith("test_signal_")]:
            assert (tmp_path / name).is_file()
            del expected[name]
    for name, path in expected.items():
        assert (tmp_path / name).read_bytes() == path.read_bytes(), name
    for removed in info.get("export_removed_files", []):
        produced = tmp_path / Path(removed["file"]).name
        assert hashlib.sha256(produced.read_bytes()).hexdigest() == removed["sha256"], removed["file"]
