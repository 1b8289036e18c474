"""Properties every parametric model must have, checked with hypothesis on random models."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nam_legacy.models.parametric.catnets import CatLSTM, CatWaveNet
from nam_legacy.models.parametric.hyper_net import HyperConvNet
from nam_legacy.models.parametric.params import BooleanParam, ContinuousParam
from nam_legacy.models.recurrent import LSTM
from nam_legacy.models.wavenet import WaveNet

D = 3  # knobs


def _catlstm(seed):
    torch.manual_seed(seed)
    return CatLSTM(6, input_size=1 + D, num_layers=2, train_burn_in=7, train_truncate=11).eval()


def _catwavenet(seed):
    torch.manual_seed(seed)
    layers = [
        dict(input_size=1 + D, condition_size=1 + D, head_size=2, channels=3, kernel_size=3, dilations=[1, 2], activation="Tanh", gated=True, head_bias=False),
        dict(input_size=3, condition_size=1 + D, head_size=1, channels=2, kernel_size=2, dilations=[1, 4], activation="Tanh", gated=False, head_bias=True),
    ]
    return CatWaveNet(layers, head_scale=0.02).eval()


def _hyperconvnet(seed, batchnorm=True):
    torch.manual_seed(seed)
    config = {
        "net": {"channels": 3, "dilations": [1, 2, 4], "batchnorm": batchnorm, "activation": "Tanh"},
        "hyper_net": {"num_inputs": D, "num_layers": 2, "num_units": 8, "batchnorm": batchnorm},
    }
    return HyperConvNet.init_from_config(config).eval()


FACTORIES = {
    "CatLSTM": _catlstm,
    "CatWaveNet": _catwavenet,
    "HyperConvNet": _hyperconvnet,
    "HyperConvNet_nobn": lambda s: _hyperconvnet(s, batchnorm=False),
}
models = st.sampled_from(sorted(FACTORIES))
seeds = st.integers(0, 2**16)
knob_vectors = st.lists(st.floats(-1.0, 2.0, width=32), min_size=D, max_size=D)


def _audio(seed, n, length):
    return torch.randn((n, length), generator=torch.Generator().manual_seed(seed))


@settings(max_examples=25, deadline=None)
@given(name=models, seed=seeds, length=st.integers(1, 64), pad=st.booleans())
def test_pad_start_keeps_length(name, seed, length, pad):
    model = FACTORIES[name](seed)
    length += 0 if pad else model.receptive_field - 1
    x = _audio(seed, 2, length)
    y = model(torch.rand((2, D)), x, pad_start=pad)
    expected = length if pad else length - model.receptive_field + 1
    assert y.shape == (2, expected)


@settings(max_examples=25, deadline=None)
@given(name=models, seed=seeds, cut=st.integers(0, 40), knobs=knob_vectors)
def test_outputs_are_causal(name, seed, cut, knobs):
    model = FACTORIES[name](seed)
    x = _audio(seed, 1, 48)[0]
    changed = x.clone()
    changed[cut + 1 :] = torch.randn(len(x) - cut - 1)
    p = torch.tensor(knobs)
    with torch.no_grad():
        y, y_changed = model(p, x), model(p, changed)
    assert torch.equal(y[: cut + 1], y_changed[: cut + 1])


@settings(max_examples=20, deadline=None)
@given(name=models, seed=seeds, n=st.integers(1, 4))
def test_batch_equals_single_runs(name, seed, n):
    model = FACTORIES[name](seed)
    x = _audio(seed, n, 40)
    params = torch.rand((n, D), generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        batched = model(params, x)
        singles = torch.stack([model(params[i], x[i]) for i in range(n)])
    # Batched matrix products may round differently from single ones on CPU, so this is
    # a numerical (not bitwise) identity; the golden tests cover bits per batch size.
    torch.testing.assert_close(batched, singles, rtol=1e-5, atol=1e-6)


@settings(max_examples=20, deadline=None)
@given(name=st.sampled_from(["CatLSTM", "CatWaveNet"]), seed=seeds, knobs=knob_vectors)
def test_tiling_equals_per_sample_concatenation(name, seed, knobs):
    model = FACTORIES[name](seed)
    x = _audio(seed, 2, 30)
    p = torch.tensor([knobs, knobs[::-1]])
    # The augmented input built sample by sample, independently of torch.tile.
    per_sample = torch.stack(
        [torch.stack([torch.cat([x[b, t : t + 1], p[b]]) for t in range(x.shape[1])]) for b in range(2)]
    )  # (B, L, 1 + D)
    with torch.no_grad():
        if name == "CatLSTM":
            expected = LSTM._forward(model, per_sample)
        else:
            expected = WaveNet._forward(model, per_sample.transpose(1, 2).contiguous())
        actual = model(p, x, pad_start=False)
    assert torch.equal(actual, expected)


@settings(max_examples=15, deadline=None)
@given(seed=seeds, order=st.permutations(["tone", "drive", "bright"]), values=knob_vectors)
def test_knob_order_is_sorted_names_whatever_the_dict_order(seed, order, values):
    model = FACTORIES["CatLSTM"](seed)
    specs = {"tone": ContinuousParam(values[0], 0.0, 1.0), "drive": ContinuousParam(values[1], 0.0, 1.0), "bright": BooleanParam(values[2] > 0.5)}
    shuffled = {name: specs[name] for name in order}
    with model._use_parametric_config(shuffled):
        tensor = model._sidedoor_params_to_tensor()
        exported = model._export_config()["parametric"]
    assert tensor.tolist() == [float(specs[n].default_value) for n in ("bright", "drive", "tone")]
    assert list(exported) == list(order)  # the export keeps the caller's order (upstream)


@settings(max_examples=15, deadline=None)
@given(seed=seeds, knobs=knob_vectors)
def test_catlstm_at_fixed_knobs_is_an_lstm_with_folded_bias(seed, knobs):
    cat = FACTORIES["CatLSTM"](seed)
    p = torch.tensor(knobs)
    plain = LSTM(6, input_size=1, num_layers=2).eval()
    folded = {k: v.clone() for k, v in cat.state_dict().items()}
    w = folded["_core.weight_ih_l0"].double()
    folded["_core.bias_ih_l0"] = (folded["_core.bias_ih_l0"].double() + w[:, 1:] @ p.double()).float()
    folded["_core.weight_ih_l0"] = folded["_core.weight_ih_l0"][:, :1].clone()
    plain.load_state_dict(folded)
    x = _audio(seed, 1, 50)[0]
    with torch.no_grad():
        torch.testing.assert_close(plain(x), cat(p, x), rtol=1e-5, atol=1e-6)
