"""The `nam-legacy` console script: Ctrl-C is one line and exit code 130 from the first moment.

Importing the CLI loads torch, which takes about a second; a Ctrl-C then would otherwise
print Python's traceback. So this module imports nothing heavy itself, and imports
tools.cli inside the same guard that runs it.

NAM_LEGACY_TEST_IMPORT_READY=<file> (tests only): create <file> just before the CLI is
imported, then wait NAM_LEGACY_TEST_IMPORT_PAUSE seconds (default 0), so that a test can
interrupt the import deterministically.
"""

from __future__ import annotations

import os
import sys
from typing import Optional, Sequence

PROG = "nam-legacy"
EXIT_INTERRUPTED = 130


def _test_pause() -> None:
    ready = os.environ.get("NAM_LEGACY_TEST_IMPORT_READY")
    if not ready:
        return
    import time

    open(ready, "w").close()
    time.sleep(float(os.environ.get("NAM_LEGACY_TEST_IMPORT_PAUSE") or 0))


def main(argv: Optional[Sequence[str]] = None) -> int:
    try:
        _test_pause()
        from tools.cli import main as cli_main

        return cli_main(argv)
    except KeyboardInterrupt:  # tools.cli handles it once a verb runs; this is the time before
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def console() -> int:
    """The console script: `main`, then the interpreter's teardown (torch's and our exit
    handlers, a few tenths of a second) with Ctrl-C ignored. The command has finished and
    said so by then; an interrupt landing there made a finished run exit 130, silently."""
    import signal

    code = main()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return code


if __name__ == "__main__":
    sys.exit(console())
