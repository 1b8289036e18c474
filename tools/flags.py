"""Options, help text and usage errors shared by every verb, so each says the same thing the same way."""

from __future__ import annotations

import argparse
from typing import NoReturn

EXIT_CODES = (
    "Exit codes: 0 done; 2 an input error (bad file, config, knob value, output path or usage: one line on "
    "stderr, no partial output); 3 an internal error (a bug: please report it, NAM_LEGACY_DEBUG=1 shows the "
    "traceback); 130 interrupted (Ctrl-C); 141 the reader of the output closed the pipe (e.g. | head) before "
    "all of it was written, as with other Unix tools"
)
OUTPUT_POLICY = (
    "Outputs: the name fits what is written (.nam, .h or .hpp, .png, .wav or .npy; a folder name for folders); "
    "nothing existing is replaced without --overwrite, which replaces a folder only when it holds nothing but "
    "this command's own earlier output, never the current folder, home or /; the command's own inputs are "
    "never written over, and the output's folder must already exist."
)


def epilog(*examples: str, note: str = "", outputs: bool = True) -> str:
    """A verb's epilog: its example commands (one per line), a note, the output policy
    (`outputs`: for verbs that write files) and the exit codes, as paragraphs."""
    parts = []
    if examples:
        parts.append("\n".join(["examples:" if len(examples) > 1 else "example:", *(f"  {e}" for e in examples)]))
    parts += [note, OUTPUT_POLICY if outputs else "", EXIT_CODES + "."]
    return "\n\n".join(part for part in parts if part)


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, except that a description or epilog keeps its own line breaks:
    each line is a paragraph filled to the terminal's width, and an indented line (an
    example command) is kept whole, so commands never run together."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        lines = []
        for line in text.splitlines():
            if not line.strip():
                lines.append("")
            elif line[0].isspace():
                lines.append(indent + line)
            else:
                lines.append(super()._fill_text(line, width, indent))
        return "\n".join(lines)


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, like every other error:
    `nam-legacy migrate: error: the following arguments are required: --output (see
    nam-legacy migrate --help)`, exit code 2. Subparsers are of this class too (argparse
    makes them of the parent's class), and arguments no parser knows are reported by the
    verb's own parser, not the top-level one."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        from .output import message_line

        self.exit(2, message_line(self.prog, "error", f"{message} (see {self.prog} --help)") + "\n")

    def parse_args(self, args=None, namespace=None):
        known, unknown = self.parse_known_args(args, namespace)
        if unknown:
            verb = getattr(known, "verb", None)
            parser = self._verb_parsers().get(verb, self)
            parser.error(f"unrecognized arguments: {' '.join(unknown)}")
        return known

    def _verb_parsers(self) -> dict:
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                return action.choices
        return {}


def add_overwrite(p: argparse.ArgumentParser, what: str = "an existing output file") -> None:
    p.add_argument("--overwrite", action="store_true", help=f"replace {what}; never one of the command's own inputs")


def add_extrapolate(p: argparse.ArgumentParser) -> None:
    p.add_argument("--extrapolate", action="store_true",
                   help="allow continuous knobs outside the param config's range (one warning per knob); "
                   "values must still be finite, and booleans 0 or 1")
