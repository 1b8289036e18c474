"""Audio I/O in blocks: decoding equals int / 2^(bits-1) for every PCM width (the former
hand-written reader's definition) and is exact for float; block reads equal whole reads;
writes are atomic; untrusted headers are bounded; streaming a file equals the offline render."""

import os
import struct

import numpy as np
import pytest
import soundfile

import compat.stream as stream
from compat.audio import AudioWriter, TruncatedAudioWarning, open_audio, open_audio_writer, read_audio, write_audio
from compat.errors import ConfigError, CorruptFileError, FileAccessError, UnknownFormatError
from stream_models import TOL, audio, defaults, load_fixture, offline

_PCM, _FLOAT, _EXTENSIBLE = 1, 3, 0xFFFE


def wav_bytes(tag, bits, body, *, channels=1, rate=48_000, extensible=False, data_size=None, extra=b""):
    """A WAV file written by hand, so the test does not depend on the reader's library."""
    block = channels * bits // 8
    if extensible:
        fmt = struct.pack("<HHIIHH", _EXTENSIBLE, channels, rate, rate * block, block, bits)
        fmt += struct.pack("<HHI", 22, bits, 4) + struct.pack("<H", tag) + bytes.fromhex("000000001000800000aa00389b71")
    else:
        fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    size = len(body) if data_size is None else data_size
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + extra + b"data" + struct.pack("<I", size) + body
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def pcm(bits, n=50_000, seed=0):
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    ints = np.concatenate([[lo, hi, 0, -1, 1], np.random.default_rng(seed).integers(lo, hi + 1, n)]).astype(np.int64)
    if bits == 24:
        body = np.stack([(ints >> s) & 0xFF for s in (0, 8, 16)], 1).astype(np.uint8).tobytes()
    else:
        body = ints.astype({8: "u1", 16: "<i2", 32: "<i4"}[bits]).tobytes() if bits != 8 else (ints + 128).astype("u1").tobytes()
    # the definition: int / 2^(bits-1), computed exactly in float64, rounded once to float32
    return body, (ints / float(1 << (bits - 1))).astype(np.float32)


@pytest.mark.parametrize("extensible", [False, True])
@pytest.mark.parametrize("bits", [16, 24, 32])
def test_pcm_decodes_to_int_over_full_scale(tmp_path, bits, extensible):
    body, expected = pcm(bits)
    path = tmp_path / "x.wav"
    path.write_bytes(wav_bytes(_PCM, bits, body, extensible=extensible, rate=44_100))
    got = read_audio(path)
    assert got.sample_rate == 44_100 and got.samples.dtype == np.float32
    assert np.array_equal(got.samples, expected)


@pytest.mark.parametrize("dtype", ["<f4", "<f8"])
def test_float_wavs_decode_exactly(tmp_path, dtype):
    rng = np.random.default_rng(1)
    x = np.concatenate([[1.5, -2.0, 1e-40, 0.0, -0.0, 3e38], rng.normal(size=5000)]).astype(dtype)
    path = tmp_path / "x.wav"
    path.write_bytes(wav_bytes(_FLOAT, 8 * x.itemsize, x.tobytes()))
    assert np.array_equal(read_audio(path).samples, x.astype(np.float32))  # values above 1 are kept


def test_more_encodings_and_formats_are_a_bonus(tmp_path):
    body, expected = pcm(8)
    (tmp_path / "u8.wav").write_bytes(wav_bytes(_PCM, 8, body))
    assert np.array_equal(read_audio(tmp_path / "u8.wav").samples, expected)
    x = (np.arange(-30000, 30000, 7, dtype=np.int16))
    for suffix, fmt in ((".flac", "FLAC"), (".aiff", "AIFF")):
        soundfile.write(tmp_path / f"x{suffix}", x, 48_000, subtype="PCM_16", format=fmt)
        got = read_audio(tmp_path / f"x{suffix}")
        assert got.sample_rate == 48_000 and np.array_equal(got.samples, (x / 32768.0).astype(np.float32))


@pytest.mark.parametrize("size", [1, 1000, 4096, 70_000])
def test_blocks_equal_the_whole(tmp_path, size):
    body, expected = pcm(24, 60_000)
    (tmp_path / "x.wav").write_bytes(wav_bytes(_PCM, 24, body))
    np.save(tmp_path / "x.npy", expected.astype(">f8"))  # another byte order and width
    for name in ("x.wav", "x.npy"):
        with open_audio(tmp_path / name) as reader:
            assert reader.frames == expected.size
            blocks = list(reader.blocks(size))
        assert all(b.size == size for b in blocks[:-1]) and all(b.dtype == np.float32 for b in blocks)
        assert np.array_equal(np.concatenate(blocks), expected)


def test_untrusted_headers(tmp_path):
    body, expected = pcm(16, 100)
    cases = {
        "stereo.wav": (wav_bytes(_PCM, 16, body, channels=2), ConfigError, "2 channels; models take mono audio"),
        "junk.wav": (b"hello world" * 10, CorruptFileError, "not a WAV file"),
        "empty.wav": (b"", CorruptFileError, "not a WAV file"),
    }
    for name, (data, error, message) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(error, match=message):
            read_audio(tmp_path / name)
    # a data chunk claiming 4 GB in a small file: only what is there is read, nothing huge allocated
    (tmp_path / "claims.wav").write_bytes(wav_bytes(_PCM, 16, body, data_size=0xFFFFFFF0))
    with pytest.warns(TruncatedAudioWarning, match=f"claims {0xFFFFFFF0 // 2} samples, the file holds {expected.size}"):
        with open_audio(tmp_path / "claims.wav") as reader:
            assert reader.frames == expected.size
        assert np.array_equal(read_audio(tmp_path / "claims.wav").samples, expected)
    # chunks before the data, an odd trailing byte, an empty file
    (tmp_path / "list.wav").write_bytes(wav_bytes(_PCM, 16, body + b"\x01", extra=b"LIST\x04\x00\x00\x00INFO"))
    assert np.array_equal(read_audio(tmp_path / "list.wav").samples, expected)
    (tmp_path / "none.wav").write_bytes(wav_bytes(_PCM, 16, b""))
    assert read_audio(tmp_path / "none.wav").samples.shape == (0,)


def test_npy_input(tmp_path):
    np.save(tmp_path / "ok.npy", np.arange(5, dtype=np.float16))
    assert read_audio(tmp_path / "ok.npy").samples.tolist() == [0, 1, 2, 3, 4]
    assert read_audio(tmp_path / "ok.npy").sample_rate is None
    np.save(tmp_path / "int.npy", np.arange(5))
    np.save(tmp_path / "2d.npy", np.zeros((2, 2)))
    np.save(tmp_path / "obj.npy", np.array([1, "a"], dtype=object), allow_pickle=True)
    full = (tmp_path / "ok.npy").read_bytes()
    (tmp_path / "short.npy").write_bytes(full[:-2])
    (tmp_path / "junk.npy").write_bytes(b"not numpy at all")
    for name, error, message in [("int.npy", ConfigError, "1-D float"), ("2d.npy", ConfigError, "1-D float"),
                                 ("obj.npy", ConfigError, "1-D float"), ("short.npy", CorruptFileError, "truncated"),
                                 ("junk.npy", CorruptFileError, "not a plain .npy")]:
        with pytest.raises(error, match=message):
            read_audio(tmp_path / name)


def test_paths(tmp_path):
    with pytest.raises(UnknownFormatError, match=r"\.wav or \.npy"):
        read_audio(tmp_path / "x.mp4")
    with pytest.raises(FileAccessError, match="cannot read"):
        read_audio(tmp_path / "missing.wav")
    with pytest.raises(UnknownFormatError):
        write_audio(tmp_path / "x.flac", np.zeros(3, np.float32))


def test_write_audio_is_unchanged(tmp_path):
    x = np.random.default_rng(2).normal(size=1001).astype(np.float32)
    path = write_audio(tmp_path / "y.wav", x, 44_100)
    # the 44-byte float WAV the former writer produced, byte for byte (no PEAK chunk, no date)
    fmt = struct.pack("<HHIIHH", _FLOAT, 1, 44_100, 44_100 * 4, 4, 32)
    expected = b"RIFF" + struct.pack("<I", 36 + 4004) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
    expected += b"data" + struct.pack("<I", 4004) + x.astype("<f4").tobytes()
    assert path.read_bytes() == expected
    assert np.array_equal(read_audio(path).samples, x)
    write_audio(tmp_path / "y.npy", x)
    assert np.array_equal(np.load(tmp_path / "y.npy"), x)
    with pytest.raises(ConfigError, match="mono"):
        write_audio(tmp_path / "z.wav", np.zeros((2, 3)))


@pytest.mark.parametrize("suffix", [".wav", ".npy"])
def test_streamed_writes_are_atomic(tmp_path, suffix):
    out = tmp_path / f"out{suffix}"
    with open_audio_writer(out, 48_000) as writer:
        for i in range(5):
            writer.write(np.full(1000, i, np.float32))
            assert not out.exists()  # only the temporary, beside it
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]
    assert read_audio(out).samples.tolist() == sum(([float(i)] * 1000 for i in range(5)), [])
    for failure in (RuntimeError, KeyboardInterrupt):
        out.write_bytes(b"the user's file")
        with pytest.raises(failure):
            with open_audio_writer(out, 48_000) as writer:
                writer.write(np.zeros(10, np.float32))
                raise failure()
        assert out.read_bytes() == b"the user's file"  # untouched, and no temporary left
        assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]
    with pytest.raises(FileAccessError, match="--overwrite"):
        AudioWriter(out, 48_000, overwrite=False)
    assert os.stat(out).st_mode & 0o777 == 0o666 & ~_umask()


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("which", ["0.7.4/catlstm/export/model.nam", "0.5.1/catwavenet/ckpt", "0.4.0/hyperconvnet_nobn/export"])
@pytest.mark.parametrize("suffix", [".wav", ".npy"])
def test_stream_file_equals_the_offline_render(tmp_path, which, suffix):
    legacy = load_fixture(which)
    x = audio(3, 30_000)
    write_audio(tmp_path / f"in{suffix}", x, 48_000)
    seen = []
    result = stream.stream_file(stream.open(legacy, 48_000), tmp_path / f"in{suffix}", tmp_path / "out.wav", block=1000,
                                progress=lambda done, total: seen.append((done, total)))
    assert result.samples == 30_000 and result.sample_rate == 48_000
    assert seen == [(i, 30_000) for i in range(1000, 30_001, 1000)]
    y = read_audio(tmp_path / "out.wav").samples
    assert np.abs(y - offline(legacy, defaults(legacy), x)).max() <= TOL


def test_stream_file_with_automation_and_errors(tmp_path):
    legacy = load_fixture("0.7.4/catlstm/export/model.nam")
    x = audio(4, 5000)
    write_audio(tmp_path / "in.wav", x, 1000)
    automation = stream.automation_from_args(["tone=0:0,5:1"], None, legacy.knobs)
    stream.stream_file(stream.open(legacy, 1000), tmp_path / "in.wav", tmp_path / "out.npy", block=333, automation=automation)
    k = np.stack([np.zeros(5000), np.full(5000, 0.3), np.arange(5000) / 5000], 1).astype(np.float32)
    assert np.abs(np.load(tmp_path / "out.npy") - stream.forward_augmented(legacy, x, k).numpy()).max() <= TOL
    # an empty input makes an empty output
    write_audio(tmp_path / "empty.wav", np.zeros(0, np.float32))
    assert stream.stream_file(stream.open(legacy), tmp_path / "empty.wav", tmp_path / "e.wav").samples == 0
    assert read_audio(tmp_path / "e.wav").samples.shape == (0,)
    # a failure mid-stream leaves nothing behind
    def boom(done, total):
        if done > 2000:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        stream.stream_file(stream.open(legacy), tmp_path / "in.wav", tmp_path / "partial.wav", block=1000, progress=boom)
    assert not any(p.name.startswith(".partial") or p.name == "partial.wav" for p in tmp_path.iterdir())
    with pytest.raises(ConfigError, match="block size"):
        stream.stream_file(stream.open(legacy), tmp_path / "in.wav", tmp_path / "o.wav", block=0)


def test_a_cut_off_wav_is_read_with_a_warning(tmp_path):
    """A copy or bounce cut short (its data chunk claims more than the file holds) is read as
    far as it goes, and says so; a complete file, and one whose recorder never finished the
    header (data size 0 or 0xFFFFFFFF), are read without a word."""
    import warnings

    body, expected = pcm(16, 100)
    whole = wav_bytes(_PCM, 16, body)
    (tmp_path / "cut.wav").write_bytes(whole[:-60])  # 30 samples missing
    held = expected.size - 30
    with pytest.warns(TruncatedAudioWarning, match=f"cut.wav is cut short: its header claims {expected.size} samples, "
                                                   f"the file holds {held}"):
        assert np.array_equal(read_audio(tmp_path / "cut.wav").samples, expected[:held])
    (tmp_path / "whole.wav").write_bytes(whole)
    (tmp_path / "open.wav").write_bytes(wav_bytes(_PCM, 16, body, data_size=0xFFFFFFFF))
    (tmp_path / "zero.wav").write_bytes(wav_bytes(_PCM, 16, body, data_size=0))
    for name in ["whole.wav", "open.wav", "zero.wav"]:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with open_audio(tmp_path / name) as reader:
                assert reader.read(1000).size in (0, expected.size), name
