"""One test per entry of docs/quirks.md (and a check that the file and the tests agree)."""

import json
import re
from datetime import datetime
from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np
import pytest
import torch

from golden import FIXTURES, export_file_mismatch, load
from nam_legacy import use_release
from nam_legacy.models._base import _left_pad
from nam_legacy.models.metadata import GearType, UserMetadata
from nam_legacy.models.parametric.catnets import CatLSTM, CatWaveNet
from nam_legacy.models.parametric.params import ContinuousParam, Param

QUIRKS = Path(__file__).parent.parent / "docs" / "quirks.md"


def _entries():
    entries, current = {}, None
    for line in QUIRKS.read_text().splitlines():
        heading = re.match(r"## (Q\d{3}) (\S+)$", line)
        if heading:
            current = entries.setdefault(heading.group(1), {"slug": heading.group(2)})
        elif current is not None and (field := re.match(r"- (\w+): (.*)$", line)):
            current[field.group(1)] = field.group(2)
    return entries


def test_every_quirk_names_an_existing_test_in_this_repo():
    entries = _entries()
    assert len(entries) >= 6
    for qid, entry in entries.items():
        assert entry["kind"] in ("divergence", "omission", "reproduced"), qid
        path, _, name = entry["test"].partition("::")
        assert f"def {name}(" in (QUIRKS.parent.parent / path).read_text(), qid


def _params():
    return {"tone": ContinuousParam(0.5, 0.0, 1.0), "drive": ContinuousParam(0.3, 0.0, 1.0)}


def test_q001_catwavenet_export_works_like_patched_release(tmp_path):
    case = FIXTURES / "0.7.4" / "catwavenet"
    patched = json.loads((case / "export_patched" / "model.nam").read_text())
    model = load(case, release="0.7.4")
    model._export_fixed_date = datetime(**patched["metadata"]["date"])
    specs = json.loads((case / "params.json").read_text())
    model.export(tmp_path, {k: Param.init_from_config(dict(v)) for k, v in specs.items()})
    # byte for byte, but for the loudness (a forward pass; golden.export_file_mismatch)
    assert export_file_mismatch(tmp_path / "model.nam", case / "export_patched" / "model.nam") is None
    assert "TypeError" == json.loads((case / "meta.json").read_text())["export_errors"]["export"]["type"]


def test_q002_zero_knob_catlstm_exports(tmp_path):
    torch.manual_seed(0)
    with use_release("0.7.4"):
        model = CatLSTM(4, input_size=1).eval()
    model.export(tmp_path, {})
    document = json.loads((tmp_path / "model.nam").read_text())
    x = model._metadata_loudness_x()
    with torch.no_grad():
        y = model(torch.zeros((0,)), x)
    expected = (20.0 * torch.log10(torch.sqrt(torch.mean(torch.square(y))))).item()
    assert document["metadata"]["loudness"] == expected


def test_q003_padding_follows_input_device():
    x = torch.ones((2, 5), device="meta")
    padded = _left_pad(x, 3)
    assert padded.device.type == "meta" and padded.shape == (2, 8)
    cpu = _left_pad(torch.ones((1, 2)), 2)
    assert torch.equal(cpu, torch.tensor([[0.0, 0.0, 1.0, 1.0]]))


def test_q004_no_catwavenet_in_030():
    layer = dict(input_size=2, condition_size=2, head_size=1, channels=2, kernel_size=2, dilations=[1], activation="Tanh", gated=False, head_bias=True)
    with use_release("0.3.0"), pytest.raises(NotImplementedError, match="0.3.0"):
        CatWaveNet([layer])
    with use_release("0.4.0"):
        assert CatWaveNet([layer]).receptive_field == 2


def test_q005_unused_helpers_absent():
    import nam_legacy.models.recurrent as recurrent

    assert not hasattr(recurrent, "LSTMCore") and not hasattr(recurrent, "_SkippyLSTM")


def test_q006_user_metadata_dumps_like_pydantic():
    from nam_legacy.models._exportable import _cast_enums

    meta = UserMetadata(name="amp", gear_type=GearType.AMP)
    expected = {"name": "amp", "modeled_by": None, "gear_type": "amp", "gear_make": None, "gear_model": None, "tone_type": None}
    assert _cast_enums(meta.dict()) == _cast_enums(meta.model_dump()) == expected


def test_q101_param_parse_config_mutates_caller_dict():
    config = {"type": "continuous", "default_value": 0.5, "minval": 0.0, "maxval": 1.0}
    assert Param.init_from_config(config) == ContinuousParam(0.5, 0.0, 1.0)
    assert "type" not in config
    with pytest.raises(KeyError):
        Param.init_from_config(config)
    with pytest.raises(ValueError, match="Unrecognized aprameter type dial"):
        Param.init_from_config({"type": "dial", "default_value": 1})


@pytest.mark.parametrize("release", ["0.5.1", "0.6.0", "0.7.4"])
def test_q102_catlstm_metadata_is_constant(release, tmp_path):
    # The release's own export of a trained model carries the constants...
    case = FIXTURES / release / "catlstm"
    genuine = json.loads((case / "export" / "model.nam").read_text())["metadata"]
    # ...and so does ours for a model with completely different weights.
    torch.manual_seed(1)
    with use_release(release):
        other = CatLSTM(5, input_size=3, num_layers=1).eval()
    other.export(tmp_path, _params())
    ours = json.loads((tmp_path / "model.nam").read_text())["metadata"]
    assert (ours["loudness"], ours["gain"]) == (genuine["loudness"], genuine["gain"])
    assert abs(genuine["loudness"] + 14.968) < 1e-3 and genuine["gain"] == 0.0


def test_q007_sampwidth_constant_only_enforced_before_0_7_4(tmp_path):
    from nam_legacy import data

    assert data._REQUIRED_SAMPWIDTH == 3
    path = tmp_path / "16bit.wav"
    data.np_to_wav(np.zeros(100), path, sampwidth=2)
    with use_release("0.7.3"), pytest.raises(AssertionError):
        data.wav_to_np(path)
    for release in ("0.7.4", "ae86979"):
        with use_release(release):
            assert data.wav_to_np(path).shape == (100,)


def test_q008_lstm_snapshot_is_the_sine_input_after_0_3_0():
    from nam_legacy.models._base import _sine_snapshot_input
    from nam_legacy.models.recurrent import LSTM

    torch.manual_seed(0)
    for release in ("0.4.0", "0.7.4", "ae86979"):
        with use_release(release):
            lstm, cat = LSTM(3).eval(), CatLSTM(3, input_size=2).eval()
        cat._sidedoor_parametric_config = {"tone": ContinuousParam(0.5, 0.0, 1.0)}
        sine = _sine_snapshot_input().numpy()
        for model in (lstm, cat):
            with torch.no_grad():
                x, _ = model._export_input_output()
            np.testing.assert_array_equal(x, sine)
        assert torch.equal(lstm._export_input_signal(), torch.tensor(sine))


def test_q009_030_snapshot_hooks_take_no_arguments():
    import inspect

    from nam_legacy.models._base import _Base
    from nam_legacy.models.recurrent import LSTM

    assert list(inspect.signature(_Base._export_input_output).parameters) == ["self"]
    assert "_export_input_output" not in LSTM.__dict__
    torch.manual_seed(0)
    with use_release("0.3.0"):
        lstm = LSTM(3).eval()
    with torch.no_grad():
        x, y = lstm._export_input_output()
    assert x.shape == y.shape == (3 * 48_000,)


def test_q010_positional_dataset_arguments_after_stop_fail_loudly_before_ae86979():
    from nam_legacy.data import Dataset

    x = torch.zeros(64)
    y = torch.zeros(64)
    for release in ("0.3.0", "0.7.4"):
        with use_release(release):
            with pytest.raises(TypeError, match="start_samples"):
                Dataset(x, y, 1, 8, None, None, 2)  # 0.3.0-0.7.4: the 7th was `delay`
            assert len(Dataset(x, y, 1, 8, None, None, delay=2)) == 7
    with use_release("ae86979"):
        assert len(Dataset(x, y, 1, 8, None, None, 8)) == 7  # start_samples=8


def test_q011_dataset_helpers_refuse_later_parameters():
    from nam_legacy.data import Dataset, XYError

    x = torch.arange(10.0)
    for release in ("0.5.0", "0.7.4"):
        with use_release(release):
            assert Dataset._validate_start_stop(x, x, 2, 5) == (2, 5)
            with pytest.raises(TypeError):
                Dataset._validate_start_stop(x, x, start_samples=2)
            with pytest.raises(TypeError):
                Dataset._validate_sample_rate(None, None, default=48_000)
            with pytest.raises(XYError):
                Dataset._validate_x_y(x, x[:3])
    with use_release("ae86979"):
        assert Dataset._validate_start_stop(x, x, start_samples=2, stop_seconds=0.5, sample_rate=10) == (2, 5)
        assert Dataset._validate_sample_rate(None, None, default=48_000) == 48_000
        x2, y2 = Dataset._apply_delay(x, x, 2, None)
        assert torch.equal(x2, x[:-2]) and torch.equal(y2, x[2:])


def test_q012_no_sample_rate_before_0_7_0():
    from nam_legacy.data import Dataset
    from nam_legacy.models.recurrent import LSTM

    signal = torch.zeros(48_000)
    for release in ("0.3.0", "0.6.0"):
        with use_release(release):
            with pytest.raises(TypeError):
                LSTM(3, sample_rate=48_000)
            assert not hasattr(LSTM(3), "sample_rate")
            assert not hasattr(Dataset(signal, signal, 1, 8), "sample_rate")
    with use_release("0.7.0"):
        model = LSTM(3, sample_rate=44_100)
        assert model.sample_rate == 44_100
        assert Dataset(signal, signal, 1, 8).sample_rate == 48_000


def test_q013_registry_ignored_before_0_7_4(tmp_path):
    from nam_legacy import data

    calls = []
    data.register_dataset_initializer("q013", lambda c: calls.append(c))
    try:
        with use_release("0.7.3"), pytest.raises(KeyError, match="parametric"):
            data.ConcatDataset.parse_config({"type": "q013", "dataset_configs": [{}]})
        with use_release("0.7.4"):
            data.ConcatDataset.parse_config({"type": "q013", "dataset_configs": [{}]})
        assert calls == [{}]
    finally:
        del data._dataset_init_registry["q013"]


def _gated_call(obj, name, release):
    """Use (obj, name) of tools.audit.conformance.PROFILE_GATED under `release`."""
    from nam_legacy.data import Dataset
    from nam_legacy.models.recurrent import LSTM
    from nam_legacy.models.wavenet import WaveNet

    signal = torch.zeros(48_000)
    layer = dict(input_size=1, condition_size=1, head_size=1, channels=2, kernel_size=2, dilations=[1], activation="Tanh", gated=False, head_bias=True)
    values = {"delay_interpolation_method": "linear", "input_gain": 1.0, "rate": 48_000, "require_input_pre_silence": 0.1, "sample_rate": 48_000, "start_seconds": 0.1, "stop_seconds": 0.5}
    with use_release(release):
        if obj == "Dataset.__init__":
            return Dataset(signal, signal, 1, 8, **{name: values.get(name, 10)})
        if obj == "Dataset._validate_sample_rate":
            return Dataset._validate_sample_rate(None, None, default=48_000)
        if obj == "LSTM.__init__":
            return LSTM(3, sample_rate=48_000)
        if obj == "WaveNet.__init__":
            return WaveNet([layer], sample_rate=48_000)
        if obj == "BaseNet.forward":
            return LSTM(3)(torch.zeros(10), initial_state=None)
        if obj == "ParametricBaseNet.forward":
            # CatLSTM._forward takes no keywords either: only forward's own refusal counts.
            with pytest.raises(TypeError) as refused:
                CatLSTM(3, input_size=2)(torch.zeros(1), torch.zeros(10), unused=1)
            if "_forward()" not in str(refused.value):
                raise refused.value
            return None
        if obj == "LSTM._forward":
            model = LSTM(3)
            return model._forward(torch.zeros(1, 10), initial_state=(torch.zeros(1, 1, 3), torch.zeros(1, 1, 3)))
        model = LSTM(3)
        kwargs = {"include_snapshot": True, "basename": "other", "user_metadata": UserMetadata(name="x")}
        with TemporaryDirectory() as d:
            if obj == "Exportable.export":
                return model.export(d, **{name: kwargs[name]})
            if obj == "_CatMixin.export":
                return CatLSTM(3, input_size=1).export(d, {}, include_snapshot=True)
    raise AssertionError(f"no call for {obj}")


def test_profile_gated_names_are_enforced():
    """Every parameter the audit counts as profile-gated raises TypeError under the
    profiles that lack it (config keys: see test_data_releases / test_q013)."""
    from nam_legacy.releases import RELEASES
    from tools.audit.conformance import PROFILE_GATED, _absent

    for (obj, name), _ in PROFILE_GATED.items():
        if name.startswith("config:"):
            continue
        lacking = [r for r in RELEASES if _absent(obj, name, r) and (obj != "WaveNet.__init__" or r.has_catwavenet)]
        assert lacking, (obj, name)
        for release in (lacking[0], lacking[-1]):
            with pytest.raises(TypeError):
                _gated_call(obj, name, release.name)
        # ...and the same call is accepted by the releases that have it.
        having = [r for r in RELEASES if not _absent(obj, name, r)]
        for release in (having[0], having[-1]):
            _gated_call(obj, name, release.name)


def test_q014_no_metadata_helpers_in_exports_before_0_5_1(tmp_path):
    from nam_legacy.models.recurrent import LSTM

    torch.manual_seed(0)
    for release, has_metadata in (("0.5.0", False), ("0.5.1", True)):
        with use_release(release):
            model = LSTM(3)
        (tmp_path / release).mkdir()
        model.export(tmp_path / release)
        document = json.loads((tmp_path / release / "model.nam").read_text())
        assert ("metadata" in document) == has_metadata


def test_q015_no_sample_rate_key_before_0_7_0(tmp_path):
    from nam_legacy.data import wav_to_tensor
    from nam_legacy.models._resources import loudness_input_path
    from nam_legacy.models.recurrent import LSTM

    torch.manual_seed(0)
    for release, has_key in (("0.6.0", False), ("0.7.0", True)):
        with use_release(release):
            model = LSTM(3)
            assert torch.equal(model._metadata_loudness_x(), wav_to_tensor(loudness_input_path()))
        (tmp_path / release).mkdir()
        model.export(tmp_path / release)
        assert ("sample_rate" in json.loads((tmp_path / release / "model.nam").read_text())) == has_key


def test_q016_wavenet_import_weights_only_from_0_6_0():
    from nam_legacy.models.wavenet import WaveNet

    layer = dict(input_size=1, condition_size=1, head_size=1, channels=2, kernel_size=2, dilations=[1], activation="Tanh", gated=False, head_bias=True)
    torch.manual_seed(0)
    with use_release("0.5.2"):
        old = WaveNet([layer])
    with pytest.raises(NotImplementedError):
        old.import_weights(old._export_weights())
    with use_release("0.6.0"):
        new = WaveNet([layer])
    weights = torch.Tensor(new._export_weights())
    new.import_weights(torch.zeros_like(weights))
    assert not torch.Tensor(new._export_weights())[:-1].any()  # the last is head_scale, kept


def test_q017_later_data_errors_only_under_their_release():
    from nam_legacy.data import Dataset, XYError

    with use_release("0.4.0"):
        with pytest.raises(AssertionError) as old_error:  # no XYError before 0.5.0
            Dataset(torch.zeros(4), torch.zeros(3), 1, 2)
        assert not isinstance(old_error.value, XYError)
    with use_release("0.5.0"), pytest.raises(XYError):
        Dataset(torch.zeros(4), torch.zeros(3), 1, 2)


def test_q018_no_onnx_export_before_0_5_0(tmp_path):
    from nam_legacy.models.recurrent import LSTM

    with use_release("0.4.0"):
        model = LSTM(3)
    with pytest.raises(NotImplementedError):
        model.export_onnx(tmp_path / "model.onnx")


def test_q019_no_wavenet_in_030():
    from nam_legacy.models.wavenet import WaveNet

    layer = dict(input_size=1, condition_size=1, head_size=1, channels=2, kernel_size=2, dilations=[1], activation="Tanh", gated=False, head_bias=True)
    with use_release("0.3.0"), pytest.raises(NotImplementedError, match="0.3.0"):
        WaveNet([layer])


def test_q020_040_helpers_unused_in_030():
    import torch.nn as nn

    from nam_legacy.models.recurrent import LSTM, _L

    with use_release("0.3.0"):
        old = LSTM(3)
    with use_release("0.4.0"):
        new = LSTM(3)
    assert type(old._core) is nn.LSTM and type(new._core) is _L
    assert not hasattr(old, "_initial_hidden") and hasattr(new, "_initial_hidden")


class _ReadLog(dict):
    """A config that records the keys read from it (copies share the log)."""

    log: set = set()

    def __getitem__(self, k):
        _ReadLog.log.add(k)
        return super().__getitem__(k)

    def get(self, k, *default):
        _ReadLog.log.add(k)
        return super().get(k, *default)

    def pop(self, k, *default):
        _ReadLog.log.add(k)
        return super().pop(k, *default)

    def __deepcopy__(self, memo):
        return _ReadLog(self)


def test_profile_gated_config_keys_are_enforced(tmp_path):
    """The config keys the audit counts as profile-gated are read exactly under the
    profiles that have them."""
    from nam_legacy import data
    from nam_legacy.releases import RELEASES
    from tools.audit.conformance import PROFILE_GATED, _absent

    x_path, y_path = tmp_path / "x.wav", tmp_path / "y.wav"
    data.np_to_wav(np.zeros(48_000), x_path)
    data.np_to_wav(np.zeros(48_000), y_path)
    keys = {(o, n[len("config:"):]) for o, n in PROFILE_GATED if n.startswith("config:")}
    for release in RELEASES:
        _ReadLog.log = set()
        with use_release(release.name):
            try:
                data.Dataset.parse_config(_ReadLog(x_path=str(x_path), y_path=str(y_path), nx=1, ny=8))
            except TypeError:
                pass
            read = {("Dataset.parse_config", k) for k in _ReadLog.log}
            _ReadLog.log = set()
            data.ConcatDataset.parse_config(_ReadLog(type="dataset", parametric=False, dataset_configs=[]))
            read |= {("ConcatDataset.parse_config", k) for k in _ReadLog.log}
        for obj, key in keys:
            assert ((obj, key) in read) == (not _absent(obj, f"config:{key}", release)), (release.name, obj, key)
