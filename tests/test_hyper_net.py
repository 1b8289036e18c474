"""HyperConvNet (nam_legacy.models.parametric.hyper_net) against upstream's behaviour.

The expected values (state_dict keys, weight layout, header text) were derived by reading
upstream's nam/models/parametric/hyper_net.py (v0.3.0 … ae86979). The oracle tests at the
end compare bit for bit with the genuine releases when their venvs are built
(`python tests/oracle/envs.py build <release>`).
"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from nam_legacy.models.parametric.hyper_net import (
    HyperConvNet,
    LayerSpec,
    SpecialLayers,
    _BatchNorm,
    _Conv,
    _Flatten,
    _get_activation,
    _HyperNetBlock,
    _ReLU,
    _Tanh,
)
from nam_legacy.releases import get_release, use_release

REPO = Path(__file__).resolve().parents[1]
import oracles  # noqa: E402

torch.set_num_threads(1)


def _config(
    channels=7,
    dilations=(1, 2, 4),
    batchnorm=True,
    activation="Tanh",
    num_inputs=3,
    num_layers=2,
    num_units=11,
    hyper_batchnorm=True,
):
    return {
        "net": {
            "channels": channels,
            "dilations": list(dilations),
            "batchnorm": batchnorm,
            "activation": activation,
        },
        "hyper_net": {
            "num_inputs": num_inputs,
            "num_layers": num_layers,
            "num_units": num_units,
            "batchnorm": hyper_batchnorm,
        },
    }


def _build(config, seed=0, release=None):
    torch.manual_seed(seed)
    if release is None:
        return HyperConvNet.init_from_config(config)
    with use_release(release):
        return HyperConvNet.init_from_config(config)


# --- structure ---------------------------------------------------------------------

_SAMPLE_RATE_KEYS = ["_has_sample_rate", "_sample_rate"]

# Dilations (1, 2, 4), BN in both nets, 2 hypernet blocks: main-net modules are
# conv0 bn1 act2 conv3 bn4 act5 conv6 bn7 act8 head9 flatten10.
_KEYS_BN = [
    "_hyper_net._net.0.0.weight",
    "_hyper_net._net.0.0.bias",
    "_hyper_net._net.0.1.weight",
    "_hyper_net._net.0.1.bias",
    "_hyper_net._net.0.1.running_mean",
    "_hyper_net._net.0.1.running_var",
    "_hyper_net._net.0.1.num_batches_tracked",
    "_hyper_net._net.1.0.weight",
    "_hyper_net._net.1.0.bias",
    "_hyper_net._net.1.1.weight",
    "_hyper_net._net.1.1.bias",
    "_hyper_net._net.1.1.running_mean",
    "_hyper_net._net.1.1.running_var",
    "_hyper_net._net.1.1.num_batches_tracked",
    "_hyper_net._net.2.weight",
    "_hyper_net._net.2.bias",
    "_hyper_net._affine._weight",
    "_hyper_net._affine._bias",
    "_net.0.weight",
    "_net.1.running_mean",
    "_net.1.running_var",
    "_net.1.num_batches_tracked",
    "_net.3.weight",
    "_net.4.running_mean",
    "_net.4.running_var",
    "_net.4.num_batches_tracked",
    "_net.6.weight",
    "_net.7.running_mean",
    "_net.7.running_var",
    "_net.7.num_batches_tracked",
    "_net.9.weight",
    "_net.9.bias",
]

# No BN anywhere: conv0 act1 conv2 act3 conv4 act5 head6 flatten7; convs keep a bias.
_KEYS_NO_BN = [
    "_hyper_net._net.0.0.weight",
    "_hyper_net._net.0.0.bias",
    "_hyper_net._net.1.0.weight",
    "_hyper_net._net.1.0.bias",
    "_hyper_net._net.2.weight",
    "_hyper_net._net.2.bias",
    "_hyper_net._affine._weight",
    "_hyper_net._affine._bias",
    "_net.0.weight",
    "_net.0.bias",
    "_net.2.weight",
    "_net.2.bias",
    "_net.4.weight",
    "_net.4.bias",
    "_net.6.weight",
    "_net.6.bias",
]


@pytest.mark.parametrize(
    "bn,expected", [(True, _KEYS_BN), (False, _KEYS_NO_BN)], ids=["bn", "no_bn"]
)
@pytest.mark.parametrize("release", ["0.3.0", "0.7.0", "0.7.4", "ae86979"])
def test_state_dict_keys(bn, expected, release):
    net = _build(_config(batchnorm=bn, hyper_batchnorm=bn), release=release)
    # The sample-rate buffers only exist from 0.7.4 (registered by the base class first).
    prefix = _SAMPLE_RATE_KEYS if get_release(release).sample_rate_buffers else []
    assert list(net.state_dict().keys()) == prefix + expected


def test_hypernet_output_size_and_specs():
    net = _build(_config(channels=7, batchnorm=True))
    specs = [m.get_spec() for m in net._net]
    assert [s.special_type for s in specs] == [
        SpecialLayers.CONV, SpecialLayers.BATCHNORM, None,
    ] * 3 + [SpecialLayers.CONV, None]
    # conv weights 7*1*2, 7*7*2, 7*7*2 (no bias), BN 2*7 each, head 7 + 1.
    assert net._hyper_net._net[-1].out_features == 14 + 98 + 98 + 3 * 14 + 8
    assert isinstance(net._hyper_net._net[0], _HyperNetBlock)
    assert net._hyper_net.num_layers == 2
    assert net._hyper_net.input_dim == 3 and net._hyper_net.num_units == 11


def test_weight_norm_uses_a_equal_5():
    conv = _Conv(3, 4, 2)
    fan_in = 3 * 2
    # Upstream passes a=5.0 (not sqrt(5)) to calculate_gain("leaky_relu", a).
    assert conv._weight_norm() == pytest.approx(math.sqrt(2.0 / 26.0) / math.sqrt(fan_in))
    assert conv._bias_norm() == pytest.approx(math.sqrt(1 / 12) * 2 / math.sqrt(fan_in))
    spec = conv.get_spec()
    assert isinstance(spec, LayerSpec)
    assert spec.biases == (0, 0) and len(spec.shapes) == 2
    assert _Conv(3, 4, 2, bias=False).get_spec().norms == (conv._weight_norm(),)


def test_affine_init_follows_specs():
    net = _build(_config(channels=2, dilations=(1,), batchnorm=True))
    hyper = net._hyper_net
    # Tensors: conv weight (2*1*2=4), BN weight (2), BN bias (2), head weight 2, head bias 1.
    assert hyper._cum_numel.tolist() == [0, 4, 6, 8, 10, 11]
    assert not any(name.endswith("_cum_numel") for name, _ in hyper.named_buffers())
    bias = hyper._affine.bias.detach()
    assert bias.dtype == torch.float32
    assert bias.tolist() == [0.0] * 4 + [1.0] * 2 + [0.0] * 2 + [0.0] * 3
    scale = hyper._affine.weight.detach()
    # Within one tensor the scale is constant; BN scale/shift share norm 1e-5.
    assert torch.equal(scale[4:6], scale[6:8])
    assert len(set(scale[:4].tolist())) == 1


def test_construction_side_effects():
    net = _build(_config())
    # norm0 is measured with a train-mode forward: hypernet BN stats moved once.
    for block in net._hyper_net._net[:-1]:
        assert block[1].num_batches_tracked.item() == 1
        assert not torch.equal(block[1].running_mean, torch.zeros_like(block[1].running_mean))
    for m in net._net:
        if isinstance(m, _BatchNorm):
            assert m.num_batches_tracked.item() == 0
            assert m.momentum == 0.01 and m.affine is False
    # Deterministic under a seed.
    again = _build(_config())
    for k, v in net.state_dict().items():
        assert torch.equal(v, again.state_dict()[k]), k


def test_activations():
    assert type(_get_activation("Tanh")) is _Tanh
    assert type(_get_activation("ReLU")) is _ReLU
    with pytest.raises(KeyError):
        _get_activation("Sigmoid")
    for cls, name in ((_Tanh, "Tanh"), (_ReLU, "ReLU"), (_Flatten, "Flatten")):
        assert cls.__name__ == "Activation"
        assert cls().name == name and cls().num_tensors == 0
    assert _build(_config(activation="ReLU"))._activation == "ReLU"


# --- forward -----------------------------------------------------------------------


@pytest.mark.parametrize("dilations", [(1,), (1, 2, 4), (1, 2, 4, 8, 16), (3, 1)])
def test_receptive_field(dilations):
    net = _build(_config(dilations=dilations))
    assert net.receptive_field == 1 + sum(dilations)
    assert net.pad_start_default is True


@pytest.mark.parametrize("bn", [True, False])
def test_output_length(bn):
    net = _build(_config(dilations=(1, 2, 4), batchnorm=bn, hyper_batchnorm=bn)).eval()
    n, length = 3, 50
    params, x = torch.rand(n, 3), torch.randn(n, length)
    with torch.no_grad():
        assert net(params, x).shape == (n, length)
        assert net(params, x, pad_start=True).shape == (n, length)
        assert net(params, x, pad_start=False).shape == (n, length - 7)
        assert net(params[0], x[0]).shape == (length,)
        assert net(params[0], x[0], pad_start=False).shape == (length - 7,)
        # Padding is zeros on the left of the audio only.
        padded = torch.cat([torch.zeros(n, 7), x], dim=1)
        assert torch.equal(net(params, x), net(params, padded, pad_start=False))


@pytest.mark.parametrize("bn", [True, False])
def test_batch_equals_single_runs(bn):
    net = _build(_config(dilations=(1, 2, 4, 8), batchnorm=bn, hyper_batchnorm=bn)).eval()
    n = 5
    params, x = torch.rand(n, 3), torch.randn(n, 300)
    with torch.no_grad():
        batched = net(params, x)
        singles = torch.stack([net(params[i], x[i]) for i in range(n)])
    # Close, but not bit-equal: both the hypernet Linear layers (gemm vs gemv paths) and
    # the grouped conv1d (groups = batch size) pick batch-size dependent kernels and
    # summation orders, so the last bits differ (seen up to ~3e-7). Upstream behaves the
    # same way, since the ops are identical; bit-exactness holds per batch shape.
    torch.testing.assert_close(batched, singles, rtol=1e-5, atol=1e-6)


def test_forward_is_the_generated_conv_net():
    # Spell the main net out with ordinary per-sample F.conv1d calls.
    cfg = _config(channels=4, dilations=(1, 2), batchnorm=False, activation="Tanh")
    net = _build(cfg).eval()
    params, x = torch.rand(2, 3), torch.randn(2, 40)
    with torch.no_grad():
        y = net(params, x, pad_start=False)
        t = net._hyper_net(params)
        for i in range(2):
            h = x[i][None, None]
            h = torch.tanh(torch.nn.functional.conv1d(h, t[0][i].reshape(4, 1, 2), t[1][i]))
            h = torch.tanh(
                torch.nn.functional.conv1d(h, t[2][i].reshape(4, 4, 2), t[3][i], dilation=2)
            )
            h = torch.nn.functional.conv1d(h, t[4][i].reshape(1, 4, 1), t[5][i])
            torch.testing.assert_close(y[i], h[0, 0], rtol=1e-5, atol=1e-6)


def test_main_net_batchnorm_train_uses_batch_statistics():
    bn = _BatchNorm(3, momentum=0.01)
    x = 2.0 + 3.0 * torch.randn(4, 3, 20)
    scale, shift = torch.full((4, 3), 2.0), torch.full((4, 3), 0.5)
    bn.train()
    y = bn((scale, shift), x)
    mean = x.mean(dim=(0, 2), keepdim=True)
    var = x.var(dim=(0, 2), unbiased=False, keepdim=True)
    torch.testing.assert_close(y, 2.0 * (x - mean) / torch.sqrt(var + 1e-5) + 0.5)
    # Running stats moved by momentum 0.01 (unbiased variance, as BatchNorm does).
    torch.testing.assert_close(bn.running_mean, 0.01 * mean.flatten())
    torch.testing.assert_close(
        bn.running_var, 0.99 + 0.01 * x.var(dim=(0, 2), unbiased=True)
    )
    bn.eval()
    y_eval = bn((scale, shift), x)
    expected = 2.0 * (x - bn.running_mean[:, None]) / torch.sqrt(bn.running_var[:, None] + 1e-5)
    torch.testing.assert_close(y_eval, expected + 0.5)


def test_model_train_mode_differs_and_updates_stats():
    net = _build(_config())
    params, x = torch.rand(4, 3), torch.randn(4, 64)
    with torch.no_grad():
        y_eval = net.eval()(params, x)
        y_train = net.train()(params, x)
    assert not torch.allclose(y_eval, y_train)
    assert net._net[1].num_batches_tracked.item() == 1
    assert net._hyper_net._net[0][1].num_batches_tracked.item() == 2


def test_hypernet_batchnorm_batch_of_one_in_train_mode_raises():
    net = _build(_config(hyper_batchnorm=True)).train()
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        net(torch.rand(3), torch.randn(32))
    # Fine in eval mode, and without hypernet BN.
    with torch.no_grad():
        net.eval()(torch.rand(3), torch.randn(32))
        _build(_config(hyper_batchnorm=False)).train()(torch.rand(3), torch.randn(32))


# --- export ------------------------------------------------------------------------


def _expected_weights(net):
    sd = net.state_dict()
    hyper_bn = net._hyper_net.batchnorm
    chunks = []
    for b in range(net._hyper_net.num_layers):
        chunks += [sd[f"_hyper_net._net.{b}.0.weight"], sd[f"_hyper_net._net.{b}.0.bias"]]
        if hyper_bn:
            p = f"_hyper_net._net.{b}.1."
            chunks += [sd[p + "running_mean"], sd[p + "running_var"], sd[p + "weight"]]
            chunks += [sd[p + "bias"], torch.tensor([1e-5])]
    h = net._hyper_net.num_layers
    chunks += [sd[f"_hyper_net._net.{h}.weight"], sd[f"_hyper_net._net.{h}.bias"]]
    chunks += [sd["_hyper_net._affine._weight"], sd["_hyper_net._affine._bias"]]
    for i, m in enumerate(net._net):
        if isinstance(m, _BatchNorm):
            chunks += [sd[f"_net.{i}.running_mean"], sd[f"_net.{i}.running_var"]]
            chunks += [torch.tensor([1e-5])]
    return np.concatenate([c.flatten().numpy() for c in chunks])


@pytest.mark.parametrize(
    "bn,hyper_bn,dtype",
    [(True, True, np.float32), (True, False, np.float32), (False, True, np.float64),
     (False, False, np.float64)],
)
def test_export_directory(tmp_path, bn, hyper_bn, dtype):
    net = _build(_config(batchnorm=bn, hyper_batchnorm=hyper_bn, activation="ReLU"))
    net.train()
    net.export(tmp_path)
    assert net.training  # mode restored
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "weights.npy"]
    text = (tmp_path / "config.json").read_text()
    expected_doc = {
        "version": "0.7.4",
        "architecture": "HyperConvNet",
        "config": {
            "hyper_net": {"input_dim": 3, "num_layers": 2, "num_units": 11, "batchnorm": hyper_bn},
            "net": {"channels": 7, "dilations": [1, 2, 4], "batchnorm": bn, "activation": "ReLU"},
        },
    }
    assert text == json.dumps(expected_doc, indent=4)
    weights = np.load(tmp_path / "weights.npy")
    # Without main-net BN, numpy's float64 empty array promotes the file to float64.
    assert weights.dtype == dtype
    np.testing.assert_array_equal(weights, _expected_weights(net).astype(dtype))


@pytest.mark.parametrize("release", ["0.3.0", "0.4.0", "0.5.0", "0.6.0", "ae86979"])
def test_export_snapshot_per_release(tmp_path, release):
    net = _build(_config(), release=release)
    profile = get_release(release)
    snapshot = ["test_signal_input.npy", "test_signal_output.npy", "test_signal_params.npy"]
    base = ["config.json", "weights.npy"]
    if profile.export_include_snapshot_flag:
        (tmp_path / "a").mkdir()
        net.export(tmp_path / "a")
        assert sorted(p.name for p in (tmp_path / "a").iterdir()) == base
        (tmp_path / "b").mkdir()
        net.export(tmp_path / "b", include_snapshot=True)
        assert sorted(p.name for p in (tmp_path / "b").iterdir()) == sorted(base + snapshot)
        out = tmp_path / "b"
    else:
        with pytest.raises(TypeError):
            net.export(tmp_path, include_snapshot=False)
        net.export(tmp_path)
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(base + snapshot)
        out = tmp_path
    assert json.loads((out / "config.json").read_text())["version"] == profile.package_version
    params = np.load(out / "test_signal_params.npy")
    x = np.load(out / "test_signal_input.npy")
    y = np.load(out / "test_signal_output.npy")
    assert params.shape == (3,) and x.shape == (16,) and y.shape == (16,)
    assert np.abs(x).max() == pytest.approx(0.5)
    with torch.no_grad():
        np.testing.assert_array_equal(
            net.eval()(torch.from_numpy(params), torch.from_numpy(x)).numpy(), y
        )
    with pytest.raises(TypeError):
        net.export(tmp_path, basename="x")


def test_export_cpp_header(tmp_path):
    net = _build(_config(dilations=(1, 2, 4, 8)))
    net.export_cpp_header(tmp_path / "model.h")
    lines = (tmp_path / "model.h").read_text().split("\n")
    assert lines[:13] == [
        "#pragma once",
        "// Automatically-generated model file",
        "// HyperConvNet model",
        "#include <vector>",
        '#define PYTHON_MODEL_VERSION "0.7.4"',
        "const int HYPER_NET_INPUT_DIM = 3;",
        "const int HYPER_NET_NUM_LAYERS = 2;",
        "const int HYPER_NET_NUM_UNITS = 11;",
        "const int HYPER_NET_BATCHNORM = true;",
        "const int CHANNELS = 7;",
        "const bool BATCHNORM = true;",
        "std::vector<int> DILATIONS{1,2,4,8};",
        'const std::string ACTIVATION = "Tanh";',
    ]
    weights = _expected_weights(net)
    assert lines[13] == "std::vector<float> PARAMS{" + ",".join(
        f"{w:.16f}" for w in weights
    ) + "};"
    assert lines[14:] == [""]
    assert "f," not in lines[13]


def test_export_needs_a_hypernet_block(tmp_path):
    # num_layers=0 builds and runs, but input_dim indexes the first block's Linear.
    net = _build(_config(num_layers=0))
    with torch.no_grad():
        net.eval()(torch.rand(2, 3), torch.randn(2, 20))
    with pytest.raises(TypeError):
        net.export(tmp_path)


# --- oracle: the genuine releases --------------------------------------------------

_ORACLE_CONFIGS = {
    "bn_tanh": _config(channels=7, batchnorm=True, activation="Tanh"),
    "nobn_relu": _config(channels=3, batchnorm=False, activation="ReLU"),
    "mixed": _config(
        channels=4, dilations=(1, 2, 4, 8), batchnorm=False, activation="Tanh",
        num_inputs=2, num_layers=1, num_units=5, hyper_batchnorm=False,
    ),
    "bn_only_main": _config(channels=5, dilations=(2, 1), batchnorm=True, hyper_batchnorm=False),
}

# Runs under the oracle venv (side "theirs") and under ours (side "ours") alike: every
# random draw is seeded, so both sides must produce identical files.
_ORACLE_SCRIPT = r'''
import contextlib, json, sys
from pathlib import Path
import torch
torch.set_num_threads(1)
side, out, release, snapshot_flag, configs = sys.argv[1:6]
out, snapshot_flag, configs = Path(out), snapshot_flag == "1", json.loads(configs)
if side == "ours":
    from nam_legacy.releases import use_release
    from nam_legacy.models.parametric.hyper_net import HyperConvNet
    ctx = use_release(release)
else:
    from nam.models.parametric.hyper_net import HyperConvNet
    ctx = contextlib.nullcontext()
with ctx:
    for name, cfg in configs.items():
        d = out / name
        (d / "export").mkdir(parents=True)
        torch.manual_seed(0)
        net = HyperConvNet.init_from_config(cfg)
        torch.save(dict(net.state_dict()), d / "init.pt")
        torch.manual_seed(1)
        params = torch.rand(4, cfg["hyper_net"]["num_inputs"])
        x = torch.randn(4, 300)
        res = {"params": params, "x": x}
        with torch.no_grad():
            net.eval()
            res["eval"] = net(params, x)
            res["eval_nopad"] = net(params, x, pad_start=False)
            res["eval_single"] = net(params[1], x[1])
            net.train()
            res["train"] = net(params, x)
            res["train_nopad"] = net(params, x, pad_start=False)
        torch.save(res, d / "outputs.pt")
        torch.save(dict(net.state_dict()), d / "after_train.pt")
        torch.manual_seed(2)
        if snapshot_flag:
            net.export(d / "export", include_snapshot=True)
        else:
            net.export(d / "export")
        torch.manual_seed(3)
        net.export_cpp_header(d / "model.h")
        (d / "training.txt").write_text(str(net.training))
        torch.save(dict(net.state_dict()), d / "final.pt")
'''


def _run_side(python, side, workdir, release, env_extra):
    script = workdir / "run.py"  # alone in its directory: nothing can shadow `nam`
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(_ORACLE_SCRIPT)
    out = workdir / "out"
    flag = "1" if get_release(release).export_include_snapshot_flag else "0"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(env_extra)
    proc = subprocess.run(
        [str(python), str(script), side, str(out), release, flag, json.dumps(_ORACLE_CONFIGS)],
        cwd=str(script.parent), env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, f"{side} side failed:\n{proc.stderr[-4000:]}"
    return out


def _assert_tensor_dicts_equal(a, b, what):
    assert list(a.keys()) == list(b.keys()), what
    for k in a:
        assert a[k].dtype == b[k].dtype, (what, k)
        assert torch.equal(a[k], b[k]), (what, k)


@pytest.mark.oracle
@pytest.mark.parametrize("release", oracles.ALL)
def test_bit_exact_against_genuine_release(tmp_path, release):
    theirs = _run_side(oracles.python_or_skip(release), "theirs",
                       tmp_path / "theirs", release, {})
    ours = _run_side(sys.executable, "ours", tmp_path / "ours", release,
                     {"PYTHONPATH": str(REPO)})
    for name in _ORACLE_CONFIGS:
        t, o = theirs / name, ours / name
        for f in ("init.pt", "after_train.pt", "final.pt", "outputs.pt"):
            _assert_tensor_dicts_equal(torch.load(o / f), torch.load(t / f), (name, f))
        assert (o / "training.txt").read_text() == (t / "training.txt").read_text() == "True"
        files = sorted(p.name for p in (t / "export").iterdir())
        assert sorted(p.name for p in (o / "export").iterdir()) == files
        assert "config.json" in files and "weights.npy" in files
        for f in files:  # config.json text, weights.npy and (seeded) snapshots
            assert (o / "export" / f).read_bytes() == (t / "export" / f).read_bytes(), (name, f)
        assert (o / "model.h").read_bytes() == (t / "model.h").read_bytes(), name
