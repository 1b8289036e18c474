"""Run many same-shaped LSTMs on many inputs at once: the engine behind LSTM loudness.

A pack of CatLSTM snapshots is hundreds of LSTMs that share every weight except the
layer-0 bias (the folded knobs) and the initial state, each run on 10 or 11 scaled copies
of a 48,000-sample signal. torch's own LSTM is slow on that: it runs the layers one after
another over the whole sequence with small matrix products. Here every row (one model,
one input) is a column of one batch, and all layers advance together ("wavefront": at
step s, layer k processes time s - k, whose input layer k - 1 produced at step s - 1):

* one batched matrix product per step computes the gates of layers 1.. (input and
  recurrent parts together: [h_{k-1}; h_k] is a 2H-row window of one buffer, no copies),
  and one more layer 0's, whose bias may differ per row (the snapshots' knobs);
* tanh(z) is computed as 2·sigmoid(2z) - 1: the same function, but torch's float32
  sigmoid is ~3.5x faster than its tanh on these CPUs; the doubling is folded exactly
  (a power of two) into the g-gate weights and into the cell state, which is kept as 2c;
* the rest of a step (biases, layer 0's audio input, the gates' nonlinearities, the
  head) runs in the native kernel (native.py, lstm_cell.c) when this machine could
  build it, else as torch ops (about 1.5x slower).

The last bits differ from torch's LSTM (another summation order, another exp, ~1 ulp of
1 in tanh), so results agree with it to float32 rounding, not bit for bit;
tests/test_lstm_batch.py measures both paths against a float64 LSTM.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np
import torch

from . import native

__all__ = ["lstm_rows"]

Cell = Tuple[np.ndarray, np.ndarray, np.ndarray]  # W_ih (4H x d), W_hh (4H x H), summed bias (4H)


def lstm_rows(
    cells: Sequence[Cell],
    head_w: np.ndarray,
    head_b: np.ndarray,
    h0: np.ndarray,
    c0: np.ndarray,
    inputs: torch.Tensor,
    bias0: Optional[np.ndarray] = None,
) -> torch.Tensor:
    """Outputs (R, N) float32 of R runs of one LSTM (mono input, linear head).

    :param cells: per layer (W_ih, W_hh, bias); layer 0's W_ih is 4H x 1 (the audio).
    :param h0, c0: (R, layers, H) initial state of each row.
    :param inputs: (R, N) the audio of each row.
    :param bias0: (R, 4H) each row's own layer-0 bias, replacing cells[0]'s.
    """
    layers = len(cells)
    hidden = cells[0][1].shape[1]
    rows, length = inputs.shape
    if cells[0][0].shape[1] != 1:
        raise ValueError("layer 0 must take one input (the audio)")
    h4 = 4 * hidden
    if bias0 is not None and bias0.shape != (rows, h4):
        raise ValueError(f"bias0 must be ({rows}, {h4}), got {bias0.shape}")
    scale = np.ones(h4, dtype=np.float32)
    scale[2 * hidden : 3 * hidden] = 2.0  # tanh(z) = 2·sigmoid(2z) - 1: g rows hold 2z
    # W[k] acts on [slot k; h_k]: slot k > 0 is h_{k-1}; slot 0 is zeros ending in the audio.
    w = np.zeros((layers, h4, 2 * hidden), dtype=np.float32)
    b = np.zeros((layers, h4, rows), dtype=np.float32)
    for k, (w_ih, w_hh, cell_bias) in enumerate(cells):
        w[k, :, :hidden] = w_ih if k else 0.0
        w[k, :, hidden:] = w_hh
        b[k] = np.asarray(cell_bias, dtype=np.float32)[:, None]
    w[0, :, hidden - 1] = cells[0][0][:, 0]
    if bias0 is not None:
        b[0] = np.asarray(bias0, dtype=np.float32).T
    weights = torch.from_numpy(w * scale[None, :, None])
    bias = torch.from_numpy(b * scale[None, :, None])
    hw = torch.from_numpy(np.array(head_w, dtype=np.float32).reshape(1, hidden))
    hb = torch.from_numpy(np.array(head_b, dtype=np.float32).reshape(1))

    # One buffer of layers + 1 slots of H rows: slot 0 = layer 0's input, slot k + 1 = h_k.
    # Z[k] = slots k and k + 1 = [input of layer k; h_k], an overlapping strided view.
    buf = torch.zeros((layers + 1) * hidden, rows)
    z = buf.as_strided((layers, 2 * hidden, rows), (hidden * rows, rows, 1))
    h = buf[hidden:].view(layers, hidden, rows)
    h.copy_(torch.from_numpy(np.ascontiguousarray(np.transpose(h0, (1, 2, 0)), dtype=np.float32)))
    c2 = torch.from_numpy(np.ascontiguousarray(np.transpose(c0, (1, 2, 0)), dtype=np.float32) * 2)  # 2c
    gates = torch.empty(layers, h4, rows)
    audio = inputs.t().contiguous()  # (N, R): one contiguous row per step
    y = torch.empty(length, rows)
    kernel = native.lstm_cell()
    steps = _steps_native if kernel is not None else _steps_torch
    steps(kernel, length, bias, weights, buf, z, h, c2, gates, audio, hw, hb, y)
    return y.t().contiguous()


def _steps_native(kernel, length, bias, weights, buf, z, h, c2, gates, audio, hw, hb, y):
    layers, hidden, rows = h.shape
    # Layer 0's matrix product is only W_hh h_0; the kernel adds its per-row bias and its
    # audio input (a rank-1 term), and the head, so each step is three calls.
    w_hh0 = weights[0, :, hidden:].contiguous()
    h_0, g0 = h[0], gates[0]
    bias0 = bias[0].contiguous()
    w_in = weights[0, :, hidden - 1].contiguous()
    row_bias = bias[:, :, 0].clone()  # layers 1..: one value per gate row
    head_w = hw.reshape(-1).contiguous()
    head_b = float(hb[0])
    # the kernel takes raw pointers (into the tensors above, alive for this whole loop):
    # precompute them and the strides (bytes)
    p_b, p_g, p_c, p_h = row_bias.data_ptr(), gates.data_ptr(), c2.data_ptr(), h.data_ptr()
    s_b, s_g, s_h = 4 * 4 * hidden, 4 * 4 * hidden * rows, 4 * hidden * rows
    p_b0, p_w_in, p_x, p_hw, p_y = bias0.data_ptr(), w_in.data_ptr(), audio.data_ptr(), head_w.data_ptr(), y.data_ptr()
    s_row = 4 * rows
    rest = (weights[1:], z[1:], gates[1:])
    for s in range(length + layers - 1):
        lo, hi = max(0, s - length + 1), min(layers, s + 1)  # the layers with work at step s
        if lo == 0:
            torch.mm(w_hh0, h_0, out=g0)
        if hi > max(lo, 1):  # layers max(lo, 1) .. hi - 1 in one batched product
            w_, z_, gt = rest if (lo == 0 and hi == layers) else (v[max(lo, 1) - 1 : hi - 1] for v in rest)
            torch.bmm(w_, z_, out=gt)
        first = lo == 0
        last = hi == layers
        kernel(
            hi - lo, hidden, rows, p_b + lo * s_b,
            p_b0 if first else None, p_w_in if first else None, p_x + s * s_row if first else None,
            p_g + lo * s_g, p_c + lo * s_h, p_h + lo * s_h,
            p_hw if last else None, head_b, p_y + (s - layers + 1) * s_row if last else None,
        )


def _steps_torch(_kernel, length, bias, weights, buf, z, h, c2, gates, audio, hw, hb, y):
    layers, hidden, rows = h.shape
    t_c = torch.empty(layers, hidden, rows)
    i_g, f_g = gates[:, :hidden], gates[:, hidden : 2 * hidden]
    g_g, o_g = gates[:, 2 * hidden : 3 * hidden], gates[:, 3 * hidden :]
    minus_two, minus_one = torch.tensor(-2.0), torch.tensor(-1.0)
    # layer 0 only needs the audio row of its slot: its own, narrower product
    w0, z0, b0, g0 = weights[0, :, hidden - 1 :].contiguous(), buf[hidden - 1 : 2 * hidden], bias[0], gates[0]
    rest = (bias[1:], weights[1:], z[1:], gates[1:])
    full = (gates, g_g, c2, f_g, i_g, t_c, o_g, h)
    last = h[layers - 1]
    slot = buf[hidden - 1]
    for s in range(length + layers - 1):
        lo, hi = max(0, s - length + 1), min(layers, s + 1)  # the layers with work at step s
        if lo == 0:
            slot.copy_(audio[s])
            torch.addmm(b0, w0, z0, out=g0)
        if hi > max(lo, 1):  # layers max(lo, 1) .. hi - 1 in one batched product
            b_, w_, z_, gt = rest if (lo == 0 and hi == layers) else (v[max(lo, 1) - 1 : hi - 1] for v in rest)
            torch.baddbmm(b_, w_, z_, out=gt)
        if lo == 0 and hi == layers:  # the steady state: no slicing (views cost time)
            gt, g, c, f, i, t, o, hk = full
        else:
            gt, g, c, f, i, t, o, hk = (v[lo:hi] for v in full)
        torch.sigmoid(gt, out=gt)
        torch.add(minus_two, g, alpha=4, out=g)  # 2·tanh(g-gate preactivation)
        c.mul_(f).addcmul_(i, g)  # 2c' = f·2c + i·2g
        torch.sigmoid(c, out=t)
        torch.add(minus_one, t, alpha=2, out=t)  # tanh(c')
        torch.mul(o, t, out=hk)
        if hi == layers:
            torch.addmm(hb, hw, last, out=y[s - layers + 1 : s - layers + 2])
