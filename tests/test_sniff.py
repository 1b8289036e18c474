"""Format sniffing from bytes: every fixture file, then edge cases."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from compat import sniff as sniff_module
from compat.errors import FileAccessError, UnknownFormatError, UnsafeFileError
from compat.sniff import PREFIX_BYTES, sniff, sniff_bytes

FIXTURES = Path(__file__).parent / "fixtures"

EXPECTED = {
    "model.ckpt": "ckpt",
    "model.nam": "nam",
    "model.h": "cpp_header",
    "config.json": "export_dir",
    "model.json": "config",
    "data.json": "config",
    "params.json": "config",
}


def _files():
    return sorted(p for p in FIXTURES.glob("*/*/**/*") if p.is_file() and p.name in EXPECTED)


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(FIXTURES)))
def test_fixture_files(path):
    assert sniff(path) == EXPECTED[path.name]


def test_fixture_folders():
    for folder in FIXTURES.glob("*/*/export*"):
        if (folder / "config.json").exists():
            assert sniff(folder) == "export_dir"
        else:
            with pytest.raises(UnknownFormatError, match="model.nam"):
                sniff(folder)


@pytest.mark.parametrize("name", ["meta.json", "reference.npz"])
def test_other_fixture_files_are_unknown(name):
    with pytest.raises(UnknownFormatError, match="supported:"):
        sniff(FIXTURES / "0.7.4/catlstm" / name)
    with pytest.raises(UnknownFormatError, match="NumPy"):
        sniff(FIXTURES / "0.7.4/hyperconvnet_bn/export/weights.npy")


def test_extension_is_ignored(tmp_path):
    (tmp_path / "model.nam").write_bytes((FIXTURES / "0.7.4/catlstm/export/model.h").read_bytes())
    assert sniff(tmp_path / "model.nam") == "cpp_header"
    (tmp_path / "model.h").write_bytes((FIXTURES / "0.7.4/catlstm/export/model.nam").read_bytes())
    assert sniff(tmp_path / "model.h") == "nam"


def test_long_nam_prefix_only(tmp_path):
    doc = json.loads((FIXTURES / "0.7.4/catlstm/export/model.nam").read_text())
    doc["weights"] = doc["weights"] * 50  # > PREFIX_BYTES; sniffing sees only the start
    data = json.dumps(doc).encode()
    assert len(data) > 4 * PREFIX_BYTES
    assert sniff_bytes(data[:PREFIX_BYTES], size=len(data)) == "nam"
    sorted_keys = json.dumps(doc, sort_keys=True).encode()  # architecture, config, metadata, sample_rate, version, weights
    assert sniff_bytes(sorted_keys[:PREFIX_BYTES], size=len(sorted_keys)) == "nam"
    weights_first = json.dumps({"weights": doc["weights"], **{k: v for k, v in doc.items() if k != "weights"}}).encode()
    assert sniff_bytes(weights_first[:PREFIX_BYTES], size=len(weights_first)) == "nam"
    (tmp_path / "x").write_bytes(data)
    assert sniff(tmp_path / "x") == "nam"


def test_checkpoints(tmp_path):
    legacy = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19" + b"\x00" * 100
    assert sniff_bytes(legacy) == "ckpt-legacy"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/version", "3")
        z.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
    assert sniff_bytes(buf.getvalue()) == "ckpt"  # data.pkl not first: found in the directory
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("readme.txt", "hi")
    with pytest.raises(UnknownFormatError, match="not a torch checkpoint"):
        sniff_bytes(buf.getvalue())
    big = tmp_path / "big.ckpt"
    ckpt = (FIXTURES / "0.7.4/catlstm/model.ckpt").read_bytes()
    big.write_bytes(ckpt)
    assert sniff(big) == "ckpt"


def test_headers():
    text = (FIXTURES / "0.7.4/catlstm/export/model.h").read_bytes()
    assert sniff_bytes(b"\xef\xbb\xbf" + text.replace(b"\n", b"\r\n")) == "cpp_header"
    with pytest.raises(UnknownFormatError, match="not one written by the model exporters"):
        sniff_bytes(b"#pragma once\n#include <stdio.h>\n")


def test_text_cut_inside_a_character():
    data = "{\"net\": \"é\"}".encode() * 1  # complete: fine
    assert sniff_bytes(data) == "config"
    prefix = b'{"architecture": "CatLSTM", "weights": [1], "x": "\xc3'
    assert sniff_bytes(prefix, size=10 ** 6) == "nam"


@pytest.mark.parametrize(
    "data, fragment",
    [
        (b"", "empty"),
        (b"\x00\x01\x02binary", "binary"),
        (b"hello world", "text of no known format"),
        (b"[1, 2, 3]", "text of no known format"),
        (b'{"a": 1}', "JSON object of no known kind"),
        (b"{oops", "not a JSON object"),
        (b"\xff\xfe\xfd", "binary"),
        (b"\x93NUMPY\x01\x00", "NumPy"),
    ],
)
def test_unknown(data, fragment):
    with pytest.raises(UnknownFormatError) as info:
        sniff_bytes(data)
    assert fragment in str(info.value) and "supported:" in str(info.value)


def test_configs_and_export_config(tmp_path):
    assert sniff_bytes(b'{"a": {"type": "boolean", "default_value": true}}') == "config"
    assert sniff_bytes(b'{"trainer": {}}') == "config"
    config = (FIXTURES / "0.4.0/catlstm/export/config.json").read_bytes()
    assert sniff_bytes(config) == "export_config"
    (tmp_path / "config.json").write_bytes(config)
    with pytest.raises(UnknownFormatError, match="without weights.npy"):
        sniff(tmp_path / "config.json")


def test_limits_and_access(tmp_path, monkeypatch):
    path = tmp_path / "m.nam"
    path.write_bytes((FIXTURES / "0.7.4/catlstm/export/model.nam").read_bytes())
    monkeypatch.setattr(sniff_module, "MAX_FILE_BYTES", 100)
    with pytest.raises(UnsafeFileError, match="m.nam"):
        sniff(path)
    with pytest.raises(FileAccessError):
        sniff(tmp_path / "missing")
    with pytest.raises(UnknownFormatError, match="folder"):
        sniff(tmp_path)
