"""`compat.migrate.register` inside the REAL neural-amp-modeler 0.13.0.

In the isolated 0.13.0 environment (tests/current_nam.py), with this repository on
sys.path: register, build each legacy net through 0.13.0's own `LightningModule`
(factory lookup by name), build the parametric data set through 0.13.0's
`nam.data.init_dataset` ("type": "parametric"), and train a few real steps with a
Lightning `Trainer` (CatLSTM) or 0.13.0's `training_step` + Adam (the other two). The loss
must be finite, the weights must move, and the trained CatLSTM must beat its start.
"""

from pathlib import Path

import pytest

import current_nam

ROOT = Path(__file__).resolve().parents[1]

_SCRIPT = r"""
import json, sys, os, tempfile, warnings
payload = json.load(sys.stdin)
sys.path.insert(0, payload["root"])
warnings.filterwarnings("ignore")
import numpy as np
import torch
torch.set_num_threads(1)
torch.manual_seed(0)
import nam
from nam.data import init_dataset, Split, np_to_wav
from nam.train.lightning_module import LightningModule
import pytorch_lightning as pl
from compat.migrate.register import register

info = register()
tmp = tempfile.mkdtemp()
rng = np.random.default_rng(0)
n = 4 * 4096
x = (0.5 * rng.standard_normal(n)).clip(-1, 1)
y = np.concatenate([np.tanh(3.0 * x[: n // 2]) * 0.5, np.tanh(0.5 * x[n // 2:]) * 0.5])
xp, yp = os.path.join(tmp, "x.wav"), os.path.join(tmp, "y.wav")
np_to_wav(x, xp)
np_to_wav(y, yp)

def data_config(nx):
    slices = [{"start": 0, "stop": n // 2, "params": {"drive": 1.0}},
              {"start": n // 2, "stop": n, "params": {"drive": 0.0}}]
    return {"type": "parametric",
            "common": {"x_path": xp, "y_path": yp, "delay": 0, "nx": nx, "ny": 1024},
            "train": {"slices": slices}, "validation": {"slices": slices}}

nets = {
    "CatLSTM": {"hidden_size": 8, "num_layers": 1, "input_size": 2},
    "CatWaveNet": {"layers_configs": [{"input_size": 2, "condition_size": 2, "head_size": 1, "channels": 4,
                   "kernel_size": 3, "dilations": [1, 2], "activation": "Tanh", "gated": False, "head_bias": True}],
                   "head_scale": 0.1},
    "HyperConvNet": {"net": {"channels": 4, "dilations": [1, 2, 4], "batchnorm": False, "activation": "Tanh"},
                     "hyper_net": {"num_inputs": 1, "num_layers": 2, "num_units": 8, "batchnorm": False}},
}
results = {"registered": info}
for name, cfg in nets.items():
    r = {}
    try:
        module = LightningModule.init_from_config({"net": {"name": name, "config": cfg},
                                                   "optimizer": {"lr": 0.01}, "lr_scheduler": None, "loss": {}})
        r["net_class"] = type(module.net).__name__
        rf = module.net.receptive_field
        ds = init_dataset(data_config(rf), Split.TRAIN)
        vds = init_dataset(data_config(rf), Split.VALIDATION)
        r["items"] = len(ds)
        item = ds[0]
        r["item_shapes"] = [list(t.shape) for t in item]
        dl = torch.utils.data.DataLoader(ds, batch_size=4, shuffle=True)
        vdl = torch.utils.data.DataLoader(vds, batch_size=4)
        before = [p.detach().clone() for p in module.parameters()]
        batch = next(iter(vdl))
        with torch.no_grad():
            module.eval()
            start_loss = float(module._shared_step(batch)[2]["MSE"].value)
        if name == "CatLSTM":
            trainer = pl.Trainer(max_steps=30, accelerator="cpu", logger=False, enable_checkpointing=False,
                                 enable_progress_bar=False, enable_model_summary=False, limit_val_batches=1,
                                 num_sanity_val_steps=0)
            trainer.fit(module, dl, vdl)
            r["trainer"] = "lightning"
        else:
            module.train()
            opt = module.configure_optimizers()
            for step, b in zip(range(5), dl):
                loss = module.training_step(b, step)
                opt.zero_grad(); loss.backward(); opt.step()
            r["trainer"] = "training_step"
        with torch.no_grad():
            module.eval()
            r["start_loss"] = start_loss
            r["end_loss"] = float(module._shared_step(batch)[2]["MSE"].value)
        r["moved"] = any(not torch.equal(a, b) for a, b in zip(before, module.parameters()))
        r["ok"] = True
    except Exception as e:
        import traceback
        r["ok"] = False
        r["error"] = traceback.format_exc()[-2000:]
    results[name] = r
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def nam013():
    try:
        return current_nam.python_for()
    except current_nam.IndexUnreachable as e:
        pytest.skip(f"the package index is unreachable, so the real nam 0.13.0 cannot be installed: {e}")


@pytest.fixture(scope="module")
def trained(nam013):
    return current_nam.run_in_env(nam013, _SCRIPT, {"root": str(ROOT)}, timeout=900)


@pytest.mark.oracle
@pytest.mark.parametrize("name", ["CatLSTM", "CatWaveNet", "HyperConvNet"])
def test_train_legacy_net_in_current_nam(trained, name):
    r = trained[name]
    assert r["ok"], r.get("error")
    assert r["net_class"] == name
    assert r["items"] > 0 and len(r["item_shapes"]) == 3 and r["item_shapes"][0] == [1]
    assert r["moved"]
    assert r["end_loss"] == r["end_loss"] and r["end_loss"] < float("inf")
    if name == "CatLSTM":
        assert r["trainer"] == "lightning"
        assert r["end_loss"] < r["start_loss"], r


@pytest.mark.oracle
def test_registered_names(trained):
    assert trained["registered"]["nets"] == ["CatLSTM", "CatWaveNet", "HyperConvNet"]
    assert trained["registered"]["dataset"] == "parametric"


def test_register_rejects_a_module_without_registries():
    import types

    from compat.errors import DependencyError
    from compat.migrate.register import register

    fake = types.ModuleType("not_nam_at_all")
    with pytest.raises(DependencyError, match="needs a working current neural-amp-modeler"):
        register(fake)


# -- without a working current NAM: one typed error that says what is needed and what is wrong -----------------


def _fake_nam(tmp_path, monkeypatch, init: str, files: dict = {}) -> None:
    """A `nam` package of our own making, first on sys.path, with nothing of a real one imported."""
    import sys

    root = tmp_path / "site"
    (root / "nam").mkdir(parents=True)
    (root / "nam" / "__init__.py").write_text(init)
    for name, text in files.items():
        (root / "nam" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "nam" / name).write_text(text)
    for name in [m for m in sys.modules if m == "nam" or m.startswith("nam.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.syspath_prepend(str(root))


@pytest.mark.parametrize("init, files, expected", [
    # 0.7.4 (--no-deps) on setuptools >= 81: nam/models/_base.py imports pkg_resources
    ("import pkg_resources\n", {}, "importing nam needs module pkg_resources, which is missing"),
    ("raise AttributeError('half-installed')\n", {}, "importing nam failed with AttributeError"),
    ("", {"models/__init__.py": ""}, "nam.models.factory does not exist"),
    ("", {"models/__init__.py": "", "models/factory.py": "", "data.py": ""}, "has no model factory / dataset registry"),
])
def test_register_without_a_working_current_nam(tmp_path, monkeypatch, init, files, expected):
    import sys

    from compat.errors import DependencyError
    from compat.migrate.register import register

    _fake_nam(tmp_path, monkeypatch, init, files)
    monkeypatch.setitem(sys.modules, "pkg_resources", None)  # import pkg_resources -> ModuleNotFoundError
    with pytest.raises(DependencyError) as info:
        register()
    message = str(info.value)
    assert message.startswith("compat.migrate.register needs a working current neural-amp-modeler")
    assert "pip install 'neural-amp-modeler>=0.8'" in message and expected in message, message
    assert len(message) <= 280 and message.isprintable()


def test_register_without_nam_installed(monkeypatch):
    import sys

    from compat.errors import DependencyError
    from compat.migrate.register import register

    for name in [m for m in sys.modules if m == "nam" or m.startswith("nam.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "nam", None)
    with pytest.raises(DependencyError, match="nam is not installed"):
        register()


def test_register_with_the_readmes_no_deps_074_install():
    # The README installs neural-amp-modeler 0.7.4 with --no-deps (for the oracle); that
    # release predates the registries (and imports pkg_resources, gone from setuptools 81).
    from importlib import metadata

    from hostile import run_code

    try:
        version = metadata.version("neural-amp-modeler")
    except metadata.PackageNotFoundError:
        pytest.skip("no neural-amp-modeler installed in this environment")
    if tuple(int(p) for p in version.split(".")[:2]) >= (0, 8):
        pytest.skip(f"neural-amp-modeler {version} is current")
    code = ("import compat\nfrom compat.migrate.register import register\n"
            "try:\n    register()\nexcept compat.DependencyError as e:\n    print(e)\nelse:\n    raise SystemExit(9)\n")
    result = run_code(code)
    assert result.returncode == 0, result.describe()
    message = result.stdout.strip()
    assert "needs a working current neural-amp-modeler" in message and f"installed: neural-amp-modeler {version}" in message
    assert "pkg_resources" in message or "does not exist" in message, message
