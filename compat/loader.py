"""`compat.load`: any legacy file → one `LegacyModel`, the format and release sniffed.

checkpoint: safe read → migrate → build from the model config (see loading.py)
.nam / export folder / C++ header: reader → RawModel → size check → build from the file's
own config → import the flat weights (compat.weights).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import torch

from nam_legacy.releases import ReleaseProfile

from . import architectures, weights
from .describe import knob_count
from .detect import ReleaseRange
from .finite import nonfinite_warning
from .errors import ConfigError, UnknownFormatError, UnsupportedReleaseError, file_label, names_file, naming
from .formats import RawModel
from .formats.configs import read_config
from .formats.cpp_header import read_cpp_header
from .formats.export_dir import read_export_dir
from .formats.nam_file import read_nam
from .formats.parametric_nam import read_parametric_nam
from .knobs import KnobSpec, specs_from_param_config
from .loading import target_release, open_checkpoint
from .sniff import sniff

# Each reader names its file in any error (errors.names_file): `amp.nam: ...`.
_READERS = {"nam": names_file(read_nam), "export_dir": names_file(read_export_dir),
            "cpp_header": names_file(read_cpp_header), "parametric_nam": names_file(read_parametric_nam)}


@dataclass
class LegacyModel:
    model: torch.nn.Module  # in eval mode
    architecture: str
    format: str  # "ckpt" | "nam" | "export_dir" | "cpp_header" | "parametric_nam"
    detected: ReleaseRange  # releases that could have written the file
    release: ReleaseProfile  # the profile the model was built under
    net_config: Dict[str, Any]  # constructor config (what init_from_config takes)
    knobs: Tuple[KnobSpec, ...]  # model input order; empty when the names are unknown
    param_config: Optional[Dict[str, Dict[str, Any]]]  # as given, in its own order (for exports)
    sample_rate: Optional[float]
    # CatLSTM only: where the forward pass starts. Checkpoints keep the learned state;
    # .nam files and headers carry only the burn-in state their exporter computed.
    initial_state: Optional[str]
    metadata: Dict[str, Any] = field(default_factory=dict)
    warnings: List[str] = field(default_factory=list)

    @property
    def knob_count(self) -> int:
        return knob_count(self.model)


def _param_config(value) -> Optional[Dict[str, Dict[str, Any]]]:
    if value is None:
        return None
    kind, config = read_config(value)
    if kind != "param":
        raise ConfigError(f"expected a param config ({{name: {{type, default_value, ...}}}}), got a {kind} config")
    return config


@names_file
def load(
    path: Union[str, Path],
    *,
    config=None,
    param_config=None,
    release: Union[str, ReleaseProfile, None] = None,
) -> LegacyModel:
    """Load any legacy file: Lightning checkpoint, .nam, export folder or C++ header; also
    the ConcatLSTM/ConcatWaveNet .nam files of the parametric NAM line (as CatLSTM/CatWaveNet).

    :param config: the model config JSON (dict or path); required for checkpoints, which
        carry no architecture, ignored otherwise.
    :param param_config: knob names/types/defaults/ranges (dict or path); overrides what
        the file says. Checkpoints carry none. It must name as many knobs as the model
        takes (ConfigError naming its file otherwise).
    :param release: build the model as this release did (default ae86979).
    """
    path = Path(path)
    fmt = sniff(path)
    with naming(param_config, "param-config"):  # a bad --param-config names its own file, not the model's
        user_params = _param_config(param_config)
    target = target_release(release)
    if fmt == "ckpt":
        return _check_knob_count(_from_checkpoint(path, config, user_params, target), param_config)
    if fmt == "ckpt-legacy":
        raise UnsupportedReleaseError(f"{path.name} uses torch's pre-1.6 (non-zip) checkpoint format, which is not supported; "
                                      "re-save it with torch >= 1.6 in a trusted environment")
    reader = _READERS.get(fmt)
    if reader is None:
        raise UnknownFormatError(f"{path.name}: a {fmt} file holds no model; pass the checkpoint or export it belongs to")
    return _check_knob_count(_from_raw(reader(path), user_params, target), param_config)


def _check_knob_count(legacy: LegacyModel, param_config) -> LegacyModel:
    """A param config the caller gave must name as many knobs as the model takes: refused
    here, naming its own file, rather than later at the first use of a knob."""
    given, count = len(legacy.param_config or ()), legacy.knob_count
    if param_config is None or given == count:
        return legacy
    name = file_label(param_config) if isinstance(param_config, (str, os.PathLike)) else "the param config"
    with naming(param_config, "param-config"):
        raise ConfigError(f"{name} names {given} knob{'' if given == 1 else 's'} but the {legacy.architecture} takes {count}")


def _weight_warnings(model) -> List[str]:
    """NaN or infinite weights still load (to be inspected), with a warning (compat/finite.py)."""
    note = nonfinite_warning(model)
    return [] if note is None else [note]


def _from_checkpoint(path, config, user_params, target) -> LegacyModel:
    if config is None:
        raise ConfigError(f"{path.name} is a Lightning checkpoint, which carries no architecture: pass its model config (--config)")
    loaded = open_checkpoint(path, config, release=target)
    _, net_config = architectures.net_spec(architectures.read_model_config(config))
    return LegacyModel(
        model=loaded.model,
        architecture=loaded.architecture,
        format="ckpt",
        detected=loaded.detected,
        release=target,
        net_config=net_config,
        knobs=specs_from_param_config(user_params) if user_params else (),
        param_config=user_params,
        sample_rate=loaded.sample_rate,
        initial_state="learned" if loaded.architecture == "CatLSTM" else None,
        metadata={"lightning_version": loaded.lightning_version},
        warnings=[*loaded.notes, *_weight_warnings(loaded.model)],
    )


def _from_raw(raw: RawModel, user_params, target: ReleaseProfile) -> LegacyModel:
    model = architectures.build(raw.architecture, raw.net_config, target)
    weights.import_weights(model, raw.weights)
    model.eval()
    param_config = user_params if user_params is not None else raw.param_config
    if raw.sample_rate is not None and target.has_sample_rate:
        model.sample_rate = raw.sample_rate
    return LegacyModel(
        model=model,
        architecture=raw.architecture,
        format=raw.format,
        detected=raw.releases,
        release=target,
        net_config=dict(raw.net_config),
        knobs=specs_from_param_config(param_config) if param_config else (),
        param_config=param_config,
        sample_rate=raw.sample_rate,
        initial_state="exported burn-in" if raw.architecture == "CatLSTM" else None,
        metadata=dict(raw.metadata),
        warnings=[*raw.warnings, *_weight_warnings(model)],
    )
