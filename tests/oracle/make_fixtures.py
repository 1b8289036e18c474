#!/usr/bin/env python3
"""Golden fixtures made by the REAL legacy ``nam`` releases.

Runs INSIDE an oracle venv (see ``envs.py``), from a directory outside the
repository so that nothing shadows the installed ``nam``::

    cd /tmp && "$(python tests/oracle/envs.py build 0.7.4)" \
        /path/to/repo/tests/oracle/make_fixtures.py --release 0.7.4 \
        --out /path/to/repo/tests/fixtures

For every case it trains a tiny genuine model for a few optimizer steps with
the release's own Lightning ``nam.models.base.Model`` and data path
(``nam.data.init_dataset`` on a parametric *sliced* data config over synthetic
wav files), keeps the genuine Lightning checkpoint (machine-specific paths
stripped), reloads it through the release's own path and stores reference
outputs (``reference.npz``) and exports.  It only imports and calls ``nam``;
no upstream code is copied.

Output: ``OUT/<release>/<case>/`` with ``model.ckpt``, ``model.json``,
``params.json``, ``data.json``, ``reference.npz``, ``meta.json`` and
``export/`` (plus ``export_patched/`` where an upstream bug needs it, and
``export_snapshot/`` with ``--snapshot-exports``); snapshot arrays too big to keep
as files go to ``OUT/snapshots/<sha256>.npy.xz``.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import io
import json
import logging
import lzma
import os
import platform
import shutil
import sys
import tempfile
import traceback
import warnings
import wave
from pathlib import Path

HERE = Path(__file__).resolve()

# ---------------------------------------------------------------------------
# The fixed inputs of every case (identical for all releases).
# ---------------------------------------------------------------------------

# Param config: dict order (tone, drive, bright) != sorted order (bright, drive, tone).
PARAM_CONFIG = {
    "tone": {"type": "continuous", "default_value": 0.5, "minval": 0.0, "maxval": 1.0},
    "drive": {"type": "continuous", "default_value": 0.3, "minval": 0.0, "maxval": 1.0},
    "bright": {"type": "boolean", "default_value": False},
}
KNOB_NAMES = sorted(PARAM_CONFIG)  # model input order: bright, drive, tone

_OPTIM = {
    "loss": {"val_loss": "mse"},
    "optimizer": {"lr": 0.01},
    "lr_scheduler": {
        "class": "ExponentialLR",
        "kwargs": {"gamma": 0.995},
        "interval": "step",
        "frequency": 100,
    },
}

NET_CONFIGS = {
    "catlstm": {
        "name": "CatLSTM",
        "config": {
            "num_layers": 2,
            "hidden_size": 8,
            "train_burn_in": 100,
            "train_truncate": 128,
            "input_size": 4,
        },
    },
    # Layer arrays chain like upstream's wavenet.json: array i's head_size equals
    # array i+1's channels, array i+1's input_size equals array i's channels, the
    # last head_size is 1; every condition_size (and the first input_size) is
    # 1 + number of knobs (audio channel 0, then the knobs in sorted order).
    "catwavenet": {
        "name": "CatWaveNet",
        "config": {
            "layers_configs": [
                {
                    "input_size": 4,
                    "condition_size": 4,
                    "head_size": 2,
                    "channels": 4,
                    "kernel_size": 3,
                    "dilations": [1, 2],
                    "activation": "Tanh",
                    "gated": True,
                    "head_bias": False,
                },
                {
                    "input_size": 4,
                    "condition_size": 4,
                    "head_size": 1,
                    "channels": 2,
                    "kernel_size": 2,
                    "dilations": [1, 4],
                    "activation": "Tanh",
                    "gated": False,
                    "head_bias": True,
                },
            ],
            "head_scale": 0.02,
        },
    },
    "hyperconvnet_bn": {
        "name": "HyperConvNet",
        "config": {
            "net": {
                "channels": 3,
                "dilations": [1, 2, 4],
                "batchnorm": True,
                "activation": "Tanh",
            },
            "hyper_net": {
                "num_inputs": 3,
                "num_layers": 2,
                "num_units": 8,
                "batchnorm": True,
            },
        },
    },
    "hyperconvnet_nobn": {
        "name": "HyperConvNet",
        "config": {
            "net": {
                "channels": 3,
                "dilations": [1, 2, 4],
                "batchnorm": False,
                "activation": "ReLU",
            },
            "hyper_net": {
                "num_inputs": 3,
                "num_layers": 2,
                "num_units": 8,
                "batchnorm": False,
            },
        },
    },
}
CASES = list(NET_CONFIGS)

RATE = 48_000
N_SAMPLES = RATE  # 1 s of synthetic audio
# Slices (absolute sample indices in x.wav/y.wav) and their knob values.
TRAIN_SLICES = [
    {"start": 0, "stop": 12_000, "params": {"tone": 0.5, "drive": 0.3, "bright": False}},
    {"start": 12_000, "stop": 24_000, "params": {"tone": 0.1, "drive": 0.9, "bright": True}},
    {"start": 24_000, "stop": 36_000, "params": {"tone": 0.8, "drive": 0.6, "bright": False}},
]
VAL_SLICES = [
    {"start": 36_000, "stop": 42_000, "params": {"tone": 0.3, "drive": 0.2, "bright": True}},
    {"start": 42_000, "stop": 48_000, "params": {"tone": 0.7, "drive": 0.8, "bright": False}},
]
TRAIN_NY = 4096  # 2 items per 12000-sample slice for every case's nx -> 6 items
BATCH_SIZE = 2  # >= 2: hypernet BatchNorm1d can't train on batch 1
MAX_STEPS = 3  # = one epoch of 6 items with drop_last
SEED = 0

REF_LEN = 512  # keeps all releases' fixtures together well under 5 MB
REF_SEED = 20240114

SNAPSHOT_SIZE_LIMIT = 64 * 1024  # export files larger than this are dropped
# ...except the snapshot arrays among them, kept xz-compressed in OUT/snapshots/, named by
# their sha256 (the same input is shared by many cases). torch computed them (the input
# sine too), so their bits belong to this machine and a hash alone cannot be checked
# elsewhere; the wavs are np_to_wav of these arrays.
KEPT_SNAPSHOTS = ("inputs.npy", "outputs.npy", "test_inputs.npy", "test_outputs.npy")
# --snapshot-exports seeds the global RNG with this right before the export call
# (HyperConvNet draws its snapshot knobs and input from it).
SNAPSHOT_SEED = 20240115


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _exc(e: BaseException) -> dict:
    return {"type": type(e).__name__, "message": str(e)}


# ---------------------------------------------------------------------------
# Synthetic data
# ---------------------------------------------------------------------------


def _make_audio(np):
    rng = np.random.default_rng(SEED)
    t = np.arange(N_SAMPLES) / RATE
    x = 0.25 * rng.standard_normal(N_SAMPLES) + 0.2 * np.sin(2 * np.pi * 110.0 * t)
    x = np.clip(x, -0.95, 0.95)
    y = np.zeros_like(x)
    for s in TRAIN_SLICES + VAL_SLICES:
        p = s["params"]
        seg = x[s["start"] : s["stop"]]
        out = np.tanh((1.0 + 6.0 * p["drive"]) * seg) * (0.3 + 0.4 * p["tone"])
        if p["bright"]:
            out = out + 0.2 * np.diff(seg, prepend=0.0)
        y[s["start"] : s["stop"]] = out
    y = np.clip(y, -0.95, 0.95)
    return x, y


def _write_wav_stdlib(np, x, path: Path):
    """24-bit mono PCM via the stdlib (same scaling as nam.data.np_to_wav)."""
    a = (np.clip(x, -1.0, 1.0) * (2**23)).astype(np.int32)
    a = np.clip(a, -(2**23), 2**23 - 1)
    b = a.astype("<i4").tobytes()
    raw = b"".join(b[i : i + 3] for i in range(0, len(b), 4))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(3)
        w.setframerate(RATE)
        w.writeframes(raw)


def _write_wavs(np, nam_data, tmp: Path) -> dict:
    x, y = _make_audio(np)
    info = {}
    for name, sig in (("x.wav", x), ("y.wav", y)):
        path = tmp / name
        try:
            nam_data.np_to_wav(sig, path)
            info[name] = "nam.data.np_to_wav"
        except Exception as e:  # wavio 0.0.4 + numpy 2: ndarray.tostring is gone
            if path.exists():
                path.unlink()
            _write_wav_stdlib(np, sig, path)
            info[name] = f"stdlib wave (nam.data.np_to_wav failed: {type(e).__name__}: {e})"
        info[name + ".sha256"] = _sha256(path)
    return info


def _data_config(release: str, nx: int) -> dict:
    common = {"x_path": "x.wav", "y_path": "y.wav", "delay": 0, "nx": nx}
    cfg = {
        "train": {"ny": TRAIN_NY, "slices": copy.deepcopy(TRAIN_SLICES)},
        "validation": {"ny": None, "slices": copy.deepcopy(VAL_SLICES)},
        "common": common,
    }
    if _vtuple(release) >= (0, 7, 4):
        cfg["type"] = "parametric"
    else:
        cfg["parametric"] = True
    return cfg


def _absolutize(data_config: dict, tmp: Path) -> dict:
    c = copy.deepcopy(data_config)
    for k in ("x_path", "y_path"):
        c["common"][k] = str(tmp / c["common"][k])
    return c


def _vtuple(v: str):
    return tuple(int(p) for p in v.split(".")[:3])


# ---------------------------------------------------------------------------
# Checkpoint stripping
# ---------------------------------------------------------------------------


def _strip_paths(obj, prefix: str, where: str, log: list):
    """Replace every string under the temp dir by a path relative to it."""
    if isinstance(obj, str):
        if prefix in obj:
            new = obj.replace(prefix + os.sep, "").replace(prefix, "")
            log.append({"key": where, "from": obj.replace(prefix, "<TMPDIR>"), "to": new})
            return new
        return obj
    if isinstance(obj, dict):
        out = type(obj)() if type(obj) is not dict else {}
        for k, v in obj.items():
            ks = k.replace(prefix, "<TMPDIR>") if isinstance(k, str) else k
            nk = _strip_paths(k, prefix, f"{where}/<key {ks!r}>", log) if isinstance(k, str) else k
            out[nk] = _strip_paths(v, prefix, f"{where}/{ks}", log)
        return out
    if isinstance(obj, list):
        return [_strip_paths(v, prefix, f"{where}[{i}]", log) for i, v in enumerate(obj)]
    if isinstance(obj, tuple) and not hasattr(obj, "_fields"):
        return tuple(_strip_paths(v, prefix, f"{where}[{i}]", log) for i, v in enumerate(obj))
    return obj


def _find_strings(obj, needles, where="", found=None):
    found = [] if found is None else found
    if isinstance(obj, str):
        if any(n in obj for n in needles):
            found.append((where, obj))
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _find_strings(k, needles, f"{where}/<key>", found)
            _find_strings(v, needles, f"{where}/{k}", found)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            _find_strings(v, needles, f"{where}[{i}]", found)
    return found


# ---------------------------------------------------------------------------
# One case
# ---------------------------------------------------------------------------


def make_case(release: str, case: str, out_root: Path, keep_tmp: bool = False, snapshot_exports: bool = False) -> dict:
    import numpy as np
    import torch
    import pytorch_lightning as pl
    from torch.utils.data import DataLoader

    import nam
    from nam import data as nam_data
    from nam.models.base import Model
    from nam.models.parametric.params import Param

    if case == "catwavenet" and _vtuple(release) < (0, 4, 0):
        return {"case": case, "skipped": "release has no CatWaveNet"}

    torch.set_num_threads(1)
    case_dir = out_root / release / case
    if case_dir.exists():
        shutil.rmtree(case_dir)
    case_dir.mkdir(parents=True)

    model_config = {"net": copy.deepcopy(NET_CONFIGS[case]), **copy.deepcopy(_OPTIM)}
    meta = {
        "release": release,
        "case": case,
        "nam_version": nam.__version__,
        "nam_file": os.path.relpath(nam.__file__, sys.prefix)
        if nam.__file__.startswith(sys.prefix)
        else "<outside venv>",
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "pytorch_lightning": pl.__version__,
            "numpy": np.__version__,
        },
        "knob_names_sorted": KNOB_NAMES,
        "param_config_order": list(PARAM_CONFIG),
        "export_errors": {},
        "notes": [],
    }
    for mod in ("pydantic", "wavio", "scipy", "auraloss", "torchmetrics"):
        try:
            meta["versions"][mod] = __import__(mod).__version__
        except Exception:  # pragma: no cover
            pass

    tmp = Path(tempfile.mkdtemp(prefix=f"nam-oracle-{release}-{case}-")).resolve()
    try:
        # ---- data + training (mirrors bin/train/main.py) ----
        torch.manual_seed(SEED)  # bin/train/main.py seeds torch at import
        np.random.seed(SEED)
        meta["wavs"] = _write_wavs(np, nam_data, tmp)
        model = Model.init_from_config(copy.deepcopy(model_config))
        rf = int(model.net.receptive_field)
        # bin/train/main.py (0.4.0+) sets data nx to the receptive field; we do the
        # same for 0.3.0 (its CLI wanted nx in the data config).
        data_config = _data_config(release, rf)
        ds_train = nam_data.init_dataset(
            _absolutize(data_config, tmp), nam_data.Split.TRAIN
        )
        ds_val = nam_data.init_dataset(
            _absolutize(data_config, tmp), nam_data.Split.VALIDATION
        )
        train_dl = DataLoader(
            ds_train, batch_size=BATCH_SIZE, shuffle=True, drop_last=True, num_workers=0
        )
        val_dl = DataLoader(ds_val)
        ckdir = tmp / "checkpoints"
        ModelCheckpoint = pl.callbacks.model_checkpoint.ModelCheckpoint
        cb_best = ModelCheckpoint(
            dirpath=str(ckdir),
            filename="{epoch:04d}_{step}",
            save_top_k=3,
            monitor="val_loss",
            every_n_epochs=1,
        )
        cb_last = ModelCheckpoint(
            dirpath=str(ckdir),
            filename="checkpoint_last_{epoch:04d}_{step}",
            every_n_epochs=1,
        )
        trainer = pl.Trainer(
            max_steps=MAX_STEPS,
            max_epochs=1,
            accelerator="cpu",
            devices=1,
            logger=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            callbacks=[cb_best, cb_last],
            default_root_dir=str(tmp),
        )
        trainer.fit(model, train_dl, val_dl)
        best = Path(cb_best.best_model_path)
        if not best.is_file():
            raise RuntimeError(f"no checkpoint written: {cb_best.best_model_path!r}")
        meta["training"] = {
            "global_step": int(trainer.global_step),
            "len_train_dataset": len(ds_train),
            "len_val_dataset": len(ds_val),
            "batch_size": BATCH_SIZE,
            "max_steps": MAX_STEPS,
            "seed": SEED,
            "checkpoint_source": "best (monitor=val_loss) ModelCheckpoint, as "
            "bin/train/main.py reloads best_model_path",
            "checkpoint_basename": best.name,
            "callbacks": "ModelCheckpoint(filename='{epoch:04d}_{step}', save_top_k=3, "
            "monitor='val_loss') + ModelCheckpoint(filename='checkpoint_last_"
            "{epoch:04d}_{step}'), both every_n_epochs=1",
            "trainer": "pl.Trainer(max_steps=3, max_epochs=1, accelerator='cpu', "
            "devices=1, logger=False, enable_progress_bar=False, "
            "enable_model_summary=False, num_sanity_val_steps=0)",
            "dataloader": "DataLoader(train, batch_size=2, shuffle=True, "
            "drop_last=True, num_workers=0); DataLoader(val)",
        }
        trained_sd = {k: v.detach().clone() for k, v in model.state_dict().items()}

        # ---- strip machine-specific content, re-save like Lightning does ----
        try:
            ck = torch.load(str(best), map_location="cpu", weights_only=True)
            meta["checkpoint_original_loads_weights_only"] = True
        except Exception as e:
            meta["checkpoint_original_loads_weights_only"] = _exc(e)
            ck = torch.load(str(best), map_location="cpu", weights_only=False)
        stripped = []
        ck = _strip_paths(ck, str(tmp), "", stripped)
        leftovers = _find_strings(ck, [str(tmp), "/tmp/", str(Path.home())])
        if leftovers:
            raise RuntimeError(f"machine-specific strings left in checkpoint: {leftovers}")
        buf = io.BytesIO()  # PL's _atomic_save: torch.save into a buffer, then write
        torch.save(ck, buf)
        ckpt = case_dir / "model.ckpt"
        ckpt.write_bytes(buf.getvalue())
        meta["checkpoint"] = {
            "original_sha256": _sha256(best),
            "original_size": best.stat().st_size,
            "stripped_sha256": _sha256(ckpt),
            "stripped_size": ckpt.stat().st_size,
            "top_level_keys": sorted(ck.keys()),
            "pytorch-lightning_version": ck.get("pytorch-lightning_version"),
            "state_dict_keys": list(ck["state_dict"].keys()),
            "stripped": stripped,
            "how": "torch.load(weights_only=True) of the genuine checkpoint; every "
            "string under the temporary training directory (ModelCheckpoint dirpath, "
            "best_model_path, last_model_path, kth_best_model_path, best_k_models "
            "keys) replaced by the path relative to it; torch.save into a BytesIO "
            "whose bytes are written to model.ckpt (as Lightning's _atomic_save does)",
        }

        # ---- reload through the release's own path ----
        model2 = Model.init_from_config({**copy.deepcopy(model_config), "checkpoint_path": str(ckpt)})
        sd2 = model2.state_dict()
        meta["checkpoint"]["reload_state_dict_equal"] = set(sd2) == set(trained_sd) and all(
            torch.equal(sd2[k], trained_sd[k]) for k in trained_sd
        )
        if not meta["checkpoint"]["reload_state_dict_equal"]:
            raise RuntimeError("reloaded state_dict differs from the trained one")
        meta["reload"] = "Model.init_from_config({**model_config, 'checkpoint_path': ...}) " \
            "(-> Model.load_from_checkpoint(path, **Model.parse_config(config)))"
        net = model2.net
        net.eval()
        meta["class"] = type(net).__name__
        meta["class_module"] = type(net).__module__
        meta["receptive_field"] = int(net.receptive_field)
        meta["pad_start_default"] = bool(net.pad_start_default)
        meta["model_config_net"] = model_config["net"]

        # ---- references ----
        refs = compute_references(np, torch, net, Param, case)
        np.savez_compressed(case_dir / "reference.npz", **refs)
        meta["reference"] = {
            k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in refs.items()
        }
        meta["reference_how"] = {
            "torch_num_threads": 1,
            "x": f"float32, L={REF_LEN}: 0.3*N(0,1) + 0.2*sin(2*pi*440*t), "
            f"numpy default_rng({REF_SEED})",
            "x3": "float32 (3,L): 0.3*N(0,1); 0.5*sin(2*pi*220*t)+0.05*N(0,1); "
            "0.8*sin(2*pi*(50+2000*t)*t) * exp(-20t) (same rng, continued)",
            "knobs": "float32 (5,3) in sorted-name order (bright, drive, tone): "
            "defaults, [1,1,0], [0,0,1], [1,0.25,0.75], random",
            "eval_b1_k{k}_pad{p}": "net.eval(); net(torch.tensor(knobs[k]), "
            "torch.tensor(x), pad_start=bool(p)) under torch.no_grad()",
            "eval_b3_pad{p}": "net(torch.tensor(knobs[:3]), torch.tensor(x3), pad_start=bool(p))",
            "train_b3_pad{p}": "m = copy.deepcopy(net); m.train(); same call as "
            "eval_b3 under torch.no_grad() (fresh deepcopy per pad value)",
            "initial_state_h/_c": "CatLSTM only: with net._use_parametric_config("
            "{name: Param.init_from_config(copy of params.json entry)}): "
            "net._get_initial_state() (eval mode, no_grad)",
        }

        # ---- configs ----
        (case_dir / "model.json").write_text(json.dumps(model_config, indent=2) + "\n")
        (case_dir / "params.json").write_text(json.dumps(PARAM_CONFIG, indent=2) + "\n")
        (case_dir / "data.json").write_text(json.dumps(data_config, indent=2) + "\n")

        # ---- exports ----
        do_exports(np, torch, net, Param, case_dir, meta, release, case, snapshot_exports)
    finally:
        if keep_tmp:
            meta["notes"].append(f"tmp kept at {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    meta["how"] = (
        "tests/oracle/make_fixtures.py run inside the oracle venv of this release "
        "(tests/oracle/envs.py): genuine training with the release's own "
        "nam.models.base.Model + nam.data.init_dataset + pytorch_lightning, genuine "
        "reload, references and exports by the release's own code"
    )
    (case_dir / "meta.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    return meta


def _params(Param):
    return {k: Param.init_from_config(copy.deepcopy(v)) for k, v in PARAM_CONFIG.items()}


def compute_references(np, torch, net, Param, case) -> dict:
    rng = np.random.default_rng(REF_SEED)
    t = np.arange(REF_LEN) / RATE
    x = (0.3 * rng.standard_normal(REF_LEN) + 0.2 * np.sin(2 * np.pi * 440.0 * t)).astype(
        np.float32
    )
    x3 = np.stack(
        [
            0.3 * rng.standard_normal(REF_LEN),
            0.5 * np.sin(2 * np.pi * 220.0 * t) + 0.05 * rng.standard_normal(REF_LEN),
            0.8 * np.sin(2 * np.pi * (50.0 + 2000.0 * t) * t) * np.exp(-20.0 * t),
        ]
    ).astype(np.float32)
    knobs = np.array(
        [
            [0.0, 0.3, 0.5],
            [1.0, 1.0, 0.0],
            [0.0, 0.0, 1.0],
            [1.0, 0.25, 0.75],
            [float(rng.integers(0, 2)), rng.uniform(), rng.uniform()],
        ]
    ).astype(np.float32)
    refs = {"x": x, "x3": x3, "knobs": knobs}

    def run(m, p, xx, pad):
        with torch.no_grad():
            y = m(torch.tensor(p), torch.tensor(xx), pad_start=pad)
        assert y.dtype == torch.float32, y.dtype
        return y.detach().cpu().numpy().astype(np.float32, copy=True)

    net.eval()
    for k in range(len(knobs)):
        for pad in (True, False):
            refs[f"eval_b1_k{k}_pad{int(pad)}"] = run(net, knobs[k], x, pad)
    for pad in (True, False):
        refs[f"eval_b3_pad{int(pad)}"] = run(net, knobs[:3], x3, pad)
    for pad in (True, False):
        m = copy.deepcopy(net)
        m.train()
        refs[f"train_b3_pad{int(pad)}"] = run(m, knobs[:3], x3, pad)
    if case == "catlstm" and hasattr(net, "_get_initial_state"):
        with net._use_parametric_config(_params(Param)), torch.no_grad():
            h, c = net._get_initial_state()
        refs["initial_state_h"] = h.detach().cpu().numpy().astype(np.float32, copy=True)
        refs["initial_state_c"] = c.detach().cpu().numpy().astype(np.float32, copy=True)
    return refs


def _prune_export_dir(d: Path, meta_list: list):
    for f in sorted(d.rglob("*")):
        if f.is_file() and f.stat().st_size > SNAPSHOT_SIZE_LIMIT:
            entry = {"file": str(f.relative_to(d.parent)), "size": f.stat().st_size, "sha256": _sha256(f)}
            if f.name in KEPT_SNAPSHOTS:
                out_root = d.parent.parent.parent  # OUT/<release>/<case>/<export dir>
                kept = out_root / "snapshots" / f"{entry['sha256']}.npy.xz"
                if not kept.is_file():
                    kept.parent.mkdir(parents=True, exist_ok=True)
                    kept.write_bytes(lzma.compress(f.read_bytes(), preset=9 | lzma.PRESET_EXTREME))
                entry["kept"] = str(kept.relative_to(out_root))
            meta_list.append(entry)
            f.unlink()


def do_exports(np, torch, net, Param, case_dir: Path, meta: dict, release: str, case: str, snapshot_exports=False):
    errors = meta["export_errors"]
    removed = []
    is_cat = case in ("catlstm", "catwavenet")
    net.eval()

    def attempt(name, fn):
        try:
            fn()
            return True
        except Exception as e:
            tb = traceback.format_exc().replace(sys.prefix, "<venv>").splitlines()
            errors[name] = {**_exc(e), "traceback_tail": tb[-6:]}
            return False

    exp = case_dir / "export"
    exp.mkdir()
    if is_cat:
        ok_export = attempt("export", lambda: net.export(exp, _params(Param)))
        ok_header = attempt(
            "export_cpp_header", lambda: net.export_cpp_header(exp / "model.h", _params(Param))
        )
    else:
        ok_export = attempt("export", lambda: net.export(exp))
        ok_header = attempt("export_cpp_header", lambda: net.export_cpp_header(exp / "model.h"))
    meta["export_calls"] = (
        "net.export(export/, {name: Param.init_from_config(copy)}) and "
        "net.export_cpp_header(export/model.h, params)"
        if is_cat
        else "net.export(export/) and net.export_cpp_header(export/model.h)"
    )
    if case == "catwavenet" and not (ok_export and ok_header):
        patched = case_dir / "export_patched"
        patched.mkdir()
        net._at_nominal_settings = lambda x: x  # instance patch, see meta note
        try:
            attempt("patched_export", lambda: net.export(patched, _params(Param)))
            attempt(
                "patched_export_cpp_header",
                lambda: net.export_cpp_header(patched / "model.h", _params(Param)),
            )
        finally:
            del net._at_nominal_settings
        meta["notes"].append(
            "export_patched/: the same export calls after the instance patch "
            "`net._at_nominal_settings = lambda x: x` (upstream CatWaveNet inherits "
            "BaseNet._at_nominal_settings -> self(x), which fails in "
            "ParametricBaseNet.forward; the patch makes the .nam loudness/gain "
            "metadata be computed on the identity, like CatLSTM's override does)"
        )
        _prune_export_dir(patched, removed)
    if snapshot_exports:
        _snapshot_export(torch, net, Param, case_dir, meta, release, case, attempt)
        _prune_export_dir(case_dir / "export_snapshot", removed)
    _prune_export_dir(exp, removed)
    for d in (exp, case_dir / "export_patched", case_dir / "export_snapshot"):
        if d.is_dir() and not any(d.iterdir()):
            d.rmdir()
    if removed:
        meta["export_removed_files"] = removed
        meta["notes"].append(
            f"export files larger than {SNAPSHOT_SIZE_LIMIT} bytes (snapshots: "
            "inputs.npy/outputs.npy/input.wav/output.wav) were deleted after export to "
            "keep fixtures small; their size and sha256 are kept in export_removed_files, "
            "and the .npy arrays themselves xz-compressed in snapshots/ of the output root "
            "(the entry's 'kept')"
        )
    meta["export_files"] = sorted(
        str(f.relative_to(case_dir)) for f in case_dir.rglob("*") if f.is_file() and "export" in f.parts[len(case_dir.parts)]
    )


def _snapshot_export(torch, net, Param, case_dir: Path, meta: dict, release: str, case: str, attempt):
    """--snapshot-exports: the export with its snapshot (a test input and the model's
    output for it), into export_snapshot/, right after torch.manual_seed(SNAPSHOT_SEED).

    0.5.0+ take `include_snapshot=True`. Before, Cat* exports always held a snapshot (so
    export/ has it) and HyperConvNet's `export` always drew one: it is called seeded.
    CatWaveNet gets the instance patch where its plain export failed (see export_patched).
    """
    is_cat = case in ("catlstm", "catwavenet")
    takes_flag = _vtuple(release) >= (0, 5, 0)
    if is_cat and not takes_flag:
        return
    out = case_dir / "export_snapshot"
    out.mkdir()
    patch = case == "catwavenet" and "export" in meta["export_errors"]
    if patch:
        net._at_nominal_settings = lambda x: x
    try:
        torch.manual_seed(SNAPSHOT_SEED)
        if is_cat:
            attempt("snapshot_export", lambda: net.export(out, _params(Param), include_snapshot=True))
        elif takes_flag:
            attempt("snapshot_export", lambda: net.export(out, include_snapshot=True))
        else:
            attempt("snapshot_export", lambda: net.export(out))
    finally:
        if patch:
            del net._at_nominal_settings
    meta["snapshot_seed"] = SNAPSHOT_SEED
    meta["notes"].append(
        f"export_snapshot/ (--snapshot-exports): net.export(..., include_snapshot=True) right "
        f"after torch.manual_seed({SNAPSHOT_SEED})" + (" with the instance patch" if patch else "")
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--release", required=True)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--cases", nargs="*", default=CASES, choices=CASES)
    ap.add_argument("--keep-tmp", action="store_true")
    ap.add_argument(
        "--snapshot-exports",
        action="store_true",
        help="also export with snapshots (seeded) into export_snapshot/ (the live oracle test)",
    )
    args = ap.parse_args(argv)

    # Nothing local may shadow the installed nam.
    for p in list(sys.path):
        if p and Path(p, "nam", "__init__.py").exists() and "nam-src" not in p and "site-packages" not in p:
            print(f"refusing: {p} has a nam/ package that would shadow the oracle's", file=sys.stderr)
            return 2
    warnings.filterwarnings("ignore")
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    import nam

    if nam.__version__ != args.release:
        print(f"this venv has nam {nam.__version__}, not {args.release}", file=sys.stderr)
        return 2
    out = args.out.resolve()
    rc = 0
    for case in args.cases:
        try:
            m = make_case(args.release, case, out, keep_tmp=args.keep_tmp, snapshot_exports=args.snapshot_exports)
            if "skipped" in m:
                print(f"{args.release}/{case}: skipped ({m['skipped']})")
            else:
                errs = {k: f"{v['type']}: {v['message'][:120]}" for k, v in m["export_errors"].items()}
                print(f"{args.release}/{case}: ok rf={m['receptive_field']} export_errors={errs}")
        except Exception:
            traceback.print_exc()
            print(f"{args.release}/{case}: FAILED", file=sys.stderr)
            rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
