#!/usr/bin/env python3
"""Test helper for the migration to current NAM (neural-amp-modeler 0.13.0).

Two independent things live here:

* An isolated virtual environment holding the REAL current ``nam`` 0.13.0 (the
  migration target), built on demand and cached under
  ``${NAM_LEGACY_ORACLE_DIR:-~/.cache/nam-legacy/oracle}/nam-0.13.0``.  Stdlib only, so
  it also works as a CLI::

      python tests/current_nam.py build      # prints the environment's python
      python tests/current_nam.py path

* A small reference implementation of current NAM's inference for the three
  architectures a legacy parametric model folds into (``LSTM``, ``WaveNet`` in the
  layer-array format, ``ConvNet``), driven only by a ``.nam``-style config and flat
  weight vector.  It is written from the format description (docs/migration.md), not
  from nam_legacy's code paths, so comparing it against a legacy model checks both the
  folding and the weight layout.  torch is imported lazily (the module stays stdlib-only
  at import time).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional, Union

sys.path.insert(0, str(Path(__file__).parent / "oracle"))
import envs  # noqa: E402  (the one venv builder of every oracle environment)
from envs import IndexUnreachable, OracleEnvError  # noqa: E402,F401  (what callers catch)

RELEASE = "0.13.0"
# What `import nam` (0.13.0) needs; nam itself is installed with --no-deps.
DEPS = [
    "setuptools<81",
    "numpy==2.4.6",
    "scipy==1.17.1",
    "pydantic==2.14.4",
    "pytorch_lightning<=2.6.1",
    "wavio",
    "soundfile",
    "librosa",
    "tqdm==4.67.1",
    "matplotlib",
]
_SPEC_VERSION = 1


# --------------------------------------------------------------------------------------
# The environment
# --------------------------------------------------------------------------------------


def env_dir(root: Optional[Union[str, Path]] = None) -> Path:
    return envs.root_dir(root) / f"nam-{RELEASE}"


def _spec() -> dict:
    return {"spec_version": _SPEC_VERSION, "release": RELEASE, "torch": envs.TORCH, "deps": DEPS, "python": "3.11"}


def is_built(root=None) -> bool:
    return envs.venv_is_built(env_dir(root), _spec())


_VERIFY = r"""
import json, sys
import nam, torch, numpy
from nam.models._from_nam import init_from_nam
import torch
from nam.models.conv_net import ConvNet
print(json.dumps({"nam": nam.__version__, "nam_file": nam.__file__, "torch": torch.__version__,
                  "numpy": numpy.__version__, "python": sys.version.split()[0]}))
"""


def build(root=None, log=None, force: bool = False) -> Path:
    """Create (if needed) the venv with the real nam 0.13.0; return its python."""
    venv = env_dir(root)
    return envs.build_venv(
        venv, _spec(), DEPS,
        install=lambda step: step.pip_install("--no-deps", f"neural-amp-modeler=={RELEASE}"),
        verify=_VERIFY,
        check=lambda info: None if info["nam"] == RELEASE else (
            f"{venv} imports nam {info['nam']} from {info['nam_file']}"),
        what=f"nam {RELEASE}", log=log, force=force)


def python_for(root=None, build_if_missing: bool = True) -> Path:
    if is_built(root):
        return envs.venv_python(env_dir(root))
    if not build_if_missing:
        raise OracleEnvError(f"nam {RELEASE} environment not built under {env_dir(root)}")
    return build(root)


def run_in_env(python: Path, script: str, payload: dict, timeout: float = 600) -> dict:
    """Run `script` with the env's python (outside any repo, without PYTHONPATH); the
    JSON `payload` comes in on stdin, the script prints one JSON object last."""
    return envs.run_in_env(python, script, payload, f"nam {RELEASE}", timeout=timeout)


# --------------------------------------------------------------------------------------
# Reference inference (torch, imported lazily)
# --------------------------------------------------------------------------------------


def _take(weights, i: int, shape):
    import math

    n = math.prod(shape)
    return weights[i : i + n].reshape(shape), i + n


def lstm_reference(config: dict, weights, x, state=None, return_state: bool = False):
    """Current-NAM LSTM on mono audio x (L,), float64 math on the float32 weights.

    Starts from the file's initial state, or from `state` = (h, c), each (layers, H).
    """
    import numpy as np
    import torch

    w = torch.from_numpy(np.array(weights, dtype=np.float64))
    x = torch.as_tensor(x, dtype=torch.float64)
    n_in, hidden, layers = config["input_size"], config["hidden_size"], config["num_layers"]
    cells, h0, c0 = [], [], []
    i = 0
    for layer in range(layers):
        d = n_in if layer == 0 else hidden
        wmat, i = _take(w, i, (4 * hidden, d + hidden))
        b, i = _take(w, i, (4 * hidden,))
        h, i = _take(w, i, (hidden,))
        c, i = _take(w, i, (hidden,))
        cells.append((wmat, b))
        h0.append(h)
        c0.append(c)
    head_w, i = _take(w, i, (hidden,))
    head_b, i = _take(w, i, (1,))
    assert i == len(w), (i, len(w))
    if state is not None:
        h0 = [torch.as_tensor(v, dtype=torch.float64) for v in state[0]]
        c0 = [torch.as_tensor(v, dtype=torch.float64) for v in state[1]]
    hs, cs = [v.clone() for v in h0], [v.clone() for v in c0]
    out = torch.empty(len(x), dtype=torch.float64)
    for t in range(len(x)):
        inp = x[t : t + 1]
        for layer, (wmat, b) in enumerate(cells):
            gates = wmat @ torch.cat([inp, hs[layer]]) + b
            ig, fg, gg, og = gates.split(hidden)
            cs[layer] = torch.sigmoid(fg) * cs[layer] + torch.sigmoid(ig) * torch.tanh(gg)
            hs[layer] = torch.sigmoid(og) * torch.tanh(cs[layer])
            inp = hs[layer]
        out[t] = head_w @ inp + head_b[0]
    if return_state:
        return out, (torch.stack(hs), torch.stack(cs))
    return out


def lstm_initial_state(config: dict, weights):
    """(h, c), each (num_layers, hidden_size) float32, as stored in LSTM flat weights."""
    import numpy as np

    hidden, layers = config["hidden_size"], config["num_layers"]
    w = np.asarray(weights, dtype=np.float32)
    i, hs, cs = 0, [], []
    for k in range(layers):
        d = config["input_size"] if k == 0 else hidden
        i += 4 * hidden * (d + hidden) + 4 * hidden
        hs.append(w[i : i + hidden])
        cs.append(w[i + hidden : i + 2 * hidden])
        i += 2 * hidden
    return np.stack(hs), np.stack(cs)


def legacy_lstm_from(model, knobs, x, h, c):
    """The legacy side: a nam_legacy CatLSTM's forward at `knobs` on mono x (L,), started
    from the state (h, c) instead of its own (its core and head, as its forward uses them)."""
    import numpy as np
    import torch

    p = torch.as_tensor(np.asarray(knobs), dtype=torch.float32)
    augmented = torch.cat([x[None, :, None], p[None, None, :].expand(1, len(x), len(p))], dim=2)
    state = (torch.from_numpy(np.array(h))[:, None, :], torch.from_numpy(np.array(c))[:, None, :])
    with torch.no_grad():
        features = model._core(augmented, state)[0]
        return model._head(features)[0, :, 0]


def _activation(spec):
    """An activation from its config: a name or {"type": name, parameters...}."""
    import torch

    name = spec["type"] if isinstance(spec, dict) else spec
    params = {k: v for k, v in spec.items() if k != "type"} if isinstance(spec, dict) else {}
    if name == "LeakyReLU":
        slope = params.get("negative_slope", 0.01)
        return lambda z: torch.where(z >= 0, z, slope * z)
    if name == "Hardtanh":
        lo, hi = params.get("min_val", -1.0), params.get("max_val", 1.0)
        return lambda z: torch.clamp(z, lo, hi)
    assert not params, spec
    return {
        "Tanh": torch.tanh,
        "Sigmoid": torch.sigmoid,
        "ReLU": torch.relu,
        "ELU": lambda z: torch.where(z > 0, z, torch.expm1(z)),
    }[name]


def _conv(x, weight, bias, dilation: int):
    """Valid (unpadded) dilated conv, x (C_in, L), weight (C_out, C_in, K)."""
    import torch

    k = weight.shape[2]
    length = x.shape[1] - dilation * (k - 1)
    y = torch.zeros((weight.shape[0], length), dtype=x.dtype)
    for j in range(k):
        y = y + weight[:, :, j] @ x[:, j * dilation : j * dilation + length]
    return y if bias is None else y + bias[:, None]


def wavenet_reference(config: dict, weights, x):
    """Current-NAM WaveNet (layer-array format, the subset a fold produces) on x (L,).

    Output length L - receptive_field + 1 (no padding)."""
    import numpy as np
    import torch

    w = torch.from_numpy(np.array(weights, dtype=np.float64))
    audio = torch.as_tensor(x, dtype=torch.float64)[None, :]
    i = 0
    stream, head_sum = audio, None
    for la in config["layers"]:
        assert la["bottleneck"] == la["channels"] and not la["head1x1"]["active"]
        assert la["groups_input"] == 1 and la["groups_input_mixin"] == 1
        ch, cond = la["channels"], la["condition_size"]
        rech, i = _take(w, i, (ch, la["input_size"], 1))
        s = _conv(stream, rech, None, 1)
        dilations = la["dilations"]
        out_length = s.shape[1] - sum((k - 1) * d for k, d in zip(la["kernel_sizes"], dilations))
        for n, (k, d) in enumerate(zip(la["kernel_sizes"], dilations)):
            gated = la["gating_mode"][n] == "gated"
            mid = 2 * ch if gated else ch
            wc, i = _take(w, i, (mid, ch, k))
            bc, i = _take(w, i, (mid,))
            wm, i = _take(w, i, (mid, cond, 1))
            wl, i = _take(w, i, (ch, ch, 1))
            bl, i = _take(w, i, (ch,))
            z = _conv(s, wc, bc, d)
            z = z + _conv(audio[:, -z.shape[1] :], wm, None, 1)
            if gated:
                z = _activation(la["activation"][n])(z[:ch]) * _activation(la["secondary_activation"][n])(z[ch:])
            else:
                z = _activation(la["activation"][n])(z)
            s = s[:, -z.shape[1] :] + _conv(z, wl, bl, 1)
            term = z[:, -out_length:]
            head_sum = term if head_sum is None else head_sum[:, -out_length:] + term
        head = la["head"]
        wh, i = _take(w, i, (head["out_channels"], ch, head["kernel_size"]))
        bh = None
        if head["bias"]:
            bh, i = _take(w, i, (head["out_channels"],))
        head_sum = _conv(head_sum, wh, bh, 1)
        stream = s
    head_weights = []
    if config["head"] is not None:  # blocks of activation → conv (bias always)
        cin = config["layers"][-1]["head"]["out_channels"]
        head = config["head"]
        for n, k in enumerate(head["kernel_sizes"]):
            cout = head["out_channels"] if n == len(head["kernel_sizes"]) - 1 else head["channels"]
            wk, i = _take(w, i, (cout, cin, k))
            bk, i = _take(w, i, (cout,))
            head_weights.append((wk, bk))
            cin = cout
    scale = w[i]
    i += 1
    assert i == len(w), (i, len(w))
    assert float(scale) == float(torch.tensor(config["head_scale"], dtype=torch.float32))
    y = scale * head_sum
    for wk, bk in head_weights:
        y = _conv(_activation(config["head"]["activation"])(y), wk, bk, 1)
    return y[0]


def convnet_reference(config: dict, weights, x):
    """Current-NAM ConvNet on x (L,); output length L - receptive_field + 1."""
    import numpy as np
    import torch

    w = torch.from_numpy(np.array(weights, dtype=np.float64))
    h = torch.as_tensor(x, dtype=torch.float64)[None, :]
    channels, bn = config["channels"], config["batchnorm"]
    act = _activation(config["activation"])
    i = 0
    cin = 1
    for d in config["dilations"]:
        wc, i = _take(w, i, (channels, cin, 2))
        bc = None
        if not bn:
            bc, i = _take(w, i, (channels,))
        h = _conv(h, wc, bc, d)
        if bn:
            mean, i = _take(w, i, (channels,))
            var, i = _take(w, i, (channels,))
            scale, i = _take(w, i, (channels,))
            shift, i = _take(w, i, (channels,))
            eps, i = _take(w, i, (1,))
            h = (h - mean[:, None]) / torch.sqrt(var[:, None] + eps) * scale[:, None] + shift[:, None]
        h = act(h)
        cin = channels
    wh, i = _take(w, i, (1, channels, 1))
    bh, i = _take(w, i, (1,))
    assert i == len(w), (i, len(w))
    return _conv(h, wh, bh, 1)[0]


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description="the real nam 0.13.0 environment for the migration tests")
    ap.add_argument("cmd", choices=("build", "path"))
    ap.add_argument("--root", default=None)
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args(argv)
    try:
        py = build(args.root, force=args.force) if args.cmd == "build" else python_for(args.root, False)
    except OracleEnvError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(py)
    return 0


if __name__ == "__main__":
    sys.exit(main())


# Source text for scripts that run inside the 0.13.0 environment: builds 0.13.0's own
# ConvNet from a migrated .nam document (its Python loader cannot read ConvNet files), by
# filling the weights in file order. Prepend it to such a script.
CONVNET_FROM_SOURCE = r"""
import torch
from nam.models.conv_net import ConvNet

def convnet_from(doc):
    cfg = doc["config"]
    model = ConvNet.init_from_config({**cfg, "sample_rate": doc.get("sample_rate")})
    w = torch.tensor(doc["weights"], dtype=torch.float32)
    i = 0
    def take(t):
        nonlocal i
        n = t.numel()
        t.data = w[i:i + n].reshape(t.shape).clone()
        i += n
    for k in range(len(cfg["dilations"])):
        block = model._net._modules[f"block_{k}"]
        conv = block._modules["conv"]
        take(conv.weight)
        if conv.bias is not None:
            take(conv.bias)
        if cfg["batchnorm"]:
            bn = block._modules["batchnorm"]
            for t in (bn.running_mean, bn.running_var, bn.weight, bn.bias):
                take(t)
            eps = float(w[i]); i += 1
            if eps != float(torch.tensor(bn.eps, dtype=torch.float32)):
                bn.eps = eps
    head = model._net._modules["head"]
    take(head.weight)
    take(head.bias)
    assert i == len(w), (i, len(w))
    return model
"""
