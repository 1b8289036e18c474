"""parametric-nam: export for the parametric NAM line's runtime and reading its files back.

The fork's own code is exercised in tests/test_parametric_nam_oracle.py; here:

* the refold is exact: a float64 reference of ConcatLSTM / ConcatWaveNet written from the
  format description (tests/parametric_nam_cases.py has none of it; neither does
  compat), run on the unrounded float64 refold, equals the legacy model run in float64
  to 1e-12; on the file's float32 weights, to 1e-6;
* booleans are [off, on] switches with an all-zero "off" column; params are written in
  sorted-name order whatever the param config's order; files whose params come in
  another order load right;
* bad inputs get typed one-line errors, HyperConvNet is refused with a pointer to pack and
  render --automate, the line's other architectures are named as such;
* round trip legacy → parametric-nam → compat.load → same outputs (≤ 1e-6), and the CLI.
"""

import copy
import json
from datetime import datetime

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import compat
from compat.formats.parametric_nam import encoding, params_from_knobs, refold_lstm, refold_wavenet
from compat.formats.parametric_nam import parametric_family
from compat.knobs import KnobSpec
from compat.sniff import sniff
from parametric_nam_cases import (
    FIXTURES,
    PARAMS,
    knob_vectors,
    legacy_output,
    random_catlstm,
    random_catwavenet,
    start_state,
    stored_state,
)
from tools.cli import main

DATE = datetime(2026, 8, 21, 12, 0, 0)
TOL = 1e-6


def _fixture(release: str, arch: str):
    d = FIXTURES / release / arch
    return compat.load(d / "model.ckpt", config=d / "model.json", param_config=d / "params.json")


@pytest.fixture(scope="module")
def models():
    return {
        "0.7.4-catlstm": _fixture("0.7.4", "catlstm"),
        "0.5.1-catwavenet": _fixture("0.5.1", "catwavenet"),
        "random-catlstm": random_catlstm(),
        "random-catwavenet": random_catwavenet(),
    }


@pytest.fixture(scope="module")
def exported(models, tmp_path_factory):
    root = tmp_path_factory.mktemp("pnam")
    out = {}
    for name, legacy in models.items():
        path = compat.export(legacy, "parametric-nam", root / f"{name}.nam", date=DATE)
        out[name] = (path, json.loads(path.read_text()))
    return out


# --------------------------------------------------------------------------------------
# An independent float64 reference of the two architectures, from the format description
# --------------------------------------------------------------------------------------


def _encode(params, raw):
    parts = []
    for p, r in zip(params, raw):
        if p["type"] == "continuous":
            parts.append([-1.0 + 2.0 * (r - p["min"]) / (p["max"] - p["min"])])
        else:
            parts.append([1.0 if i == int(r) else 0.0 for i in range(len(p["enum_names"]))])
    return torch.tensor([v for part in parts for v in part], dtype=torch.float64)


def _reference(doc, weights, raw, x, state=None):
    """ConcatLSTM / ConcatWaveNet in float64: audio x (L,), raw knob values in params order."""
    cfg = doc["config"]
    enc = _encode(cfg["params"], raw)
    w = torch.as_tensor(np.asarray(weights, dtype=np.float64))
    x = torch.as_tensor(x, dtype=torch.float64)
    pos = [0]

    def take(*shape):
        n = int(np.prod(shape))
        t = w[pos[0] : pos[0] + n].reshape(shape)
        pos[0] += n
        return t

    if doc["architecture"] == "ConcatLSTM":
        hidden, layers = cfg["hidden_size"], cfg["num_layers"]
        cells, hs, cs = [], [], []
        for k in range(layers):
            d = 1 + len(enc) if k == 0 else hidden
            cells.append((take(4 * hidden, d + hidden), take(4 * hidden)))
            hs.append(take(hidden))
            cs.append(take(hidden))
        head_w, head_b = take(hidden), take(1)
        if state is not None:
            hs, cs = [torch.as_tensor(v, dtype=torch.float64) for v in state[0]], [torch.as_tensor(v, dtype=torch.float64) for v in state[1]]
        out = []
        for t in range(len(x)):
            inp = torch.cat([x[t : t + 1], enc])
            for k, (mat, b) in enumerate(cells):
                i, f, g, o = (mat @ torch.cat([inp, hs[k]]) + b).split(hidden)
                cs[k] = torch.sigmoid(f) * cs[k] + torch.sigmoid(i) * torch.tanh(g)
                hs[k] = torch.sigmoid(o) * torch.tanh(cs[k])
                inp = hs[k]
            out.append(head_w @ inp + head_b[0])
        return torch.stack(out)

    def act(spec):
        kind = spec["type"] if isinstance(spec, dict) else spec
        kw = {k: v for k, v in spec.items() if k != "type"} if isinstance(spec, dict) else {}
        return getattr(torch.nn, kind)(**kw)

    rf = 1 + sum(sum((k - 1) * d for k, d in zip(la["kernel_sizes"], la["dilations"])) for la in cfg["layers"])
    u = torch.cat([torch.zeros(rf - 1, dtype=torch.float64), x])
    cond = torch.cat([u[None, :], enc[:, None].expand(-1, len(u))])[None]  # (1, 1 + E, L)
    stream, head_sum = cond, None
    for la in cfg["layers"]:
        ch = la["channels"]
        s = F.conv1d(stream, take(ch, la["input_size"], 1))
        for k, d, a, gate in zip(la["kernel_sizes"], la["dilations"], la["activation"], la["gating_mode"]):
            mid = 2 * ch if gate == "gated" else ch
            wc, bc, wm = take(mid, ch, k), take(mid), take(mid, la["condition_size"], 1)
            wl, bl = take(ch, ch, 1), take(ch)
            z = F.conv1d(s, wc, bc, dilation=d)
            z = z + F.conv1d(cond[:, :, -z.shape[2]:], wm)
            z = act(a)(z[:, :ch]) * torch.sigmoid(z[:, ch:]) if gate == "gated" else act(a)(z)
            s = s[:, :, -z.shape[2]:] + F.conv1d(z, wl, bl)
            head_sum = z if head_sum is None else head_sum[:, :, -z.shape[2]:] + z
        hd = la["head"]
        head_sum = F.conv1d(head_sum, take(hd["out_channels"], ch, 1), take(hd["out_channels"]) if hd["bias"] else None)
        stream = s
    blocks = []
    if cfg["head"] is not None:
        cin = cfg["layers"][-1]["head"]["out_channels"]
        for n, _ in enumerate(cfg["head"]["kernel_sizes"]):
            cout = cfg["head"]["out_channels"] if n == len(cfg["head"]["kernel_sizes"]) - 1 else cfg["head"]["channels"]
            blocks.append((take(cout, cin, 1), take(cout)))
            cin = cout
    scale = float(take(1)[0])  # the fork keeps the config's value when within 1e-5 of it
    y = (cfg["head_scale"] if abs(scale - cfg["head_scale"]) <= 1e-5 else scale) * head_sum
    for wk, bk in blocks:
        y = F.conv1d(act(cfg["head"]["activation"])(y), wk, bk)
    assert pos[0] == len(w)
    return y[0, 0]


def _legacy64(legacy, knobs, x, state=None):
    module = copy.deepcopy(legacy.model).double()
    if state is not None:
        module._initial_hidden.data, module._initial_cell.data = (v.double() for v in state)
    with torch.no_grad():
        return module(torch.tensor(knobs, dtype=torch.float64), torch.as_tensor(x, dtype=torch.float64), pad_start=True)


def _unrounded(legacy, doc):
    """The refold in float64 (no rounding), with the document's stored LSTM state."""
    module = legacy.model
    enc = encoding(params_from_knobs(legacy.knobs), [k.name for k in legacy.knobs])
    if legacy.architecture == "CatLSTM":
        core = module._core
        parts = []
        for k in range(core.num_layers):
            g = lambda n: getattr(core, n).detach().double().numpy()
            parts += [np.concatenate([g(f"weight_ih_l{k}"), g(f"weight_hh_l{k}")], 1).ravel(),
                      g(f"bias_ih_l{k}") + g(f"bias_hh_l{k}"), np.zeros(core.hidden_size), np.zeros(core.hidden_size)]
        parts += [module._head.weight.detach().double().numpy().ravel(), module._head.bias.detach().double().numpy()]
        return refold_lstm(np.concatenate(parts), core.hidden_size, core.num_layers, core.input_size, enc.c, enc.A)
    from compat.formats.parametric_nam import wavenet_shape

    cfg = {"layers_configs": [la.export_config() for la in module._net._layers]}
    return refold_wavenet(module._net.export_weights().astype(np.float64), wavenet_shape(cfg), enc.c, enc.A)


@pytest.mark.parametrize("name", ["0.7.4-catlstm", "0.5.1-catwavenet", "random-catlstm", "random-catwavenet"])
def test_refold_is_exact_against_a_float64_reference(models, exported, name):
    legacy, (_, doc) = models[name], exported[name]
    x = np.random.default_rng(1).standard_normal(240 if legacy.architecture == "CatLSTM" else 600) * 0.5
    unrounded = _unrounded(legacy, doc)
    lstm = legacy.architecture == "CatLSTM"
    zero = (torch.zeros(legacy.model._core.num_layers, legacy.model._core.hidden_size),) * 2 if lstm else None
    for label, knobs in knob_vectors(legacy).items():
        ref_algebra = _reference(doc, unrounded, knobs, x, state=zero)  # unrounded: the algebra alone
        ref_file = _reference(doc, doc["weights"], knobs, x, state=start_state(legacy.model) if lstm else None)
        want = _legacy64(legacy, knobs, x, state=zero)
        assert float((ref_algebra - want).abs().max()) <= 1e-12, label
        want = _legacy64(legacy, knobs, x)
        assert float((ref_file - want).abs().max()) <= TOL, label


def test_booleans_are_off_on_switches_with_a_zero_off_column(models, exported):
    legacy, (_, doc) = models["random-catlstm"], exported["random-catlstm"]
    params = doc["config"]["params"]
    assert [p["name"] for p in params] == ["bright", "drive", "gain", "mode"]
    for p in params:
        if p["name"] in ("bright", "mode"):
            assert p == {"name": p["name"], "min": 0, "max": 1, "default": int(PARAMS[p["name"]]["default_value"]),
                         "type": "switch", "enum_names": ["off", "on"], "step": None, "avoid_zero": False}
    hidden, width = doc["config"]["hidden_size"], 1 + 6
    mat = np.array(doc["weights"][: 4 * hidden * (width + hidden)]).reshape(4 * hidden, width + hidden)
    # inputs: audio, bright off/on, drive, gain, mode off/on
    assert not mat[:, 1].any() and not mat[:, 5].any()
    assert mat[:, 2].any() and mat[:, 6].any()
    legacy_w = legacy.model._core.weight_ih_l0.detach().numpy()
    assert np.array_equal(mat[:, 2], legacy_w[:, 1])  # the "on" column is the boolean's own
    drive = PARAMS["drive"]
    assert np.allclose(mat[:, 3], legacy_w[:, 2] * (drive["maxval"] - drive["minval"]) / 2, rtol=1e-6)


def test_params_follow_the_model_input_order_not_the_param_config_order(exported):
    params = json.loads((FIXTURES / "0.7.4" / "catlstm" / "params.json").read_text())
    assert list(params) == ["tone", "drive", "bright"]
    assert [p["name"] for p in exported["0.7.4-catlstm"][1]["config"]["params"]] == ["bright", "drive", "tone"]


@pytest.mark.parametrize("name", ["random-catlstm", "random-catwavenet"])
def test_files_with_params_in_another_order_load_right(models, exported, tmp_path, name):
    legacy, (_, doc) = models[name], exported[name]
    order = [3, 1, 0, 2]  # mode, drive, bright, gain
    params = doc["config"]["params"]
    widths = [1 if p["type"] == "continuous" else 2 for p in params]
    offsets = np.cumsum([1] + widths[:-1])
    cols = [0] + [int(offsets[j]) + t for j in order for t in range(widths[j])]
    shuffled = copy.deepcopy(doc)
    shuffled["config"]["params"] = [params[j] for j in order]
    w = np.array(doc["weights"])
    if doc["architecture"] == "ConcatLSTM":
        h, width = doc["config"]["hidden_size"], 1 + sum(widths)
        mat = w[: 4 * h * (width + h)].reshape(4 * h, width + h)
        mat = np.concatenate([mat[:, cols], mat[:, width:]], axis=1)
        w[: mat.size] = mat.ravel()
    else:
        # permute the input channels of array 0's rechannel and of every input mixer
        i, width = 0, 1 + sum(widths)
        for a, la in enumerate(doc["config"]["layers"]):
            ch = la["channels"]
            n = ch * la["input_size"]
            if a == 0:
                w[i : i + n] = w[i : i + n].reshape(ch, width)[:, cols].ravel()
            i += n
            for k, gate in zip(la["kernel_sizes"], la["gating_mode"]):
                mid = 2 * ch if gate == "gated" else ch
                i += mid * ch * k + mid
                w[i : i + mid * width] = w[i : i + mid * width].reshape(mid, width)[:, cols].ravel()
                i += mid * width + ch * ch + ch
            i += la["head"]["out_channels"] * ch + (la["head"]["out_channels"] if la["head"]["bias"] else 0)
    shuffled["weights"] = w.tolist()
    path = tmp_path / "shuffled.nam"
    path.write_text(json.dumps(shuffled))
    back = compat.load(path)
    assert list(back.param_config) == ["mode", "drive", "bright", "gain"]
    assert [k.name for k in back.knobs] == ["bright", "drive", "gain", "mode"]
    x = torch.from_numpy(np.random.default_rng(2).standard_normal(500).astype(np.float32))
    state = stored_state(doc) if doc["architecture"] == "ConcatLSTM" else None
    for knobs in knob_vectors(legacy).values():
        want = legacy_output(legacy.model, knobs, x, state=state)
        got = legacy_output(back.model, knobs, x)
        assert float((got - want).abs().max()) <= TOL


# --------------------------------------------------------------------------------------
# round trip
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["0.7.4-catlstm", "0.5.1-catwavenet", "random-catlstm", "random-catwavenet"])
def test_round_trip_gives_the_same_outputs(models, exported, tmp_path, name):
    legacy, (path, doc) = models[name], exported[name]
    assert sniff(path) == "parametric_nam"
    back = compat.load(path)
    assert back.format == "parametric_nam" and back.architecture == legacy.architecture
    assert [k.name for k in back.knobs] == [k.name for k in legacy.knobs]
    assert [(k.type, k.default, k.minval, k.maxval) for k in back.knobs] == [
        (k.type, k.default, k.minval, k.maxval) for k in legacy.knobs]
    assert back.sample_rate == doc["sample_rate"]
    x = torch.from_numpy(np.random.default_rng(3).standard_normal(4000).astype(np.float32) * 0.5)
    state = stored_state(doc) if legacy.architecture == "CatLSTM" else None
    if state is not None:
        assert back.initial_state == "exported burn-in"
        assert torch.equal(back.model._initial_hidden.data, state[0])
    for label, knobs in knob_vectors(legacy).items():
        want = legacy_output(legacy.model, knobs, x, state=state)
        got = legacy_output(back.model, knobs, x)
        assert float((got - want).abs().max()) <= TOL, label
    # and out again: the same file up to the refold's float32 rounding
    again = json.loads(compat.export(back, "parametric-nam", tmp_path / "again.nam", date=DATE).read_text())
    assert json.dumps(again["config"]) == json.dumps(doc["config"])
    assert np.abs(np.array(again["weights"]) - np.array(doc["weights"])).max() <= 1e-6


def test_loaded_files_export_to_legacy_formats_too(exported, tmp_path):
    back = compat.load(exported["0.7.4-catlstm"][0])
    out = compat.export(back, "nam", tmp_path / "legacy.nam", date=DATE)
    legacy_doc = json.loads(out.read_text())
    assert legacy_doc["architecture"] == "CatLSTM"
    assert list(legacy_doc["config"]["parametric"]) == ["bright", "drive", "tone"]


def test_switch_names_other_than_off_on_load_with_a_note(exported, tmp_path):
    doc = copy.deepcopy(exported["random-catlstm"][1])
    doc["config"]["params"][0]["enum_names"] = ["dark", "bright"]
    path = tmp_path / "names.nam"
    path.write_text(json.dumps(doc))
    back = compat.load(path)
    assert any("false = dark, true = bright" in w for w in back.warnings)


# --------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------


def test_checkpoint_without_param_config_is_refused(tmp_path):
    d = FIXTURES / "0.7.4" / "catlstm"
    legacy = compat.load(d / "model.ckpt", config=d / "model.json")
    with pytest.raises(compat.ConfigError, match="needs the knob names") as caught:
        compat.export(legacy, "parametric-nam", tmp_path / "a.nam")
    assert caught.value.hint == "param-config"  # API: param_config= to compat.load; CLI: --param-config
    assert not (tmp_path / "a.nam").exists()


@pytest.mark.parametrize("spec, match", [
    (KnobSpec("drive", "continuous", 0.5, None, None), "no minval/maxval"),
    (KnobSpec("drive", "continuous", 0.5, 1.0, 1.0), "minval < maxval"),
    (KnobSpec("drive", "continuous", 2.0, 0.0, 1.0), "outside"),
    (KnobSpec("drive", "boolean", 0.5), "false or true"),
])
def test_knobs_the_format_cannot_express_are_refused(spec, match):
    with pytest.raises(compat.ConfigError, match=match):
        params_from_knobs([spec])


def test_export_arguments_are_checked(models, tmp_path):
    legacy = models["random-catwavenet"]
    with pytest.raises(compat.ConfigError, match="drop --as-release"):
        compat.export(legacy, "parametric-nam", tmp_path / "a.nam", release="0.7.4")
    with pytest.raises(compat.FileAccessError, match=r"a\.json: a \.nam model is written to \.nam"):
        compat.export(legacy, "parametric-nam", tmp_path / "a.json")
    (tmp_path / "b.nam").write_text("mine")
    with pytest.raises(compat.FileAccessError, match="already exists"):
        compat.export(legacy, "parametric-nam", tmp_path / "b.nam")
    assert (tmp_path / "b.nam").read_text() == "mine"
    with pytest.raises(compat.FileAccessError, match="does not exist"):
        compat.export(legacy, "parametric-nam", tmp_path / "no" / "c.nam")
    # the release the model was loaded as is not a request to write as another one
    compat.export(legacy, "parametric-nam", tmp_path / "b.nam", release=legacy.release.name, overwrite=True, date=DATE)
    assert json.loads((tmp_path / "b.nam").read_text())["architecture"] == "ConcatWaveNet"


def test_hyperconvnet_is_refused_with_a_pointer_to_pack_and_automate(tmp_path):
    legacy = compat.load(FIXTURES / "0.7.4" / "hyperconvnet_bn" / "export")
    with pytest.raises(compat.UnsupportedReleaseError) as e:
        compat.export(legacy, "parametric-nam", tmp_path / "h.nam")
    assert "nam-legacy pack" in str(e.value) and "render --automate" in str(e.value)
    assert not (tmp_path / "h.nam").exists()


def _write(tmp_path, doc, name="x.nam"):
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("arch", ["HyperWaveNet", "FiLMWaveNet"])
def test_other_architectures_of_the_line_are_named(exported, tmp_path, arch):
    doc = copy.deepcopy(exported["random-catwavenet"][1])
    doc["architecture"] = arch
    path = _write(tmp_path, doc)
    assert sniff(path) == "parametric_nam"
    with pytest.raises(compat.UnsupportedReleaseError) as e:
        compat.load(path)
    message = str(e.value)
    assert arch in message and "parametric NAM line" in message and "current NAM" not in message


def _mutated(exported, name, change):
    doc = copy.deepcopy(exported[name][1])
    change(doc)
    return doc


@pytest.mark.parametrize("name, change, error, match", [
    ("random-catlstm", lambda d: d.update(version="2.0.0"), compat.UnsupportedReleaseError, "version 1.x"),
    ("random-catlstm", lambda d: d["config"].pop("params"), compat.ConfigError, "params"),
    ("random-catlstm", lambda d: d["weights"].pop(), compat.WeightsMismatchError, "needs"),
    ("random-catlstm", lambda d: d["config"]["params"][1].update(min=5.0, max=1.0), compat.ConfigError, "below max"),
    ("random-catlstm", lambda d: d["config"]["params"][0].update(enum_names=["a", "b", "c"], max=2),
     compat.UnsupportedReleaseError, "3-position switch"),
    ("random-catlstm", lambda d: d["config"]["params"].append(dict(d["config"]["params"][0])), compat.ConfigError, "twice"),
    ("random-catwavenet", lambda d: d["config"]["layers"][0]["conv_pre_film"].update(active=True),
     compat.UnsupportedReleaseError, "FiLM"),
    ("random-catwavenet", lambda d: d["config"]["layers"][1]["head1x1"].update(active=True),
     compat.UnsupportedReleaseError, "head 1x1"),
    ("random-catwavenet", lambda d: d["config"]["layers"][0].update(gating_mode=["blended"] * 3),
     compat.UnsupportedReleaseError, "gating mode"),
    ("random-catwavenet", lambda d: d["config"].update(condition_dsp={"architecture": "WaveNet"}),
     compat.UnsupportedReleaseError, "condition DSP"),
    ("random-catwavenet", lambda d: d["config"]["layers"][0].update(input_size=9), compat.ConfigError, "input_size"),
])
def test_bad_or_inexpressible_files_get_typed_errors(exported, tmp_path, name, change, error, match):
    path = _write(tmp_path, _mutated(exported, name, change))
    with pytest.raises(error, match=match) as e:
        compat.load(path)
    assert "\n" not in str(e.value) and str(e.value).startswith("x.nam: ")


def test_parametric_family_reads_only_the_top_level():
    assert parametric_family('{"version": "1.0.0", "metadata": {"architecture": "x"}, "architecture": "ConcatLSTM"') == "ConcatLSTM"
    assert parametric_family('{"metadata": {"architecture": "ConcatLSTM"}, "architecture": "WaveNet", "weights": []}') is None
    assert parametric_family('{"architecture": "CatLSTM", "weights": [1, 2') is None
    assert parametric_family("[1, 2]") is None


# --------------------------------------------------------------------------------------
# the CLI
# --------------------------------------------------------------------------------------


def test_cli_exports_and_inspects(tmp_path, capsys):
    d = FIXTURES / "0.5.1" / "catlstm"
    out = tmp_path / "amp.nam"
    code = main(["export", str(d / "model.ckpt"), "--config", str(d / "model.json"), "--param-config", str(d / "params.json"),
                 "--format", "parametric-nam", "--output", str(out), "--date", "2026-08-21T12:00:00", "--json"])
    assert code == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {"output": str(out), "format": "parametric-nam",
                                                                          "warnings": []}
    assert json.loads(out.read_text())["architecture"] == "ConcatLSTM"
    assert main(["inspect", str(out), "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["format"] == "parametric-nam" and facts["architecture"] == "CatLSTM"  # as --format spells it
    assert [k["name"] for k in facts["knobs"]] == ["bright", "drive", "tone"]


@pytest.mark.parametrize("extra, path, match", [
    ([], FIXTURES / "0.7.4" / "hyperconvnet_bn" / "export", "nam-legacy pack"),
    (["--config", str(FIXTURES / "0.7.4" / "catlstm" / "model.json")], FIXTURES / "0.7.4" / "catlstm" / "model.ckpt", "--param-config"),
    (["--as-release", "0.5.1"], FIXTURES / "0.7.4" / "catlstm" / "export" / "model.nam", "drop --as-release"),
])
def test_cli_refusals_exit_2_with_one_line(tmp_path, capsys, extra, path, match):
    out = tmp_path / "amp.nam"
    code = main(["export", str(path), *extra, "--format", "parametric-nam", "--output", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and match in err and err.count("\n") == 1
    assert not out.exists()


def test_cli_accepts_a_load_release(tmp_path):
    out = tmp_path / "amp.nam"
    path = FIXTURES / "0.7.4" / "catlstm" / "export" / "model.nam"
    assert main(["export", str(path), "--release", "0.7.4", "--format", "parametric-nam", "--output", str(out)]) == 0
    assert json.loads(out.read_text())["architecture"] == "ConcatLSTM"
    assert main(["export", str(path), "--format", "parametric-nam", "--output", str(out)]) == 2  # exists
    assert main(["export", str(path), "--format", "parametric-nam", "--output", str(out), "--overwrite"]) == 0
    assert main(["export", str(out), "--format", "parametric-nam", "--output", str(out), "--overwrite"]) == 2  # its input


def test_cli_refuses_the_lines_other_architectures(exported, tmp_path, capsys):
    doc = copy.deepcopy(exported["random-catwavenet"][1])
    doc["architecture"] = "HyperWaveNet"
    path = _write(tmp_path, doc, "hyper.nam")
    assert main(["inspect", str(path)]) == 2
    err = capsys.readouterr().err
    assert "HyperWaveNet" in err and "parametric NAM line" in err
