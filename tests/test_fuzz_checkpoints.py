"""Structure-aware fuzzing of genuine checkpoints, in-process: every mutant gives a typed one-line error, or a
valid model, within the bounds.

Mutations (tests/fuzz_mutations.py) work on the structure of the 31 genuine checkpoints: the pickle as opcodes
(ints, with tensor offsets/sizes/strides/numels twice as likely; memo references; strings; globals; floats;
deleted, duplicated, swapped and inserted opcodes), re-zipped with valid CRCs so each one reaches the unpickler;
the zip's header fields (local, central, zip64 and end records); and raw bytes. A mutant goes through
`compat.load` and `describe`, as `nam-legacy inspect --json` does. A fixed-seed sample of the same mutants runs
under the subprocess harness in tests/test_hostile_checkpoints.py. FUZZ_REPORT=path keeps the outcome counts.
"""

from __future__ import annotations

import collections
import json
import os
import time
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import compat
import craft
import fuzz_mutations as fm
from compat.describe import describe

GENUINE = craft.genuine_checkpoints()
OUTCOMES: collections.Counter = collections.Counter()
RSS_BUDGET = 1 << 30
CPU_BUDGET = 10.0
_PROC = Path("/proc/self/status").exists()


def _status(key: str) -> int:
    return int(next(line.split()[1] for line in open("/proc/self/status") if line.startswith(key + ":"))) * 1024


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    yield tmp_path_factory.mktemp("fuzz")
    if os.environ.get("FUZZ_REPORT"):
        Path(os.environ["FUZZ_REPORT"]).write_text(json.dumps(dict(OUTCOMES), indent=1, sort_keys=True))


def _run(family: str, fixture: Path, data: bytes, folder: Path) -> None:
    path = folder / "mutant.ckpt"
    path.write_bytes(data)
    if _PROC:
        open("/proc/self/clear_refs", "w").write("5")
        before = _status("VmRSS")
    start = time.process_time()
    try:
        facts = describe(compat.load(path, config=fixture.parent / "model.json"))
    except compat.LegacyError as e:
        message = str(e)
        assert "\n" not in message and message.isprintable() and len(message) <= 280, message[:400]
        assert path.name in message, message
        assert "more memory than is available" not in message, message
        OUTCOMES[f"{family}: {type(e).__name__}"] += 1
    else:
        text = json.dumps(facts, allow_nan=False)  # what inspect --json prints
        assert facts["format"] == "ckpt" and facts["parameters"] > 0, text[:400]
        rate = facts["sample_rate"]
        assert rate is None or (isinstance(rate, float) and 0 < rate < 2**32), rate
        OUTCOMES[f"{family}: loaded"] += 1
    assert time.process_time() - start <= CPU_BUDGET
    if _PROC:
        assert _status("VmHWM") - before <= RSS_BUDGET


def _below(data):
    return lambda n: data.draw(st.integers(0, n - 1))


_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                             HealthCheck.data_too_large])


@_SETTINGS
@given(data=st.data())
def test_pickle_opcode_mutants(folder, data):
    fixture = data.draw(st.sampled_from(GENUINE))
    below = _below(data)
    prefix, found = craft.entries(fixture)
    ops = fm.mutate_ops(craft.ops_of(found[f"{prefix}/data.pkl"]), below, data.draw(st.integers(1, 5)))
    try:
        found[f"{prefix}/data.pkl"] = craft.encode(ops)
    except (OverflowError, ValueError, __import__("struct").error):  # a value its opcode cannot hold
        return
    _run("pickle", fixture, craft.rezip(folder / "ops.ckpt", found).read_bytes(), folder)


@_SETTINGS
@given(data=st.data())
def test_tensor_shape_and_stride_mutants(folder, data):
    """Only the ints of tensor references (storage numel, offset, sizes, strides), several at once."""
    fixture = data.draw(st.sampled_from(GENUINE))
    prefix, found = craft.entries(fixture)
    ops = craft.ops_of(found[f"{prefix}/data.pkl"])
    where = fm._tensor_ints(ops)
    for _ in range(data.draw(st.integers(1, 4))):
        k = data.draw(st.sampled_from(where))
        ops[k] = craft.int_op(fm._int_value(_below(data), ops[k][1]))
    found[f"{prefix}/data.pkl"] = craft.encode(ops)
    _run("tensor", fixture, craft.rezip(folder / "tensor.ckpt", found).read_bytes(), folder)


@_SETTINGS
@given(data=st.data())
def test_zip_header_mutants(folder, data):
    fixture = data.draw(st.sampled_from(GENUINE))
    _run("zip", fixture, fm.mutate_zip(fixture.read_bytes(), _below(data), data.draw(st.integers(1, 3))), folder)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_raw_byte_mutants(folder, data):
    fixture = data.draw(st.sampled_from(GENUINE))
    _run("bytes", fixture, fm.mutate_bytes(fixture.read_bytes(), _below(data), data.draw(st.integers(1, 8))), folder)


def test_unmutated_genuine_checkpoints_load(folder):
    """The harness's own baseline: every genuine checkpoint goes through `_run` as a valid model."""
    for fixture in GENUINE:
        _run("genuine", fixture, fixture.read_bytes(), folder)
    assert OUTCOMES["genuine: loaded"] >= len(GENUINE)


def test_mutations_reach_both_outcomes():
    """Not vacuous: the mutants produced both refusals and valid models (run after the fuzz tests)."""
    families = {key.split(":")[0] for key in OUTCOMES}
    if not {"pickle", "tensor"} <= families:
        pytest.skip("run with the fuzz tests above")
    assert OUTCOMES["pickle: loaded"] + OUTCOMES["tensor: loaded"] > 0
    assert sum(v for k, v in OUTCOMES.items() if k.startswith(("pickle", "tensor")) and "loaded" not in k) > 0
