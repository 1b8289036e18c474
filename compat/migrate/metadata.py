"""The non-user metadata current NAM (neural-amp-modeler 0.13.0) writes into a `.nam`.

For a model exported without training information, 0.13.0's exporter writes exactly three
metadata keys before any user metadata: ``date`` (local time to the second),
``loudness`` and ``gain``. Both numbers come from the model's output on upstream's
standard test signal (``loudness_input.wav``, 48,000 samples), scaled by a gain g:

* ``rms(g)`` = sqrt(mean(y²)) of the float32 output for the input g·x, the model started
  the way its forward starts (LSTM: from the state stored in the file; WaveNet/ConvNet:
  zero-padded by the receptive field; ConvNet BatchNorm with its running statistics,
  since training exports the model in eval mode);
* ``loudness`` = 20·log10(rms(1)) in float32, written as a Python float;
* ``gain``: with r = [rms(0), rms(0.1), ..., rms(1)] (11 values),
  clip((Σr − 5.5·r[-1]) / (5.5·r[-1]), 0, 1) — 0 for a model whose level grows linearly
  with its input, 1 for a fully compressed one.

`current_metadata` computes this for many folded models at once: the 11 gains of a model
are one batch, and folded LSTMs that differ only in their layer-0 bias and initial state
(the snapshots of one CatLSTM at different knobs) share batched runs (lstm_batch.py).
For an LSTM stored with a burn-in state, rms(0) is 0.13.0's value bit for bit, from one
chunk (`_zero_gain_rms`); the other values agree with 0.13.0's own export to float32
rounding, not bit for bit (another kernel, other batch shapes, no autograd);
tests/test_migrate_metadata.py measures the difference against the real 0.13.0.

The recording belongs to upstream and is read from an installed neural-amp-modeler
distribution. Without it, `metadata_or_date` (what `migrate` and `pack` use) gives the
date alone and emits one `LoudnessSkippedWarning` that says how to add the recording:
the files still play, without loudness and gain.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from datetime import datetime
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from .current_nam import date_metadata
from .fold import BURN_IN_CHUNK, Folded, current_nam_core
from .lstm_batch import lstm_rows

__all__ = [
    "GAINS",
    "RECORDING_FIX",
    "LoudnessSkippedWarning",
    "current_metadata",
    "loudness_input",
    "loudness_and_gain",
    "metadata_or_date",
    "recording_missing",
]

GAINS = tuple(float(g) for g in np.linspace(0.0, 1.0, 11))  # what 0.13.0 probes
_MAX_ROWS = 512  # batch rows (model x gain) per LSTM run: about the fastest size here
_INPUT: Optional[torch.Tensor] = None
RECORDING_FIX = "pip install --no-deps neural-amp-modeler==0.7.4"


class LoudnessSkippedWarning(UserWarning):
    """Files were written without loudness/gain metadata: upstream's recording is missing."""


def recording_missing() -> Optional[str]:
    """None when loudness_input.wav can be read; else one line: what is skipped and how to
    add the recording."""
    from nam_legacy.models._resources import LoudnessInputMissing

    try:
        loudness_input()
    except LoudnessInputMissing:
        return ("loudness/gain metadata not written: upstream's loudness_input.wav is not installed "
                f"(add it with `{RECORDING_FIX}` and run again)")
    return None


def metadata_or_date(folded_list: Sequence[Folded], *, date: Optional[datetime] = None,
                     warn: bool = True) -> List[Dict[str, Any]]:
    """`current_metadata`, or, without the recording, `{"date"}` alone per model and one
    LoudnessSkippedWarning (unless `warn` is False: the caller has said it)."""
    reason = recording_missing()
    if reason is None:
        return current_metadata(folded_list, date=date)
    if warn:
        warnings.warn(reason, LoudnessSkippedWarning, stacklevel=2)
    stamp = date_metadata(date if date is not None else datetime.now())
    return [{"date": dict(stamp)} for _ in folded_list]


def loudness_input() -> torch.Tensor:
    """Upstream's ``loudness_input.wav`` as float32 (needs an installed neural-amp-modeler
    distribution; raises `LoudnessInputMissing` with the fix otherwise)."""
    global _INPUT
    if _INPUT is None:
        from nam_legacy.data import wav_to_tensor
        from nam_legacy.models._resources import loudness_input_path

        _INPUT = wav_to_tensor(loudness_input_path())
    return _INPUT


def current_metadata(folded_list: Sequence[Folded], *, date: Optional[datetime] = None) -> List[Dict[str, Any]]:
    """One metadata dict ``{"date", "loudness", "gain"}`` per folded model, in order, as
    0.13.0's export writes it for that model (without user or training metadata).

    :param date: the date to record (default: now, taken once for the whole list).
    """
    folded_list = list(folded_list)
    stamp = date_metadata(date if date is not None else datetime.now())
    rms = loudness_rms(folded_list)
    out = []
    for row in rms:
        loudness, gain = loudness_and_gain(row)
        out.append({"date": dict(stamp), "loudness": loudness, "gain": gain})
    return out


def loudness_and_gain(rms: Sequence[float]) -> Tuple[float, float]:
    """`loudness` and `gain` from the 11 float32 RMS values at GAINS (0.13.0's arithmetic)."""
    r = np.asarray(rms, dtype=np.float32)
    loudness = (20.0 * torch.log10(torch.tensor(r[-1]))).item()
    y = np.array([float(v) for v in r])
    max_gain = y[-1] * len(y)
    min_gain = 0.5 * max_gain
    normalized = (y.sum() - min_gain) / (max_gain - min_gain)
    return float(loudness), float(np.clip(normalized, 0.0, 1.0))


def loudness_rms(folded_list: Sequence[Folded]) -> np.ndarray:
    """(N, 11) float32: the output RMS of each model at each of GAINS."""
    x = loudness_input()
    inputs = torch.stack([g * x for g in GAINS])  # (11, L), float32 like 0.13.0's g * x
    out = np.zeros((len(folded_list), len(GAINS)), dtype=np.float32)
    groups: Dict[Tuple[str, str], List[int]] = {}
    for i, f in enumerate(folded_list):
        if not isinstance(f, Folded):
            raise TypeError(f"expected Folded, got {type(f).__name__}")
        groups.setdefault((f.architecture, json.dumps(f.config, sort_keys=True)), []).append(i)
    with torch.no_grad():
        for (arch, _), idx in groups.items():
            if arch == "LSTM":
                _lstm_group(folded_list, idx, inputs, out)
            elif arch == "WaveNet":
                for i in idx:
                    out[i] = _rms(_wavenet(folded_list[i], inputs))
            elif arch == "ConvNet":
                for i in idx:
                    out[i] = _rms(_convnet(folded_list[i], inputs))
            else:
                raise NotImplementedError(f"no loudness for architecture {arch!r}")
    return out


def _rms(y: torch.Tensor) -> np.ndarray:
    # Row by row, the 1-D reduction 0.13.0 does on a single output.
    return np.array([torch.sqrt(torch.mean(torch.square(row))).item() for row in y], dtype=np.float32)


# --------------------------------------------------------------------------------------
# LSTM: models sharing everything but the layer-0 bias and initial state run together
# --------------------------------------------------------------------------------------


def _lstm_parts(f: Folded):
    cfg = f.config
    n_in, hidden, layers = cfg["input_size"], cfg["hidden_size"], cfg["num_layers"]
    if n_in != 1:
        raise NotImplementedError("loudness needs a mono-input LSTM")
    w = np.asarray(f.weights, dtype=np.float32)
    i, cells, h0, c0 = 0, [], [], []
    for k in range(layers):
        d = n_in if k == 0 else hidden
        n = 4 * hidden * (d + hidden)
        mat = w[i : i + n].reshape(4 * hidden, d + hidden)
        i += n
        bias = w[i : i + 4 * hidden]
        i += 4 * hidden
        h0.append(w[i : i + hidden])
        c0.append(w[i + hidden : i + 2 * hidden])
        i += 2 * hidden
        cells.append((mat[:, :d], mat[:, d:], bias))
    head_w, head_b = w[i : i + hidden], w[i + hidden : i + hidden + 1]
    if i + hidden + 1 != len(w):
        raise ValueError(f"LSTM weights: expected {i + hidden + 1} values, got {len(w)}")
    return cells, np.stack(h0), np.stack(c0), head_w, head_b


def _lstm_group(folded_list, idx, inputs, out):
    parts = {i: _lstm_parts(folded_list[i]) for i in idx}
    # GAINS[0] == 0: exactly as 0.13.0 computes it, where the stored state allows (burn-in)
    wanted: Dict[int, List[int]] = {}
    for i in idx:
        zero = _zero_gain_rms(parts[i], inputs.shape[1])
        if zero is None:
            wanted[i] = list(range(len(GAINS)))
        else:
            out[i, 0] = zero
            wanted[i] = list(range(1, len(GAINS)))
    shared: Dict[str, List[int]] = {}
    for i, (cells, _, _, hw, hb) in parts.items():
        h = hashlib.sha256()
        for k, (wi, wh, b) in enumerate(cells):
            h.update(wi.tobytes())
            h.update(wh.tobytes())
            if k:
                h.update(b.tobytes())
        h.update(hw.tobytes())
        h.update(hb.tobytes())
        shared.setdefault(h.hexdigest(), []).append(i)
    for members in shared.values():
        _lstm_shared_run([parts[i] for i in members], members, wanted, inputs, out)


def _lstm_shared_run(parts, members, wanted, inputs, out) -> None:
    """Run models that share all weights but the layer-0 bias and the state, at the gains
    each one still needs, in balanced batches of at most _MAX_ROWS rows (a row carries
    its model's own layer-0 bias and state)."""
    cells, _, _, head_w, head_b = parts[0]
    rows = [(m, g) for m, i in enumerate(members) for g in wanted[i]]
    if not rows:
        return
    n_batches = -(-len(rows) // _MAX_ROWS)
    size = -(-len(rows) // n_batches)
    for s in range(0, len(rows), size):
        batch = rows[s : s + size]
        ms = [m for m, _ in batch]
        y = lstm_rows(
            cells,
            head_w,
            head_b,
            np.stack([parts[m][1] for m in ms]),
            np.stack([parts[m][2] for m in ms]),
            inputs[[g for _, g in batch]],
            bias0=np.stack([parts[m][0][0][2] for m in ms]),
        )
        for (m, g), value in zip(batch, _rms(y)):
            out[members[m], g] = value


def _zero_gain_rms(part, length: int) -> Optional[float]:
    """rms(0) bit for bit as 0.13.0 computes it, or None when this shortcut does not apply.

    At gain 0 the input is all zeros. 0.13.0 runs its core from the stored state with
    autograd on; when that state is one the core returns to after BURN_IN_CHUNK zeros (a
    burn-in state is: see fold._burn_in_chunks), the 48,000 output features are that
    chunk's features repeated, so one chunk gives them all, bit for bit.
    """
    if length % BURN_IN_CHUNK:
        return None
    cells, h0, c0, head_w, head_b = part
    core = current_nam_core(cells, h0.shape[1])
    state = (torch.from_numpy(h0.copy())[:, None, :], torch.from_numpy(c0.copy())[:, None, :])
    with torch.enable_grad():
        feats, (h, c) = core(torch.zeros((1, BURN_IN_CHUNK, 1)), state)
    if not (torch.equal(h.detach(), state[0]) and torch.equal(c.detach(), state[1])):
        return None
    feats = feats.detach().repeat(1, length // BURN_IN_CHUNK, 1)
    with torch.no_grad():
        y = F.linear(feats, torch.from_numpy(head_w.copy())[None, :], torch.from_numpy(head_b.copy()))[:, :, 0]
    return float(_rms(y)[0])


# --------------------------------------------------------------------------------------
# WaveNet / ConvNet: one model, its 11 gains as one batch
# --------------------------------------------------------------------------------------


class _Reader:
    def __init__(self, weights):
        self.w = torch.from_numpy(np.array(weights, dtype=np.float32))
        self.i = 0

    def take(self, *shape) -> torch.Tensor:
        n = math.prod(shape)
        t = self.w[self.i : self.i + n].reshape(shape)
        self.i += n
        return t

    def done(self):
        if self.i != len(self.w):
            raise ValueError(f"weights: used {self.i} of {len(self.w)} values")


def _act(spec):
    name = spec["type"] if isinstance(spec, dict) else spec
    params = {k: v for k, v in spec.items() if k != "type"} if isinstance(spec, dict) else {}
    if name == "LeakyReLU":
        return lambda z: F.leaky_relu(z, params.get("negative_slope", 0.01))
    if name == "Hardtanh":
        return lambda z: F.hardtanh(z, params.get("min_val", -1.0), params.get("max_val", 1.0))
    table = {"Tanh": torch.tanh, "Sigmoid": torch.sigmoid, "ReLU": torch.relu, "ELU": F.elu,
             "SiLU": F.silu, "GELU": F.gelu, "Softsign": F.softsign, "Hardswish": F.hardswish}
    if name not in table or params:
        raise NotImplementedError(f"activation {spec!r}")
    return table[name]


def _wavenet(f: Folded, inputs: torch.Tensor) -> torch.Tensor:
    cfg = f.config
    rd = _Reader(f.weights)
    rf = f.receptive_field
    audio = F.pad(inputs, (rf - 1, 0))[:, None, :]  # (G, 1, L + rf - 1), pad_start
    stream, head_sum = audio, None
    for la in cfg["layers"]:
        if la["bottleneck"] != la["channels"] or la["head1x1"]["active"] or not la["layer1x1"]["active"]:
            raise NotImplementedError("WaveNet loudness covers the layer arrays a fold produces")
        if la["groups_input"] != 1 or la["groups_input_mixin"] != 1 or la.get("slimmable"):
            raise NotImplementedError("WaveNet loudness covers the layer arrays a fold produces")
        ch, cond = la["channels"], la["condition_size"]
        s = F.conv1d(stream, rd.take(ch, la["input_size"], 1))
        out_len = s.shape[2] - sum((k - 1) * d for k, d in zip(la["kernel_sizes"], la["dilations"]))
        for n, (k, d) in enumerate(zip(la["kernel_sizes"], la["dilations"])):
            gated = la["gating_mode"][n] == "gated"
            if la["gating_mode"][n] not in ("gated", "none"):
                raise NotImplementedError(f"gating mode {la['gating_mode'][n]!r}")
            mid = 2 * ch if gated else ch
            wc, bc = rd.take(mid, ch, k), rd.take(mid)
            wm = rd.take(mid, cond, 1)
            wl, bl = rd.take(ch, ch, 1), rd.take(ch)
            z = F.conv1d(s, wc, bc, dilation=d)
            z = z + F.conv1d(audio[:, :, -z.shape[2]:], wm)
            if gated:
                z = _act(la["activation"][n])(z[:, :ch]) * _act(la["secondary_activation"][n])(z[:, ch:])
            else:
                z = _act(la["activation"][n])(z)
            s = s[:, :, -z.shape[2]:] + F.conv1d(z, wl, bl)
            term = z[:, :, -out_len:]
            head_sum = term if head_sum is None else head_sum[:, :, -out_len:] + term
        hd = la["head"]
        wh = rd.take(hd["out_channels"], ch, hd["kernel_size"])
        bh = rd.take(hd["out_channels"]) if hd["bias"] else None
        head_sum = F.conv1d(head_sum, wh, bh)
        stream = s
    blocks = []
    if cfg["head"] is not None:
        cin = cfg["layers"][-1]["head"]["out_channels"]
        head = cfg["head"]
        for n, k in enumerate(head["kernel_sizes"]):
            cout = head["out_channels"] if n == len(head["kernel_sizes"]) - 1 else head["channels"]
            blocks.append((rd.take(cout, cin, k), rd.take(cout)))
            cin = cout
    scale = rd.take(1)
    rd.done()
    y = scale * head_sum
    for wk, bk in blocks:
        y = F.conv1d(_act(cfg["head"]["activation"])(y), wk, bk)
    return y[:, 0, :]


def _convnet(f: Folded, inputs: torch.Tensor) -> torch.Tensor:
    cfg = f.config
    rd = _Reader(f.weights)
    rf = 1 + sum(cfg["dilations"])
    h = F.pad(inputs, (rf - 1, 0))[:, None, :]
    ch, bn = cfg["channels"], cfg["batchnorm"]
    act = _act(cfg["activation"])
    cin = 1
    for d in cfg["dilations"]:
        wc = rd.take(ch, cin, 2)
        bc = None if bn else rd.take(ch)
        h = F.conv1d(h, wc, bc, dilation=d)
        if bn:
            mean, var, scale, shift = rd.take(ch), rd.take(ch), rd.take(ch), rd.take(ch)
            eps = float(rd.take(1)[0])
            h = F.batch_norm(h, mean, var, scale, shift, training=False, eps=eps)
        h = act(h)
        cin = ch
    wh, bh = rd.take(1, ch, 1), rd.take(1)
    rd.done()
    return F.conv1d(h, wh, bh)[:, 0, :]
