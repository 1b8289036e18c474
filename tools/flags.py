"""Options and help text shared by every verb, so each says the same thing the same way."""

from __future__ import annotations

import argparse

EXIT_CODES = (
    "Exit codes: 0 done; 1 audit found drift; 2 an input error (bad file, config, knob value or "
    "output path: one line on stderr, no partial output); 3 an internal error (a bug: please report it, "
    "NAM_LEGACY_DEBUG=1 shows the traceback); 130 interrupted (Ctrl-C); 141 the reader of the output "
    "closed the pipe early (e.g. | head), as with other Unix tools"
)
OUTPUT_POLICY = (
    "Outputs: nothing existing is replaced without --overwrite, the command's own inputs never are, "
    "and the output's folder must already exist."
)


def epilog(example: str = "") -> str:
    """A verb's epilog: its example, the output policy, the exit codes."""
    return " ".join(part for part in (example, OUTPUT_POLICY, EXIT_CODES + ".") if part)


def add_overwrite(p: argparse.ArgumentParser, what: str = "an existing output") -> None:
    p.add_argument("--overwrite", action="store_true", help=f"replace {what}; never one of the command's own inputs")


def add_extrapolate(p: argparse.ArgumentParser) -> None:
    p.add_argument("--extrapolate", action="store_true",
                   help="allow continuous knobs outside the param config's range (one warning per knob); "
                   "values must still be finite, and booleans 0 or 1")
