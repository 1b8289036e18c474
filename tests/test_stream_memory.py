"""Streaming memory is flat in the signal's length: a long input processed block by block (and
a long file streamed to a file) peaks at the same RSS as a short one. Measured in child
processes (tests/hostile.py reports a child's own peak RSS); a bound, not a timing."""

import numpy as np
import pytest

import hostile
from compat.audio import open_audio_writer
from stream_models import FIXTURES

NAM = FIXTURES / "0.7.4" / "catlstm" / "export" / "model.nam"
SLACK = 24 << 20  # allocator noise; the whole-signal forward of 2 minutes would need > 500 MiB

ENGINE = """
import sys, numpy as np, torch
torch.set_num_threads(1)
import compat, compat.stream as stream
proc = stream.open(compat.load(sys.argv[1]))
block = 4096
x = (0.1 * np.random.default_rng(0).standard_normal(block)).astype(np.float32)
for i in range(int(float(sys.argv[2]) * 48000) // block):
    y = proc.process(x, knobs={"drive": np.linspace(0, 1, block)} if i % 2 else None)
print(proc.position)
"""

FILES = """
import sys, torch
torch.set_num_threads(1)
import compat, compat.stream as stream
done = stream.stream_file(stream.open(compat.load(sys.argv[1])), sys.argv[2], sys.argv[3], block=4096)
print(done.samples)
"""


def _run(code, *args):
    result = hostile.run_code(code, *args, wall=600.0)
    assert result.returncode == 0, result.describe()
    return result


def test_engine_memory_is_flat_in_length():
    short = _run(ENGINE, str(NAM), "5")
    long = _run(ENGINE, str(NAM), "120")  # 24x longer
    assert int(long.stdout.split()[-1]) >= 120 * 48000 - 4096
    assert long.peak_rss <= short.peak_rss + SLACK, f"short {short.describe()}; long {long.describe()}"


def _wav(path, seconds):
    rng = np.random.default_rng(1)
    with open_audio_writer(path, 48_000) as writer:
        for _ in range(int(seconds * 48000) // 48000):
            writer.write((0.1 * rng.standard_normal(48000)).astype(np.float32))
    return path


@pytest.mark.parametrize("suffix", [".wav", ".npy"])
def test_file_streaming_memory_is_flat_in_length(tmp_path, suffix):
    short = _run(FILES, str(NAM), str(_wav(tmp_path / f"short{suffix}", 5)), str(tmp_path / f"o1{suffix}"))
    long = _run(FILES, str(NAM), str(_wav(tmp_path / f"long{suffix}", 120)), str(tmp_path / f"o2{suffix}"))
    assert int(long.stdout.split()[-1]) == 120 * 48000
    assert long.peak_rss <= short.peak_rss + SLACK, f"short {short.describe()}; long {long.describe()}"
