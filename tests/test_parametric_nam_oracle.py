"""parametric-nam exports against the REAL parametric NAM line (neural-amp-modeler-parametric).

Runs when NAM_PARAMETRIC_REPO points to a clone of phillipmself/neural-amp-modeler-parametric
(a bare clone is fine); skipped otherwise. Its Python package is put into an isolated
environment (tests/parametric_nam_env.py, cached per commit under $NAM_LEGACY_ORACLE_DIR),
and ITS code loads every file we export (`init_from_config` + `import_weights`, then
`model(x, raw_knobs, pad_start=True)`):

* outputs at five knob vectors (defaults, all-min, all-max, mixed, booleans toggled) equal
  the legacy model's within 1e-6, for the genuine CatLSTM/CatWaveNet fixtures of every
  release (checkpoints and the releases' own exports) and two hand-built models; CatLSTMs
  are compared from the same starting state, both the legacy model's own and the burn-in
  state the file stores;
* the fork's own exporter (`export_parametric`), given the equivalent model (the loaded
  one, started from the legacy model's state, with the same `other_metadata`), writes our
  file: same keys in the same order, same config text, same weights (the stored burn-in
  state included), metadata keys, and loudness/gain within float32 rounding.

    NAM_PARAMETRIC_REPO=/path/to/neural-amp-modeler-parametric pytest -s tests/test_parametric_nam_oracle.py
"""

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import torch

import compat
import parametric_nam_env as env
from parametric_nam_cases import (
    fixture_cases,
    knob_vectors,
    legacy_output,
    random_catlstm,
    random_catwavenet,
    start_state,
    stored_state,
)

pytestmark = pytest.mark.oracle

REPO = env.repo_from_env()
if REPO is None:
    pytest.skip(
        f"set {env.REPO_VARIABLE} to a clone of phillipmself/neural-amp-modeler-parametric to check "
        "parametric-nam exports against its own code",
        allow_module_level=True,
    )

TOL = 1e-6  # max abs output difference, the bound
LOUDNESS_TOL = 1e-4  # dB: the fork measures from a batch of 1 with autograd on, we batch 11
GAIN_TOL = 1e-5
DATE = datetime(2026, 8, 21, 12, 0, 0)
LENGTH = 6_000

_SCRIPT = r"""
import json, sys
from pathlib import Path
import numpy as np
import torch
torch.set_num_threads(1)
import nam
from nam.models.parametric import ConcatLSTM, ConcatWaveNet, export_parametric
payload = json.load(sys.stdin)
x = torch.from_numpy(np.load(payload["x"]))
results = {}
for case in payload["cases"]:
    doc = json.load(open(case["file"]))
    cls = {"ConcatLSTM": ConcatLSTM, "ConcatWaveNet": ConcatWaveNet}[doc["architecture"]]
    model = cls.init_from_config({**doc["config"], "sample_rate": doc.get("sample_rate")})
    consumed = model.import_weights(doc["weights"])
    model.eval()
    outputs = {}
    def run(tag):
        with torch.no_grad():
            for name, knobs in case["knobs"].items():
                outputs[f"{tag}/{name}"] = model(x, torch.tensor(knobs, dtype=torch.float32), pad_start=True).numpy()
    run("stored")
    if doc["architecture"] == "ConcatLSTM":
        state = np.load(case["start"])
        model._initial_hidden.data = torch.from_numpy(state["h"])
        model._initial_cell.data = torch.from_numpy(state["c"])
        run("legacy-start")
    np.savez(case["outputs"], **outputs)
    # The fork's own exporter on the equivalent model (for a CatLSTM: started where the
    # legacy model starts, which is what its loudness metadata measures).
    outdir = Path(case["outputs"]).parent
    export_parametric(model, outdir, basename="fork", other_metadata=case["other_metadata"])
    results[case["id"]] = {"consumed": consumed, "fork_file": str(outdir / "fork.nam"),
                           "receptive_field": model.receptive_field}
print(json.dumps({"nam": nam.__version__, "torch": torch.__version__, "results": results}))
"""


def _models():
    out = []
    for case_id, path, kw in fixture_cases():
        out.append((case_id, compat.load(path, **kw)))
    out += [("random-catlstm", random_catlstm()), ("random-catwavenet", random_catwavenet())]
    return out


@pytest.fixture(scope="module")
def oracle(tmp_path_factory):
    try:
        python = env.build(REPO)
    except env.IndexUnreachable as e:
        pytest.skip(f"the package index is unreachable, so the fork's dependencies cannot be installed: {e}")
    root = tmp_path_factory.mktemp("parametric-oracle")
    rng = np.random.default_rng(0)
    x = (0.5 * rng.standard_normal(LENGTH)).astype(np.float32)
    np.save(root / "x.npy", x)
    cases, ours = [], {}
    for case_id, legacy in _models():
        folder = root / case_id
        folder.mkdir()
        ours_file = compat.export(legacy, "parametric-nam", folder / "ours.nam", date=DATE)
        doc = json.loads(ours_file.read_text())
        knobs = knob_vectors(legacy)
        case = {"id": case_id, "file": str(ours_file), "knobs": knobs, "outputs": str(folder / "fork.npz"),
                "other_metadata": {"nam_legacy": doc["metadata"]["nam_legacy"]}}
        entry = {"legacy": legacy, "doc": doc, "text": ours_file.read_text(), "knobs": knobs}
        if legacy.architecture == "CatLSTM":
            h, c = start_state(legacy.model)
            np.savez(folder / "start.npz", h=h.numpy(), c=c.numpy())
            case["start"] = str(folder / "start.npz")
        cases.append(case)
        ours[case_id] = entry
    report = env.run_in_env(python, _SCRIPT, {"x": str(root / "x.npy"), "cases": cases})
    return {"x": torch.from_numpy(x), "ours": ours, "report": report, "root": root}


CASE_IDS = [c[0] for c in fixture_cases()] + ["random-catlstm", "random-catwavenet"]
_FIGURES = {}


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_fork_runs_our_file_like_the_legacy_model(oracle, case_id):
    entry, result = oracle["ours"][case_id], oracle["report"]["results"][case_id]
    legacy, doc, x = entry["legacy"], entry["doc"], oracle["x"]
    assert result["consumed"] == len(doc["weights"])
    assert result["receptive_field"] == legacy.model.receptive_field
    fork = np.load(Path(result["fork_file"]).parent / "fork.npz")
    diffs = {}
    for name, knobs in entry["knobs"].items():
        if legacy.architecture == "CatLSTM":
            # Same start: the legacy model's own state, and the burn-in state the file stores.
            ref = legacy_output(legacy.model, knobs, x).numpy()
            diffs[f"legacy-start/{name}"] = float(np.abs(fork[f"legacy-start/{name}"] - ref).max())
            ref = legacy_output(legacy.model, knobs, x, state=stored_state(doc)).numpy()
        else:
            ref = legacy_output(legacy.model, knobs, x).numpy()
        diffs[f"stored/{name}"] = float(np.abs(fork[f"stored/{name}"] - ref).max())
    _FIGURES[case_id] = diffs
    print(f"\n{case_id}: " + ", ".join(f"{k} {v:.2e}" for k, v in diffs.items()))
    assert max(diffs.values()) <= TOL, diffs


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_our_file_is_what_the_forks_exporter_writes(oracle, case_id):
    entry, result = oracle["ours"][case_id], oracle["report"]["results"][case_id]
    ours = entry["doc"]
    fork_text = Path(result["fork_file"]).read_text()
    fork = json.loads(fork_text)
    assert list(fork) == list(ours)
    for key in ("version", "architecture", "sample_rate"):
        assert fork[key] == ours[key], key
    # Config (params included) identical as JSON text: key order and number types too.
    assert json.dumps(fork["config"]) == json.dumps(ours["config"])
    # Weights: the same float32 values, the stored LSTM burn-in state included.
    w_fork, w_ours = np.array(fork["weights"]), np.array(ours["weights"])
    assert w_fork.shape == w_ours.shape
    state_diff = 0.0
    if ours["architecture"] == "ConcatLSTM":
        state_diff = float(np.abs(torch.cat(stored_state(fork)).numpy() - torch.cat(stored_state(ours)).numpy()).max())
    weight_diff = float(np.abs(w_fork - w_ours).max())
    meta_f, meta_o = fork["metadata"], ours["metadata"]
    assert list(meta_f) == list(meta_o)
    assert list(meta_f["date"]) == list(meta_o["date"])
    assert meta_f["nam_legacy"] == meta_o["nam_legacy"]
    loud, gain = abs(meta_f["loudness"] - meta_o["loudness"]), abs(meta_f["gain"] - meta_o["gain"])
    print(f"\n{case_id}: weights max|diff| {weight_diff:.1e} (stored state {state_diff:.1e}), "
          f"loudness {meta_o['loudness']:.6f} dB (diff {loud:.1e}), gain {meta_o['gain']:.6f} (diff {gain:.1e})")
    assert weight_diff <= 1e-6 and state_diff <= 1e-6
    assert loud <= LOUDNESS_TOL and gain <= GAIN_TOL
    # Beyond the date (the fork stamps its own now), the text is the same. A ConcatLSTM's
    # loudness is measured as the fork does (batch 1, autograd on), so there the numbers
    # must be identical; a ConcatWaveNet's comes from the legacy model (batched), so its
    # text must match whenever they happen to be (every case on the machine we checked).
    fork["metadata"]["date"] = ours["metadata"]["date"]
    if ours["architecture"] == "ConcatLSTM" or (loud == 0 and gain == 0):
        assert json.dumps(fork) == entry["text"]
