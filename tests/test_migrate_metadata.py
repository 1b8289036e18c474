"""`compat.migrate.metadata.current_metadata` against the REAL neural-amp-modeler 0.13.0.

The real 0.13.0 (isolated environment, tests/current_nam.py) loads each migrated file
(LSTM / WaveNet through its own `init_from_nam`; ConvNet built with its `ConvNet` and given
the weights in file order, eval mode as training's export uses) and computes its own
non-user metadata (`_get_non_user_metadata`, with autograd on, as `export` runs it). Our
batched numbers must agree to float32 rounding.
"""

import json
from datetime import datetime

import numpy as np
import pytest
import torch

import current_nam
from compat.migrate import fold, nam_document, write_nam
from compat.migrate.metadata import GAINS, current_metadata, loudness_and_gain, loudness_rms
from nam_legacy.models.parametric.catnets import CatLSTM, CatWaveNet
from nam_legacy.models.parametric.hyper_net import HyperConvNet, _BatchNorm

DATE = datetime(2026, 1, 2, 3, 4, 5)
LOUDNESS_TOL = 1e-4  # dB
GAIN_TOL = 1e-5

_SCRIPT = current_nam.CONVNET_FROM_SOURCE + r"""
import json, sys
import torch
torch.set_num_threads(1)
from nam.models._from_nam import init_from_nam
out = []
for path in json.load(sys.stdin)["files"]:
    doc = json.load(open(path))
    model = convnet_from(doc) if doc["architecture"] == "ConvNet" else init_from_nam(doc)
    model.eval()
    meta = model._get_non_user_metadata()
    zero = model._metadata_loudness(gain=0.0, db=False) if doc["architecture"] == "LSTM" else None
    out.append({"keys": list(meta), "loudness": meta["loudness"], "gain": float(meta["gain"]), "zero": zero})
print(json.dumps({"results": out}))
"""


@pytest.fixture(scope="module")
def nam013():
    try:
        return current_nam.python_for()
    except current_nam.IndexUnreachable as e:
        pytest.skip(f"the package index is unreachable, so the real nam 0.13.0 cannot be installed: {e}")


def _models():
    torch.manual_seed(3)
    d = 2
    lstm = CatLSTM(8, input_size=1 + d, num_layers=2).eval()
    other = CatLSTM(8, input_size=1 + d, num_layers=2).eval()  # same config, other weights
    arrays = [
        dict(input_size=1 + d, condition_size=1 + d, head_size=3, channels=4, kernel_size=3, dilations=[1, 2, 4],
             activation="Tanh", gated=True, head_bias=True),
        dict(input_size=4, condition_size=1 + d, head_size=1, channels=3, kernel_size=2, dilations=[1, 3],
             activation="LeakyReLU", gated=False, head_bias=False),
    ]
    wavenet = CatWaveNet(arrays, head_scale=0.3).eval()
    hypers = []
    for bn in (True, False):
        config = {
            "net": {"channels": 4, "dilations": [1, 2, 4, 8], "batchnorm": bn, "activation": "Tanh"},
            "hyper_net": {"num_inputs": d, "num_layers": 2, "num_units": 16, "batchnorm": bn},
        }
        hyper = HyperConvNet.init_from_config(config).eval()
        with torch.no_grad():
            for m in hyper.modules():
                if isinstance(m, (torch.nn.BatchNorm1d, _BatchNorm)):
                    m.running_mean.normal_(0, 0.5)
                    m.running_var.uniform_(0.3, 2.0)
        hypers.append(hyper)
    knobs = [[0.0, 0.0], [0.5, -1.0], [1.0, 1.0], [-0.3, 0.8]]
    folded = [fold(lstm, k) for k in knobs]  # one batched run (bias differs, rank-2)
    folded.append(fold(other, knobs[1]))  # its own run
    folded += [fold(wavenet, k) for k in knobs[:2]]
    folded += [fold(h, knobs[2]) for h in hypers]
    return folded


@pytest.fixture(scope="module")
def folded():
    return _models()


@pytest.mark.oracle
def test_metadata_matches_current_nam(nam013, folded, tmp_path):
    ours = current_metadata(folded, date=DATE)
    files = []
    for n, f in enumerate(folded):
        path = tmp_path / f"m{n}.nam"
        write_nam(path, nam_document(f, metadata=ours[n], sample_rate=48_000))
        files.append(str(path))
    theirs = current_nam.run_in_env(nam013, _SCRIPT, {"files": files})["results"]
    d_loud = [abs(a["loudness"] - b["loudness"]) for a, b in zip(ours, theirs)]
    d_gain = [abs(a["gain"] - b["gain"]) for a, b in zip(ours, theirs)]
    print(f"max |loudness diff| {max(d_loud):.3g} dB, max |gain diff| {max(d_gain):.3g}")
    for a, b in zip(ours, theirs):
        assert b["keys"] == ["date", "loudness", "gain"]
        assert list(a) == b["keys"]
    assert max(d_loud) <= LOUDNESS_TOL, d_loud
    assert max(d_gain) <= GAIN_TOL, d_gain
    # The gain-0 pass of a burn-in state is built from one chunk (metadata._zero_gain_rms):
    # bit for bit 0.13.0's own full pass.
    rms = loudness_rms(folded)
    lstm = [n for n, f in enumerate(folded) if f.architecture == "LSTM"]
    assert lstm and all(float(rms[n, 0]) == theirs[n]["zero"] for n in lstm), [(rms[n, 0], theirs[n]["zero"]) for n in lstm]
    # The knobs matter: the four CatLSTM snapshots are all different models.
    assert len({round(m["loudness"], 3) for m in ours[:4]}) == 4


def test_batched_equals_one_at_a_time(folded):
    together = loudness_rms(folded)
    alone = np.stack([loudness_rms([f])[0] for f in folded])
    np.testing.assert_allclose(together, alone, rtol=2e-6, atol=1e-9)


def test_metadata_against_float64_reference(folded):
    """Independent check (no 0.13.0 needed): float64 reference forwards, tests/current_nam.py."""
    from compat.migrate.metadata import loudness_input

    x = loudness_input()[:4000].double()
    for f in [folded[1], folded[5], folded[7], folded[8]]:
        rf = f.receptive_field
        xp = torch.cat([torch.zeros(rf - 1, dtype=torch.float64), x])
        if f.architecture == "LSTM":
            y = current_nam.lstm_reference(f.config, f.weights, x)
        elif f.architecture == "WaveNet":
            y = current_nam.wavenet_reference(f.config, f.weights, xp)
        else:
            y = current_nam.convnet_reference(f.config, f.weights, xp)
        import compat.migrate.metadata as md

        saved = md._INPUT
        try:
            md._INPUT = x.float()
            ours = loudness_rms([f])[0, -1]
        finally:
            md._INPUT = saved
        ref = float(torch.sqrt(torch.mean(y**2)))
        assert abs(ours - ref) <= 1e-5 * ref + 1e-9, (f.architecture, ours, ref)


def test_gain_arithmetic():
    linear = [g * 0.5 for g in GAINS]
    assert loudness_and_gain(linear)[1] == pytest.approx(0.0, abs=1e-7)
    assert loudness_and_gain([0.5] * 11)[1] == 1.0  # fully compressed
    assert loudness_and_gain([0.5] * 11)[0] == pytest.approx(20 * np.log10(0.5), abs=1e-5)
    assert loudness_and_gain([2.0] * 10 + [1.0])[1] == 1.0  # clipped above
    assert loudness_and_gain([0.0] * 10 + [1.0])[1] == 0.0  # clipped below
    assert 0.0 < loudness_and_gain([np.sqrt(g) for g in GAINS])[1] < 1.0


def test_date_and_layout(folded):
    meta = current_metadata(folded[:2], date=DATE)
    assert [list(m) for m in meta] == [["date", "loudness", "gain"]] * 2
    assert meta[0]["date"] == {"year": 2026, "month": 1, "day": 2, "hour": 3, "minute": 4, "second": 5}
    assert all(type(m["loudness"]) is float and type(m["gain"]) is float for m in meta)
    json.dumps(meta)
    assert current_metadata([]) == []
    with pytest.raises(TypeError):
        current_metadata([object()])


def test_metadata_or_date_with_the_recording(folded):
    """With the recording installed, migrate/pack's entry point is current_metadata itself."""
    from compat.migrate.metadata import metadata_or_date, recording_missing

    assert recording_missing() is None
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and says nothing
        assert metadata_or_date(folded[5:7], date=DATE) == current_metadata(folded[5:7], date=DATE)


def test_metadata_or_date_without_the_recording(folded, monkeypatch):
    import compat.migrate.metadata as md
    import nam_legacy.models._resources as resources
    from compat.migrate.metadata import LoudnessSkippedWarning, metadata_or_date, recording_missing

    monkeypatch.setattr(resources, "DISTRIBUTION", "nam-legacy-test-no-such-distribution")
    monkeypatch.setattr(md, "_INPUT", None)
    reason = recording_missing()
    assert reason and "\n" not in reason and "pip install --no-deps neural-amp-modeler==0.7.4" in reason
    with pytest.warns(LoudnessSkippedWarning) as caught:
        meta = metadata_or_date(folded[:3], date=DATE)
    assert len(caught) == 1 and str(caught[0].message) == reason
    assert meta == [{"date": {"year": 2026, "month": 1, "day": 2, "hour": 3, "minute": 4, "second": 5}}] * 3
    from nam_legacy.models._resources import LoudnessInputMissing

    with pytest.raises(LoudnessInputMissing):
        current_metadata(folded[:1], date=DATE)  # the measuring function itself never pretends
