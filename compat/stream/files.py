"""Streaming a file through a processor: read a block, process it, write it — peak memory
independent of the file's length, the output written atomically (compat.audio)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from ..audio import check_finite, open_audio, open_audio_writer
from ..errors import ConfigError
from .automation import Automation
from .processor import StreamProcessor

DEFAULT_BLOCK = 4096

# progress(samples done, samples expected): called after every block.
Progress = Callable[[int, int], None]


@dataclass
class RenderedFile:
    path: Path
    samples: int
    sample_rate: int  # of the output file
    input_sample_rate: Optional[int]  # None for .npy input


def stream_file(
    proc: StreamProcessor,
    input_path,
    output_path,
    *,
    block: int = DEFAULT_BLOCK,
    automation: Optional[Automation] = None,
    progress: Optional[Progress] = None,
    overwrite: bool = True,
) -> RenderedFile:
    """Run `input_path` through `proc` (from its current state) into `output_path`.

    The output rate is the input's (a WAV's own; `proc.sample_rate` for .npy), and
    automation times are seconds at `proc.sample_rate`, the stream's clock — the caller
    checks that the two agree (the CLI refuses a mismatch unless told otherwise). Knobs not
    automated keep what `proc` has. On any error (bad knob value, unreadable block, a NaN
    or infinite input sample, interrupt) the partial output is removed and nothing appears at `output_path`.
    """
    if isinstance(block, bool) or not isinstance(block, int) or not 1 <= block <= 65_536:
        raise ConfigError(f"block size must be a whole number from 1 to 65536, got {block!r}")
    with open_audio(input_path) as reader:
        rate = reader.sample_rate or int(round(proc.sample_rate))
        done = 0
        with open_audio_writer(output_path, rate, overwrite=overwrite) as writer:
            for x in reader.blocks(block):
                check_finite(x, start=done, sample_rate=rate, source=str(input_path))
                knobs = None if automation is None else automation.block(proc.position, x.size, proc.sample_rate)
                writer.write(proc.process(x, knobs=knobs))
                done += x.size
                if progress is not None:
                    progress(done, max(done, reader.frames))
        return RenderedFile(writer.path, done, rate, reader.sample_rate)
