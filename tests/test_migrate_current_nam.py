"""Migrated files against the REAL current NAM (neural-amp-modeler 0.13.0).

An isolated environment with the real 0.13.0 (tests/current_nam.py; built on demand and
cached under $NAM_LEGACY_ORACLE_DIR/nam-0.13.0, skipped only when the package index is
unreachable) loads every migrated LSTM / WaveNet `.nam` with its own loader
(`nam.models._from_nam.init_from_nam`) and runs it; 0.13.0's Python loader cannot read
ConvNet files, so ConvNets are built with 0.13.0's `ConvNet` and given the migrated
weights in the file's order. Outputs must match the legacy models at the same knobs
(≤ 1e-6, both starting from the same LSTM state), and 0.13.0 re-exporting the model it
loaded must reproduce our file byte for byte (same config, same weights, LSTM burn-in
state included, same key order and JSON text).
"""

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import torch

import compat
import current_nam
from compat.migrate import dumps, fold, nam_document, provenance, write_nam
from nam_legacy.models.parametric.catnets import CatLSTM, CatWaveNet
from nam_legacy.models.parametric.hyper_net import HyperConvNet, _BatchNorm
from parametric_nam_cases import catwavenet_config

FIXTURES = Path(__file__).parent / "fixtures"
DATE = datetime(2026, 1, 2, 3, 4, 5)
LENGTH = 2_000
TOL = 1e-6

# Runs inside the 0.13.0 environment: payload on stdin, one JSON line out.
_SCRIPT = current_nam.CONVNET_FROM_SOURCE + r"""
import copy, json, sys
import numpy as np
import torch
torch.set_num_threads(1)
import nam
from nam.models._from_nam import init_from_nam
payload = json.load(sys.stdin)
results = []
for case in payload["cases"]:
    text = open(case["nam"]).read()
    doc = json.loads(text)
    model = convnet_from(doc) if doc["architecture"] == "ConvNet" else init_from_nam(doc)
    model.eval()
    x = torch.from_numpy(np.load(case["x"]))
    with torch.no_grad():
        y = model(x)
    np.save(case["y"], y.numpy())
    # Re-export what was loaded (metadata as in the file: loudness/gain are a later step).
    model._get_non_user_metadata = lambda: copy.deepcopy(doc["metadata"])
    again = model._get_export_dict()
    results.append({
        "id": case["id"],
        "receptive_field": model.receptive_field,
        "same_text": json.dumps(again) == text,
        "same_config": json.loads(json.dumps(again["config"])) == doc["config"],
        "same_weights": again["weights"] == doc["weights"],
        "keys": list(again),
        "sample_rate": model.sample_rate,
    })
print(json.dumps({"nam": nam.__version__, "torch": torch.__version__, "results": results}))
"""


@pytest.fixture(scope="module")
def nam013():
    try:
        return current_nam.python_for()
    except current_nam.IndexUnreachable as e:
        pytest.skip(f"the package index is unreachable, so the real nam 0.13.0 cannot be installed: {e}")


def _legacy_models():
    """(id, model, knob vectors): genuine fixtures of every release plus hand-built models."""
    out = []
    for case in sorted(p.parent for p in FIXTURES.glob("*/*/model.ckpt")):
        legacy = compat.load(case / "model.ckpt", config=case / "model.json", param_config=case / "params.json")
        rng = np.random.default_rng(len(out))
        # the second vector extrapolates continuous knobs; a boolean knob only takes 0 or 1
        random = [float(rng.integers(0, 2)) if k.type == "boolean" else float(v)
                  for k, v in zip(legacy.knobs, rng.uniform(-0.5, 1.5, legacy.knob_count))]
        knobs = [[k.default for k in legacy.knobs], random]
        out.append((f"{case.parent.name}-{case.name}", legacy, knobs))
    torch.manual_seed(7)
    d = 2
    lstm = CatLSTM(5, input_size=1 + d, num_layers=1).eval()
    with torch.no_grad():
        lstm._initial_hidden.normal_(0, 0.3)
        lstm._initial_cell.normal_(0, 0.3)
    out.append(("random-catlstm", lstm, [[0.25, -1.0]]))
    config = catwavenet_config(d)
    wavenet = CatWaveNet(config["layers_configs"], head_config=config["head_config"],
                         head_scale=config["head_scale"]).eval()
    out.append(("random-catwavenet-head", wavenet, [[0.7, 1.3]]))
    config = {
        "net": {"channels": 4, "dilations": [1, 2, 4, 8], "batchnorm": True, "activation": "Tanh"},
        "hyper_net": {"num_inputs": d, "num_layers": 2, "num_units": 16, "batchnorm": True},
    }
    hyper = HyperConvNet.init_from_config(config).eval()
    with torch.no_grad():
        for m in hyper.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, _BatchNorm)):
                m.running_mean.normal_(0, 0.5)
                m.running_var.uniform_(0.3, 2.0)
    out.append(("random-hyperconvnet", hyper, [[-0.4, 0.9]]))
    return out


def _legacy_output(model, knobs, x, folded):
    module = model.model if isinstance(model, compat.LegacyModel) else model
    if isinstance(module, CatLSTM):
        h, c = current_nam.lstm_initial_state(folded.config, folded.weights)  # where 0.13.0 starts
        return current_nam.legacy_lstm_from(module, knobs, x, h, c)
    with torch.no_grad():
        return module(torch.tensor(knobs, dtype=torch.float32), x)


@pytest.mark.oracle
@pytest.mark.filterwarnings("ignore::compat.OutOfRangeWarning")  # the random vectors extrapolate on purpose
def test_migrated_files_run_in_current_nam(nam013, tmp_path):
    cases, expected = [], {}
    g = torch.Generator().manual_seed(0)
    x = 0.5 * torch.randn((LENGTH,), generator=g)
    np.save(tmp_path / "x.npy", x.numpy())
    for name, model, knob_sets in _legacy_models():
        for j, knobs in enumerate(knob_sets):
            states = ("burn-in", "model") if "catlstm" in name else ("burn-in",)
            for state in states:
                folded = fold(model, knobs, initial_state=state, allow_out_of_range=True)
                doc = nam_document(folded, metadata={"date": {"year": 2026, "month": 1, "day": 2, "hour": 3,
                                                             "minute": 4, "second": 5}},
                                   provenance=provenance(folded, model if isinstance(model, compat.LegacyModel) else None))
                cid = f"{name}-{j}-{state}"
                path = write_nam(tmp_path / f"{cid}.nam", doc)
                cases.append({"id": cid, "nam": str(path), "x": str(tmp_path / "x.npy"), "y": str(tmp_path / f"{cid}.npy")})
                expected[cid] = (folded, _legacy_output(model, knobs, x, folded), state)
    out = current_nam.run_in_env(nam013, _SCRIPT, {"cases": cases})
    assert out["nam"] == "0.13.0"
    failures, worst = {}, {}
    for result in out["results"]:
        cid = result["id"]
        folded, y_old, state = expected[cid]
        y_new = torch.from_numpy(np.load(tmp_path / f"{cid}.npy"))
        err = float((y_new.double() - y_old.double()).abs().max())
        worst[folded.architecture] = max(worst.get(folded.architecture, 0.0), err)
        problems = []
        if y_new.shape != y_old.shape:
            problems.append(f"shape {tuple(y_new.shape)} != {tuple(y_old.shape)}")
        elif err > TOL * max(1.0, float(y_old.abs().max())):
            problems.append(f"max abs error {err:.3g}")
        if result["receptive_field"] != folded.receptive_field:
            problems.append(f"receptive field {result['receptive_field']} != {folded.receptive_field}")
        if not result["same_config"]:
            problems.append("re-exported config differs")
        # A "model"-state LSTM file re-exports with current NAM's burn-in state instead, by
        # design; everything else must come back bit for bit.
        if state == "burn-in" and not (result["same_weights"] and result["same_text"]):
            problems.append(f"re-export differs (weights equal: {result['same_weights']}, text equal: {result['same_text']})")
        expected_keys = ["version", "metadata", "architecture", "config", "weights"]
        if folded.sample_rate is not None:
            expected_keys.append("sample_rate")
        if result["keys"] != expected_keys:
            problems.append(f"keys {result['keys']}")
        if problems:
            failures[cid] = problems
    print("max abs error vs legacy, by target:", worst)
    assert failures == {}
    assert set(worst) == {"LSTM", "WaveNet", "ConvNet"}


def test_document_layout_and_writer(tmp_path):
    legacy = compat.load(FIXTURES / "0.7.4" / "catlstm" / "model.ckpt", config=FIXTURES / "0.7.4" / "catlstm" / "model.json",
                         param_config=FIXTURES / "0.7.4" / "catlstm" / "params.json")
    folded = fold(legacy, {"drive": 0.8})
    block = provenance(folded, legacy)
    doc = nam_document(folded, provenance={"nam_legacy": block}, date=DATE, sample_rate=48_000)
    assert list(doc) == ["version", "metadata", "architecture", "config", "weights", "sample_rate"]
    assert doc["version"] == "0.7.0" and doc["architecture"] == "LSTM" and doc["sample_rate"] == 48_000.0
    assert doc["metadata"]["date"] == {"year": 2026, "month": 1, "day": 2, "hour": 3, "minute": 4, "second": 5}
    assert doc["metadata"]["nam_legacy"]["source_architecture"] == "CatLSTM"
    assert doc["metadata"]["nam_legacy"]["knobs"] == {"bright": 0.0, "drive": 0.8, "tone": 0.5}
    assert doc["metadata"]["nam_legacy"]["initial_state"] == "burn-in"
    assert all(isinstance(w, float) for w in doc["weights"])
    assert np.array_equal(np.asarray(doc["weights"], dtype=np.float32), folded.weights)
    assert "sample_rate" not in nam_document(folded, sample_rate=None)
    path = write_nam(tmp_path / "sub" / "amp.nam", doc)
    text = path.read_text()
    assert text == json.dumps(doc) == dumps(doc)
    assert json.loads(text) == doc
    assert [p.name for p in path.parent.iterdir()] == ["amp.nam"]  # no temporaries left
    bad = dict(doc, weights=[float("nan")])
    with pytest.raises(ValueError):
        write_nam(tmp_path / "bad.nam", bad)
    assert not (tmp_path / "bad.nam").exists()
