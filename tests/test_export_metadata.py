"""The constant loudness/gain of legacy Cat* `.nam` exports (compat.exporter).

A 0.5.1+ release's `.nam` of a CatLSTM with knobs or of a CatWaveNet measured upstream's
loudness_input.wav itself (nominal settings = identity), so compat.export writes stored
constants and needs no recording. Here: with the recording installed, the release code
path (nam_legacy's `_metadata_loudness` / `_metadata_gain`) recomputes them exactly, for
every release that wrote metadata; without it (no neural-amp-modeler distribution, the
locator pointed at a name that is not installed), the exports are the same bytes.
"""

import json
from datetime import datetime

import numpy as np
import pytest
import torch

import compat
import nam_legacy.models._resources as resources
from compat.exporter import IDENTITY_GAIN, IDENTITY_LOUDNESS, measures_its_input
from golden import FIXTURES, bounded_mismatch, export_file_mismatch
from nam_legacy.models._resources import LoudnessInputMissing
from nam_legacy.models.parametric.catnets import CatLSTM, CatWaveNet
from nam_legacy.releases import RELEASES, get_release, use_release

METADATA_RELEASES = [r.name for r in RELEASES if r.metadata_in_export]
DATE = datetime(2026, 1, 2, 3, 4, 5)
ARRAYS = [dict(input_size=3, condition_size=3, head_size=2, channels=3, kernel_size=2, dilations=[1, 2],
               activation="Tanh", gated=False, head_bias=True)]


def _recording_installed() -> bool:
    try:
        resources.loudness_input_path()
        return True
    except LoudnessInputMissing:
        return False


@pytest.fixture
def no_recording(monkeypatch):
    """As if no neural-amp-modeler distribution were installed (the real locator, asked
    for a distribution that does not exist)."""
    monkeypatch.setattr(resources, "DISTRIBUTION", "nam-legacy-test-no-such-distribution")
    with pytest.raises(LoudnessInputMissing):
        resources.loudness_input_path()


def test_metadata_releases_are_the_0_5_1_ones():
    assert METADATA_RELEASES[0] == "0.5.1" and "0.7.4" in METADATA_RELEASES and "0.5.0" not in METADATA_RELEASES


@pytest.mark.skipif(not _recording_installed(), reason="upstream's loudness_input.wav is not installed")
@pytest.mark.parametrize("release", METADATA_RELEASES)
def test_constants_are_what_each_release_computes(release):
    torch.set_num_threads(1)
    torch.manual_seed(0)
    with use_release(release) as profile:
        models = [CatLSTM(5, input_size=3, num_layers=2).eval()]
        if profile.has_catwavenet:
            models.append(CatWaveNet(ARRAYS, head_scale=0.5).eval())
    for model in models:
        assert measures_its_input(model)
        loudness, gain = model._metadata_loudness(), model._metadata_gain()
        # computed here by torch, the constants on the fixtures' machine: within the bound
        # of tests/fixtures/README.md (equal on every x86 kernel set measured)
        assert type(loudness) is float
        assert bounded_mismatch(np.float64(loudness), np.float64(IDENTITY_LOUDNESS), scale_of=np.float32(IDENTITY_LOUDNESS)) is None
        assert gain == IDENTITY_GAIN and float(gain) == 0.0


def test_constants_are_the_genuine_exports():
    """Every genuine 0.5.1+ Cat* .nam fixture carries exactly these two numbers."""
    seen = 0
    for path in sorted(FIXTURES.glob("*/cat*/export*/*.nam")):
        meta = json.loads(path.read_text()).get("metadata")
        if meta is None:  # 0.5.0 wrote no metadata
            continue
        assert (meta["loudness"], meta["gain"]) == (IDENTITY_LOUDNESS, IDENTITY_GAIN), path
        seen += 1
    assert seen >= 10


def test_zero_knob_catlstm_is_measured():
    with use_release("0.7.4"):
        assert not measures_its_input(CatLSTM(4, input_size=1, num_layers=1))
        assert measures_its_input(CatLSTM(4, input_size=2, num_layers=1))


def _export(name, release, out):
    d = FIXTURES / "0.7.4" / name
    legacy = compat.load(d / "model.ckpt", config=d / "model.json", param_config=d / "params.json")
    return compat.export(legacy, "nam", out, release=release, date=DATE)


@pytest.mark.parametrize("release", ["0.5.1", "0.6.0", "0.7.4", "ae86979"])
@pytest.mark.parametrize("name", ["catlstm", "catwavenet"])
def test_exports_need_no_recording(name, release, tmp_path, monkeypatch, no_recording):
    if name == "catwavenet" and not get_release(release).has_catwavenet:
        pytest.skip(f"no CatWaveNet in {release}")
    out = _export(name, release, tmp_path / "a.nam")
    meta = json.loads(out.read_text())["metadata"]
    assert (meta["loudness"], meta["gain"]) == (IDENTITY_LOUDNESS, IDENTITY_GAIN)
    monkeypatch.undo()  # the recording back: the release's own measuring path
    if not _recording_installed():
        return
    from compat import exporter

    monkeypatch.setattr(exporter, "_use_identity_metadata", lambda model: None)  # measure instead
    measured = _export(name, release, tmp_path / "b.nam")
    assert export_file_mismatch(measured, out) is None  # bytes, but loudness/gain within the bound


def test_zero_knob_catlstm_export_still_needs_the_recording(tmp_path, no_recording):
    with use_release("0.7.4"):
        torch.manual_seed(0)
        model = CatLSTM(3, input_size=1, num_layers=1).eval()
    with pytest.raises(LoudnessInputMissing):
        model._metadata_loudness()


def test_the_constants_still_ask_the_model(tmp_path, caplog):
    """Upstream's 12 calls of _at_nominal_settings (loudness, 11 gains) still happen, with
    their log records; the constants are used only because they return the input."""
    import logging

    with caplog.at_level(logging.WARNING, logger="nam_legacy"):
        _export("catlstm", "0.7.4", tmp_path / "a.nam")
    assert sum("Nominal settings aren't defined" in r.getMessage() for r in caplog.records) == 12


@pytest.mark.skipif(not _recording_installed(), reason="upstream's loudness_input.wav is not installed")
def test_a_model_that_is_not_the_identity_is_measured(tmp_path, monkeypatch):
    monkeypatch.setattr(CatLSTM, "_at_nominal_settings", lambda self, x: 0.5 * x)
    meta = json.loads(_export("catlstm", "0.7.4", tmp_path / "a.nam").read_text())["metadata"]
    assert meta["loudness"] != IDENTITY_LOUDNESS and abs(meta["loudness"] - (IDENTITY_LOUDNESS - 6.0206)) < 1e-3
