"""Export-folder reader: every genuine folder (Cat* 0.3.0/0.4.0, HyperConvNet of every
release), then broken ones."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from compat.errors import (
    ConfigError,
    CorruptFileError,
    FileAccessError,
    LegacyError,
    UnknownFormatError,
    UnsafeFileError,
    WeightsMismatchError,
)
from compat.formats.configs import expected_weight_count
from compat.formats.export_dir import parse_export_config, read_export_dir, read_weights_npy
from nam_legacy.models.parametric.catnets import CatLSTM, CatWaveNet
from nam_legacy.models.parametric.hyper_net import HyperConvNet
from nam_legacy.releases import get_release, use_release

FIXTURES = Path(__file__).parent / "fixtures"
FOLDERS = sorted(p.parent for p in FIXTURES.glob("*/*/export*/config.json"))
CLASSES = {"CatLSTM": CatLSTM, "CatWaveNet": CatWaveNet, "HyperConvNet": HyperConvNet}


def _id(folder: Path) -> str:
    return f"{folder.parent.parent.name}/{folder.parent.name}"


def test_fixture_inventory():
    cats = [f for f in FOLDERS if not f.parent.name.startswith("hyper")]
    assert sorted(_id(f) for f in cats) == ["0.3.0/catlstm", "0.4.0/catlstm", "0.4.0/catwavenet"]
    assert len(FOLDERS) == 3 + 8 * 2


@pytest.mark.parametrize("folder", FOLDERS, ids=_id)
def test_genuine_export_folder(folder):
    case = folder.parent
    meta = json.loads((case / "meta.json").read_text())
    release = get_release(meta["release"])
    raw = read_export_dir(folder)
    assert raw.format == "export_dir"
    assert raw.architecture == {"catlstm": "CatLSTM", "catwavenet": "CatWaveNet"}.get(case.name, "HyperConvNet")
    assert raw.releases.first.version <= release.version <= raw.releases.last.version
    # the package version names the exact release (0.7.4 and ae86979 share it)
    assert str(raw.releases) == ("0.7.4..ae86979" if release.name == "0.7.4" else release.name)
    assert raw.file_version == release.package_version
    assert raw.warnings == []
    stored = np.load(folder / "weights.npy", allow_pickle=False)
    assert raw.weights.dtype == np.float64 and np.array_equal(raw.weights, stored.astype(np.float64))
    assert raw.metadata["weights_dtype"] == stored.dtype.name
    assert len(raw.weights) == expected_weight_count(raw.architecture, raw.net_config)
    if raw.architecture == "HyperConvNet":
        assert raw.param_config is None
        config = json.loads((folder / "config.json").read_text())["config"]
        assert raw.net_config["hyper_net"]["num_inputs"] == config["hyper_net"]["input_dim"]
        assert raw.net_config["net"] == config["net"]
        snapshot = ["test_signal_input.npy", "test_signal_output.npy", "test_signal_params.npy"]
        assert raw.metadata["snapshot_files"] == (snapshot if release.name in ("0.3.0", "0.4.0") else [])
    else:
        params = json.loads((case / "params.json").read_text())
        assert raw.param_config == params and list(raw.param_config) == list(params)
        assert raw.metadata["snapshot_files"] == []  # deleted from the fixtures to keep them small
    with use_release(release), torch.random.fork_rng(devices=[]):
        model = CLASSES[raw.architecture].init_from_config(json.loads(json.dumps(raw.net_config)))
    if raw.architecture != "CatLSTM":  # CatLSTM's export needs its knobs (sidedoor)
        assert len(model._export_weights()) == len(raw.weights)


def test_config_json_path_is_accepted():
    folder = FIXTURES / "0.4.0/catlstm/export"
    a, b = read_export_dir(folder), read_export_dir(folder / "config.json")
    assert np.array_equal(a.weights, b.weights) and a.net_config == b.net_config


# --- broken folders --------------------------------------------------------------------------


def _copy(tmp_path, case="0.4.0/catlstm") -> Path:
    dst = tmp_path / "export"
    shutil.copytree(FIXTURES / case / "export", dst)
    return dst


def _edit_config(folder: Path, edit) -> None:
    doc = json.loads((folder / "config.json").read_text())
    edit(doc)
    (folder / "config.json").write_text(json.dumps(doc, indent=4))


def _raises(exc, folder, *fragments):
    with pytest.raises(exc) as info:
        read_export_dir(folder)
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_missing_files(tmp_path):
    folder = _copy(tmp_path)
    (folder / "weights.npy").unlink()
    assert _raises(FileAccessError, folder, "weights.npy").startswith("export: ")
    _raises(FileAccessError, tmp_path / "nowhere", "not a folder")


def test_weights_npy_checks(tmp_path):
    folder = _copy(tmp_path)
    n = len(np.load(folder / "weights.npy"))
    np.save(folder / "weights.npy", np.array([{"x": 1}] * n, dtype=object), allow_pickle=True)
    _raises(UnsafeFileError, folder, "pickle")
    np.save(folder / "weights.npy", np.zeros((n, 1), dtype=np.float32))
    _raises(CorruptFileError, folder, "shape")
    np.save(folder / "weights.npy", np.zeros(n, dtype=np.int32))
    _raises(CorruptFileError, folder, "dtype")
    np.save(folder / "weights.npy", np.zeros(n, dtype=np.float16))
    _raises(CorruptFileError, folder, "dtype")
    np.save(folder / "weights.npy", np.zeros(n + 1, dtype=np.float32))
    _raises(WeightsMismatchError, folder, f"{n + 1} values", f"needs {n}")
    np.save(folder / "weights.npy", np.zeros(n, dtype=">f4"))  # other byte order: same numbers
    assert read_export_dir(folder).metadata["weights_dtype"] == "float32"
    data = (FIXTURES / "0.4.0/catlstm/export/weights.npy").read_bytes()
    (folder / "weights.npy").write_bytes(data[:-5])
    _raises(CorruptFileError, folder, "holds")
    (folder / "weights.npy").write_bytes(b"not numpy at all")
    _raises(CorruptFileError, folder, "not a NumPy")


def test_npy_header_checked_before_reading():
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (10 ** 12,)})
    with pytest.raises(UnsafeFileError, match="above the limit"):
        read_weights_npy(header.getvalue() + b"\0" * 16)
    header = io.BytesIO()
    np.lib.format.write_array_header_2_0(header, {"descr": "<f8", "fortran_order": False, "shape": (2,)})
    weights, dtype = read_weights_npy(header.getvalue() + np.array([1.5, -2.0]).tobytes())
    assert weights.tolist() == [1.5, -2.0] and dtype == "float64"
    with pytest.raises(CorruptFileError):
        read_weights_npy(b"\x93NUMPY\x01\x00\x10\x00{'descr': 1}      \n")


def test_npy_count_checked_against_the_config_before_its_payload(tmp_path, monkeypatch):
    """A weights.npy claiming another count than the config's is refused from its header:
    the payload is never read (here it is not even there)."""
    from compat.formats import export_dir

    folder = _copy(tmp_path)
    n = len(np.load(folder / "weights.npy"))
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (40_000_000,)})
    (folder / "weights.npy").write_bytes(header.getvalue() + b"\0" * 64)
    read = []
    monkeypatch.setattr(export_dir, "read_weights_npy", lambda data: read.append(len(data)))
    _raises(WeightsMismatchError, folder, "40000000 values", f"needs {n}")
    assert read == []


def test_version_and_release_rules(tmp_path):
    folder = _copy(tmp_path)
    _edit_config(folder, lambda d: d.update(version="0.5.0"))  # 0.5.0 wrote .nam for CatLSTM
    raw = read_export_dir(folder)
    assert str(raw.releases) == "0.3.0..0.4.0" and any("did not write CatLSTM export folders" in w for w in raw.warnings)
    _edit_config(folder, lambda d: d.pop("version"))
    raw = read_export_dir(folder)
    assert raw.file_version is None and any("no version" in w for w in raw.warnings)

    folder = _copy(tmp_path / "wn", "0.4.0/catwavenet")
    _edit_config(folder, lambda d: d.update(version="0.3.0"))  # no CatWaveNet in 0.3.0
    raw = read_export_dir(folder)
    assert str(raw.releases) == "0.4.0" and raw.warnings

    folder = _copy(tmp_path / "h", "0.7.4/hyperconvnet_bn")
    _edit_config(folder, lambda d: d.update(version="1.0.0"))
    raw = read_export_dir(folder)
    assert str(raw.releases) == "0.3.0..ae86979" and any("unknown version" in w for w in raw.warnings)


def test_hyperconvnet_dtype_quirk(tmp_path):
    folder = _copy(tmp_path, "0.6.0/hyperconvnet_nobn")
    w = np.load(folder / "weights.npy")
    assert w.dtype == np.float64  # genuine: no main-net BatchNorm → float64 vector
    np.save(folder / "weights.npy", w.astype(np.float32))
    raw = read_export_dir(folder)
    assert any("float32" in x and "float64" in x for x in raw.warnings)


def test_config_errors(tmp_path):
    folder = _copy(tmp_path, "0.5.0/hyperconvnet_bn")
    _edit_config(folder, lambda d: d["config"]["hyper_net"].pop("input_dim"))
    _raises(ConfigError, folder, "config.hyper_net.input_dim: missing")
    folder = _copy(tmp_path / "b", "0.5.0/hyperconvnet_bn")
    _edit_config(folder, lambda d: d["config"]["net"].update(activation="Sigmoid"))
    _raises(ConfigError, folder, "config.net.activation", "Tanh")
    folder = _copy(tmp_path / "c", "0.5.0/hyperconvnet_bn")
    _edit_config(folder, lambda d: d["config"]["net"].update(channels=100_000))
    _raises(UnsafeFileError, folder, "allocate")
    folder = _copy(tmp_path / "d")
    _edit_config(folder, lambda d: d.update(architecture="LSTM"))
    _raises(UnknownFormatError, folder, "not a parametric model")
    (folder / "config.json").write_text("[]")
    _raises(CorruptFileError, folder, "JSON object")


def test_parse_export_config_alone():
    raw = parse_export_config((FIXTURES / "0.3.0/catlstm/export/config.json").read_bytes())
    assert raw.weights is None and raw.architecture == "CatLSTM" and str(raw.releases) == "0.3.0"
    for bad in (b"", b"{}", b'{"architecture": "CatLSTM"}', b'{"architecture": 1, "config": {}}',
                b'{"architecture": "CatLSTM", "config": [], "version": "0.3.0"}', b"\x80"):
        with pytest.raises(LegacyError):
            parse_export_config(bad)
