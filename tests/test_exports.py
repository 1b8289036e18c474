"""Every export a release wrote (.nam, export folder, C++ header) is written again byte for byte.

The fixtures' `export/` folders were written by the real releases (tests/oracle); here the
same checkpoint is loaded under that release's profile and exported with the same param
config. The `.nam` date is pinned to the one the release wrote; everything else must match
byte for byte. Snapshot files above 64 KiB were not kept in the fixtures (meta.json lists
their hashes), so those are compared by hash.
"""

import pytest

from golden import case_id, cases, export_mismatches

EXPORT_CASES = [c for c in cases() if (c / "export").is_dir() or (c / "export_patched").is_dir()]


@pytest.mark.parametrize("case", EXPORT_CASES, ids=case_id)
def test_export_is_byte_identical(case, tmp_path):
    assert export_mismatches(case, tmp_path) == []
