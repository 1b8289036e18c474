"""Which `nam_legacy` class a config names, and building it safely under a release.

Upstream's model config is `{"net": {"name": ..., "config": {...}}, "loss": ...,
"optimizer": ..., "lr_scheduler": ...}`; `Model.parse_config` looked `net.name` up in a
registry and called `<Class>.init_from_config(net["config"])`. Only the "net" part
matters for the architecture.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Mapping, Tuple, Union

import torch

from nam_legacy.models.parametric.catnets import CatLSTM, CatWaveNet
from nam_legacy.models.parametric.hyper_net import HyperConvNet
from nam_legacy.releases import ReleaseProfile, use_release

from .errors import ConfigError, UnsupportedReleaseError
from .formats.configs import MAX_CONFIG_BYTES, load_json, read_file_bytes, validate_net_config

ARCHITECTURES = {"CatLSTM": CatLSTM, "CatWaveNet": CatWaveNet, "HyperConvNet": HyperConvNet}

ModelConfig = Union[Mapping[str, Any], str, Path]


def read_model_config(model_config: ModelConfig) -> Dict[str, Any]:
    """The model-config dict, from a dict or the path of a JSON file (read with the same
    limits as every other untrusted JSON)."""
    if isinstance(model_config, Mapping):
        return json.loads(json.dumps(model_config))  # a private, JSON-clean copy
    path = Path(model_config)
    value = load_json(read_file_bytes(path, MAX_CONFIG_BYTES, "model config"), path.name)
    if not isinstance(value, dict):
        raise ConfigError(f"model config {path} must be a JSON object")
    return value


def net_spec(config: Mapping[str, Any]) -> Tuple[str, Dict[str, Any]]:
    """(architecture name, net config) of a model config; also accepts a bare net dict."""
    net = config.get("net", config)
    if not isinstance(net, Mapping) or "name" not in net or "config" not in net:
        raise ConfigError('model config needs "net": {"name": ..., "config": {...}}')
    name, net_config = net["name"], net["config"]
    if name not in ARCHITECTURES:
        known = ", ".join(sorted(ARCHITECTURES))
        raise ConfigError(f"architecture {name!r} is not a parametric model ({known})")
    if not isinstance(net_config, Mapping):
        raise ConfigError(f'"net.config" of {name} must be an object')
    return name, dict(net_config)


def build(name: str, net_config: Mapping[str, Any], release: ReleaseProfile) -> torch.nn.Module:
    """A fresh model as `release` built it. Global RNG state is left untouched.

    The config is checked first (types, shapes, size limits), since configs come from
    users and files: nothing absurd is ever allocated.
    """
    cls = ARCHITECTURES[name]
    if name == "CatWaveNet" and not release.has_catwavenet:
        raise UnsupportedReleaseError(f"CatWaveNet does not exist in release {release.name}")
    checked = validate_net_config(name, net_config, path="net.config")
    with use_release(release), torch.random.fork_rng(devices=[]):
        try:
            return cls.init_from_config(checked)
        # ZeroDivisionError: a HyperConvNet whose hypernet units are all dead at init
        # has no output spread to normalise by (upstream divided by zero too).
        # AttributeError: a CatLSTM with "bias": false (upstream's init sets the biases).
        except (TypeError, KeyError, ValueError, AssertionError, RuntimeError, ZeroDivisionError,
                AttributeError) as e:
            raise ConfigError(f"cannot build {name} from its config: {type(e).__name__}: {e}") from None
