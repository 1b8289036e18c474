"""Training data of nam/data.py, as far as the parametric API needs it.

Audio comes from mono WAV files (read with wavio) and is served as float32 tensors.
`Dataset` cuts an (x, y) pair into training items, `ParametricDataset` adds the knob
values of the recording, `ConcatDataset` chains several of them, and `init_dataset`
builds the train/validation split of a data config::

    {"train": {...} | [{...}, ...], "validation": ..., "common": {...},
     "parametric": true}            # 0.3.0 and later
     "type": "parametric"           # 0.7.4 and later ("parametric" then warns)

A parametric split config lists the recordings of one file pair under "slices"::

    {"x_path": "in.wav", "y_path": "out.wav", "nx": 1, "ny": 8192, "delay": 0,
     "slices": [{"start": 0, "stop": 96000, "params": {"gain": 0.5, "bright": true},
                 "delay": 1.5},  # per-slice "delay": 0.5.0 and later
                ...]}

What changed between releases is read from `current_release()` when an object is built
or a config is parsed (see `nam_legacy.releases`, fields `data_*`). The result of the
parametric path per release:

* 0.3.0 … 0.7.4: only the "slices" form loads; without it, `TypeError` (see
  `ParametricDataset.parse_config`).
* ae86979: no parametric config loads at all; `Dataset.parse_config` hands every key it
  does not use on to the constructor, "slices" included, which raises `TypeError`.

Non-integer delays are interpolated with scipy, exactly as upstream did; scipy is only
imported when such a delay is requested.

Not reproduced: progress bars (tqdm), message texts, the positional order of
`Dataset.__init__` arguments after `stop` before ae86979 (docs/quirks.md), the 0.5.1-0.5.2 mix-up of
expected/actual shapes inside `AudioShapeMismatchError`, the pre-0.6.0 `np_to_wav`
defaults (only usable with wavio <= 0.0.4), and the `AssertionError` (instead of
`RuntimeError`) of 0.4.0-0.5.2 for a `ConcatDataset` without members.
"""

import abc
import logging
from copy import deepcopy
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import wavio
from torch.utils.data import Dataset as _Dataset

from ._core import InitializableFromConfig
from .releases import ReleaseProfile, current_release

logger = logging.getLogger(__name__)

REQUIRED_RATE = 48_000
_REQUIRED_CHANNELS = 1
_REQUIRED_SAMPWIDTH = 3  # bytes, i.e. 24-bit; enforced until 4c71ff4 (0.7.4)
_DEFAULT_REQUIRE_INPUT_PRE_SILENCE = 0.4  # seconds


class _ReleaseDefault:
    """Default of an argument whose default, or very existence, depends on the release."""

    def __repr__(self) -> str:
        return "<release default>"


_RELEASE_DEFAULT = _ReleaseDefault()


def _or(value, default):
    return default if value is _RELEASE_DEFAULT else value


class Split(Enum):
    TRAIN = "train"
    VALIDATION = "validation"


@dataclass
class WavInfo:
    sampwidth: int
    rate: int


class AudioShapeMismatchError(ValueError):
    """Two audio files that must have the same (samples, channels) shape do not."""

    def __init__(self, shape_expected, shape_actual, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._shape_expected = shape_expected
        self._shape_actual = shape_actual

    @property
    def shape_expected(self):
        return self._shape_expected

    @property
    def shape_actual(self):
        return self._shape_actual


class XYError(ValueError):
    """The x and y arrays given to a data set are unusable."""


class StartStopError(ValueError):
    """The start/stop trim points are unusable."""


class StartError(StartStopError):
    pass


class StopError(StartStopError):
    pass


# --- WAV files -------------------------------------------------------------------------


def wav_to_np(
    filename: Union[str, Path],
    rate: Optional[int] = _RELEASE_DEFAULT,
    require_match: Optional[Union[str, Path]] = None,
    required_shape: Optional[Tuple[int, ...]] = None,
    required_wavinfo: Optional[WavInfo] = None,
    preroll: Optional[int] = None,
    info: bool = False,
) -> Union[np.ndarray, Tuple[np.ndarray, WavInfo]]:
    """Read a mono WAV file as float64 samples in [-1, 1).

    :param rate: Expected sample rate (`RuntimeError` otherwise); None accepts any.
        Added in 0.5.1 as the second parameter (before, 48 kHz was asserted and passing
        `rate` is a `TypeError`); defaults to 48000 until 0.7.4 and to None at ae86979.
    :param require_match: Another file whose shape and rate this one must have.
    :param required_shape: Expected `(samples, channels)` after dropping the preroll.
    :param required_wavinfo: Expected rate (only the rate is compared).
    :param preroll: Number of leading samples to drop.
    :param info: Also return the file's `WavInfo`.
    """
    release = current_release()
    wav = wavio.read(str(filename))
    assert wav.data.shape[1] == _REQUIRED_CHANNELS, "Mono"
    if not release.data_any_sampwidth:
        assert wav.sampwidth == _REQUIRED_SAMPWIDTH, "24-bit"
    if release.data_wav_rate_arg:
        rate = _or(rate, None if release.data_parse_config_forwards_rest else REQUIRED_RATE)
        if rate is not None and wav.rate != rate:
            raise RuntimeError(f"Expected a sample rate of {rate} Hz, but {filename} has {wav.rate} Hz")
    else:
        if rate is not _RELEASE_DEFAULT:
            raise TypeError("wav_to_np() got an unexpected keyword argument 'rate'")
        assert wav.rate == REQUIRED_RATE, "48 kHz"

    if require_match is not None:
        assert required_shape is None
        assert required_wavinfo is None
        other = wavio.read(str(require_match))
        required_shape = other.data.shape
        required_wavinfo = WavInfo(other.sampwidth, other.rate)
    if required_wavinfo is not None and wav.rate != required_wavinfo.rate:
        raise ValueError(f"Mismatched rates {wav.rate} versus {required_wavinfo.rate}")
    # Full scale of a signed integer of this width; float64 keeps every sample exact.
    samples = wav.data[preroll:] / (2.0 ** (8 * wav.sampwidth - 1))
    if required_shape is not None and samples.shape != required_shape:
        message = f"Expected shape {required_shape}, got {samples.shape}"
        if release.data_wav_rate_arg:
            raise AudioShapeMismatchError(required_shape, samples.shape, message)
        raise ValueError(message)
    mono = samples[:, 0]
    return (mono, WavInfo(wav.sampwidth, wav.rate)) if info else mono


def wav_to_tensor(*args, info: bool = False, **kwargs) -> Union[torch.Tensor, Tuple[torch.Tensor, WavInfo]]:
    """`wav_to_np`, as a float32 tensor."""
    out = wav_to_np(*args, info=info, **kwargs)
    if info:
        arr, wav_info = out
        return torch.tensor(arr, dtype=torch.float32), wav_info
    return torch.tensor(out, dtype=torch.float32)


def tensor_to_wav(x: torch.Tensor, *args, **kwargs):
    np_to_wav(x.detach().cpu().numpy(), *args, **kwargs)


def np_to_wav(
    x: np.ndarray,
    filename: Union[str, Path],
    rate: int = 48_000,
    sampwidth: int = 3,
    scale=None,
    **kwargs,
):
    """Write samples in [-1, 1] (clipped) as integers of `sampwidth` bytes.

    Extra keyword arguments go to `wavio.write`. This is the 0.6.0+ form; earlier
    releases had `scale="none"` and no `**kwargs`, which only suited wavio <= 0.0.4.
    """
    if scale is None and wavio.__version__ <= "0.0.4":
        scale = "none"  # wavio 0.0.4 would rescale integer data unless told not to
    wavio.write(
        str(filename),
        (np.clip(x, -1.0, 1.0) * (2 ** (8 * sampwidth - 1))).astype(np.int32),
        rate,
        scale=scale,
        sampwidth=sampwidth,
        **kwargs,
    )


# --- Data sets -------------------------------------------------------------------------


class AbstractDataset(_Dataset, abc.ABC):
    @abc.abstractmethod
    def __getitem__(
        self, idx: int
    ) -> Union[Tuple[torch.Tensor, torch.Tensor], Tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """(x (NX+NY-1,), y (NY,)), or (params (D,), x, y) for parametric data."""


class _DelayInterpolationMethod(Enum):
    # The values are scipy's `interp1d(kind=...)`.
    LINEAR = "linear"
    CUBIC = "cubic"


# Dataset keyword arguments that appeared in later releases -> the profile field that
# says whether the active release has them.
_LATER_DATASET_KWARGS = {
    "delay_interpolation_method": "data_delay_interpolation",
    "input_gain": "data_input_validation",
    "rate": "data_rate_and_presilence",
    "require_input_pre_silence": "data_rate_and_presilence",
    "sample_rate": "data_sample_rate",
    "start_samples": "data_parse_config_forwards_rest",
    "stop_samples": "data_parse_config_forwards_rest",
    "start_seconds": "data_parse_config_forwards_rest",
    "stop_seconds": "data_parse_config_forwards_rest",
}


class Dataset(AbstractDataset, InitializableFromConfig):
    """A matched input/output recording, served as (x, y) windows.

    Item `i` is `x[i*ny : i*ny + nx + ny - 1]` and `y[i*ny + nx - 1 : (i+1)*ny + nx - 1]`:
    every output sample comes with the `nx` input samples it depends on.
    """

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        nx: int,
        ny: Optional[int],
        start: Optional[int] = None,
        stop: Optional[int] = None,
        start_samples: Optional[int] = _RELEASE_DEFAULT,
        stop_samples: Optional[int] = _RELEASE_DEFAULT,
        start_seconds: Optional[Union[int, float]] = _RELEASE_DEFAULT,
        stop_seconds: Optional[Union[int, float]] = _RELEASE_DEFAULT,
        delay: Optional[Union[int, float]] = None,
        delay_interpolation_method: Union[str, _DelayInterpolationMethod] = _RELEASE_DEFAULT,
        y_scale: float = 1.0,
        x_path: Optional[Union[str, Path]] = None,
        y_path: Optional[Union[str, Path]] = None,
        input_gain: float = _RELEASE_DEFAULT,
        sample_rate: Optional[float] = _RELEASE_DEFAULT,
        rate: Optional[int] = _RELEASE_DEFAULT,
        require_input_pre_silence: Optional[float] = _RELEASE_DEFAULT,
    ):
        """
        :param x: Input signal, 1D.
        :param y: Output signal recorded for `x`, 1D, same length.
        :param nx: Input samples needed per output sample (the model's receptive field).
        :param ny: Output samples per item; None makes the whole signal one item.
        :param start: Trim x and y to start here (samples; negative counts from the end).
        :param stop: Trim x and y to stop here.
        :param start_samples: (ae86979) Same as `start`, which it deprecates.
        :param stop_samples: (ae86979) Same as `stop`, which it deprecates.
        :param start_seconds: (ae86979) `start` in seconds, at the sample rate.
        :param stop_seconds: (ae86979) `stop` in seconds, at the sample rate.
        :param delay: In samples; a positive delay means y lags x, so the end of x and
            the start of y are dropped. From 0.5.0 a non-integer delay resamples y.
        :param delay_interpolation_method: (0.5.0) "cubic" (default) or "linear".
        :param y_scale: Factor applied to y.
        :param x_path: Where x came from (only used in messages).
        :param y_path: Where y came from (only used in messages).
        :param input_gain: (0.5.0) Gain in dB applied to x, default 0.
        :param sample_rate: (0.7.0) Sample rate of the data; 48000 if neither this nor
            `rate` is given.
        :param rate: (0.6.0) Sample rate; deprecated by `sample_rate` in 0.7.0.
        :param require_input_pre_silence: (0.6.0) Seconds of silence required in x just
            before `start`, default 0.4; None skips the check.

        The positional order is ae86979's. Older releases had a shorter list in another
        order; under their profiles pass the arguments after `stop` by keyword (passed by
        position they land on `start_samples` … and raise `TypeError`, see
        docs/quirks.md). An argument the active release did not have raises `TypeError`,
        as it did upstream.

        Order of work: trim, delay, gain/scale, then validation of the result.
        """
        release = current_release()
        _reject_later_kwargs(
            release,
            delay_interpolation_method=delay_interpolation_method,
            input_gain=input_gain,
            rate=rate,
            require_input_pre_silence=require_input_pre_silence,
            sample_rate=sample_rate,
            start_samples=start_samples,
            stop_samples=stop_samples,
            start_seconds=start_seconds,
            stop_seconds=stop_seconds,
        )
        self._release = release
        self._x_path = x_path
        self._y_path = y_path
        if release.data_input_validation:
            self._validate_x_y(x, y)
        self._sample_rate = _dataset_sample_rate(release, sample_rate, rate)
        if release.data_input_validation:
            trim = {}
            if release.data_parse_config_forwards_rest:
                trim = dict(
                    start_samples=_or(start_samples, None),
                    stop_samples=_or(stop_samples, None),
                    start_seconds=_or(start_seconds, None),
                    stop_seconds=_or(stop_seconds, None),
                    sample_rate=self._sample_rate,
                )
            start, stop = self._validate_start_stop(x, y, start, stop, **trim)
        method = None
        if release.data_delay_interpolation:
            method = _DelayInterpolationMethod(_or(delay_interpolation_method, "cubic"))
        if release.data_rate_and_presilence:
            pre_silence = _or(require_input_pre_silence, _DEFAULT_REQUIRE_INPUT_PRE_SILENCE)
            if pre_silence is not None:
                self._validate_preceding_silence(x, start, int(pre_silence * self._sample_rate))

        x, y = x[start:stop], y[start:stop]
        if delay is not None and delay != 0:
            x, y = self._apply_delay(x, y, delay, method)
        if release.data_input_validation:
            x = x * 10.0 ** (_or(input_gain, 0.0) / 20.0)
        y = y * y_scale
        self._validate_inputs_after_processing(x, y, nx, ny)
        self._x = x
        self._y = y
        self._nx = nx
        self._ny = ny if ny is not None else len(x) - nx + 1

    def __getitem__(self, idx: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """(x (NX+NY-1,), y (NY,)). Negative indices are not checked (as upstream)."""
        if idx >= len(self):
            raise IndexError(f"Item {idx} requested from a data set of length {len(self)}")
        i = idx * self._ny
        j = i + self.y_offset
        return self.x[i : i + self._nx + self._ny - 1], self.y[j : j + self._ny]

    def __len__(self) -> int:
        return (len(self.x) - self._nx + 1) // self._ny

    @property
    def ny(self) -> int:
        return self._ny

    @property
    def sample_rate(self) -> Optional[float]:
        """Sample rate of the data (0.7.0 and later)."""
        if not self._release.data_sample_rate:
            raise AttributeError(f"Dataset has no sample_rate in release {self._release.name}")
        return self._sample_rate

    @property
    def x(self) -> torch.Tensor:
        """Input signal after trimming, delay and gain, (N,)."""
        return self._x

    @property
    def y(self) -> torch.Tensor:
        """Output signal after trimming, delay and scaling, (N,)."""
        return self._y

    @property
    def y_offset(self) -> int:
        return self._nx - 1

    @classmethod
    def parse_config(cls, config):
        """Load the WAV files of `config` and return the constructor's keyword arguments.

        Keys: x_path, y_path, nx, ny, and optionally y_preroll, start, stop, delay,
        y_scale; delay_interpolation_method (0.5.0); rate, require_input_pre_silence
        (0.6.0); sample_rate (ae86979). Until 0.7.4 only these keys are read; at ae86979
        every other key is passed on to the constructor unchanged.
        """
        release = current_release()
        if release.data_parse_config_forwards_rest:
            config = deepcopy(config)  # the pops below must not reach the caller's dict
            expected_rate = _validate_sample_rate(config.pop("sample_rate", None), config.pop("rate", None))
            x, y, rate = _load_pair(
                release, config.pop("x_path"), config.pop("y_path"), config.pop("y_preroll", None), expected_rate
            )
            return {"x": x, "y": y, "sample_rate": rate, **config}

        # 0.7.4 checks x against an explicit "rate" only; before, wav_to_np's default.
        x_rate = config.get("rate") if release.data_any_sampwidth else _RELEASE_DEFAULT
        x, y, rate = _load_pair(release, config["x_path"], config["y_path"], config.get("y_preroll"), x_rate)
        kwargs = {
            "x": x,
            "y": y,
            "nx": config["nx"],
            "ny": config["ny"],
            "start": config.get("start"),
            "stop": config.get("stop"),
            "delay": config.get("delay"),
            "y_scale": config.get("y_scale", 1.0),
            "x_path": config["x_path"],
            "y_path": config["y_path"],
        }
        if release.data_delay_interpolation:
            kwargs["delay_interpolation_method"] = config.get(
                "delay_interpolation_method", _DelayInterpolationMethod.CUBIC.value
            )
        if release.data_any_sampwidth:
            kwargs["sample_rate"] = rate
        elif release.data_rate_and_presilence:
            # Passed even when absent, so 0.7.0-0.7.3 log the `rate` deprecation always.
            kwargs["rate"] = config.get("rate", REQUIRED_RATE)
        if release.data_rate_and_presilence:
            kwargs["require_input_pre_silence"] = config.get(
                "require_input_pre_silence", _DEFAULT_REQUIRE_INPUT_PRE_SILENCE
            )
        return kwargs

    # The helpers upstream had as methods (from 0.5.0; the signatures are ae86979's). They
    # read the active release, which is the data set's own while it is being built.

    @classmethod
    def _apply_delay(cls, x, y, delay, method):
        return _apply_delay(current_release(), x, y, delay, method)

    @classmethod
    def _apply_delay_int(cls, x, y, delay):
        return _apply_delay_int(x, y, delay)

    @classmethod
    def _apply_delay_float(cls, x, y, delay, method):
        return _apply_delay_float(x, y, delay, method)

    @classmethod
    def _validate_sample_rate(cls, sample_rate, rate, default=None):
        if default is not None and not current_release().data_parse_config_forwards_rest:
            raise TypeError("_validate_sample_rate() takes no default before ae86979")
        return _validate_sample_rate(sample_rate, rate, default=default)

    @classmethod
    def _validate_start_stop(
        cls,
        x,
        y,
        start=None,
        stop=None,
        start_samples=None,
        stop_samples=None,
        start_seconds=None,
        stop_seconds=None,
        sample_rate=None,
    ):
        """(start, stop) in samples, checked against x and y. The `_samples`/`_seconds`
        forms are resolved only at ae86979 (the constructor refuses them before)."""
        if current_release().data_parse_config_forwards_rest:
            start, stop = _resolve_start_stop(
                start, stop, start_samples, stop_samples, start_seconds, stop_seconds, sample_rate
            )
        elif any(v is not None for v in (start_samples, stop_samples, start_seconds, stop_seconds, sample_rate)):
            raise TypeError("_validate_start_stop() takes only x, y, start and stop before ae86979")
        _validate_start_stop(x, y, start, stop)
        return start, stop

    @classmethod
    def _validate_x_y(self, x, y):  # upstream's spelling: a classmethod whose first argument is named self
        _validate_x_y(x, y)

    @classmethod
    def _validate_preceding_silence(cls, x, start, silent_samples):
        _validate_preceding_silence(x, start, silent_samples)

    def _validate_inputs_after_processing(self, x, y, nx, ny):
        assert x.ndim == 1
        assert y.ndim == 1
        assert len(x) == len(y)
        if nx > len(x):
            raise RuntimeError(f"Input of length {len(x)} is shorter than the receptive field {nx}")
        if ny is not None:
            assert ny <= len(y) - nx + 1
        if torch.abs(y).max() >= 1.0:
            source = f" (source: {self._y_path})" if self._y_path is not None else ""
            raise ValueError(f"Output clipped{source}")


def _reject_later_kwargs(release: ReleaseProfile, **given):
    for name, value in given.items():
        if value is not _RELEASE_DEFAULT and not getattr(release, _LATER_DATASET_KWARGS[name]):
            raise TypeError(
                f"Dataset.__init__() got an unexpected keyword argument '{name}' "
                f"(not in release {release.name})"
            )


def _dataset_sample_rate(release: ReleaseProfile, sample_rate, rate) -> Optional[float]:
    if release.data_sample_rate:
        return _validate_sample_rate(_or(sample_rate, None), _or(rate, None), default=REQUIRED_RATE)
    if release.data_rate_and_presilence:  # 0.6.0: `rate` only, used by the silence check
        return _or(rate, REQUIRED_RATE)
    return None


def _validate_sample_rate(sample_rate, rate, default=None):
    """Merge `sample_rate` and its deprecated alias `rate` (at most one may be given)."""
    if sample_rate is None and rate is None:
        return default
    if rate is None:
        return sample_rate
    if sample_rate is not None:
        raise ValueError("Got both sample_rate and rate; give sample_rate only")
    logger.warning("'rate' is deprecated and will be removed; use 'sample_rate'")
    return float(rate)


def _load_pair(release: ReleaseProfile, x_path, y_path, y_preroll, x_rate):
    """Read x and y (y after its preroll must match x's shape and rate)."""
    x, x_info = wav_to_tensor(x_path, info=True, rate=x_rate)
    y_rate = x_info.rate if release.data_wav_rate_arg else _RELEASE_DEFAULT
    try:
        y = wav_to_tensor(
            y_path, rate=y_rate, preroll=y_preroll, required_shape=(len(x), 1), required_wavinfo=x_info
        )
    except AudioShapeMismatchError as e:
        raise ValueError(_shape_mismatch_message(e, x_info.rate)) from e
    return x, y, x_info.rate


def _shape_mismatch_message(e: AudioShapeMismatchError, rate: int) -> str:
    (x_samples, x_channels), (y_samples, y_channels) = e.shape_expected, e.shape_actual
    lines = ["The input and output audio files do not have the same shape:"]
    if x_channels != y_channels:
        lines.append(f" * input has {x_channels} channel(s), output has {y_channels}")
    if x_samples != y_samples:
        lines.append(f" * input lasts {_duration(x_samples, rate)}")
        lines.append(f" * output lasts {_duration(y_samples, rate)}")
    return "\n".join(lines)


def _duration(samples: int, rate: int) -> str:
    seconds, remainder = divmod(samples, rate)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d} and {remainder} samples"


def _validate_x_y(x, y):
    if len(x) != len(y):
        raise XYError(f"Input and output lengths differ ({len(x)} vs {len(y)})")
    if len(x) == 0:
        raise XYError("Input and output are empty")


def _resolve_start_stop(start, stop, start_samples, stop_samples, start_seconds, stop_seconds, sample_rate):
    """ae86979: pick the one given way of saying start (and stop) and express it in samples."""
    if start is not None:
        logger.warning("'start' is deprecated; use 'start_samples'")
        # Upstream tests `start` again where it meant `stop`: this notice comes with
        # `start`, never with `stop` alone.
        logger.warning("'stop' is deprecated; use 'stop_samples'")
    for what, options in (
        ("start", (start, start_samples, start_seconds)),
        ("stop", (stop, stop_samples, stop_seconds)),
    ):
        if sum(o is not None for o in options) >= 2:
            raise ValueError(f"Give only one of {what}, {what}_samples and {what}_seconds")
        if options[2] is not None and sample_rate is None:
            raise ValueError(f"{what}_seconds needs a sample rate")

    def in_samples(plain, samples, seconds):
        if plain is not None:
            return plain
        if samples is not None:
            return samples
        return None if seconds is None else int(seconds * sample_rate)

    return in_samples(start, start_samples, start_seconds), in_samples(stop, stop_samples, stop_seconds)


def _validate_start_stop(x, y, start, stop):
    """Refuse trim points that Python would accept but that point to a mistake."""
    if start is None and stop is None:
        return
    if len(x) != len(y):
        raise ValueError(f"Input and output lengths differ ({len(x)} vs {len(y)})")
    n = len(x)
    if start is not None and not -n <= start < n:
        raise StartError(f"start={start} is outside arrays of {n} samples")
    if stop is not None and not -n < stop <= n:
        raise StopError(f"stop={stop} is outside arrays of {n} samples")
    if len(x[start:stop]) == 0:
        raise StartStopError(f"start={start}, stop={stop} leave none of the {n} samples")


def _validate_preceding_silence(x, start, silent_samples: int):
    """The input must be silent just before `start`, or the output there would carry the
    response to audio that is not in the data set (upstream issue #252)."""
    if start is None:
        return
    begin = start - silent_samples
    # Clamp at the file start, staying on the same side of zero as `start`.
    begin = max(begin, 0) if start >= 0 else min(begin, 0)
    if not torch.all(x[begin:start] == 0.0):
        raise XYError(
            f"The input is not silent for {silent_samples} samples before the start; "
            "the response to that audio would leak into the data set"
        )


def _apply_delay(release: ReleaseProfile, x, y, delay, method):
    if not release.data_delay_interpolation:
        return _apply_delay_int(x, y, delay)  # a float delay fails to slice: TypeError
    if isinstance(delay, float) and int(delay) == delay:
        delay = int(delay)
    if isinstance(delay, int):
        return _apply_delay_int(x, y, delay)
    if isinstance(delay, float):
        return _apply_delay_float(x, y, delay, method)
    raise TypeError(f"delay must be an int or a float, not {type(delay).__name__}")


def _apply_delay_int(x, y, delay):
    if delay > 0:
        return x[:-delay], y[delay:]
    if delay < 0:
        return x[-delay:], y[:delay]
    return x, y


def _apply_delay_float(x, y, delay: float, method: _DelayInterpolationMethod):
    """Resample y at t + delay; the partial sample at the edge is dropped from both."""
    try:
        from scipy.interpolate import interp1d
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("Non-integer delays are interpolated with scipy; install scipy to use them") from e
    n = len(y)
    n_out = n - int(np.ceil(np.abs(delay)))
    if delay > 0:
        x = x[:n_out]
        t_out = np.arange(n_out) + delay
    else:
        x = x[-n_out:]
        t_out = np.arange(n - n_out, n) - np.abs(delay)
    resampled = interp1d(np.arange(n), y.detach().cpu().numpy(), kind=method.value)(t_out)
    return x, torch.tensor(resampled, dtype=torch.float32)


class ParametricDataset(Dataset):
    """A `Dataset` recorded at one setting of the knobs.

    Items are `(vals, x, y)`, where `vals` holds the knob values ordered by knob name.
    """

    def __init__(self, params: Dict[str, Union[bool, float, int]], *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A list (not a tuple) whatever the annotations say; ConcatDataset compares them.
        self._keys = sorted(params.keys())
        self._vals = torch.tensor([float(params[k]) for k in self._keys], dtype=torch.float32)

    @classmethod
    def init_from_config(cls, config):
        """A `ConcatDataset` of one `ParametricDataset` per slice if `config` has
        "slices"; otherwise the plain path, which never worked (see `parse_config`)."""
        if "slices" in config:
            return cls.init_from_config_with_slices(config)
        return super().init_from_config(config)

    @classmethod
    def init_from_config_with_slices(cls, config):
        """Load the files once and make a data set of each slice.

        Each slice gives `start`, `stop` and `params` (and, from 0.5.0, an optional
        `delay` that replaces the top-level one). The slice's audio is `x[start:stop]`;
        the top-level `start`/`stop`/`delay` are then applied again inside every slice,
        relative to the slice. Members are always `ParametricDataset`, even for a
        subclass.

        At ae86979 this raises `TypeError`: the parsed config still holds "slices",
        which is handed to the constructor.
        """
        release = current_release()
        config, x, y, slices = cls.parse_config_with_slices(config)
        datasets = []
        for s in slices:
            start, stop, params = s["start"], s["stop"], s["params"]
            kwargs = deepcopy(config)
            kwargs.update(x=x[start:stop], y=y[start:stop], params=params)
            if release.data_slice_delay and "delay" in s:
                kwargs["delay"] = s["delay"]
            datasets.append(ParametricDataset(**kwargs))
        return ConcatDataset(datasets)

    @classmethod
    def parse_config(cls, config):
        """Config without "slices": "params" plus the `Dataset` keys.

        Broken in every release: the result also carries "id", "common_params" and
        "param_map" (an unfinished schema), which the constructor does not accept, so
        `init_from_config` raises `TypeError`.
        """
        assert "slices" not in config
        params = config["params"]
        return {
            "params": params,
            "id": config.get("id"),
            "common_params": config.get("common_params"),
            "param_map": config.get("param_map"),
            **super().parse_config(config),
        }

    @classmethod
    def parse_config_with_slices(cls, config):
        """(constructor kwargs without x and y, x, y, slices)."""
        slices = config["slices"]
        kwargs = super().parse_config(config)
        x, y = kwargs.pop("x"), kwargs.pop("y")
        return kwargs, x, y, slices

    def __getitem__(self, idx: int) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(vals (D,), x (NX+NY-1,), y (NY,))."""
        x, y = super().__getitem__(idx)
        return self.vals, x, y

    @property
    def keys(self):
        return self._keys

    @property
    def vals(self) -> torch.Tensor:
        return self._vals


class ConcatDataset(AbstractDataset, InitializableFromConfig):
    """Several data sets served one after the other.

    All members must have the same `ny`, and all `ParametricDataset` members the same
    knob names (`ValueError` otherwise). It has no `sample_rate` in any release.
    """

    def __init__(self, datasets: Sequence[Dataset], flatten=True):
        """
        :param flatten: Replace member `ConcatDataset`s by their own members.
        """
        self._release = current_release()
        if flatten:
            datasets = self._flatten_datasets(datasets)
        self._validate_datasets(datasets)
        self._datasets = datasets
        if self._release.data_concat_lookup:
            self._lookup = self._make_lookup()

    def __getitem__(self, idx: int):
        if self._release.data_concat_lookup:
            i, j = self._lookup[idx]  # KeyError outside 0 .. len-1
            return self.datasets[i][j]
        # 0.3.0 walked the members: a negative index reaches into the first member, and
        # an index past the end returns None.
        for d in self._datasets:
            if idx < len(d):
                return d[idx]
            idx -= len(d)
        return None

    def __len__(self) -> int:
        return sum(len(d) for d in self._datasets)

    @property
    def datasets(self):
        return self._datasets

    @classmethod
    def parse_config(cls, config):
        """`{"dataset_configs": [...]}` plus the kind of member: `"parametric": bool`
        (required until 0.7.3), or a registered `"type"` name (0.7.4, default "dataset")."""
        # As `_initializer`, with the keys read here as upstream did.
        if current_release().data_type_key:
            init = _dataset_init_registry[config.get("type", "dataset")]
        else:
            init = ParametricDataset.init_from_config if config["parametric"] else Dataset.init_from_config
        return {"datasets": tuple(init(c) for c in config["dataset_configs"])}

    def _flatten_datasets(self, datasets):
        flat = []
        for d in datasets:
            flat.extend(d.datasets if isinstance(d, ConcatDataset) else [d])
        return flat

    def _make_lookup(self) -> Dict[int, Tuple[int, int]]:
        """Global index -> (member, index in member).

        Upstream fills this table with a walk that can step over an empty member only
        when it is the first one; no members at all, or an empty member elsewhere, fails
        its final consistency check (`RuntimeError`; a bare `assert` in 0.4.0-0.5.2).
        Members built from audio always have at least one item.
        """
        if not self.datasets or any(len(d) == 0 for d in self.datasets[1:]):
            raise RuntimeError("Cannot index a ConcatDataset with no members or an empty member after the first")
        lookup = {}
        for i, d in enumerate(self.datasets):
            for j in range(len(d)):
                lookup[len(lookup)] = (i, j)
        return lookup

    @classmethod
    def _validate_datasets(cls, datasets: Sequence[Dataset]):
        first_ny, first_keys = None, None  # (member index, value)
        for i, d in enumerate(datasets):
            if first_ny is None:
                first_ny = (i, d.ny)
            if d.ny != first_ny[1]:
                raise ValueError(f"ny of data set {i} ({d.ny}) differs from data set {first_ny[0]} ({first_ny[1]})")
            if isinstance(d, ParametricDataset):
                if first_keys is None:
                    first_keys = (i, d.keys)
                if d.keys != first_keys[1]:
                    raise ValueError(
                        f"Parameters of data set {i} ({d.keys}) differ from data set {first_keys[0]} ({first_keys[1]})"
                    )


# "type" name -> initializer; consulted from 0.7.4 (90c2add) on.
_dataset_init_registry: Dict[str, Callable[[Any], AbstractDataset]] = {
    "dataset": Dataset.init_from_config,
    "parametric": ParametricDataset.init_from_config,
}


def register_dataset_initializer(name: str, constructor: Callable[[Any], AbstractDataset], overwrite=False):
    """Make `"type": name` in a data config build data sets with `constructor(config)`.

    Added in 0.7.4; the registry is ignored under earlier release profiles.

    :param overwrite: Allow replacing an existing name (else `KeyError`).
    """
    if name in _dataset_init_registry and not overwrite:
        raise KeyError(f"A data set initializer is already registered as '{name}'")
    _dataset_init_registry[name] = constructor


def _initializer(config) -> Callable[[Any], AbstractDataset]:
    """What builds the data sets of `config`: `"parametric": bool` (required) until
    0.7.3; from 0.7.4 the registered `"type"` (default "dataset")."""
    if current_release().data_type_key:
        return _dataset_init_registry[config.get("type", "dataset")]
    return ParametricDataset.init_from_config if config["parametric"] else Dataset.init_from_config


def init_dataset(config, split: Split) -> AbstractDataset:
    """Build one split of a data config.

    The split's config (or each entry of a list, giving a `ConcatDataset`) is merged over
    "common". Until 0.7.3 `"parametric": true` selects `ParametricDataset` and "type" is
    ignored; from 0.7.4 "type" names a registered initializer, and "parametric", if
    present, still decides (with a deprecation warning). A split config that is neither
    a dict nor a list gives None.
    """
    if not current_release().data_type_key:
        kind = {"parametric": config.get("parametric", False)}
    elif "parametric" in config:
        logger.warning(
            "The 'parametric' key is deprecated; register the data set type with "
            "register_dataset_initializer() and name it with \"type\" instead"
        )
        kind = {"type": "parametric" if config["parametric"] else "dataset"}
    else:
        kind = {"type": config.get("type", "dataset")}

    split_config = config[split.value]
    common = config.get("common", {})
    if isinstance(split_config, dict):
        return _initializer(kind)({**common, **split_config})
    if isinstance(split_config, list):
        return ConcatDataset.init_from_config({**kind, "dataset_configs": [{**common, **c} for c in split_config]})
    return None
