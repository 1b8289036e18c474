"""Mono audio in and out, whole or in blocks: `.wav` (and FLAC/AIFF) via soundfile, `.npy`.

Reading: WAV of any encoding libsndfile decodes (PCM 8/16/24/32-bit, float, double,
WAVE_FORMAT_EXTENSIBLE, μ-law, A-law, …), plus FLAC and AIFF as a bonus, through the
`soundfile` library (which bundles libsndfile); PCM decodes to int / 2^(bits-1) exactly as
our former hand-written reader did (tests/test_audio_stream.py checks every encoding).
`.npy`: a 1-D float array, read through its header and plain file reads (a memory map would
count the pages it touches towards peak RSS, so streaming would not be flat).

Writing: 32-bit float WAV (so no bit of a model's output is lost) or float32 `.npy`, always
atomically — into a temporary file beside the destination, renamed into place when complete;
on any error or interrupt the temporary is removed and nothing appears. The WAV header is
written here (44 bytes) rather than by libsndfile, whose float WAVs carry a PEAK chunk with a
wall-clock timestamp: renders would then differ byte-wise from run to run.

libsndfile reads WAV/FLAC/AIFF through the file's descriptor (no Python code runs inside
a read), so an interrupt always surfaces as a KeyboardInterrupt between blocks.

Non-finite samples: a float file (or .npy) can hold NaN or infinity, which a model turns
into NaN from that sample on (an LSTM's state never recovers). `check_finite` refuses a
block holding one, naming the first; `find_nonfinite` scans a file for it before a render
starts (only float encodings are read: integer ones cannot hold it).

Untrusted files: the sample count a header claims is checked against the file's size before
anything is allocated from it; multi-channel audio is refused.
"""

from __future__ import annotations

import os
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator, Optional

import numpy as np

from .atomic import _umask, forget, scratch_file
from .errors import ConfigError, CorruptFileError, FileAccessError, UnknownFormatError

SOUNDFILE_SUFFIXES = (".wav", ".wave", ".flac", ".aif", ".aiff", ".aifc")
READ_SUFFIXES = (".npy",) + SOUNDFILE_SUFFIXES
WRITE_SUFFIXES = (".wav", ".npy")

_FLOAT = 3
_WAV_HEADER = 44
_MAX_WAV_DATA = 0xFFFFFFFF - 36  # RIFF sizes are 32-bit
_MAX_SAMPLES = 1 << 31
# Bytes per sample of the uncompressed encodings: their files must hold what they claim.
_WIDTH = {"PCM_S8": 1, "PCM_U8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4, "DOUBLE": 8, "ULAW": 1, "ALAW": 1}
# Encodings whose decoded samples are always finite.
_INTEGER = ("PCM_S8", "PCM_U8", "PCM_16", "PCM_24", "PCM_32", "ULAW", "ALAW")
_UNCOMPRESSED = ("WAV", "WAVEX", "AIFF", "RF64", "W64")
# Compressed encodings can claim any length; reading them whole stops at this many samples
# (about 93 minutes at 48 kHz; stream longer takes).
MAX_WHOLE_COMPRESSED = 1 << 28
_NPY_HEADER = 128  # fixed size of the .npy headers we write, so the final shape fits in place


@dataclass
class Audio:
    samples: np.ndarray  # float32, (L,)
    sample_rate: Optional[int]  # None for .npy


def _suffix(path: Path, allowed, verb: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in allowed:
        extra = " (FLAC and AIFF also read)" if verb == "read" else ""
        raise UnknownFormatError(f"{path}: audio must be .wav or .npy{extra}")
    return suffix


# --- reading ---


class AudioReader:
    """Blocks of float32 samples from a mono file: `with open_audio(p) as r: for b in r.blocks(4096)`."""

    def __init__(self, path: Path, file: BinaryIO, sample_rate: Optional[int], frames: int):
        self.path = path
        self.sample_rate = sample_rate  # None for .npy
        self.frames = frames  # what the header says (checked against the file size where it can be)
        self._file = file

    # whether the encoding can hold NaN or infinity (float); integer PCM cannot
    may_hold_nonfinite = True

    def read(self, n: int) -> np.ndarray:
        """Up to n samples (fewer only at the end)."""
        raise NotImplementedError

    def blocks(self, size: int) -> Iterator[np.ndarray]:
        if size < 1:
            raise ConfigError(f"block size must be at least 1, got {size}")
        while True:
            block = self.read(size)
            if block.size == 0:
                return
            yield block

    def read_all(self, limit: Optional[int] = None) -> np.ndarray:
        pieces, total = [], 0
        for block in self.blocks(1 << 20):
            total += block.size
            if limit is not None and total > limit:
                raise ConfigError(f"{self.path} decodes to more than {limit} samples; stream it instead of reading it whole")
            pieces.append(block)
        return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "AudioReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _NpyReader(AudioReader):
    def __init__(self, path: Path, file: BinaryIO):
        try:
            version = np.lib.format.read_magic(file)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(file)
            elif version in ((2, 0), (3, 0)):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(file)
            else:
                raise ValueError(f"unknown .npy version {version}")
        except (ValueError, SyntaxError, EOFError) as e:
            raise CorruptFileError(f"{path} is not a plain .npy array: {e}") from None
        if len(shape) != 1 or dtype.kind != "f":
            raise ConfigError(f"{path}: expected a 1-D float array, got {dtype} {shape}")
        self._dtype = dtype
        available = (os.fstat(file.fileno()).st_size - file.tell()) // dtype.itemsize
        if shape[0] > available:
            raise CorruptFileError(f"{path} is truncated: its header claims {shape[0]} samples, the file holds {available}")
        self._left = shape[0]
        super().__init__(path, file, None, shape[0])

    def read(self, n: int) -> np.ndarray:
        n = min(n, self._left)
        data = self._file.read(n * self._dtype.itemsize)
        if len(data) < n * self._dtype.itemsize:
            raise CorruptFileError(f"{self.path} ended early")
        self._left -= n
        return np.frombuffer(data, dtype=self._dtype).astype(np.float32)


class _SoundFileReader(AudioReader):
    def __init__(self, path: Path, file: BinaryIO):
        import soundfile

        try:
            # libsndfile reads the descriptor itself. Handing it the Python file object
            # instead (soundfile's virtual I/O) runs Python callbacks inside every read, and
            # a Ctrl-C landing in one is swallowed by cffi: the read comes back short, as a
            # decoding error or a silent end of file (a truncated output, exit 0).
            self._sf = soundfile.SoundFile(file.fileno(), closefd=False)
        except (soundfile.LibsndfileError, RuntimeError, TypeError) as e:
            detail = getattr(e, "error_string", "") or str(e)
            kind = "WAV" if path.suffix.lower() in (".wav", ".wave") else path.suffix.lstrip(".").upper()
            raise CorruptFileError(f"{path} is not a {kind} file libsndfile can read: {detail}") from None
        if self._sf.channels != 1:
            channels = self._sf.channels
            self._sf.close()
            raise ConfigError(f"{path}: {channels} channels; models take mono audio (mix it down to mono or pick one channel first)")
        # FLAC reports a PCM subtype too: only uncompressed containers are bounded by size
        self.compressed = self._sf.format not in _UNCOMPRESSED or self._sf.subtype not in _WIDTH
        self.may_hold_nonfinite = self._sf.subtype not in _INTEGER
        frames = self._sf.frames
        if not self.compressed and frames * _WIDTH[self._sf.subtype] > os.fstat(file.fileno()).st_size:
            self._sf.close()
            raise CorruptFileError(f"{path}: its header claims {frames} samples, more than the file can hold")
        if self._sf.format in ("WAV", "WAVEX") and not self.compressed:
            claimed = _claimed_wav_frames(file, _WIDTH[self._sf.subtype])
            if claimed is not None and claimed > frames:
                warnings.warn(f"{path} is cut short: its header claims {claimed} samples, the file holds {frames}; "
                              f"only those are used", TruncatedAudioWarning, stacklevel=3)
        super().__init__(path, file, int(self._sf.samplerate), frames)

    def read(self, n: int) -> np.ndarray:
        import soundfile

        try:
            return self._sf.read(frames=n, dtype="float32")
        except (soundfile.LibsndfileError, RuntimeError) as e:
            raise CorruptFileError(f"{self.path}: cannot decode: {getattr(e, 'error_string', '') or e}") from None

    def close(self) -> None:
        self._sf.close()
        super().close()


class TruncatedAudioWarning(UserWarning):
    """A WAV's data chunk claims more samples than the file holds (a cut-off copy or bounce):
    libsndfile reads what is there, and the output is that much shorter."""


# Data sizes a recorder writes while a file is still growing (finalised at the end): such a
# file is not cut short, its header was never finished.
_UNFINALIZED_BYTES = (0, 0xFFFFFFFF)


def _claimed_wav_frames(file: BinaryIO, width: int) -> Optional[int]:
    """The sample count a RIFF WAVE file's data chunk claims (mono), or None when it has no
    readable one. Reads chunk headers only, at most 64 of them."""
    fd = file.fileno()
    if os.pread(fd, 12, 0)[8:12] != b"WAVE":
        return None
    offset = 12
    for _ in range(64):
        head = os.pread(fd, 8, offset)
        if len(head) < 8:
            return None
        size = struct.unpack("<I", head[4:])[0]
        if head[:4] == b"data":
            return None if size in _UNFINALIZED_BYTES else size // width
        offset += 8 + size + (size & 1)
    return None


def open_audio(path) -> AudioReader:
    """A block reader for mono `.wav`/`.flac`/`.aiff` (sample_rate set) or `.npy` (None)."""
    path = Path(path)
    suffix = _suffix(path, READ_SUFFIXES, "read")
    try:
        file = open(path, "rb")
    except OSError as e:
        raise FileAccessError(f"cannot read {path}: {e.strerror or e}") from None
    try:
        if suffix == ".npy":
            return _NpyReader(path, file)
        return _SoundFileReader(path, file)
    except BaseException:
        file.close()
        raise


def read_audio(path) -> Audio:
    """The whole file, float32."""
    with open_audio(path) as reader:
        limit = MAX_WHOLE_COMPRESSED if getattr(reader, "compressed", False) else None
        try:
            samples = reader.read_all(limit)
        except OSError as e:
            raise FileAccessError(f"cannot read {path}: {e.strerror or e}") from None
        return Audio(samples, reader.sample_rate)


def check_finite(samples: np.ndarray, *, start: int = 0, sample_rate: Optional[float] = None, source: str = "the input") -> None:
    """ConfigError naming the first NaN or infinite sample of `samples` (sample `start` of
    `source`'s signal); nothing when all are finite."""
    finite = np.isfinite(samples)
    if finite.all():
        return
    i = int(np.argmin(finite))
    index = start + i
    when = f" (at {index / sample_rate:.6g} s)" if sample_rate else ""
    value = "NaN" if np.isnan(samples[i]) else ("+inf" if samples[i] > 0 else "-inf")
    raise ConfigError(f"{source}: sample {index}{when} is {value}; a model would output NaN from there on "
                      "(repair or replace the audio)")


def find_nonfinite(path, *, source: Optional[str] = None, sample_rate: Optional[float] = None, block: int = 1 << 20) -> None:
    """Scan a whole audio file and raise check_finite's error at its first NaN or infinite
    sample; integer encodings, which cannot hold one, are not read. `sample_rate` places
    it in time when the file has none (.npy)."""
    with open_audio(path) as reader:
        if not reader.may_hold_nonfinite:
            return
        rate = reader.sample_rate or sample_rate
        done = 0
        for x in reader.blocks(block):
            check_finite(x, start=done, sample_rate=rate, source=source or str(path))
            done += x.size


# --- writing ---


class AudioWriter:
    """Writes float32 blocks to a `.wav` (32-bit float) or `.npy` file, atomically:
    `with open_audio_writer(p, 48000) as w: w.write(block)` — the file appears only when
    the block exits without an error."""

    def __init__(self, path, sample_rate: int = 48_000, *, overwrite: bool = True):
        self.path = Path(path)
        self._wav = _suffix(self.path, WRITE_SUFFIXES, "write") == ".wav"
        rate = float(sample_rate) if isinstance(sample_rate, (int, float, np.integer, np.floating)) else float("nan")
        if self._wav and not (rate.is_integer() and 0 < rate < 1 << 32):
            raise ConfigError(f"{self.path}: a WAV sample rate must be a whole number of Hz, got {sample_rate!r}")
        if not overwrite and self.path.exists():
            raise FileAccessError(f"{self.path} exists; pass --overwrite to replace it")
        self.sample_rate = int(rate) if rate.is_integer() else 0
        self.frames = 0
        self._file = None
        try:  # the folder must exist: nothing is created above an output (compat/outputs.py)
            fd, self._tmp = scratch_file(self.path.parent, f".{self.path.name}.")
        except OSError as e:
            raise FileAccessError(f"cannot write {self.path}: {e.strerror or e}") from None
        try:
            self._file = os.fdopen(fd, "w+b")
            os.chmod(self._tmp, 0o666 & ~_umask())
            self._file.write(self._header())
        except BaseException:
            self.abort()
            raise

    def _header(self) -> bytes:
        if self._wav:
            body = self.frames * 4
            fmt = struct.pack("<HHIIHH", _FLOAT, 1, self.sample_rate, self.sample_rate * 4, 4, 32)
            return b"RIFF" + struct.pack("<I", 36 + body) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", body)
        text = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d,), }" % self.frames
        text = text.ljust(_NPY_HEADER - 10 - 1) + "\n"
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin1")

    def write(self, samples) -> None:
        block = np.ascontiguousarray(samples, dtype=np.float32)
        if block.ndim != 1:
            raise ConfigError(f"{self.path}: can only write mono audio")
        limit = _MAX_WAV_DATA // 4 if self._wav else _MAX_SAMPLES
        if self.frames + block.size > limit:
            raise ConfigError(f"{self.path}: more than {limit} samples do not fit a {'WAV' if self._wav else '.npy'} file here"
                              + ("; write .npy instead" if self._wav else ""))
        self._file.write(block.astype("<f4", copy=False).tobytes())
        self.frames += block.size

    def commit(self) -> Path:
        """Finish the header, flush to disk and move the file into place."""
        try:
            self._file.seek(0)
            self._file.write(self._header())
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            os.replace(self._tmp, self.path)
            forget(self._tmp)
        except BaseException as e:
            self.abort()
            if isinstance(e, OSError):
                raise FileAccessError(f"cannot write {self.path}: {e.strerror or e}") from None
            raise
        return self.path

    def abort(self) -> None:
        """Drop everything written; the destination is untouched."""
        try:
            if self._file is not None:
                self._file.close()
        finally:
            self._tmp.unlink(missing_ok=True)
            forget(self._tmp)

    def __enter__(self) -> "AudioWriter":
        return self

    def __exit__(self, kind, value, tb) -> None:
        if kind is None:
            self.commit()
        else:
            self.abort()


def open_audio_writer(path, sample_rate: int = 48_000, *, overwrite: bool = True) -> AudioWriter:
    return AudioWriter(path, sample_rate, overwrite=overwrite)


def write_audio(path, samples: np.ndarray, sample_rate: int = 48_000) -> Path:
    """Write float samples to .npy or 32-bit float .wav, atomically."""
    samples = np.asarray(samples)
    if samples.ndim != 1 or samples.size >= _MAX_SAMPLES:
        raise ConfigError(f"{path}: can only write mono audio")
    with open_audio_writer(path, sample_rate) as writer:
        writer.write(samples)
    return writer.path
