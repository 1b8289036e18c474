"""Keep training a legacy parametric model inside current NAM (neural-amp-modeler 0.13.0).

Current NAM dropped the parametric classes but kept two registries for exactly this:
`nam.models.factory.register(name, constructor)` (net constructors, looked up by the
"net" → "name" of a model config) and `nam.data.register_dataset_initializer(name, ...)`
(data set builders, looked up by the data config's "type"). `register()` puts
nam_legacy's CatLSTM / CatWaveNet / HyperConvNet and its parametric data set there::

    import compat.migrate.register as r; r.register()

After that, 0.13.0's `LightningModule.init_from_config({"net": {"name": "CatLSTM",
"config": {...}}, ...})` builds a legacy net, `nam.data.init_dataset(data_config, split)`
with ``"type": "parametric"`` builds the legacy data set (items ``(knobs, x, y)``), and a
Lightning `Trainer` trains it: 0.13.0's step calls ``net(*batch[:-1], pad_start=False)``,
i.e. ``net(knobs, x, pad_start=False)``, which is the legacy parametric forward.

Limits (honest): the nets are nam_legacy's, built as `release` (default 0.7.4, the last
release with parametric training; ae86979 could not load parametric data) would build
them. `nam.train.core.train` end to end is not supported: after training it plots and
exports assuming a non-parametric net (``net(x)``, `.export(..., user_metadata=...)`).
Train with a Lightning Trainer, then save the checkpoint or use `compat` to export, and
`compat.migrate.fold` to make current-NAM snapshots. `handshake` is a no-op on both sides.
"""

from __future__ import annotations

import importlib
from typing import Any, Dict, Optional

from ..errors import DependencyError, describe_value, one_line

__all__ = ["NET_NAMES", "DATASET_TYPE", "register"]

NET_NAMES = ("CatLSTM", "CatWaveNet", "HyperConvNet")
DATASET_TYPE = "parametric"


_NEEDS = ("compat.migrate.register needs a working current neural-amp-modeler "
          "(pip install 'neural-amp-modeler>=0.8'; tested with 0.13.0)")


def _installed(module: str) -> str:
    """ "; installed: neural-amp-modeler X" from the package metadata (no import), or ""."""
    from importlib import metadata

    if module.split(".")[0] != "nam":
        return ""
    try:
        return f"; installed: neural-amp-modeler {one_line(metadata.version('neural-amp-modeler'), 30)}"
    except Exception:  # not installed, or broken metadata: nothing to add
        return ""


def _import_current(module: str):
    """Import part of current NAM, or DependencyError saying what is missing or broken.

    An old release (0.7.4 installed with --no-deps imports pkg_resources, which recent
    setuptools dropped), a half-installed package or a missing dependency of it all
    surface here; importing someone else's package can raise anything, hence Exception.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        missing = e.name or "?"
        if module == missing or module.startswith(missing + "."):
            what = f"{module} is not installed" if "." not in module else f"{module} does not exist (a release before 0.8?)"
        else:
            what = f"importing {module} needs module {one_line(missing, 60)}, which is missing"
        raise DependencyError(f"{_NEEDS}: {what}{_installed(module)}") from e
    except Exception as e:
        raise DependencyError(f"{_NEEDS}: importing {module} failed with {type(e).__name__}{_installed(module)}") from e


def _no_handshake(*_args, **_kwargs) -> None:
    return None


def _net_constructor(cls, release: str):
    from nam_legacy.releases import use_release

    def construct(config: Optional[Dict[str, Any]] = None, **kwargs):
        config = dict(config or {}, **kwargs)
        with use_release(release):
            net = cls.init_from_config(config)
        # 0.13.0's train() calls these; the legacy nets predate them.
        net.handshake = _no_handshake
        if not hasattr(net, "export_model_dict_post_hooks"):
            net.export_model_dict_post_hooks = []
        return net

    construct.__name__ = f"construct_{cls.__name__}"
    return construct


def _dataset_initializer(release: str):
    from nam_legacy.data import ParametricDataset
    from nam_legacy.releases import use_release

    def initialize(config: Dict[str, Any]):
        with use_release(release):
            dataset = ParametricDataset.init_from_config(dict(config))
        members = getattr(dataset, "datasets", None) or [dataset]
        for d in [dataset, *members]:
            d.handshake = _no_handshake
        return dataset

    return initialize


def register(nam_module=None, *, release: str = "0.7.4", overwrite: bool = True) -> Dict[str, Any]:
    """Register the legacy nets and the "parametric" data set into current NAM.

    :param nam_module: the imported current `nam` package (default: ``import nam``).
    :param release: the nam_legacy release whose behaviour the nets and data follow.
    :param overwrite: replace earlier registrations (calling twice is then harmless).
    :return: what was registered: ``{"nets": (...), "dataset": "parametric"}``.
    """
    from nam_legacy.models.parametric.catnets import CatLSTM, CatWaveNet
    from nam_legacy.models.parametric.hyper_net import HyperConvNet
    from nam_legacy.releases import get_release

    if nam_module is None:
        nam_module = _import_current("nam")
    base = getattr(nam_module, "__name__", None)
    if not isinstance(base, str):
        raise DependencyError(f"{_NEEDS}: nam_module is {describe_value(nam_module)}, not a module")
    factory = _import_current(f"{base}.models.factory")
    data = _import_current(f"{base}.data")
    reg_net = getattr(factory, "register", None)
    reg_data = getattr(data, "register_dataset_initializer", None)
    if not callable(reg_net) or not callable(reg_data):
        raise DependencyError(f"{_NEEDS}: {base} has no model factory / dataset registry{_installed(base)}")
    get_release(release)  # fail early on an unknown release
    classes = {"CatLSTM": CatLSTM, "CatWaveNet": CatWaveNet, "HyperConvNet": HyperConvNet}
    for name in NET_NAMES:
        reg_net(name, _net_constructor(classes[name], release), overwrite=overwrite)
    reg_data(DATASET_TYPE, _dataset_initializer(release), overwrite=overwrite)
    return {"nets": NET_NAMES, "dataset": DATASET_TYPE, "release": release}
