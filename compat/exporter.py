"""`compat.export`: write a loaded model exactly as a given release wrote it.

The model is rebuilt under the target release's profile (its state dict migrated there)
and nam_legacy's own exporters write the files; those are proven byte-identical to the
releases' (tests/test_exports.py). Output appears atomically: everything is written into
a temporary folder beside the destination and moved into place at the end. Where it may
write is compat.outputs' policy: the name fits the format (.nam, .h/.hpp, a folder), the
parent folder must exist, an existing output is replaced only with overwrite=True (a
folder only when it holds nothing but an export's own files, `EXPORT_DIR_FILES`), and
the model's own input files never are.

A 0.5.1+ `.nam` of a CatLSTM with knobs or of a CatWaveNet carries loudness and gain
metadata that never depended on the model: their nominal settings are the identity
(docs/quirks.md Q001, Q102), so the release measured upstream's loudness_input.wav
itself. Those two numbers are stored here (IDENTITY_LOUDNESS, IDENTITY_GAIN), so such
exports need no recording; tests/test_export_metadata.py recomputes them from it.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Iterable, Optional, Union

import torch

from nam_legacy.models.parametric.catnets import CatLSTM, CatWaveNet
from nam_legacy.models.parametric.params import Param
from nam_legacy.releases import DEFAULT, ReleaseProfile

from . import architectures, upgrades
from .atomic import forget, scratch_folder
from .errors import ConfigError, FileAccessError, UnsupportedReleaseError
from .finite import check_finite_weights
from .formats.parametric_nam_write import write_parametric_nam
from .loader import LegacyModel
from .loading import target_release
from .outputs import check_output, put_in_place

FORMATS = ("nam", "dir", "header", "parametric-nam")
# What each format's output is (compat.outputs.OUTPUT_KINDS; None: a folder)
OUTPUT_KIND = {"nam": "nam", "parametric-nam": "nam", "header": "header", "dir": None}
# Every file an export folder holds: the model, and the snapshot 0.3.0/0.4.0 wrote beside it
EXPORT_DIR_FILES = ("config.json", "weights.npy", "inputs.npy", "outputs.npy", "input.wav", "output.wav")

# loudness and gain of a model whose nominal settings are the identity, as every 0.5.1+
# release wrote them: 20·log10 of the RMS of loudness_input.wav (float32), and the gain
# formula's value for a linear "model", ~-6e-8 clipped to 0
IDENTITY_LOUDNESS = -14.968025207519531
IDENTITY_GAIN = 0.0
_GAIN_STEPS = 11  # BaseNet._metadata_gain measures at linspace(0, 1, 11)


def default_release(architecture: str, fmt: str) -> ReleaseProfile:
    """The last release that wrote `fmt` for `architecture`."""
    if fmt == "dir" and architecture != "HyperConvNet":
        return target_release("0.4.0")
    return DEFAULT


def _check_supported(architecture: str, fmt: str, release: ReleaseProfile) -> None:
    hyper = architecture == "HyperConvNet"
    if fmt == "nam" and (hyper or release.export_container != "nam"):
        what = "HyperConvNet never had a .nam format" if hyper else f"{release.name} wrote export folders, not .nam files"
        raise UnsupportedReleaseError(f"cannot write a .nam for {architecture} as {release.name}: {what}")
    if fmt == "dir" and not hyper and release.export_container != "directory":
        raise UnsupportedReleaseError(f"{architecture} export folders exist only in 0.3.0/0.4.0 (use --format nam for {release.name})")
    if fmt == "header" and architecture == "CatLSTM" and not release.lstm_cpp_header:
        raise UnsupportedReleaseError(f"{release.name} could not write CatLSTM C++ headers (0.4.0+)")


def _rebuild(legacy: LegacyModel, release: ReleaseProfile):
    """The same model built under `release`, its state migrated there."""
    state = dict(legacy.model.state_dict())
    if not release.lstm_learned_initial_state:
        # Exports never carry the learned state (only the burn-in state they compute),
        # so a 0.3.0 export does not need it.
        state.pop("_initial_cell", None)
        state.pop("_initial_hidden", None)
    payload = {"architecture": legacy.architecture, "state_dict": state, "sample_rate": legacy.sample_rate}
    payload = upgrades.migrate(payload, legacy.release, release)
    model = architectures.build(legacy.architecture, legacy.net_config, release)
    model.load_state_dict(payload["state_dict"], strict=True)
    return model.eval()


def measures_its_input(model) -> bool:
    """True when `model._at_nominal_settings` is the identity (a CatLSTM with knobs, a
    CatWaveNet), so its `.nam` loudness and gain are those of the recording itself."""
    return isinstance(model, CatWaveNet) or (isinstance(model, CatLSTM) and model._input_size != 1)


def _use_identity_metadata(model) -> None:
    """The stored values in place of measuring the recording (instance attributes, so
    only this export's model is affected).

    Each value still asks the model's own `_at_nominal_settings`, as upstream did (once for
    the loudness, once per gain step: the same 12 calls and log records), on a one-sample
    probe: only when that returns its input unchanged is the constant used; otherwise the
    recording is measured as before."""
    measured_loudness, measured_gain = model._metadata_loudness, model._metadata_gain
    probe = torch.zeros(1)

    def identity() -> bool:
        return model._at_nominal_settings(probe) is probe

    def loudness(gain: float = 1.0, db: bool = True) -> float:
        if gain == 1.0 and db and identity():
            return IDENTITY_LOUDNESS
        return measured_loudness(gain=gain, db=db)

    def gain() -> float:
        if all([identity() for _ in range(_GAIN_STEPS)]):
            return IDENTITY_GAIN
        return measured_gain()

    model._metadata_loudness = loudness
    model._metadata_gain = gain


def not_an_export_folder(folder: Path) -> Optional[str]:
    """None when `folder` holds an export folder and nothing else (its config.json, its
    weights.npy, and only EXPORT_DIR_FILES), so that --overwrite may replace it; else why
    not (compat.outputs.Replaceable)."""
    for entry in folder.iterdir():  # stops at the first foreign entry, however many there are
        if entry.name not in EXPORT_DIR_FILES or entry.is_symlink() or not entry.is_file():
            return f"holds {entry.name!r}, which an export folder does not"
    try:
        document = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        document = None
    if not (isinstance(document, dict) and "architecture" in document and (folder / "weights.npy").is_file()):
        return "is not an export folder (no export's config.json and weights.npy)"
    return None


def check_date_applies(architecture: str, fmt: str, release: Union[str, ReleaseProfile, None], date: Optional[datetime]) -> None:
    """ConfigError when a pinned `date` would not be written: export folders and C++
    headers carry none, nor does a .nam of a release before 0.5.1. (`export` itself takes a
    date for any format and uses it where there is one; the CLI asks first, so that
    `--date` is never ignored silently.)"""
    if date is None or fmt == "parametric-nam":
        return
    if fmt in ("dir", "header"):
        raise ConfigError("--date applies to .nam files only (export folders and C++ headers carry no date)")
    profile = default_release(architecture, fmt) if release is None else target_release(release)
    if not profile.metadata_in_export:
        raise ConfigError(f"--date: a {profile.name} .nam carries no date (metadata began with 0.5.1)")


def _params(legacy: LegacyModel):
    if legacy.architecture == "HyperConvNet":
        return None
    if not legacy.param_config:
        raise ConfigError(f"a {legacy.architecture} export needs the knob names and defaults: pass a param config (--param-config)")
    # Fresh dicts: Param.parse_config pops "type" from what it is given (upstream quirk).
    return {name: Param.init_from_config(dict(spec)) for name, spec in legacy.param_config.items()}


def export(
    legacy: LegacyModel,
    fmt: str,
    output: Union[str, Path],
    *,
    release: Union[str, ReleaseProfile, None] = None,
    date: Optional[datetime] = None,
    overwrite: bool = False,
    inputs: Iterable[Union[str, Path]] = (),
) -> Path:
    """Write `legacy` as `release` did. Returns the path written.

    :param fmt: "nam" (output is the .nam file), "dir" (output is a new or empty folder),
        "header" (output is the .h file), or "parametric-nam": a ConcatLSTM/ConcatWaveNet
        `.nam` of the parametric NAM line, for plugins with live knobs (one layout: no
        `release` other than the one the model was loaded as; formats/parametric_nam_write.py).
    :param date: the `.nam` metadata date (0.5.1+); default now, like upstream. Pin it
        for byte-stable output.
    :param overwrite: replace an existing output (a folder is replaced whole).
    :param inputs: the files the model was read from (compat.outputs.input_paths), which
        are never written over, even with overwrite.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    check_finite_weights(legacy, "export")  # before any output exists
    if fmt == "parametric-nam":
        return _export_parametric_nam(legacy, Path(output), release, date, overwrite, inputs)
    profile = default_release(legacy.architecture, fmt) if release is None else target_release(release)
    _check_supported(legacy.architecture, fmt, profile)
    output = Path(output)
    where = dict(kind=OUTPUT_KIND[fmt], inputs=list(inputs), overwrite=overwrite, folder=fmt == "dir",
                 replaceable=not_an_export_folder)
    check_output(output, **where)
    model = _rebuild(legacy, profile)
    if fmt == "nam" and measures_its_input(model):
        _use_identity_metadata(model)
    if date is not None:
        model._export_fixed_date = date
    params = _params(legacy)
    staging = scratch_folder(output.parent, f".{output.name}.")
    try:
        produced = _write_typed(model, params, fmt, staging, output)
        check_output(output, **where)  # still so: nothing appeared there while this ran
        put_in_place(produced, output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        forget(staging)
    return output


def _export_parametric_nam(legacy: LegacyModel, output: Path, release, date, overwrite, inputs) -> Path:
    # The CLI passes --as-release, else --release (the load release): only the first is wrong here.
    if release is not None and target_release(release) != legacy.release:
        raise ConfigError("a parametric-nam export has one layout (file version 1.0.0): drop --as-release")
    check_output(output, kind="nam", inputs=inputs, overwrite=overwrite)
    return write_parametric_nam(legacy, output, date=date)


def _write_typed(model, params, fmt: str, staging: Path, output: Path) -> Path:
    """_write, with the one missing-resource failure a user can fix made a compat error."""
    from nam_legacy.models._resources import LoudnessInputMissing

    try:
        return _write(model, params, fmt, staging, output)
    except LoudnessInputMissing as e:
        raise FileAccessError(str(e)) from None


def _write(model, params, fmt: str, staging: Path, output: Path) -> Path:
    args = () if params is None else (params,)
    if fmt == "header":
        target = staging / output.name
        model.export_cpp_header(target, *args)
        return target
    if fmt == "nam":
        kwargs = {"basename": output.stem} if model._release.export_basename else {}
        model.export(staging, *args, **kwargs)
        return staging / (f"{output.stem}.nam" if kwargs else "model.nam")
    folder = staging / "export"
    folder.mkdir()
    model.export(folder, *args)
    return folder
