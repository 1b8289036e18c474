"""Resource harness for hostile files: run one read in a child process under a memory cap
and a wall-clock limit, and check the promises of docs/checkpoint-safety.md.

Each case runs in its own process so that a blow-up (memory, time, recursion) is contained
and measured: the address-space cap (RLIMIT_AS) turns a runaway allocation into a
MemoryError inside the child, the timeout kills a hang, and os.wait4 gives that child's
own peak RSS and CPU time.

    result = run_cli(["inspect", str(path), "--json"])
    assert_refused(result, path)        # exit 2, one printable line <= 300 chars naming the file
    assert_within_bounds(result)        # <= 1 GB above an idle CLI, <= 10 s of CPU

Starting torch for every case would take minutes, so most cases run many to one child
(`run_batch`): one case after another, each under a CPU limit and measured from a reset of
the child's peak RSS. `write_parts` and `repeat` build large hostile files without holding
them in memory.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, Mapping, Optional, Sequence

ROOT = Path(__file__).resolve().parent.parent

# Stated targets (docs/checkpoint-safety.md): peak RSS at most 1 GB above the model's own
# size, at most 10 s on one core, whatever the file claims.
RSS_BUDGET = 1 << 30
CPU_BUDGET = 10.0
# Virtual address space of a child: an idle CLI process with torch imported maps about
# 0.65 GB; the cap leaves the budget above that, plus slack for torch's own reservations.
ADDRESS_SPACE_CAP = 3 << 30
WALL_LIMIT = 60.0  # kill a hang; generous because the 2-core machines are shared
MAX_MESSAGE = 300

MiB = 1 << 20
# The text readers' own, much tighter budget: peak RSS a text read may add above the idle
# CLI (the models in the tests are a few KB): the readers hold a couple of 1 MiB chunks, a
# 256 KiB parse batch and its numpy temporaries, and the weight array (at most
# MAX_TEXT_WEIGHTS floats = 40 MB).
TEXT_RSS = 160 * MiB
TEXT_CPU = 6.0


@dataclass
class Result:
    returncode: Optional[int]  # None when killed for the wall-clock limit
    stdout: str
    stderr: str
    wall: float
    cpu: float  # user + system seconds of the child
    peak_rss: int  # bytes (the child's VmHWM when it could report it, else wait4's figure)
    timed_out: bool

    def describe(self) -> str:
        return (f"exit {self.returncode}, {self.wall:.1f} s wall, {self.cpu:.1f} s cpu, "
                f"{self.peak_rss / 2**20:.0f} MiB peak; stderr: {self.stderr[-600:]!r}")


def _limit(address_space: int):
    def apply():
        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        os.setsid()

    return apply


def run_python(argv: Sequence[str], *, address_space: int = ADDRESS_SPACE_CAP, wall: float = WALL_LIMIT,
               env: Optional[dict] = None) -> Result:
    """Run `python ARGV...` (one torch thread) under the caps; never raises for the child's failure."""
    child_env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), **(env or {})}
    child_env.pop("NAM_LEGACY_DEBUG", None)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen([sys.executable, *argv], stdout=out, stderr=err, env=child_env,
                                cwd=str(ROOT), preexec_fn=_limit(address_space))
        timed_out = False
        while True:  # wait4 gives this child's own peak RSS and CPU time
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - start > wall:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                _, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        return Result(None if timed_out else proc.returncode, out.read().decode("utf-8", "replace"),
                      err.read().decode("utf-8", "replace"), elapsed, usage.ru_utime + usage.ru_stime,
                      usage.ru_maxrss * 1024, timed_out)


def run_cli(args: Sequence[str], **kwargs) -> Result:
    """`nam-legacy ARGS...` in a bounded child; the CLI's one-line error is in `stderr`."""
    return run_code("import sys; from tools.cli import main; sys.exit(main(sys.argv[1:]))", *args, **kwargs)


# ru_maxrss survives fork+exec on Linux (the child would report at least the parent's
# size), so the child reports its own high-water mark (VmHWM, reset at exec) at exit.
_MARK = "@@vmhwm "
_REPORT = ("import atexit as _a, sys as _s\n"
           "def _hwm():\n"
           "    kb = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]\n"
           "    _s.__stderr__.write('\\n%s%s\\n' % (" + repr(_MARK) + ", kb))\n"
           "_a.register(_hwm)\n")


def run_code(code: str, *args: str, **kwargs) -> Result:
    """A Python snippet (sys.argv[1:] = args) in a bounded child."""
    result = run_python(["-c", _REPORT + code, *args], **kwargs)
    head, sep, tail = result.stderr.rpartition("\n" + _MARK)
    if sep:
        result.peak_rss = int(tail.split()[0]) * 1024
        result.stderr = head.rstrip("\n") + "\n" if head.strip() else ""
    return result


_baseline: Optional[int] = None


def idle_rss() -> int:
    """Peak RSS of a CLI child that starts a verb and stops at once (`inspect` of a missing
    file: torch, compat's loaders and tools imported, no file read). Not `--version`: the
    parser answers that before torch is loaded."""
    global _baseline
    if _baseline is None:
        _baseline = run_cli(["inspect", "no-such-file.nam"]).peak_rss
    return _baseline


def assert_refused(result: Result, path) -> None:
    """Exit 2 with exactly one printable line of at most 300 characters that names the file."""
    assert not result.timed_out, f"hung: {result.describe()}"
    assert result.returncode == 2, f"expected exit 2: {result.describe()}"
    message = result.stderr.rstrip("\n")
    assert "\n" not in message, f"more than one line: {message[:600]!r}"
    assert len(message) <= MAX_MESSAGE, f"{len(message)} characters: {message[:400]!r}"
    assert message.isprintable(), f"unprintable characters: {message[:400]!r}"
    assert "Traceback" not in message and "internal error" not in message, message
    assert Path(path).name in message, f"the message does not name {Path(path).name}: {message!r}"


def assert_within_bounds(result: Result, model_bytes: int = 0) -> None:
    """At most 1 GB of peak RSS above an idle CLI (plus the model's own size), 10 s of CPU."""
    assert not result.timed_out, f"hung: {result.describe()}"
    extra = result.peak_rss - idle_rss() - model_bytes
    assert extra <= RSS_BUDGET, f"{extra / 2**20:.0f} MiB above an idle CLI: {result.describe()}"
    assert result.cpu <= CPU_BUDGET, f"{result.cpu:.1f} s of CPU: {result.describe()}"


def check_text_case(result: Result, path, expect: str, *, rss: int, cpu: float, loaded: str) -> None:
    """A text-reader case (tests/test_hostile_text.py, test_hostile_parametric_nam.py): within
    the resource bounds and the reader's own tighter `rss`/`cpu`; then either loaded
    (`expect == "ok"`, stdout matching the regex `loaded`) or refused with a message that
    holds `expect` (the file's name spelt `<file>`)."""
    import re

    assert_within_bounds(result)
    extra = result.peak_rss - idle_rss()
    assert extra <= rss, f"{extra / MiB:.0f} MiB above an idle CLI: {result.describe()}"
    assert result.cpu <= cpu, result.describe()
    if expect == "ok":
        assert result.returncode == 0, result.describe()
        assert re.search(loaded, result.stdout), result.stdout[:500]
    else:
        assert_refused(result, path)
        assert expect in result.stderr.replace(Path(path).name, "<file>"), result.describe()


def print_report(title: str, measured: Mapping[str, Result]) -> None:
    """Peak RSS above an idle CLI and CPU seconds of each measured case, largest first."""
    idle = idle_rss()
    width = max(len(name) for name in measured)
    print(f"\n{title}: {len(measured)} cases; idle CLI {idle / MiB:.0f} MiB")
    for name, r in sorted(measured.items(), key=lambda kv: -kv[1].peak_rss):
        print(f"  {name:{width}s} exit {r.returncode}  +{(r.peak_rss - idle) / MiB:6.1f} MiB  {r.cpu:5.2f} s cpu")


# --- many cases in one child -----------------------------------------------------------------------

# Runs `main(argv)` of each case in turn. Before each: garbage collected, freed memory given
# back to the system (malloc_trim), the peak-RSS counter reset (/proc/self/clear_refs); a
# CPU timer (ITIMER_PROF) stops a case that runs too long. A line goes to the report before
# each case starts and one when it ends, so a crash names the case it happened in.
_BATCH = r"""
import contextlib, ctypes, gc, io, json, resource, signal, sys, time
from tools.cli import main
try:
    trim = ctypes.CDLL("libc.so.6").malloc_trim
except OSError:
    trim = lambda pad: None

class CpuLimit(BaseException):
    pass

def on_limit(*_):
    raise CpuLimit()

def status(key):
    return int([l.split()[1] for l in open('/proc/self/status') if l.startswith(key + ':')][0]) * 1024

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

def run(argv, limit):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        signal.setitimer(signal.ITIMER_PROF, limit)
        try:
            code = main(argv)
        except CpuLimit:
            code = 'cpu limit'
        except SystemExit as e:
            code = e.code
        except BaseException as e:
            code = 'raised ' + type(e).__name__
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
    return code, out.getvalue(), err.getvalue()

def settle():
    gc.collect()
    trim(0)

cases = json.load(open(sys.argv[1]))
report = open(sys.argv[2], 'w')
limit = float(sys.argv[3])
signal.signal(signal.SIGPROF, on_limit)
run(json.loads(sys.argv[4]), limit)  # warm up: every module a case needs is imported now
settle()
idle = status('VmRSS')
for name, argv in cases:
    report.write(json.dumps({'start': name}) + '\n')
    report.flush()
    settle()
    open('/proc/self/clear_refs', 'w').write('5')  # the high-water mark restarts from here
    rss0, cpu0, start = status('VmRSS'), cpu(), time.monotonic()
    code, out, err = run(argv, limit)
    used, wall, peak = cpu() - cpu0, time.monotonic() - start, status('VmHWM')
    report.write(json.dumps({'name': name, 'code': code, 'stdout': out[:100_000], 'stderr': err[:4000],
                             'stderr_len': len(err), 'cpu': used, 'wall': wall, 'peak': peak,
                             'rss0': rss0, 'idle': idle}) + '\n')
    report.flush()
"""


def run_batch(cases: Mapping[str, Sequence[str]], warm: Sequence[str] = ("--version",), *,
              cpu_limit: float = CPU_BUDGET, wall: float = 300.0) -> Dict[str, dict]:
    """`nam-legacy ARGV...` for every case (name -> argv), one after another in one child
    under the harness's caps, after one run of `warm` (so imports are not measured).

    Returns name -> record: `code` (the exit code, "cpu limit" when stopped after
    `cpu_limit` seconds of CPU, or "raised <type>"), `stdout` (first 100 000 characters),
    `stderr` (first 4000) and `stderr_len`, `cpu` and `wall` seconds, `peak` (the child's
    VmHWM in bytes since the case began), `rss0` (its VmRSS then) and `idle` (its VmRSS
    after the warm-up). Fails naming the case the child stopped in, if it did."""
    with tempfile.TemporaryDirectory() as tmp:
        listing, report = Path(tmp) / "cases.json", Path(tmp) / "report.jsonl"
        listing.write_text(json.dumps([[name, list(argv)] for name, argv in cases.items()]))
        child = run_code(_BATCH, str(listing), str(report), str(cpu_limit), json.dumps(list(warm)), wall=wall)
        lines = report.read_text().splitlines() if report.exists() else []
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:  # the last line, cut short by a crash
            break
    done = {r.pop("name"): r for r in records if "name" in r}
    if len(done) < len(cases):
        started = [r["start"] for r in records if "start" in r]
        raise AssertionError(f"the batch child stopped at {started[-1:]}: {child.describe()}")
    return done


def batch_result(record: dict) -> Result:
    """A `run_batch` record as the Result of a child that ran that case alone: an idle CLI's
    peak RSS plus what the case added."""
    return Result(record["code"], record["stdout"], record["stderr"], record["wall"], record["cpu"],
                  idle_rss() + record["peak"] - record["rss0"], False)


# --- building large files ----------------------------------------------------------------------------


def write_parts(directory: Path, name: str, parts) -> Path:
    """`directory/name` written from `parts`: each a str, bytes, or an iterable of them."""
    path = directory / name
    with open(path, "wb") as fh:
        for part in parts:
            for piece in ([part] if isinstance(part, (str, bytes)) else part):
                fh.write(piece.encode() if isinstance(piece, str) else piece)
    return path


def repeat(text: str, n: int, chunk: int = 1 << 16) -> Iterator[str]:
    """`text * n`, in pieces of `chunk` copies (for write_parts)."""
    block = text * chunk
    for _ in range(n // chunk):
        yield block
    yield text * (n % chunk)
