"""`nam-legacy migrate` and `nam-legacy pack`: legacy parametric models → current-NAM `.nam` files.

    nam-legacy migrate amp.nam --knob drive=0.7 --output amp-drive-0.7.nam [--nam-version 0.7.0] [--date ISO]
    nam-legacy migrate model.ckpt --config catlstm.json --param-config params.json --params 0,0.3,0.5 --output x.nam
    nam-legacy pack model.ckpt --config catlstm.json --param-config params.json \
        --grid drive=0:1:5 --grid tone=0,0.5,1 --output amp-pack/

`add_parsers(subparsers)` registers both verbs (each sets `run=`); bad input raises a
`compat.LegacyError`, which the CLI prints as one line with exit code 2. Outputs follow
compat.outputs' policy; knob values are checked (compat.knobs) before any work.
"""

from __future__ import annotations

import argparse
import warnings
from datetime import datetime
from pathlib import Path
from typing import Optional

import compat
from compat.knobs import OutOfRangeWarning, knob_vector, parse_named, parse_positional
from compat.outputs import check_output, input_paths

from .flags import add_extrapolate, add_overwrite, epilog
from .output import json_text
from .report import format_knobs, knobs_json, show_progress, warnings_said

__all__ = ["add_parsers", "cmd_migrate", "cmd_pack"]


def _date(text: Optional[str]) -> Optional[datetime]:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise compat.ConfigError(f"--date must be ISO 8601 (e.g. 2024-01-14T12:00:00), got {text!r}") from None


def _load(args):
    return compat.load(args.path, config=args.config, param_config=args.param_config, release=args.release)


def _inputs(args) -> list:
    return input_paths(args.path, args.config, args.param_config)


def cmd_migrate(args) -> int:
    from compat.migrate.fold import fold
    from compat.migrate.current_nam import write_nam
    from compat.migrate.pack import check_version, current_metadata, migrated_document

    version = args.nam_version
    date = _date(args.date) or datetime.now().replace(microsecond=0)
    values, named = parse_positional(args.params), parse_named(args.knob)  # the arguments alone first
    check_output(args.output, kind="nam", inputs=_inputs(args), overwrite=args.overwrite)
    legacy = _load(args)
    knobs = knob_vector(legacy.knobs, legacy.knob_count, values=values, named=named, allow_out_of_range=args.extrapolate)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfRangeWarning)  # knob_vector has said it once
        folded = fold(legacy, knobs, initial_state=args.initial_state, allow_out_of_range=args.extrapolate)
    check_version(folded.architecture, version)
    (meta,) = current_metadata([folded], date=date)
    doc = migrated_document(folded, legacy, meta, version=version, source=args.path)
    out = write_nam(args.output, doc)
    names = folded.knob_names
    facts = {"output": str(out), "architecture": folded.architecture, "version": version,
             "knobs": knobs_json(folded.knobs, names),
             "loudness": meta.get("loudness"), "gain": meta.get("gain"), "warnings": warnings_said()}
    if args.json:
        print(json_text(facts))
    else:
        print(f"wrote {out} ({folded.architecture}, .nam {version}; knobs {format_knobs(folded.knobs, names)})")
    return 0


def cmd_pack(args) -> int:
    from compat.migrate.pack import MANIFEST, check_grid, parse_grid, pack

    grid = parse_grid(args.grid)  # before loading: a bad grid is reported fast
    check_output(args.output, inputs=_inputs(args), overwrite=args.overwrite, folder=True, existing_folder_ok=True)
    legacy = _load(args)
    check_grid(legacy.knobs, grid, allow_out_of_range=args.extrapolate)
    out = Path(args.output)
    created = not out.exists()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OutOfRangeWarning)  # check_grid has said it once per knob
            manifest = pack(legacy, grid, out, source=args.path, version=args.nam_version, date=_date(args.date),
                            initial_state=args.initial_state, progress=show_progress(args.json),
                            overwrite=args.overwrite, allow_out_of_range=args.extrapolate)
    except BaseException:
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()  # the folder this run made, still empty: leave nothing behind
        raise
    if args.json:  # every path as the output's: under --output as given
        print(json_text({"output": str(out), "files": len(manifest["files"]),
                          "written": len(manifest["written"]), "skipped": manifest["skipped"],
                          "manifest": str(out / MANIFEST), "plot": None if manifest["plot"] is None else str(out / manifest["plot"]),
                          "warnings": warnings_said(*manifest["warnings"])}))
    else:
        plot = f" and {manifest['plot']}" if manifest["plot"] else " (no plot)"
        print(f"wrote {len(manifest['written'])} of {len(manifest['files'])} files to {args.output} "
              f"({manifest['skipped']} already complete), manifest.json{plot}")
    return 0


def _model_args(p: argparse.ArgumentParser) -> None:
    from compat.choices import INITIAL_STATES

    p.add_argument("path", help="a legacy file: Lightning .ckpt, .nam, export folder or C++ header")
    p.add_argument("--config", metavar="MODEL_JSON", help="the model config JSON (required for checkpoints)")
    p.add_argument("--param-config", metavar="PARAMS_JSON", help="knob names, types, defaults and ranges; overrides the file's")
    p.add_argument("--release", default=None, help="build the legacy model as this release did (default: ae86979, the last one)")
    p.add_argument("--nam-version", default="0.7.0", metavar="VERSION",
                   help="file version to write: 0.7.0 (current NAM, all architectures) or 0.5.4 (LSTM and ConvNet only)")
    p.add_argument("--initial-state", default="burn-in", choices=list(INITIAL_STATES),
                   help="LSTM only: store current NAM's burn-in state (default) or the legacy model's own start state")
    p.add_argument("--date", help="pin the metadata date (ISO 8601) for byte-stable output")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON (and no progress bar)")
    add_extrapolate(p)


def add_parsers(subparsers) -> None:
    p = subparsers.add_parser(
        "migrate", help="write a current-NAM .nam of a legacy parametric model at one knob setting",
        description="Fold a CatLSTM / CatWaveNet / HyperConvNet at one knob setting into an ordinary current-NAM "
        "LSTM / WaveNet / ConvNet .nam (exact up to float32 rounding), with loudness, gain and provenance metadata.",
        epilog=epilog("nam-legacy migrate model.ckpt --config catlstm.json --param-config params.json "
                      "--knob drive=0.7 --output amp-drive-0.7.nam --date 2024-01-14T12:00:00"))
    _model_args(p)
    p.add_argument("--params", metavar="V1,V2,...", help="all knob values in sorted-name order")
    p.add_argument("--knob", action="append", default=[], metavar="NAME=VALUE", help="one knob by name (repeatable, once per knob); the others keep their defaults")
    p.add_argument("--output", required=True, metavar="OUT.nam", help="a new file, written atomically")
    add_overwrite(p, "an existing output file")
    p.set_defaults(run=cmd_migrate)

    p = subparsers.add_parser(
        "pack", help="write one current-NAM .nam per point of a knob grid, with a manifest and a loudness plot",
        description="Migrate a legacy parametric model at every point of a knob grid: one .nam per point "
        "(named by each grid knob's index and value, so they list in grid order), manifest.json and loudness.png. Files appear atomically; re-running "
        "an interrupted pack skips the files already complete. Grid values are checked against the knobs' "
        "ranges before any work.",
        epilog=epilog("nam-legacy pack amp.nam --grid drive=0:1:5 --grid tone=0,0.5,1 --output amp-pack"))
    _model_args(p)
    p.add_argument("--grid", action="append", default=[], metavar="NAME=START:STOP:COUNT|NAME=V1,V2,...",
                   help="a knob's grid values: COUNT evenly spaced values from START to STOP inclusive, or a list "
                   "(repeatable); knobs not on the grid keep their defaults")
    p.add_argument("--output", required=True, metavar="DIR",
                   help="the pack folder (created inside an existing folder; an unfinished pack of the same model "
                   "and settings there is resumed)")
    add_overwrite(p, "a pack of another model or other settings in DIR, whole (a folder that is not a pack, never)")
    p.set_defaults(run=cmd_pack)
