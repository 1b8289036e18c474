"""The `nam-legacy` command line: one small function per verb.

Every failure caused by the input (a bad file, a config that does not fit, a wrong knob
count, an output path that would lose a file) is a `compat.LegacyError`: it is printed as
one line on stderr and the exit code is 2. Anything else is a bug of ours: one line, exit
code 3 (NAM_LEGACY_DEBUG=1 shows the traceback). Usage errors are one line too, from the
verb's own parser (tools.flags.OneLineParser), exit code 2. Warnings are one line each
(`nam-legacy: warning: ...`). Where a verb may write is compat.outputs' policy. The
console script enters through tools.entry, which also turns a Ctrl-C during the imports
into one line.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import sys
import warnings
from datetime import datetime
from pathlib import Path
from typing import Optional, Sequence

import compat
from compat.atomic import discard_scratch
from compat.outputs import input_paths

from . import demo, render_command
from .audit import command as audit_command
from .migrate_commands import add_parsers as add_migrate_parsers
from .flags import OneLineParser, add_overwrite, epilog
from .hints import error_text
from .output import install as install_output, internal_error_line, json_text, message_line
from .report import format_inspect, inspect_facts, note_warning, show_progress, warning_log, warnings_said

PROG = "nam-legacy"
EXIT_OK, EXIT_DRIFT, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_PIPE = 0, 1, 2, 3, 130, 141

def _load(args) -> "compat.LegacyModel":
    return compat.load(args.path, config=args.config, param_config=args.param_config, release=args.release)


def _model_inputs(args, *more) -> list:
    return input_paths(args.path, args.config, args.param_config, *more)


def cmd_inspect(args) -> int:
    from compat.describe import describe

    facts = inspect_facts(describe(_load(args)))
    print(json_text(facts, indent=2) if args.json else "\n".join(format_inspect(facts)))
    return 0


def cmd_export(args) -> int:
    legacy = _load(args)
    date = None
    if args.date:
        try:
            date = datetime.fromisoformat(args.date)
        except ValueError:
            raise compat.ConfigError(f"--date must be ISO 8601 (e.g. 2024-01-14T12:00:00), got {args.date!r}") from None
    write_as = args.as_release or args.release
    from compat.exporter import check_date_applies

    check_date_applies(legacy.architecture, args.format, write_as, date)
    out = compat.export(legacy, args.format, args.output, release=write_as, date=date, overwrite=args.overwrite,
                        inputs=_model_inputs(args))
    if args.json:
        print(json_text({"output": str(out), "format": args.format, "warnings": warnings_said()}))
    else:
        print(f"wrote {out}")
    return 0


class _Say:
    """The demo's progress lines: once the reader has closed the pipe (`demo | head -1`),
    the demo goes on writing its files and stops printing; the command then exits 141."""

    def __init__(self, quiet: bool):
        self.quiet, self.closed = quiet, False

    def __call__(self, text: str) -> None:
        if self.quiet or self.closed:
            return
        try:
            print(text)
            sys.stdout.flush()
        except BrokenPipeError:
            self.closed = True
            _silence_stdout()


def cmd_demo(args) -> int:
    say = _Say(args.json)
    report = demo.run(Path(args.output), say=say, overwrite=args.overwrite, progress=not args.json and show_progress())
    if args.json:
        print(json_text(report, indent=2))
    return EXIT_PIPE if say.closed else 0


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", help="a legacy file: Lightning .ckpt, .nam, export folder (config.json + weights.npy) or C++ header; "
                   "the format and release are detected from the contents (checkpoints are never executed)")
    p.add_argument("--config", metavar="MODEL_JSON", help="the model config JSON used for training (required for checkpoints, which carry no architecture)")
    p.add_argument("--param-config", metavar="PARAMS_JSON", help="knob names, types, defaults and ranges {name: {type, default_value, minval, maxval}}; overrides the file's")
    p.add_argument("--release", default=None, help="build the model as this release did (default: ae86979, the last one)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog=PROG,
        description="Load, run and re-export the parametric (knob) models of Neural Amp Modeler 0.3.0-0.7.4 "
        "(CatLSTM, CatWaveNet, HyperConvNet), bit-exact with the releases that made them.",
        epilog=epilog(note="Knob values given with --params are in sorted-name order, the order the models consume them."),
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {_version()}")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    p = verbs.add_parser("inspect", help="describe a legacy file: architecture, release, knobs, size",
                         description="Describe a legacy file: format, the releases that could have written it, architecture, "
                         "knobs, receptive field, parameter count, metadata.",
                         epilog=epilog("nam-legacy inspect model.nam", "nam-legacy inspect model.ckpt --config catlstm.json --json",
                                       outputs=False))
    _add_model_args(p)
    p.set_defaults(run=cmd_inspect)

    render_command.add_parser(verbs, _add_model_args)

    p = verbs.add_parser("export", help="write a legacy model in a release's own format (.nam, export folder, C++ header), "
                         "or as a parametric-nam .nam for plugins with live knobs",
                         description="Write a legacy model exactly as a given release wrote it: layout, key order, number "
                         "formatting and file names. Output appears atomically.",
                         epilog=epilog("nam-legacy export model.ckpt --config catlstm.json --param-config params.json "
                                       "--format nam --as-release 0.5.1 --output model.nam --date 2024-01-14T12:00:00"))
    _add_model_args(p)
    p.add_argument("--load-release", dest="release", help=argparse.SUPPRESS)  # the old name of --release here
    p.add_argument("--format", required=True, choices=("nam", "dir", "header", "parametric-nam"), help="nam: a .nam file (0.5.0+); dir: config.json + weights.npy "
                   "(Cat* 0.3.0/0.4.0, HyperConvNet always); header: C++ header; parametric-nam: a ConcatLSTM/ConcatWaveNet .nam "
                   "for plugins with live knobs (neural-amp-modeler-parametric; CatLSTM/CatWaveNet, needs the param config, no --as-release)")
    p.add_argument("--as-release", default=None, metavar="RELEASE",
                   help="write as this release did (default: --release when given, else the last release that wrote the format)")
    p.add_argument("--output", required=True, metavar="OUT", help="the .nam file (nam, parametric-nam), the .h or .hpp file "
                   "(header), or a new (or empty) folder (dir)")
    add_overwrite(p, "an existing output file, or an earlier export folder whole (one holding only an export's files)")
    p.add_argument("--date", help="pin the .nam metadata date (ISO 8601) for byte-stable output (.nam files only)")
    p.set_defaults(run=cmd_export)

    add_migrate_parsers(verbs)
    audit_command.add_parser(verbs)

    p = verbs.add_parser("demo", help="load the bundled genuine legacy files, stream a knob sweep, export for live knobs, migrate and pack",
                         description=demo.DESCRIPTION,
                         epilog=epilog())
    p.add_argument("--output", default="nam-legacy-demo", metavar="DIR",
                   help="a new folder for everything the demo writes (default: ./nam-legacy-demo)")
    add_overwrite(p, f"an earlier demo's folder, whole (only when it holds exactly what that demo wrote, per its {demo.MARKER})")
    p.add_argument("--json", action="store_true", help="print a machine-readable report instead of text")
    p.set_defaults(run=cmd_demo)
    return parser


def _version() -> str:
    from nam_legacy import __version__

    return __version__


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one line, like errors (not Python's file:line format); kept for --json."""
    if note_warning(message):  # once per run: a file opened twice is not reported twice
        print(message_line(PROG, "warning", message), file=sys.stderr)


def _silence_stdout() -> None:
    """The reader closed the pipe: send what is still buffered to /dev/null, so the
    interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


# Writing failed for a reason the user can fix (full disk, read-only or forbidden place).
_USER_WRITE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    import torch  # after parsing: --help and usage errors answer without loading it

    torch.set_num_threads(1)  # bit-exactness is defined (and fastest here) on one thread
    # Upstream's models log "Nominal settings aren't defined..." at every metadata step
    # (a dozen times per export); that is noise on a command line.
    logging.getLogger("nam_legacy").setLevel(logging.ERROR)
    from nam_legacy.models._resources import LoudnessInputMissing

    with warnings.catch_warnings(), warning_log():
        warnings.showwarning = _show_warning
        restore_output = install_output()  # printable stdout; unencodable characters escaped, never raised
        try:
            code = args.run(args)
            sys.stdout.flush()  # a closed pipe shows here, not at exit
            return code
        except (compat.LegacyError, LoudnessInputMissing) as e:
            print(message_line(PROG, "error", error_text(e)), file=sys.stderr)  # with its flag hint
            return EXIT_USAGE
        except KeyboardInterrupt:
            discard_scratch()  # temporaries an interrupt caught between creation and cleanup
            print(f"{PROG}: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        except BrokenPipeError:
            _silence_stdout()
            return EXIT_PIPE
        except OSError as e:
            if e.errno not in _USER_WRITE_ERRORS or os.environ.get("NAM_LEGACY_DEBUG"):
                return _internal(e)
            where = f"{e.filename}: " if e.filename else ""
            print(message_line(PROG, "error", f"{where}{e.strerror or e}"), file=sys.stderr)
            return EXIT_USAGE
        except Exception as e:  # a bug of ours, not the user's input
            return _internal(e)
        finally:
            restore_output()


def _internal(e: BaseException) -> int:
    if os.environ.get("NAM_LEGACY_DEBUG"):
        raise e
    print(internal_error_line(PROG, e), file=sys.stderr)
    return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
