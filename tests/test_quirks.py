"""One test per entry of docs/quirks.md (and a check that the file and the tests agree)."""

import json
import re
from datetime import datetime
from pathlib import Path

import pytest
import torch

from golden import FIXTURES, load
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
    assert (tmp_path / "model.nam").read_bytes() == (case / "export_patched" / "model.nam").read_bytes()
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
