"""`load_checkpoint`: a Lightning `.ckpt` of any release 0.3.0–0.7.4 → a `nam_legacy` model.

read (safe, no pickled code runs) → strip Lightning's `_net.` prefix → detect the release
range → migrate the state dict to the target release → build the model from the model
config under that release → strict `load_state_dict`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Union

import torch

from nam_legacy.releases import DEFAULT, ReleaseProfile, get_release

from . import architectures, upgrades
from .checkpoint import read_checkpoint
from .detect import ReleaseRange, checkpoint_releases
from .errors import CorruptFileError, UnsupportedReleaseError, WeightsMismatchError, names_file, naming

_NET_PREFIX = "_net."


@dataclass
class LoadedCheckpoint:
    model: torch.nn.Module
    architecture: str
    detected: ReleaseRange  # releases that could have written the file
    release: ReleaseProfile  # the profile the model was built under
    sample_rate: Optional[float]
    lightning_version: Optional[str]
    notes: List[str] = field(default_factory=list)  # what a user may want to know


def _net_state_dict(checkpoint) -> dict:
    state_dict = checkpoint.get("state_dict") if isinstance(checkpoint, dict) else None
    if not isinstance(state_dict, dict):
        raise CorruptFileError("not a Lightning checkpoint: no state_dict")
    net = {}
    for key, value in state_dict.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise CorruptFileError(f"state_dict entry {key!r} is not a named tensor")
        if key.startswith(_NET_PREFIX):
            net[key[len(_NET_PREFIX):]] = value
    if not net:
        raise CorruptFileError("the checkpoint's state_dict has no '_net.' entries")
    return net


def _load_strict(model: torch.nn.Module, state_dict: dict, name: str) -> None:
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    if missing or unexpected:
        raise WeightsMismatchError(
            f"checkpoint does not fit this {name} config: missing {missing[:3]}, unexpected {unexpected[:3]}"
        )
    for key, tensor in expected.items():
        if tuple(state_dict[key].shape) != tuple(tensor.shape):
            raise WeightsMismatchError(
                f"checkpoint does not fit this {name} config: {key} has shape "
                f"{tuple(state_dict[key].shape)}, config implies {tuple(tensor.shape)}"
            )
    model.load_state_dict(state_dict, strict=True)


def target_release(release) -> ReleaseProfile:
    if release is None:
        return DEFAULT
    try:
        return get_release(release)
    except KeyError as e:
        raise UnsupportedReleaseError(str(e.args[0])) from None


@names_file
def open_checkpoint(
    path: Union[str, Path],
    model_config: architectures.ModelConfig,
    *,
    release: Union[str, ReleaseProfile, None] = None,
) -> LoadedCheckpoint:
    """Everything we learn from loading `path`; the model is in eval mode."""
    target = target_release(release)
    with naming(model_config):  # a bad model config names its own file (checked before the checkpoint is read)
        name, net_config = architectures.net_spec(architectures.read_model_config(model_config))
        architectures.validate_net_config(name, net_config, path="net.config")
    checkpoint = read_checkpoint(path)
    state_dict = _net_state_dict(checkpoint)
    detected = checkpoint_releases(name, checkpoint, state_dict)
    if detected.first.version > detected.last.version:
        raise CorruptFileError(f"the {name} checkpoint mixes traits of different releases: {'; '.join(detected.evidence)}")
    payload = {"architecture": name, "state_dict": state_dict, "sample_rate": checkpoint.get("sample_rate")}
    payload = upgrades.migrate(payload, detected.last, target)
    model = architectures.build(name, net_config, target)
    _load_strict(model, payload["state_dict"], name)
    model.eval()
    version = checkpoint.get("pytorch-lightning_version")
    others = [k for k in checkpoint["state_dict"] if not k.startswith(_NET_PREFIX)]
    notes = [f"ignored {len(others)} state_dict entries outside the net (e.g. {others[0]})"] if others else []
    return LoadedCheckpoint(
        model=model,
        architecture=name,
        detected=detected,
        release=target,
        sample_rate=payload.get("sample_rate"),
        lightning_version=version if isinstance(version, str) else None,
        notes=notes,
    )


@names_file
def load_checkpoint(
    path: Union[str, Path],
    model_config: architectures.ModelConfig,
    *,
    release: Union[str, ReleaseProfile, None] = None,
):
    """The `nam_legacy` model stored in a Lightning checkpoint, in eval mode.

    :param model_config: upstream's model-config JSON (dict or path); checkpoints carry
        no architecture.
    :param release: build the model as this release did (default: ae86979, the last).
    """
    return open_checkpoint(path, model_config, release=release).model
