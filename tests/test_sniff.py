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


# --- key order, long values, huge numbers (issue 10 §5) ----------------------------------------------


def _nam_doc():
    return json.loads((FIXTURES / "0.7.4/catlstm/export/model.nam").read_text())


def test_metadata_before_the_weights_may_be_long(tmp_path):
    """Every release wrote metadata before architecture/config/weights: a long one used to
    push both keys out of the 64 KiB prefix."""
    doc = _nam_doc()
    doc["metadata"]["notes"] = "n" * (3 * PREFIX_BYTES)
    doc["metadata"].update({f"k{i}": i for i in range(5000)})
    data = json.dumps(doc).encode()
    assert data.index(b'"architecture"') > PREFIX_BYTES
    (tmp_path / "long_metadata").write_bytes(data)
    assert sniff(tmp_path / "long_metadata") == "nam"
    with pytest.raises(UnknownFormatError):  # the prefix alone cannot tell
        sniff_bytes(data[:PREFIX_BYTES], size=len(data))


@pytest.mark.parametrize("where", ["metadata", "config", "weights", "sample_rate"])
def test_a_5000_digit_integer_does_not_change_the_verdict(tmp_path, where):
    doc = _nam_doc()
    text = json.dumps(doc)
    huge = "7" * 5000
    if where == "metadata":
        text = text.replace('"metadata": {', '"metadata": {"x": ' + huge + ", ", 1)
    elif where == "config":
        text = text.replace('"config": {', '"config": {"x": ' + huge + ", ", 1)
    elif where == "weights":
        text = text.replace('"weights": [', '"weights": [' + huge + ", ", 1)
    else:
        text = text.replace('"sample_rate": null', '"sample_rate": ' + huge)
    assert huge in text
    assert sniff_bytes(text.encode()) == "nam"  # was "export_config" when the weights came after it
    (tmp_path / "m.nam").write_text(text)
    assert sniff(tmp_path / "m.nam") == "nam"


@pytest.mark.parametrize("order", [("weights", "config", "architecture"), ("config", "weights", "architecture"),
                                   ("architecture", "weights", "metadata")])
def test_any_key_order(tmp_path, order):
    doc = _nam_doc()
    doc["weights"] = doc["weights"] * 30  # past the prefix
    moved = {k: doc[k] for k in order}
    moved.update({k: v for k, v in doc.items() if k not in moved})
    (tmp_path / "m.nam").write_text(json.dumps(moved))
    assert sniff(tmp_path / "m.nam") == "nam"


def test_json_sniffing_work_is_bounded(tmp_path):
    """A JSON object bigger than any config, holding no model keys: refused after scanning
    at most SCAN_BYTES, without parsing its values."""
    path = tmp_path / "big.json"
    with open(path, "w") as fh:
        fh.write('{"x": [')
        fh.write("1234567890, " * (sniff_module.SCAN_BYTES // 12 + 1000))
        fh.write("0]}")
    with pytest.raises(UnknownFormatError, match="no known kind"):
        sniff(path)


def test_headers_by_their_directives():
    header = (FIXTURES / "0.7.4/catlstm/export/model.h").read_text()
    banner = "/*\n * Copyright, licence, ...\n */\n// more words\n\n"
    assert sniff_bytes((banner + header).encode()) == "cpp_header"
    assert sniff_bytes(header.replace("// Automatically-generated model file\n", "").encode()) == "cpp_header"
    clang = header.replace('#include <vector>\n#include "json.hpp"\n', '#include "json.hpp"\n#include <vector>\n')
    assert sniff_bytes(clang.replace("\n", "\r\n").encode()) == "cpp_header"
    for other in (b"#include <stdio.h>\nint main() {}\n", b"// a note\n#pragma once\nint x;\n"):
        with pytest.raises(UnknownFormatError, match="not one written by the model exporters"):
            sniff_bytes(other)
    with pytest.raises(UnknownFormatError, match="text of no known format"):
        sniff_bytes(b"// just a comment\nhello\n")


def test_parametric_nam_architecture_found_in_any_order(tmp_path):
    doc = {"weights": [0.0] * 20_000, "version": "1.0.0", "config": {}, "architecture": "ConcatLSTM"}
    (tmp_path / "p.nam").write_text(json.dumps(doc))
    assert sniff(tmp_path / "p.nam") == "parametric_nam"
    doc["architecture"] = "CatLSTM"
    (tmp_path / "p.nam").write_text(json.dumps(doc))
    assert sniff(tmp_path / "p.nam") == "nam"
