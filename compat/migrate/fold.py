"""Fold a legacy parametric model at one knob setting into an ordinary current-NAM model.

At a fixed knob vector p the knobs are constants, and every place a legacy model consumes
them is linear before any nonlinearity, so each model is exactly an ordinary model of
current NAM (neural-amp-modeler 0.13.0, .nam format "0.7.0"):

* CatLSTM → ``LSTM``: the knob columns of the layer-0 input weight times p become a bias.
* CatWaveNet → ``WaveNet`` (layer-array format): the knob part of array 0's rechannel is a
  constant in the residual stream, which each dilated conv turns into a bias; the knob
  columns of every input mixer become a bias too; later arrays see the constant through
  their (bias-free) rechannel. The condition becomes plain audio.
* HyperConvNet → ``ConvNet``: the hypernet is run once on p; its output *is* the conv net.

The folds are done in float64 from the float32 parameters and rounded to float32 once;
``docs/migration.md`` has the math. Functions here are pure: the model is not modified.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from nam_legacy.models.parametric.catnets import CatLSTM, CatWaveNet
from nam_legacy.models.parametric.hyper_net import (
    HyperConvNet,
    _Activation,
    _BatchNorm,
    _Conv,
    _Flatten,
)

from ..choices import INITIAL_STATES  # where the migrated LSTM starts (see there)
from ..describe import knob_count
from ..errors import ConfigError
from ..finite import check_finite_weights
from ..knobs import KnobSpec, knob_vector

__all__ = ["Folded", "fold", "INITIAL_STATES"]

BURN_IN_SAMPLES = 48_000  # current NAM's LSTM._get_initial_state_burn_in


@dataclass(frozen=True)
class Folded:
    """One knob setting of a legacy parametric model as an ordinary current-NAM model.

    ``config`` and ``weights`` are exactly the ``config`` and ``weights`` of a current-NAM
    ``.nam`` file of ``architecture`` (see compat.migrate.current_nam.nam_document).
    """

    architecture: str  # "LSTM" | "WaveNet" | "ConvNet"
    config: Dict[str, Any]
    weights: np.ndarray  # 1-D float32
    source_architecture: str  # "CatLSTM" | "CatWaveNet" | "HyperConvNet"
    knobs: Tuple[float, ...]  # the knob values given, model order (sorted names); folded as float32
    knob_names: Tuple[str, ...]  # empty when unknown
    receptive_field: int  # of the current-NAM model
    sample_rate: Optional[float] = None
    initial_state: Optional[str] = None  # LSTM: which state the weights carry (INITIAL_STATES)
    notes: Tuple[str, ...] = field(default_factory=tuple)

    @property
    def named_knobs(self) -> Dict[str, float]:
        return dict(zip(self.knob_names, self.knobs)) if self.knob_names else {}


# --------------------------------------------------------------------------------------
# entry point
# --------------------------------------------------------------------------------------


def fold(
    model,
    knobs: Union[Sequence[float], Mapping[str, float], torch.Tensor, np.ndarray, None] = None,
    *,
    initial_state: str = "burn-in",
    allow_out_of_range: bool = False,
) -> Folded:
    """Fold `model` (a `compat.LegacyModel` or a nam_legacy CatLSTM / CatWaveNet /
    HyperConvNet) at one knob setting.

    :param knobs: the knob values, positionally in model order (sorted names), or a
        mapping name → value (needs the knob names: a LegacyModel with a param config;
        knobs not given take their defaults). None: every knob at its default.
    :param initial_state: CatLSTM only, see INITIAL_STATES.
    :param allow_out_of_range: fold continuous knobs outside their param-config range too
        (with an OutOfRangeWarning) instead of raising KnobError.
    """
    module, specs, sample_rate = _unwrap(model)
    check_finite_weights(module, "migrate")  # NaN in, NaN out: refused before any work
    if initial_state not in INITIAL_STATES:
        raise ConfigError(f"initial_state must be one of {', '.join(INITIAL_STATES)}, got {initial_state!r}")
    count = knob_count(module)
    given = _knob_values(specs, count, knobs, allow_out_of_range)
    # The legacy models take their knobs as a float32 tensor: fold the values they see.
    p = given.astype(np.float32).astype(np.float64)
    names = tuple(s.name for s in specs) if len(specs) == count else ()
    if isinstance(module, CatLSTM):
        arch, config, weights, rf, notes = _fold_cat_lstm(module, p, initial_state)
    elif isinstance(module, CatWaveNet):
        arch, config, weights, rf, notes = _fold_cat_wavenet(module, p)
    elif isinstance(module, HyperConvNet):
        arch, config, weights, rf, notes = _fold_hyper_conv_net(module, p)
    else:  # knob_count raised already for anything else
        raise TypeError(f"{type(module).__name__} is not a legacy parametric model")
    weights = np.ascontiguousarray(weights, dtype=np.float32)
    weights.setflags(write=False)
    return Folded(
        architecture=arch,
        config=config,
        weights=weights,
        source_architecture=type(module).__name__,
        knobs=tuple(float(v) for v in given),
        knob_names=names,
        receptive_field=rf,
        sample_rate=sample_rate,
        initial_state=initial_state if arch == "LSTM" else None,
        notes=tuple(notes),
    )


def _unwrap(model) -> Tuple[torch.nn.Module, Tuple[KnobSpec, ...], Optional[float]]:
    if isinstance(model, torch.nn.Module):
        return model, (), _model_sample_rate(model)
    inner = getattr(model, "model", None)
    if not isinstance(inner, torch.nn.Module):
        raise TypeError(f"expected a compat.LegacyModel or a torch module, got {type(model).__name__}")
    rate = getattr(model, "sample_rate", None)
    if rate is None:
        rate = _model_sample_rate(inner)
    return inner, tuple(getattr(model, "knobs", ()) or ()), rate


def _model_sample_rate(module) -> Optional[float]:
    try:
        rate = module.sample_rate
    except (AttributeError, NotImplementedError):
        return None
    return None if rate is None else float(rate)


def _knob_values(specs, count: int, knobs, allow_out_of_range: bool) -> np.ndarray:
    """Validated knob values (compat.knobs: finite, in range, booleans 0/1) as float64."""
    if knobs is None:
        if count and len(specs) != count:
            raise ConfigError(f"the model takes {count} knob values and their defaults are unknown: pass knobs")
        values = knob_vector(specs, count, allow_out_of_range=allow_out_of_range)
    elif isinstance(knobs, Mapping):
        values = knob_vector(specs, count, named=knobs, allow_out_of_range=allow_out_of_range)
    else:
        if isinstance(knobs, torch.Tensor):
            knobs = knobs.detach().cpu().double().numpy()
        flat = np.asarray(knobs, dtype=np.float64).reshape(-1)
        values = knob_vector(specs, count, values=list(flat), allow_out_of_range=allow_out_of_range)
    return np.asarray(values, dtype=np.float64)


def _f64(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().to(torch.float64).numpy()


def _f32(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().to(torch.float32).numpy()


# --------------------------------------------------------------------------------------
# CatLSTM → LSTM
# --------------------------------------------------------------------------------------


def _fold_cat_lstm(model: CatLSTM, p: np.ndarray, initial_state: str):
    core = model._core
    if core.bidirectional or getattr(core, "proj_size", 0):
        raise NotImplementedError("bidirectional or projected LSTMs have no current-NAM counterpart")
    hidden, layers = core.hidden_size, core.num_layers
    cells = []  # per layer: (W_ih (4H x in), W_hh (4H x H), summed bias (4H)) in float32
    for k in range(layers):
        w_ih = _f64(getattr(core, f"weight_ih_l{k}"))
        w_hh = _f64(getattr(core, f"weight_hh_l{k}"))
        if core.bias:
            bias = _f64(getattr(core, f"bias_ih_l{k}")) + _f64(getattr(core, f"bias_hh_l{k}"))
        else:
            bias = np.zeros(4 * hidden)
        if k == 0:
            bias = bias + w_ih[:, 1:] @ p
            w_ih = w_ih[:, :1]
        cells.append((w_ih.astype(np.float32), w_hh.astype(np.float32), bias.astype(np.float32)))
    if initial_state == "burn-in":
        h0, c0 = _lstm_burn_in(cells, hidden)
        notes = ["initial state: burn-in of the folded core (48,000 zeros from the zero state), as current NAM exports it"]
    else:
        h0, c0 = _legacy_start_state(model, layers, hidden)
        notes = ["initial state: the legacy model's own starting state"]
    chunks: List[np.ndarray] = []
    for k, (w_ih, w_hh, bias) in enumerate(cells):
        chunks += [np.concatenate([w_ih, w_hh], axis=1).reshape(-1), bias, h0[k], c0[k]]
    chunks += [_f32(model._head.weight).reshape(-1), _f32(model._head.bias).reshape(-1)]
    config = {"input_size": 1, "hidden_size": hidden, "num_layers": layers}
    return "LSTM", config, np.concatenate(chunks), 1, notes


def _lstm_burn_in(cells, hidden: int) -> Tuple[np.ndarray, np.ndarray]:
    """The state current NAM stores: its core (summed bias in bias_ih, zero bias_hh, as its
    import leaves it) run on 48,000 zeros from the zero state, in float32, with autograd on.

    Bit for bit that state, but usually far cheaper: see `_burn_in_chunks`."""
    h, c = _burn_in_chunks(current_nam_core(cells, hidden), BURN_IN_SAMPLES)
    return h[:, 0, :].numpy(), c[:, 0, :].numpy()


def current_nam_core(cells, hidden: int) -> torch.nn.LSTM:
    """A torch LSTM as current NAM's import leaves it: the summed bias in bias_ih, zero
    bias_hh, parameters requiring grad (which picks torch's kernel, see _burn_in_chunks).

    :param cells: per layer (W_ih, W_hh, summed bias), float32 arrays.
    """
    core = torch.nn.LSTM(1, hidden, num_layers=len(cells), batch_first=True)
    with torch.no_grad():
        for k, (w_ih, w_hh, bias) in enumerate(cells):
            getattr(core, f"weight_ih_l{k}").copy_(torch.from_numpy(np.array(w_ih, dtype=np.float32)))
            getattr(core, f"weight_hh_l{k}").copy_(torch.from_numpy(np.array(w_hh, dtype=np.float32)))
            getattr(core, f"bias_ih_l{k}").copy_(torch.from_numpy(np.array(bias, dtype=np.float32)))
            getattr(core, f"bias_hh_l{k}").zero_()
    return core


BURN_IN_CHUNK = 240  # divides BURN_IN_SAMPLES; see _burn_in_chunks


def _burn_in_chunks(core: torch.nn.LSTM, samples: int, state=None):
    """`core` run on `samples` zeros from `state` (None: zeros), batch 1: the final (h, c).

    Run in chunks of BURN_IN_CHUNK samples. On zero input every step computes the same
    function of the state alone (the input projection of a zero is exactly the bias, so
    chunking changes no bits; tests/test_fold.py checks it against one long run), so a
    chunk is a fixed map F of the state. Once F(s) == s bit for bit, every later chunk
    returns s, and the state after `samples` (a whole number of chunks) is s: the rest of
    the run is skipped. A 4 x 32 LSTM typically gets there within ~2,000 samples.
    Current NAM runs this with autograd on (parameters requiring grad); torch's CPU LSTM
    takes another kernel then than under no_grad, with other last bits: so do we.
    """
    if samples % BURN_IN_CHUNK:
        raise ValueError(f"burn-in length {samples} is not a multiple of {BURN_IN_CHUNK}")
    zeros = torch.zeros((1, BURN_IN_CHUNK, 1))
    with torch.enable_grad():
        for _ in range(samples // BURN_IN_CHUNK):
            _, (h, c) = core(zeros, state)
            h, c = h.detach(), c.detach()
            if state is not None and torch.equal(h, state[0]) and torch.equal(c, state[1]):
                break
            state = (h, c)
    return h, c


def _legacy_start_state(model: CatLSTM, layers: int, hidden: int):
    if getattr(model._release, "lstm_learned_initial_state", False):
        return _f32(model._initial_hidden), _f32(model._initial_cell)
    zeros = np.zeros((layers, hidden), dtype=np.float32)  # 0.3.0: nn.LSTM's zero state
    return zeros, zeros.copy()


# --------------------------------------------------------------------------------------
# CatWaveNet → WaveNet
# --------------------------------------------------------------------------------------

_FILM_KEYS = (
    "conv_pre_film",
    "conv_post_film",
    "input_mixin_pre_film",
    "input_mixin_post_film",
    "activation_pre_film",
    "activation_post_film",
    "layer1x1_post_film",
    "head1x1_post_film",
)


def _activation_config(module: torch.nn.Module) -> Dict[str, Any]:
    """An activation as current NAM exports a plain torch activation ({"type": ...})."""
    if isinstance(module, torch.nn.PReLU):
        raise NotImplementedError("PReLU activations carry weights the legacy exports never held")
    if isinstance(module, torch.nn.LeakyReLU):
        return {"type": "LeakyReLU", "negative_slope": module.negative_slope}
    if isinstance(module, torch.nn.Hardtanh) and type(module) is torch.nn.Hardtanh:
        return {"type": "Hardtanh", "min_val": module.min_val, "max_val": module.max_val}
    if any(True for _ in module.parameters()):
        raise NotImplementedError(f"activation {type(module).__name__} has parameters")
    return {"type": type(module).__name__.lstrip("_")}


def _fold_cat_wavenet(model: CatWaveNet, p: np.ndarray):
    net = model._net
    chunks: List[np.ndarray] = []
    arrays = []
    constant = None  # the knob constant riding in the residual stream entering an array
    for a, array in enumerate(net._layers):
        rechannel = _f64(array._rechannel.weight)  # (C, in, 1)
        if a == 0:
            # Input row 0 is audio, rows 1.. the knobs.
            constant = rechannel[:, 1:, 0] @ p
            rechannel = rechannel[:, :1, :]
        else:
            constant = rechannel[:, :, 0] @ constant
        chunks.append(rechannel.astype(np.float32).reshape(-1))
        kernel_sizes, activations, gating, secondary = [], [], [], []
        for layer in array._layers:
            w = _f64(layer._conv.weight)  # (mid, C, K)
            b = _f64(layer._conv.bias)
            mixer = _f64(layer._input_mixer.weight)  # (mid, 1 + D, 1)
            b = b + w.sum(axis=2) @ constant + mixer[:, 1:, 0] @ p
            chunks += [
                w.astype(np.float32).reshape(-1),
                b.astype(np.float32),
                mixer[:, :1, :].astype(np.float32).reshape(-1),
                _f32(layer._1x1.weight).reshape(-1),
                _f32(layer._1x1.bias).reshape(-1),
            ]
            kernel_sizes.append(int(layer._conv.kernel_size[0]))
            activations.append(_activation_config(layer._activation))
            if layer._gated:
                gating.append("gated")
                secondary.append({"type": "Sigmoid"})
            else:
                gating.append("none")
                secondary.append(None)
        head = array._head_rechannel
        chunks.append(_f32(head.weight).reshape(-1))
        if head.bias is not None:
            chunks.append(_f32(head.bias).reshape(-1))
        first = array._layers[0]
        channels = int(first._1x1.in_channels)
        arrays.append({
            "input_size": 1 if a == 0 else int(array._rechannel.in_channels),
            "condition_size": 1,
            "head": {
                "out_channels": int(head.out_channels),
                "kernel_size": int(head.kernel_size[0]),
                "bias": head.bias is not None,
            },
            "channels": channels,
            "kernel_sizes": kernel_sizes,
            "dilations": [int(layer._conv.dilation[0]) for layer in array._layers],
            "activation": activations,
            "bottleneck": channels,
            "head1x1": {"active": False, "out_channels": 1, "groups": 1},
            "layer1x1": {"active": True, "groups": 1},
            "groups_input": 1,
            "groups_input_mixin": 1,
            **{key: {"active": False, "shift": True, "groups": 1} for key in _FILM_KEYS},
            "gating_mode": gating,
            "secondary_activation": secondary,
            "slimmable": None,
        })
    head_config = None
    if net._head is not None:
        old = net._head.export_config()
        head_config = {
            "channels": old["channels"],
            "activation": old["activation"],
            "out_channels": old["out_channels"],
            "kernel_sizes": [1] * old["num_layers"],
        }
        for block in net._head._layers:
            chunks += [_f32(block[1].weight).reshape(-1), _f32(block[1].bias).reshape(-1)]
    chunks.append(np.array([net._head_scale], dtype=np.float32))
    config = {"layers": arrays, "head": head_config, "head_scale": net._head_scale}
    return "WaveNet", config, np.concatenate(chunks), int(model.receptive_field), []


# --------------------------------------------------------------------------------------
# HyperConvNet → ConvNet
# --------------------------------------------------------------------------------------


def _fold_hyper_conv_net(model: HyperConvNet, p: np.ndarray):
    hyper = model._hyper_net
    was_training = hyper.training
    hyper.eval()
    try:
        with torch.no_grad():
            tensors = [t[0] for t in hyper(torch.from_numpy(p).to(torch.float32)[None, :])]
    finally:
        hyper.train(was_training)
    layers = list(model._net)
    chunks: List[np.ndarray] = []
    i = 0
    convs = [m for m in layers if isinstance(m, _Conv)]
    body, head = convs[:-1], convs[-1]
    batchnorm = any(isinstance(m, _BatchNorm) for m in layers)
    for m in layers:
        if isinstance(m, _Conv):
            # Generated weight (Cout, Cin, K) and, without BatchNorm, bias (Cout).
            chunks.append(_f32(tensors[i]).reshape(-1))
            if m.bias is not None:
                chunks.append(_f32(tensors[i + 1]).reshape(-1))
            i += m.num_tensors
        elif isinstance(m, _BatchNorm):
            chunks += [
                _f32(m.running_mean).reshape(-1),
                _f32(m.running_var).reshape(-1),
                _f32(tensors[i]).reshape(-1),  # scale
                _f32(tensors[i + 1]).reshape(-1),  # shift
                np.array([m.eps], dtype=np.float32),
            ]
            i += 2
        elif not isinstance(m, (_Activation, _Flatten)):
            raise NotImplementedError(f"unexpected main-net layer {type(m).__name__}")
    assert i == len(tensors), (i, len(tensors))
    if head.kernel_size[0] != 1 or head.out_channels != 1:
        raise NotImplementedError("the main net's head is not a 1x1 conv to one channel")
    if any(m.kernel_size[0] != 2 for m in body):
        raise NotImplementedError("main-net convs must have kernel size 2")
    dilations = [int(m.dilation[0]) for m in body]
    config = {
        "channels": int(body[0].out_channels),
        "dilations": dilations,
        "batchnorm": batchnorm,
        "activation": model._activation,
    }
    notes = []
    if batchnorm:
        notes.append("BatchNorm: the main net's running statistics with the hypernet's scale and shift")
    return "ConvNet", config, np.concatenate(chunks), 1 + sum(dilations), notes
