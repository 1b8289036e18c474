"""Ctrl-C at any moment: always exit 130 with one line, never an error blaming the input,
never a partial or truncated output, no temporary left beside it.

The interrupts are real SIGINTs, sent to a child process at random moments while it
streams (from when the input is opened until well before the render could finish), so they
land anywhere: in the model, the writer, the progress bookkeeping, inside libsndfile's
reads. Reading through soundfile's virtual I/O ran Python callbacks inside every read; a
KeyboardInterrupt raised in one was swallowed by cffi, and the read came back short: a
false "cannot decode" error (exit 2) or, worse, a silent end of file and a truncated output
with exit 0. One child runs every trial (torch is imported once).

The random trials once (1 in 80, in CI) left a `.part` temporary: the interrupt landed
between its creation and the `try` that removes it. The tests after them put the interrupt
exactly in such windows (compat/atomic.py records every temporary from its creation).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from compat.audio import write_audio

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "tools" / "example" / "catlstm-0.7.4.nam"
TRIALS = int(os.environ.get("NAM_LEGACY_INTERRUPT_TRIALS", "40"))  # more for a stress run

CHILD = r"""
import io, json, os, random, signal, sys, threading
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import compat.audio
import tools.render_command as render_command
from tools.cli import main

model, wav, folder, trials, seed, latest = sys.argv[1:]
rng = random.Random(int(seed))
timer = None
opened = compat.audio.open_audio

def open_and_arm(path):
    # the hook: the interrupt's clock starts when the input is opened for streaming
    global timer
    reader = opened(path)
    timer = threading.Timer(rng.uniform(0, float(latest)), os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    return reader

render_command.open_audio = open_and_arm
results = []
for k in range(int(trials)):
    out = Path(folder) / f"out-{k}.wav"
    err = io.StringIO()
    try:
        try:
            with redirect_stderr(err), redirect_stdout(io.StringIO()):
                code = main(["render", model, "--input", wav, "--output", str(out)])
        finally:
            if timer is not None:
                timer.join()  # a signal still pending is raised here, at the latest
                timer = None
    except KeyboardInterrupt:
        code = "escaped"
    results.append({"code": code, "stderr": err.getvalue(), "files": sorted(os.listdir(folder))})
print(json.dumps(results))
"""


@pytest.mark.parametrize("encoding", ["PCM_16", "FLOAT"])
def test_sigint_at_random_points_of_a_streamed_render(tmp_path, encoding):
    import soundfile

    rng = np.random.default_rng(0)
    # 20 s: the bundled model streams it in about 1.5 s, well after the latest interrupt
    x = (0.3 * np.sin(np.arange(20 * 48_000) * 2 * np.pi * 110 / 48_000) + 0.01 * rng.standard_normal(20 * 48_000))
    wav = tmp_path / "take.wav"
    soundfile.write(wav, x.astype(np.float32), 48_000, subtype=encoding)
    folder = tmp_path / "out"
    folder.mkdir()
    done = subprocess.run([sys.executable, "-c", CHILD, str(MODEL), str(wav), str(folder), str(TRIALS), "1", "0.6"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout)
    assert len(results) == TRIALS
    for k, r in enumerate(results):
        assert (r["code"], r["stderr"], r["files"]) == (130, "nam-legacy: interrupted\n", []), f"trial {k}: {r}"


def test_the_reader_runs_no_python_during_reads(tmp_path, monkeypatch):
    """The root of the bug, directly: libsndfile is handed a descriptor, not a Python file
    object, so soundfile sets up no virtual-I/O callbacks."""
    import soundfile

    path = tmp_path / "a.wav"
    write_audio(path, np.zeros(100, np.float32), 48_000)
    calls = []
    real = soundfile.SoundFile._init_virtual_io
    monkeypatch.setattr(soundfile.SoundFile, "_init_virtual_io", lambda self, f: calls.append(f) or real(self, f))
    from compat.audio import open_audio, read_audio

    assert read_audio(path).samples.size == 100
    with open_audio(path) as reader:
        assert reader.read(10).size == 10
    assert calls == []


def _interrupt_right_after(real):
    """`real`, then a SIGINT to this process at once: lands in the instructions right after
    the temporary is created, before any code that would remove it has started."""
    import signal

    def call(*args, **kwargs):
        made = real(*args, **kwargs)
        signal.raise_signal(signal.SIGINT)
        return made
    return call


def test_an_interrupt_just_after_the_temporary_is_made_leaves_nothing(tmp_path, monkeypatch):
    """The window the random trials hit once in CI: between mkstemp and the cleanup's try."""
    import tempfile

    from tools.cli import main

    wav = tmp_path / "in.wav"
    write_audio(wav, np.zeros(4800, np.float32), 48_000)
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setattr(tempfile, "mkstemp", _interrupt_right_after(tempfile.mkstemp))
    assert main(["render", str(MODEL), "--input", str(wav), "--output", str(out / "y.wav")]) == 130
    assert list(out.iterdir()) == []


def test_an_interrupt_before_the_with_block_is_entered_leaves_nothing(tmp_path, monkeypatch):
    """Raised inside the writer's __enter__: its __exit__ never runs, the CLI still cleans up."""
    from compat.audio import AudioWriter
    from tools.cli import main

    wav = tmp_path / "in.wav"
    write_audio(wav, np.zeros(4800, np.float32), 48_000)
    out = tmp_path / "out"
    out.mkdir()

    def enter(self):
        raise KeyboardInterrupt
    monkeypatch.setattr(AudioWriter, "__enter__", enter)
    assert main(["render", str(MODEL), "--input", str(wav), "--output", str(out / "y.wav")]) == 130
    assert list(out.iterdir()) == []


def test_export_staging_interrupted_at_creation_leaves_nothing(tmp_path, monkeypatch):
    import tempfile

    from tools.cli import main

    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setattr(tempfile, "mkdtemp", _interrupt_right_after(tempfile.mkdtemp))
    assert main(["export", str(MODEL), "--format", "header", "--output", str(out / "m.h")]) == 130
    assert list(out.iterdir()) == []


def test_an_interrupt_while_an_old_folder_is_replaced_leaves_one_whole_folder(tmp_path, monkeypatch):
    """--overwrite of an earlier export folder moves the old one aside, then the new one in:
    a Ctrl-C between the two would leave no folder at the output, the old one hidden aside."""
    import os

    from tools.cli import main

    hyper = ROOT / "tests" / "fixtures" / "0.7.4" / "hyperconvnet_nobn" / "export"
    out = tmp_path / "export"
    assert main(["export", str(hyper), "--format", "dir", "--output", str(out)]) == 0
    real = os.replace

    def replace(src, dst):
        real(src, dst)
        if ".old." in str(dst):  # the old folder just went aside
            import signal
            signal.raise_signal(signal.SIGINT)
    monkeypatch.setattr(os, "replace", replace)
    assert main(["export", str(hyper), "--format", "dir", "--output", str(out), "--overwrite"]) == 130
    assert [p.name for p in tmp_path.iterdir()] == ["export"]
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "weights.npy"]
