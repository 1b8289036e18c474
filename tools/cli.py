"""The `nam-legacy` command line: one small function per verb.

Every failure caused by the input (a bad file, a config that does not fit, a wrong knob
count) is a `compat.LegacyError`: it is printed as one line on stderr and the exit code
is 2. Anything else is a bug of ours: one line, exit code 3 (NAM_LEGACY_DEBUG=1 shows the
traceback).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import List, Optional, Sequence

import torch

import compat
from compat.audio import read_audio, write_audio
from compat.describe import describe
from compat.render import render

from . import demo
from .report import format_facts

PROG = "nam-legacy"
EXIT_USAGE = 2
EXIT_INTERNAL = 3


def _parse_knobs(text: str) -> List[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip() != ""]
    except ValueError:
        raise compat.ConfigError(f"--params must be comma-separated numbers, got {text!r}") from None


def cmd_inspect(args) -> int:
    loaded = compat.open_checkpoint(args.checkpoint, args.config, release=args.release)
    facts = describe(loaded)
    if args.json:
        print(json.dumps(facts, indent=2))
    else:
        print("\n".join(format_facts(facts)))
    return 0


def cmd_render(args) -> int:
    loaded = compat.open_checkpoint(args.checkpoint, args.config, release=args.release)
    audio = read_audio(args.input)
    y = render(loaded.model, _parse_knobs(args.params), audio.samples, pad_start=args.pad_start)
    rate = audio.sample_rate or loaded.sample_rate or 48_000
    out = write_audio(args.output, y, int(rate))
    if args.json:
        print(json.dumps({"output": str(out), "samples": int(y.shape[0]), "sample_rate": int(rate)}))
    else:
        print(f"wrote {out} ({y.shape[0]} samples at {int(rate)} Hz)")
    return 0


def cmd_demo(args) -> int:
    report = demo.run(Path(args.output), say=(lambda *a: None) if args.json else print)
    if args.json:
        print(json.dumps(report, indent=2))
    return 0


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="Lightning .ckpt written by nam 0.3.0-0.7.4 (never executed: read with an allowlist)")
    p.add_argument("--config", required=True, metavar="MODEL_JSON", help="the model config JSON used for training (checkpoints carry no architecture)")
    p.add_argument("--release", default=None, help="build the model as this release did (default: ae86979, the last one)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Load and run the parametric (knob) models of Neural Amp Modeler 0.3.0-0.7.4 "
        "(CatLSTM, CatWaveNet, HyperConvNet), bit-exact with the releases that made them.",
        epilog="Knob values are always given in sorted-name order, the order the models consume them. "
        "Errors print one line and exit with code 2.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {_version()}")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    p = verbs.add_parser("inspect", help="describe a checkpoint: architecture, release, knobs, size",
                         description="Describe a legacy checkpoint: architecture, the releases that could have written it, knob count, receptive field, parameter count.")
    _add_model_args(p)
    p.set_defaults(run=cmd_inspect)

    p = verbs.add_parser("render", help="run a checkpoint on audio at one knob setting",
                         description="Run a legacy model on mono audio (.wav or float32 .npy) at one knob setting. "
                         "WAV output is 32-bit float, so no bits of the model's output are lost.",
                         epilog="example: nam-legacy render model.ckpt --config catlstm.json --params 0,0.3,0.5 --input di.wav --output out.wav")
    _add_model_args(p)
    p.add_argument("--params", required=True, metavar="V1,V2,...", help="knob values in sorted-name order, e.g. 0,0.3,0.5")
    p.add_argument("--input", required=True, metavar="IN", help=".wav or .npy (mono float32)")
    p.add_argument("--output", required=True, metavar="OUT", help=".wav (32-bit float) or .npy; written atomically")
    p.add_argument("--no-pad-start", dest="pad_start", action="store_false",
                   help="do not left-pad with receptive_field-1 zeros (output is shorter by that much)")
    p.set_defaults(run=cmd_render)

    p = verbs.add_parser("demo", help="inspect the bundled genuine legacy checkpoint and render a knob sweep",
                         description="Inspect the bundled checkpoint (a CatLSTM trained with the real nam 0.7.4) and render a knob sweep to WAV files.")
    p.add_argument("--output", default="nam-legacy-demo", metavar="DIR", help="where to write the WAV files (default: ./nam-legacy-demo)")
    p.add_argument("--json", action="store_true", help="print a machine-readable report instead of text")
    p.set_defaults(run=cmd_demo)
    return parser


def _version() -> str:
    from nam_legacy import __version__

    return __version__


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # bit-exactness is defined (and fastest here) on one thread
    try:
        return args.run(args)
    except compat.LegacyError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug of ours, not the user's input
        if os.environ.get("NAM_LEGACY_DEBUG"):
            raise
        print(f"{PROG}: internal error (please report; NAM_LEGACY_DEBUG=1 for details): {type(e).__name__}: {e}", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
