"""Mono audio in and out: `.npy` (float32, exact) and `.wav` (PCM 16/24/32-bit or float).

Rendered output goes to 32-bit float WAV so no bit of the model's output is lost.
Writes are atomic (compat.atomic).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from .atomic import atomic_write_bytes
from .errors import ConfigError, CorruptFileError, FileAccessError, UnknownFormatError

_PCM, _FLOAT, _EXTENSIBLE = 1, 3, 0xFFFE
_MAX_SAMPLES = 1 << 31


@dataclass
class Audio:
    samples: np.ndarray  # float32, (L,)
    sample_rate: Optional[int]  # None for .npy


def read_audio(path) -> Audio:
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            return Audio(_read_npy(path), None)
        if suffix == ".wav":
            return _read_wav(path.read_bytes(), path)
    except OSError as e:
        raise FileAccessError(f"cannot read {path}: {e.strerror or e}") from None
    raise UnknownFormatError(f"{path}: audio must be .wav or .npy")


def _read_npy(path: Path) -> np.ndarray:
    try:
        x = np.load(path, allow_pickle=False)
    except ValueError as e:
        raise CorruptFileError(f"{path} is not a plain .npy array: {e}") from None
    if x.ndim != 1 or x.dtype.kind != "f":
        raise ConfigError(f"{path}: expected a 1-D float array, got {x.dtype} {x.shape}")
    return x.astype(np.float32, copy=False)


def _chunks(data: bytes, path: Path):
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise CorruptFileError(f"{path} is not a RIFF/WAVE file")
    i = 12
    while i + 8 <= len(data):
        cid, size = data[i : i + 4], struct.unpack("<I", data[i + 4 : i + 8])[0]
        body = data[i + 8 : i + 8 + size]
        if len(body) < size and cid != b"data":
            raise CorruptFileError(f"{path}: truncated {cid!r} chunk")
        yield cid, body
        i += 8 + size + (size & 1)


def _read_wav(data: bytes, path: Path) -> Audio:
    fmt = body = None
    for cid, chunk in _chunks(data, path):
        if cid == b"fmt ":
            fmt = chunk
        elif cid == b"data":
            body = chunk
    if fmt is None or body is None or len(fmt) < 16:
        raise CorruptFileError(f"{path}: WAV without fmt or data chunk")
    tag, channels, rate, _, block, bits = struct.unpack("<HHIIHH", fmt[:16])
    if tag == _EXTENSIBLE and len(fmt) >= 26:
        tag = struct.unpack("<H", fmt[24:26])[0]
    if channels != 1:
        raise ConfigError(f"{path}: {channels} channels; models take mono audio")
    width = bits // 8
    if block != width or width == 0:
        raise CorruptFileError(f"{path}: inconsistent WAV block size")
    body = body[: len(body) - len(body) % width]
    if tag == _FLOAT and width in (4, 8):
        x = np.frombuffer(body, dtype="<f4" if width == 4 else "<f8")
    elif tag == _PCM and width in (2, 3, 4):
        x = _pcm_to_float(body, width)
    else:
        raise UnknownFormatError(f"{path}: unsupported WAV encoding (format {tag}, {bits} bits)")
    return Audio(x.astype(np.float32), int(rate))


def _pcm_to_float(body: bytes, width: int) -> np.ndarray:
    if width == 3:
        raw = np.frombuffer(body, dtype=np.uint8).reshape(-1, 3)
        ints = (raw[:, 0].astype(np.int32) | (raw[:, 1].astype(np.int32) << 8) | (raw[:, 2].astype(np.int32) << 16))
        ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)
    else:
        ints = np.frombuffer(body, dtype="<i2" if width == 2 else "<i4").astype(np.int64)
    return ints / float(1 << (8 * width - 1))


def write_audio(path, samples: np.ndarray, sample_rate: int = 48_000) -> Path:
    """Write float samples to .npy or 32-bit float .wav, atomically."""
    path = Path(path)
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".wav"):
        raise UnknownFormatError(f"{path}: output must be .wav or .npy")
    if samples.ndim != 1 or samples.size >= _MAX_SAMPLES:
        raise ConfigError(f"{path}: can only write mono audio")
    payload = _npy_bytes(samples) if suffix == ".npy" else _float_wav_bytes(samples, sample_rate)
    atomic_write_bytes(path, payload)
    return path


def _npy_bytes(samples: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, samples)
    return buffer.getvalue()


def _float_wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    body = samples.astype("<f4").tobytes()
    fmt = struct.pack("<HHIIHH", _FLOAT, 1, int(rate), int(rate) * 4, 4, 32)
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(body)) + body
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks
