"""The real releases' interpreters, for tests that compare against them.

The live releases (LIVE) are built on demand, freshly in CI (it points
NAM_LEGACY_ORACLE_DIR at an empty folder); they need only the package index. The others
are used when a developer has built them (`python tests/oracle/envs.py build all`, with
NAM_UPSTREAM_REPO for 0.3.0-0.5.0) and skipped with that instruction otherwise.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "oracle"))
import envs  # noqa: E402

LIVE = ("0.7.4", "0.5.1")
ALL = tuple(envs.RELEASES)


def python_or_skip(release: str) -> Path:
    try:
        return envs.python_for(release, build_if_missing=release in LIVE)
    except envs.OracleEnvError as e:
        pytest.skip(f"no environment of the real nam {release} (python tests/oracle/envs.py build {release}): {e}")
