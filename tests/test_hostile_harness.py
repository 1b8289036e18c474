"""The resource harness itself (tests/hostile.py): its caps bite, and its checks can fail."""

import pytest

import hostile


def test_the_memory_cap_turns_a_runaway_allocation_into_an_error():
    result = hostile.run_code("x = bytearray(8 << 30)")
    assert result.returncode == 1 and "MemoryError" in result.stderr


def test_the_wall_clock_limit_kills_a_hang():
    result = hostile.run_code("while True: pass", wall=1.0)
    assert result.timed_out and result.returncode is None


def test_peak_rss_is_the_childs_own():
    small = hostile.run_code("pass")
    big = hostile.run_code("x = bytearray(300 << 20); x[::4096] = b'1' * len(x[::4096])")
    assert big.peak_rss - small.peak_rss > 250 << 20


def test_refusal_checks_fail_on_a_traceback_and_on_a_silent_file(tmp_path):
    crash = hostile.run_code("raise SystemExit('bad.nam\\nsecond line')")
    with pytest.raises(AssertionError):
        hostile.assert_refused(crash, tmp_path / "bad.nam")
    unnamed = hostile.run_code("import sys; print('error: no name here', file=sys.stderr); sys.exit(2)")
    with pytest.raises(AssertionError, match="does not name"):
        hostile.assert_refused(unnamed, tmp_path / "bad.nam")
