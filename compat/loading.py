"""`load_checkpoint`: a Lightning `.ckpt` of any release 0.3.0–0.7.4 → a `nam_legacy` model.

build the model from the model config (checked first: nothing is read for a bad config) →
read (safe, no pickled code runs; inflating at most what a checkpoint of that model holds) →
strip Lightning's `_net.` prefix → detect the release range → check the state dict against
the layout that release stores for the config (keys, shapes, dtypes, scalar values) →
migrate to the target release → strict `load_state_dict`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Union

import torch

from nam_legacy.releases import DEFAULT, ReleaseProfile, get_release

from . import architectures, net_state, upgrades
from .checkpoint import read_checkpoint, storage_budget
from .detect import ReleaseRange, checkpoint_releases
from .errors import CorruptFileError, UnsafeFileError, UnsupportedReleaseError, describe_value, names_file, naming, quote

_NET_PREFIX = "_net."
_MAX_VERSION_CHARS = 64  # "pytorch-lightning_version" is a short version string


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
        if type(key) is not str or not isinstance(value, torch.Tensor):
            raise CorruptFileError(f"state_dict entry {quote(key)} is {describe_value(value)}, not a named tensor")
        if key.startswith(_NET_PREFIX):
            net[key[len(_NET_PREFIX):]] = value
    if not net:
        raise CorruptFileError("the checkpoint's state_dict has no '_net.' entries")
    return net


def _sample_rate(checkpoint, state_dict, notes: List[str]) -> Optional[float]:
    """The rate the checkpoint stores: its buffers when it has them (they are what upstream's net loaded),
    else the Lightning key. Every value is checked; a key that disagrees with the buffers gets a note."""
    key = upgrades.check_sample_rate(checkpoint.get("sample_rate"), "the checkpoint's sample_rate")
    if "_has_sample_rate" not in state_dict:
        return key
    has = bool(state_dict["_has_sample_rate"])  # shapes and dtypes were checked: 0-d bool and 0-d float32
    buffer = upgrades.check_sample_rate(state_dict["_sample_rate"].item(), "the net's _sample_rate") if has else None
    if "sample_rate" in checkpoint and key != buffer:
        notes.append(f"the checkpoint's sample_rate ({key}) differs from the net's buffers ({buffer}); "
                     "using the buffers, as upstream's net did")
    return buffer


def _lightning_version(checkpoint) -> Optional[str]:
    """The Lightning version as the file spells it, if it is a string short enough to be one (the output layer
    escapes what it shows, and JSON keeps data exactly)."""
    version = checkpoint.get("pytorch-lightning_version")
    return version if type(version) is str and len(version) <= _MAX_VERSION_CHARS else None


def _load_strict(model: torch.nn.Module, state_dict: dict, name: str, own) -> None:
    net_state.check(state_dict, own, name)  # already true of a checked checkpoint; a guard for migrations
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
    with naming(model_config, "config"):  # a bad model config names its own file (checked before the checkpoint is read)
        name, net_config = architectures.net_spec(architectures.read_model_config(model_config))
        model = architectures.build(name, net_config, target)
    own = net_state.specs(model)
    checkpoint = read_checkpoint(path, max_bytes=storage_budget(net_state.nbytes(own)))
    try:
        return _load(checkpoint, model, own, name, target)
    except MemoryError:  # the checks should make this unreachable; never let it escape untyped
        raise UnsafeFileError("loading it needs more memory than is available") from None


def _load(checkpoint: dict, model: torch.nn.Module, own, name: str, target: ReleaseProfile) -> LoadedCheckpoint:
    state_dict = _net_state_dict(checkpoint)
    detected = checkpoint_releases(name, checkpoint, state_dict)
    if detected.first.version > detected.last.version:
        raise CorruptFileError(f"the {name} checkpoint mixes traits of different releases: {'; '.join(detected.evidence)}")
    # Everything a step or the model will touch, checked against what the writing release stores.
    net_state.check(state_dict, net_state.layout(name, model, detected.last, own), name)
    notes: List[str] = []
    payload = {"architecture": name, "state_dict": state_dict, "sample_rate": _sample_rate(checkpoint, state_dict, notes)}
    payload = upgrades.migrate(payload, detected.last, target)
    _load_strict(model, payload["state_dict"], name, own)
    model.eval()
    others = [k for k in checkpoint["state_dict"] if not k.startswith(_NET_PREFIX)]
    if others:
        notes.insert(0, f"ignored {len(others)} state_dict entries outside the net (e.g. {quote(others[0])})")
    return LoadedCheckpoint(
        model=model,
        architecture=name,
        detected=detected,
        release=target,
        sample_rate=payload.get("sample_rate"),
        lightning_version=_lightning_version(checkpoint),
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
