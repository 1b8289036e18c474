"""The torch zip container: genuine `torch.save` files round-trip exactly; damaged or hostile archives are refused."""

from __future__ import annotations

import collections
import io
import pickle
import struct
import zipfile
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from compat import torch_zip
from compat.checkpoint import read_checkpoint
from compat.errors import CorruptFileError, LegacyError, UnknownFormatError, UnsafeFileError, UnsupportedReleaseError

FIXTURES = sorted((Path(__file__).parent / "fixtures").glob("*/*/model.ckpt"))


# -- helpers ------------------------------------------------------------------------------------------------------

def lightning_shaped() -> dict:
    """A checkpoint shaped like the ones nam's `Model` gets from Lightning, plus awkward tensors."""
    torch.manual_seed(0)
    net = torch.nn.Module()
    net._net = torch.nn.Sequential(torch.nn.LSTM(3, 4, 2), torch.nn.Linear(4, 1), torch.nn.BatchNorm1d(4))
    params = [p for p in net.parameters()]
    opt = torch.optim.Adam(params, lr=0.01)
    sum(p.sum() for p in params).backward()
    opt.step()
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.995)
    state_dict = net.state_dict()  # an OrderedDict with `_metadata`, as Lightning saves it
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    state_dict.update({
        "view.t": base.t(), "view.slice": base[1:, 2:5], "view.base": base, "view.step": base[:, ::2],
        "view.expand": torch.tensor([1.5, -2.0]).expand(3, 2), "empty": torch.zeros(0, 3), "scalar": torch.tensor(7.0),
        "long": torch.tensor([[1, -2], [3, 2**40]]), "bool": torch.tensor([True, False, True]),
        "double": torch.randn(3, dtype=torch.float64), "half": torch.randn(2, 2).half(),
        "bf16": torch.randn(5).bfloat16(), "int8": torch.tensor([-3, 4], dtype=torch.int8),
        "uint8": torch.tensor([250, 1], dtype=torch.uint8), "int32": torch.tensor([9], dtype=torch.int32),
    })
    return {
        "epoch": 3, "global_step": 120, "pytorch-lightning_version": "2.1.3", "state_dict": state_dict,
        "loops": {"fit_loop": {"state_dict": {}, "epoch_progress": {"total": {"ready": 4, "completed": 3}},
                               "epoch_loop.state_dict": {"_batches_that_stepped": 120}}},
        "callbacks": {"ModelCheckpoint{'monitor': 'val_loss', 'mode': 'min'}": {
            "monitor": "val_loss", "best_model_score": torch.tensor(0.25), "best_model_path": "/x/a.ckpt",
            "kth_value": torch.tensor(float("inf")), "best_k_models": {"/x/a.ckpt": torch.tensor(0.25)},
            "dirpath": None, "save_last": True, "ratio": 0.5, "names": ["a", "b"], "pair": (1, "x")}},
        "optimizer_states": [opt.state_dict()], "lr_schedulers": [sched.state_dict()], "sample_rate": None,
    }


def save(obj, path: Path, **kwargs) -> Path:
    torch.save(obj, path, **kwargs)
    return path


def assert_same(got, want, where="checkpoint"):
    """Exact equality, tensors included (dtype, shape, strides, offset, values), and the same container types."""
    assert type(got) is type(want), where
    if isinstance(want, torch.Tensor):
        assert (got.dtype, got.shape, got.stride(), got.storage_offset()) == \
            (want.dtype, want.shape, want.stride(), want.storage_offset()), where
        assert got.requires_grad == want.requires_grad and torch.equal(got, want), where
    elif isinstance(want, dict):
        assert list(got) == list(want), where
        attrs = getattr(want, "__dict__", {})  # a state_dict's `_metadata`
        assert getattr(got, "__dict__", {}).keys() == attrs.keys(), where
        for key in want:
            assert_same(got[key], want[key], f"{where}[{key!r}]")
        for key, value in attrs.items():
            assert_same(vars(got)[key], value, f"{where}.{key}")
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, f"{where}[{i}]")
    else:
        assert got == want, where


def tensors(obj):
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from tensors(value)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from tensors(value)


def sharing(obj) -> list[list[int]]:
    """Which tensors (by position) share memory: the same partition must come back."""
    groups: dict[int, list[int]] = {}
    for i, t in enumerate(tensors(obj)):
        groups.setdefault(t.untyped_storage().data_ptr() if t.untyped_storage().nbytes() else -i - 1, []).append(i)
    return sorted(groups.values())


def rezip(src: Path, dst: Path, edit=lambda name, data: (name, data), compression=zipfile.ZIP_STORED) -> Path:
    """Copy a torch archive entry by entry; `edit` may rename, change or (returning None) drop an entry."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", compression) as zout:
        for info in zin.infolist():
            edited = edit(info.filename, zin.read(info))
            if edited is not None:
                zout.writestr(edited[0], edited[1])
    return dst


def patch_central(path: Path, field_offset: int, fmt: str, value: int, name: str) -> None:
    """Overwrite one field of `name`'s central directory record (offsets as in the zip spec)."""
    data = bytearray(path.read_bytes())
    pos = data.find(b"PK\x01\x02")
    while pos >= 0:
        name_len = struct.unpack_from("<H", data, pos + 28)[0]
        if data[pos + 46:pos + 46 + name_len].decode() == name:
            struct.pack_into(fmt, data, pos + field_offset, value)
            path.write_bytes(bytes(data))
            return
        pos = data.find(b"PK\x01\x02", pos + 4)
    raise AssertionError(f"no central record for {name}")


EVIL_PKL = b"\x80\x02cposix\nsystem\nX\x0b\x00\x00\x00touch pwnedR."  # a payload for cases refused before it


def torch_zip_of(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return path


@pytest.fixture
def genuine(tmp_path) -> tuple[dict, Path]:
    ckpt = lightning_shaped()
    return ckpt, save(ckpt, tmp_path / "model.ckpt")


# -- genuine files ------------------------------------------------------------------------------------------------

def test_lightning_shaped_checkpoint_round_trips_exactly(genuine):
    ckpt, path = genuine
    got = read_checkpoint(path)
    assert_same(got, ckpt)
    assert_same(got, torch.load(path, weights_only=True))
    assert sharing(got) == sharing(ckpt)
    assert "_metadata" in vars(got["state_dict"])


def test_tensors_own_their_memory_unless_the_file_shared_it(genuine):
    _, path = genuine
    sd = read_checkpoint(path)["state_dict"]
    sd["view.base"][0, 0] = 100.0
    assert sd["view.t"][0, 0] == 100.0  # same storage in the file, same memory here
    before = sd["double"].clone()
    sd["_net.1.weight"].zero_()
    assert torch.equal(sd["double"], before)
    assert sd["view.base"].untyped_storage().data_ptr() != sd["double"].untyped_storage().data_ptr()


def test_old_torch_layouts_are_tolerated(genuine, tmp_path):
    """Older torch wrote fewer bookkeeping files, and any top-level directory name will do."""
    ckpt, path = genuine
    optional = ("byteorder", ".format_version", ".storage_alignment", ".data/serialization_id", "version")
    stripped = rezip(path, tmp_path / "old.ckpt", lambda name, data: None if name.split("/", 1)[1] in optional
                     else ("archive/" + name.split("/", 1)[1], data))
    assert_same(read_checkpoint(stripped), ckpt)


def test_deflated_archive_reads(genuine, tmp_path):
    ckpt, path = genuine
    assert_same(read_checkpoint(rezip(path, tmp_path / "z.ckpt", compression=zipfile.ZIP_DEFLATED)), ckpt)


def test_protocol_4_checkpoint_reads(tmp_path):
    ckpt = {"state_dict": collections.OrderedDict(w=torch.randn(2, 3), n=torch.tensor(4)), "s": {1, 2}, "b": b"\x00"}
    path = save(ckpt, tmp_path / "p4.ckpt", pickle_protocol=4)
    got = read_checkpoint(path)
    assert_same(got["state_dict"], ckpt["state_dict"])
    assert got["s"] == {1, 2} and got["b"] == b"\x00"


@pytest.mark.parametrize("path", FIXTURES or [pytest.param(None, marks=pytest.mark.skip(
    reason="no genuine checkpoints under tests/fixtures/*/*/model.ckpt yet (made by the oracle helper)"))])
def test_genuine_fixture_matches_torch_load(path):
    got = read_checkpoint(path)
    want = torch.load(path, weights_only=True)
    assert_same(got["state_dict"], want["state_dict"], f"{path}: state_dict")
    assert_same(got, want, str(path))


# -- refused archives ---------------------------------------------------------------------------------------------

def _raw_zip_cases(tmp: Path, genuine_path: Path) -> dict[str, tuple[Path, type]]:
    evil = {"archive/data.pkl": EVIL_PKL, "archive/byteorder": b"little"}
    cases = {
        "dotdot": (torch_zip_of(tmp / "a", {**evil, "archive/../../pwned": b"x"}), UnsafeFileError),
        "dotdot-prefix": (torch_zip_of(tmp / "b", {"../archive/data.pkl": EVIL_PKL}), UnsafeFileError),
        "absolute": (torch_zip_of(tmp / "c", {"/archive/data.pkl": EVIL_PKL}), UnsafeFileError),
        "drive": (torch_zip_of(tmp / "d", {"C:/archive/data.pkl": EVIL_PKL}), UnsafeFileError),
        "backslash": (torch_zip_of(tmp / "e", {**evil, "archive\\..\\pwned": b"x"}), UnsafeFileError),
        "two-prefixes": (torch_zip_of(tmp / "f", {**evil, "other/data/0": b"x"}), UnsafeFileError),
        "no-prefix": (torch_zip_of(tmp / "g", {"data.pkl": EVIL_PKL}), UnsafeFileError),
        "directory-entry": (torch_zip_of(tmp / "h", {**evil, "archive/data/": b""}), UnsafeFileError),
        "missing-data.pkl": (torch_zip_of(tmp / "i", {"archive/data/0": b"\0" * 4}), CorruptFileError),
        "big-endian": (torch_zip_of(tmp / "j", {**evil, "archive/byteorder": b"big"}), UnknownFormatError),
        "byteorder-junk": (torch_zip_of(tmp / "k", {**evil, "archive/byteorder": b"middle"}), CorruptFileError),
        "format-version": (torch_zip_of(tmp / "l", {**evil, "archive/.format_version": b"2"}), UnknownFormatError),
        "empty-file": (tmp / "m", UnknownFormatError),
        "garbage": (tmp / "n", UnknownFormatError),
        "bare-pickle": (tmp / "o", UnknownFormatError),
        "nam-json": (tmp / "p", UnknownFormatError),
        "junk-before-zip": (tmp / "q", UnknownFormatError),
        "truncated-zip": (tmp / "r", CorruptFileError),
        "only-local-header": (tmp / "s", CorruptFileError),
    }
    (tmp / "m").write_bytes(b"")
    (tmp / "n").write_bytes(bytes(range(256)) * 4)
    (tmp / "o").write_bytes(EVIL_PKL)
    (tmp / "p").write_bytes(b'{"version": "0.5.2", "architecture": "CatLSTM"}')
    (tmp / "q").write_bytes(b"MZ" + b"\0" * 100 + torch_zip_of(tmp / "q0", evil).read_bytes())
    (tmp / "r").write_bytes(genuine_path.read_bytes()[:-30])
    (tmp / "s").write_bytes(genuine_path.read_bytes()[:200])
    with zipfile.ZipFile(tmp / "t", "w") as z, pytest.warns(UserWarning, match="Duplicate name"):
        z.writestr("archive/data.pkl", b"\x80\x02}.")  # an innocent first copy, then the payload
        z.writestr("archive/data.pkl", EVIL_PKL)
    cases["duplicate"] = (tmp / "t", UnsafeFileError)
    return cases


def test_hostile_archives_are_refused(genuine, tmp_path, monkeypatch):
    _, path = genuine
    monkeypatch.chdir(tmp_path)  # where the payloads would drop `pwned`
    cases = _raw_zip_cases(tmp_path, path)
    for name, (case, error) in cases.items():
        with pytest.raises(error) as info:
            read_checkpoint(case)
        assert "\n" not in str(info.value), name
    assert not (tmp_path / "pwned").exists()
    assert len(cases) >= 20


def test_legacy_torch_format_is_refused_with_a_clear_message(tmp_path):
    """Recognised, hence not UnknownFormatError: the same error `compat.load` gives (docs/checkpoint-safety.md)."""
    path = save({"state_dict": {"w": torch.ones(2)}}, tmp_path / "legacy.ckpt", _use_new_zipfile_serialization=False)
    with pytest.raises(UnsupportedReleaseError, match="pre-1.6 .non-zip. checkpoint format.*re-save it"):
        read_checkpoint(path)


def test_declared_size_bomb_is_refused_before_reading(genuine, tmp_path):
    _, path = genuine
    bomb = tmp_path / "bomb.ckpt"
    bomb.write_bytes(path.read_bytes())
    for field in (20, 24):  # compressed and uncompressed size of a stored entry
        patch_central(bomb, field, "<I", 0xFFFF_FFF0, "model/data/0")
    with pytest.raises(UnsafeFileError, match="model/data/0"):
        read_checkpoint(bomb)


def test_compression_ratio_bomb_is_refused(tmp_path):
    with zipfile.ZipFile(tmp_path / "r.ckpt", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("archive/data.pkl", EVIL_PKL)
        z.writestr("archive/data/0", b"\0" * (8 * 2**20))
    with pytest.raises(UnsafeFileError, match="compression ratio"):
        read_checkpoint(tmp_path / "r.ckpt")


def test_size_and_count_limits(genuine, tmp_path, monkeypatch):
    _, path = genuine
    for limit, value, match in (("MAX_ENTRIES", 3, "entries"), ("MAX_TOTAL_BYTES", 1000, "unpacks to more"),
                                ("MAX_ENTRY_BYTES", 100, "above the limit"), ("MAX_PICKLE_BYTES", 100, "data.pkl")):
        with monkeypatch.context() as m:
            m.setattr(torch_zip, limit, value)
            with pytest.raises(UnsafeFileError, match=match):
                read_checkpoint(path)


def test_encrypted_and_exotic_entries_are_refused(genuine, tmp_path):
    _, path = genuine
    encrypted = tmp_path / "enc.ckpt"
    encrypted.write_bytes(path.read_bytes())
    patch_central(encrypted, 8, "<H", 1, "model/data.pkl")
    with pytest.raises(UnsafeFileError, match="encrypted"):
        read_checkpoint(encrypted)
    with zipfile.ZipFile(tmp_path / "bz.ckpt", "w", zipfile.ZIP_BZIP2) as z:
        z.writestr("archive/data.pkl", EVIL_PKL)
    with pytest.raises(UnknownFormatError, match="compression method 12"):
        read_checkpoint(tmp_path / "bz.ckpt")


def test_damaged_storages_are_refused(genuine, tmp_path):
    _, path = genuine
    crc = tmp_path / "crc.ckpt"
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        offset = z.getinfo("model/data/0").header_offset
    name_len, extra_len = struct.unpack_from("<HH", data, offset + 26)  # torch pads the local extra field
    data[offset + 30 + name_len + extra_len + 1] ^= 0xFF  # one byte of storage 0
    crc.write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match="model/data/0"):
        read_checkpoint(crc)
    missing = rezip(path, tmp_path / "missing.ckpt", lambda n, d: None if n == "model/data/0" else (n, d))
    with pytest.raises(CorruptFileError, match="no model/data/0"):
        read_checkpoint(missing)
    short = rezip(path, tmp_path / "short.ckpt", lambda n, d: (n, d[:-4] if n == "model/data/0" else d))
    with pytest.raises(CorruptFileError, match="storage 0 holds"):
        read_checkpoint(short)


def test_bool_storage_must_hold_0_or_1(tmp_path):
    path = save({"b": torch.tensor([True, False])}, tmp_path / "b.ckpt")
    bad = rezip(path, tmp_path / "bad.ckpt", lambda n, d: (n, b"\x01\x02" if n == "b/data/0" else d))
    with pytest.raises(CorruptFileError, match="bool storage"):
        read_checkpoint(bad)


# -- fuzzing ------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_ckpt(tmp_path_factory) -> tuple[bytes, Path]:
    sd = collections.OrderedDict(w=torch.arange(6.0).reshape(2, 3), n=torch.tensor([1, 2]), b=torch.tensor([True]))
    sd["t"] = sd["w"].t()
    path = save({"state_dict": sd, "epoch": 1, "x": [None, 1.5, "s"]}, tmp_path_factory.mktemp("fuzz") / "s.ckpt")
    return path.read_bytes(), path.with_name("mutant.ckpt")


def _only_legacy_errors(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    try:
        read_checkpoint(path)
    except LegacyError as e:
        assert "\n" not in str(e)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_mutated_files_raise_only_legacy_errors(small_ckpt, data):
    original, path = small_ckpt
    mutant = bytearray(original)
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(mutant) - 1))
        mutant[pos] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        mutant = mutant[:data.draw(st.integers(0, len(mutant)))]
    _only_legacy_errors(path, bytes(mutant))


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_mutated_data_pkl_with_valid_zip_raises_only_legacy_errors(small_ckpt, data):
    """Re-zipped with correct CRCs, so every mutation reaches the unpickler."""
    original, path = small_ckpt
    with zipfile.ZipFile(io.BytesIO(original)) as z:
        entries = {info.filename: z.read(info) for info in z.infolist()}
    pkl = bytearray(entries["s/data.pkl"])
    for _ in range(data.draw(st.integers(1, 6))):
        choice, pos = data.draw(st.integers(0, 2)), data.draw(st.integers(0, len(pkl) - 1))
        if choice == 0:
            pkl[pos] = data.draw(st.integers(0, 255))
        elif choice == 1:
            del pkl[pos:pos + data.draw(st.integers(1, 8))]
        else:
            pkl[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
        if not pkl:
            break
    entries["s/data.pkl"] = bytes(pkl)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, value in entries.items():
            z.writestr(name, value)
    _only_legacy_errors(path, buf.getvalue())


def test_pickle_module_is_never_asked_to_load(genuine, monkeypatch):
    """A belt-and-braces check of the design: reading never goes through pickle's loaders."""
    def refuse(*args, **kwargs):
        raise AssertionError("pickle loader used")
    for name in ("load", "loads", "Unpickler", "_Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    monkeypatch.setattr(torch, "load", refuse)
    ckpt, path = genuine
    assert_same(read_checkpoint(path), ckpt)


# -- the directory, overlaps and the inflate budget (issue 10, class 3) -------------------------------------------

def _eocd_fields(data: bytes) -> dict:
    """Offsets of the entry-count and directory-size fields in the end records (zip64 first, if any)."""
    out = {}
    at64 = data.rfind(b"PK\x06\x06")
    if at64 >= 0:
        out.update(count64=(at64 + 32, "<Q"), size64=(at64 + 40, "<Q"))
    at = data.rfind(b"PK\x05\x06")
    out.update(count=(at + 10, "<H"), size=(at + 12, "<I"))
    return out


def _patched(path: Path, dst: Path, **values) -> Path:
    data = bytearray(path.read_bytes())
    fields = _eocd_fields(bytes(data))
    for name, value in values.items():
        struct.pack_into(fields[name][1], data, fields[name][0], value)
    dst.write_bytes(bytes(data))
    return dst


@pytest.mark.parametrize("values, needle", [
    ({"count64": 10**7, "count": 0xFFFF}, "declares 10000000 entries"),
    ({"size64": 2**40}, "central directory is 1099511627776 bytes"),
])
def test_end_record_claims_are_checked_before_the_directory_is_parsed(genuine, tmp_path, monkeypatch, values, needle):
    _, path = genuine
    bad = _patched(path, tmp_path / "claims.ckpt", **values)
    parse = zipfile.ZipFile._RealGetContents

    def no_parse(self):
        raise AssertionError("parsed the central directory")
    monkeypatch.setattr(zipfile.ZipFile, "_RealGetContents", no_parse)
    with pytest.raises(UnsafeFileError, match=needle):
        read_checkpoint(bad)
    monkeypatch.setattr(zipfile.ZipFile, "_RealGetContents", parse)


def test_an_end_record_that_miscounts_is_refused(genuine, tmp_path):
    _, path = genuine
    with zipfile.ZipFile(path) as z:
        n = len(z.infolist())
    bad = _patched(path, tmp_path / "count.ckpt", count64=n - 1, count=n - 1)
    with pytest.raises(CorruptFileError, match=f"holds {n} entries, its end record says {n - 1}"):
        read_checkpoint(bad)


def test_many_entries_are_refused_from_the_end_record(tmp_path):
    path = torch_zip_of(tmp_path / "many.ckpt", {"a/data.pkl": EVIL_PKL, **{f"a/x{k}": b"" for k in range(
        torch_zip.MAX_ENTRIES)}})
    with pytest.raises(UnsafeFileError, match=f"declares {torch_zip.MAX_ENTRIES + 1} entries"):
        read_checkpoint(path)


def test_overlapping_entries_are_refused(genuine, tmp_path):
    """Central records that share one local header: how a small zip claims to hold many large files."""
    _, path = genuine
    with zipfile.ZipFile(path) as z:
        infos = z.infolist()
    bad = tmp_path / "overlap.ckpt"
    bad.write_bytes(path.read_bytes())
    patch_central(bad, 42, "<I", infos[1].header_offset, infos[2].filename)
    with pytest.raises(UnsafeFileError, match="overlaps another entry"):
        read_checkpoint(bad)


def test_an_entry_reaching_into_the_directory_is_refused(genuine, tmp_path):
    _, path = genuine
    with zipfile.ZipFile(path) as z:
        last = max(z.infolist(), key=lambda info: info.header_offset)
    bad = tmp_path / "long.ckpt"
    bad.write_bytes(path.read_bytes())
    for field in (20, 24):
        patch_central(bad, field, "<I", last.compress_size + 100, last.filename)
    with pytest.raises(UnsafeFileError, match="overlap the central directory"):
        read_checkpoint(bad)


def _small_entries(path: Path, n: int) -> Path:
    """n referenced storages of 1 MiB of zeros, each deflated to ~1 KB: exempt from the ratio check."""
    sd = collections.OrderedDict((f"w{k}", torch.zeros(1 << 18)) for k in range(n))
    save({"state_dict": sd}, path)
    return rezip(path, path.with_suffix(".z.ckpt"), compression=zipfile.ZIP_DEFLATED)


def test_all_reads_together_stay_within_the_budget(tmp_path):
    path = _small_entries(tmp_path / "small.ckpt", 40)
    assert len(read_checkpoint(path)["state_dict"]) == 40  # 40 MiB from a ~50 KB file, under the default cap
    with pytest.raises(UnsafeFileError, match="inflate to more than 20971520 bytes, the most a checkpoint of this"):
        read_checkpoint(path, max_bytes=20 << 20)
    assert len(read_checkpoint(path, max_bytes=41 << 20)["state_dict"]) == 40  # data.pkl counts too


def test_the_budget_is_charged_before_allocating(tmp_path, monkeypatch):
    path = _small_entries(tmp_path / "small.ckpt", 3)
    allocated = []
    monkeypatch.setattr(torch_zip, "bytearray", lambda n: allocated.append(n) or bytearray(n), raising=False)
    with pytest.raises(UnsafeFileError):
        read_checkpoint(path, max_bytes=(2 << 20) + 100)
    assert sum(allocated) <= (2 << 20) + 100


def test_the_budget_cannot_exceed_the_absolute_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(torch_zip, "MAX_TOTAL_BYTES", 3 << 20)
    path = _small_entries(tmp_path / "small.ckpt", 4)
    with pytest.raises(UnsafeFileError, match="more than 3145728 bytes"):
        read_checkpoint(path, max_bytes=1 << 40)


def test_a_deflate_stream_is_read_only_to_its_declared_size(tmp_path):
    """Declared 16 bytes, holding 32 MiB: the read stops at 16 and the CRC refuses it."""
    path = save({"w": torch.zeros(4)}, tmp_path / "w.ckpt")
    big = rezip(path, tmp_path / "big.ckpt", lambda n, d: (n, bytes(32 << 20) if n == "w/data/0" else d),
                zipfile.ZIP_DEFLATED)
    for field in (24,):
        patch_central(big, field, "<I", 16, "w/data/0")
    with pytest.raises(CorruptFileError, match="w/data/0"):
        read_checkpoint(big, max_bytes=1 << 20)
