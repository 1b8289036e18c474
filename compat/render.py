"""Running a parametric model on audio: offline at one knob setting (`render`, the
model's own forward on the whole signal), or streamed block by block (`render_blocks`,
memory independent of the length, knobs may be automated)."""

from __future__ import annotations

from typing import Callable, Iterable, Optional, Sequence

import numpy as np
import torch

from .audio import check_finite
from .describe import knob_count
from .errors import ConfigError
from .knobs import check_knob_values


def render(model: torch.nn.Module, knobs: Sequence[float], x: np.ndarray, *, pad_start: bool = True) -> np.ndarray:
    """The model's output for mono float audio `x` with knob values in sorted-name order.

    With pad_start (the default) the output has the input's length; without, it is
    shorter by receptive_field - 1. Empty audio, NaN or infinite samples and non-finite
    knob values are input errors (ConfigError / KnobError), whatever the model class
    would do with them.
    """
    expected = knob_count(model)
    if len(knobs) != expected:
        raise ConfigError(f"{type(model).__name__} takes {expected} knob values, got {len(knobs)}")
    knobs = check_knob_values((), knobs)  # finiteness; ranges need the specs (compat.knobs.knob_vector)
    if len(x) == 0:
        raise ConfigError("the input audio has no samples")
    check_finite(np.asarray(x))
    if not pad_start and len(x) < model.receptive_field:
        raise ConfigError(f"input has {len(x)} samples; without padding it needs {model.receptive_field}")
    params = torch.tensor(np.asarray(knobs, dtype=np.float32))
    with torch.no_grad():
        y = model(params, torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), pad_start=pad_start)
    return y.numpy()


def render_blocks(
    proc,
    blocks: Iterable[np.ndarray],
    write: Callable[[np.ndarray], None],
    *,
    automation=None,
    skip: int = 0,
    progress: Optional[Callable[[int], None]] = None,
    source: str = "the input",
) -> int:
    """Stream `blocks` of input audio through the stream processor `proc` (compat.stream),
    handing each output block to `write`; returns how many samples were written.

    :param automation: a compat.stream.Automation: knob curves on the stream's clock
        (sample i of the input at i / proc.sample_rate seconds).
    :param skip: output samples to drop at the start. The stream always plays the
        pad_start pad; dropping its first receptive_field - 1 samples gives the output
        of the unpadded forward (pad_start=False).
    :param progress: called with the number of input samples of each block done.
    :param source: names the input in the error for a NaN or infinite sample (a
        ConfigError: the model would output NaN from there on).
    """
    written = read = 0
    for x in blocks:
        check_finite(x, start=read, sample_rate=proc.sample_rate, source=source)
        read += x.size
        knobs = None if automation is None else automation.block(proc.position, x.size, proc.sample_rate)
        y = proc.process(x, knobs=knobs)
        if skip:
            dropped = min(skip, y.size)
            y, skip = y[dropped:], skip - dropped
        if y.size:
            write(y)
            written += y.size
        if progress is not None:
            progress(x.size)
    return written
