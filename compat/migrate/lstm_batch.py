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
* tanh(z) is computed as 2·sigmoid(2z) - 1, so one exp serves every nonlinearity; the
  doubling is folded exactly (a power of two) into the g-gate weights and into the cell
  state, which is kept as 2c;
* the rest of a step (biases, layer 0's audio input, the gates' nonlinearities, the
  head) runs in the native kernel (native.py, lstm_cell.c) when this machine could
  build it, else as torch ops that repeat the kernel's arithmetic operation for
  operation (its own exp, no fused multiply-adds, the same order of additions), so both
  paths give the same bits and a pack does not depend on whether a compiler was found
  (the torch path is about 4-5x slower).

The last bits differ from torch's LSTM (another summation order, another exp, ~1 ulp of
1 in tanh), so results agree with it to float32 rounding, not bit for bit;
tests/test_lstm_batch.py measures both paths against a float64 LSTM and checks that
they are equal to each other.
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
    steps(kernel, length, bias, weights, z, h, c2, gates, audio, hw, hb, y)
    return y.t().contiguous()


def _matmuls(s, length, w_hh0, h_0, g0, rest):
    """Step s's matrix products, the same calls on both paths (so the same bits): layer 0's
    W_hh h_0, and layers max(lo, 1) .. hi - 1 as one batched product. Returns (lo, hi)."""
    layers = len(rest[0]) + 1
    lo, hi = max(0, s - length + 1), min(layers, s + 1)  # the layers with work at step s
    if lo == 0:
        torch.mm(w_hh0, h_0, out=g0)
    if hi > max(lo, 1):
        w_, z_, gt = rest if (lo == 0 and hi == layers) else (v[max(lo, 1) - 1 : hi - 1] for v in rest)
        torch.bmm(w_, z_, out=gt)
    return lo, hi


def _steps_native(kernel, length, bias, weights, z, h, c2, gates, audio, hw, hb, y):
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
        lo, hi = _matmuls(s, length, w_hh0, h_0, g0, rest)
        first = lo == 0
        last = hi == layers
        kernel(
            hi - lo, hidden, rows, p_b + lo * s_b,
            p_b0 if first else None, p_w_in if first else None, p_x + s * s_row if first else None,
            p_g + lo * s_g, p_c + lo * s_h, p_h + lo * s_h,
            p_hw if last else None, head_b, p_y + (s - layers + 1) * s_row if last else None,
        )


# lstm_cell.c's exp_clamped, constant for constant (float32, exactly representable)
_LOG2E = 1.4426950216293335
_LN2_HI, _LN2_LO = 0.693359375, 0.00021219444170128554
_POLY = (0.001398199936375022, 0.008333452045917511, 0.04166579619050026, 0.1666666567325592, 0.5)
_POLY0 = 0.00019875691214110702
_HEAD_WINDOW = 256  # steps of the last layer's h kept for one pass of the head


class _Sigmoid:
    """lstm_cell.c's sigmoid, 1 / (1 + exp_clamped(-z)), as torch ops in the same order.

    Every step is one IEEE float32 operation (no fused multiply-add: the kernel is built
    with -ffp-contract=off), so each element gets exactly the kernel's bits."""

    def __init__(self, shape):
        self.n, self.r, self.p = torch.empty(shape), torch.empty(shape), torch.empty(shape)
        self.bits = torch.empty(shape, dtype=torch.int32)

    def __call__(self, v: torch.Tensor, out: torch.Tensor) -> None:
        """sigmoid(v) into out (v is overwritten; out may be v)."""
        k = v.shape[0]
        n, r, p, bits = self.n[:k], self.r[:k], self.p[:k], self.bits[:k]
        v.neg_().clamp_(-87.0, 88.0)  # x = -z, clamped as exp_clamped does
        # n = round(x / ln 2): the kernel adds and subtracts 1.5 * 2^23, which rounds to the
        # nearest integer, ties to even, exactly as torch.round does
        torch.round(torch.mul(v, _LOG2E, out=n), out=n)
        torch.mul(n, _LN2_HI, out=r)
        torch.sub(v, r, out=r)  # r = x - n ln2_hi
        torch.mul(n, _LN2_LO, out=p)
        r.add_(p)  # r += n ln2_lo
        torch.mul(r, _POLY0, out=p)  # Horner: p = p r + c for each coefficient
        for c in _POLY[:-1]:
            p.add_(c).mul_(r)
        p.add_(_POLY[-1])
        torch.mul(r, r, out=v)
        p.mul_(v).add_(r).add_(1.0)  # p (r r) + r + 1
        bits.copy_(n).add_(127).bitwise_left_shift_(23)  # 2^n from its bits
        p.mul_(bits.view(torch.float32)).add_(1.0)
        torch.reciprocal(p, out=out)


def _steps_torch(_kernel, length, bias, weights, z, h, c2, gates, audio, hw, hb, y):
    """lstm_cell.c's arithmetic with torch ops, operation for operation: the same bits as
    the native kernel, slower (so packs do not depend on whether a compiler was found)."""
    layers, hidden, rows = h.shape
    w_hh0 = weights[0, :, hidden:].contiguous()
    h_0, g0 = h[0], gates[0]
    bias0 = bias[0].contiguous()
    w_in = weights[0, :, hidden - 1].contiguous()[:, None]
    row_bias = bias[:, :, :1].clone()  # layers 1..: one value per gate row
    rest = (weights[1:], z[1:], gates[1:])
    sigmoid, sigmoid_c = _Sigmoid(gates.shape), _Sigmoid(c2.shape)
    t_c = torch.empty(layers, hidden, rows)
    x_term = torch.empty(4 * hidden, rows)
    i_g, f_g = gates[:, :hidden], gates[:, hidden : 2 * hidden]
    g_g, o_g = gates[:, 2 * hidden : 3 * hidden], gates[:, 3 * hidden :]
    head_w = [float(v) for v in hw.reshape(-1)]
    window = torch.empty(_HEAD_WINDOW, hidden, rows)
    last = h[layers - 1]
    done = 0  # outputs whose head is computed
    for s in range(length + layers - 1):
        lo, hi = _matmuls(s, length, w_hh0, h_0, g0, rest)
        if lo == 0:  # (gates + per-row bias) + w_in x, as the kernel adds them
            g0.add_(bias0)
            torch.mul(w_in, audio[s][None, :], out=x_term)
            g0.add_(x_term)
        if hi > max(lo, 1):
            gates[max(lo, 1) : hi].add_(row_bias[max(lo, 1) : hi])
        gt, c, t = gates[lo:hi], c2[lo:hi], t_c[lo:hi]
        sigmoid(gt, gt)
        g, i, f, o = g_g[lo:hi], i_g[lo:hi], f_g[lo:hi], o_g[lo:hi]
        g.mul_(4.0).sub_(2.0)  # 2 tanh: the g rows hold 2z
        c.mul_(f)
        c.add_(g.mul_(i))  # 2c' = f 2c + i 2g
        t.copy_(c)
        sigmoid_c(t, t)
        t.mul_(2.0).sub_(1.0)  # tanh(c')
        torch.mul(o, t, out=h[lo:hi])
        if hi == layers:
            t_out = s - layers + 1
            window[t_out - done].copy_(last)
            if t_out - done + 1 == _HEAD_WINDOW or t_out == length - 1:
                _head(window[: t_out - done + 1], head_w, float(hb[0]), y[done : t_out + 1])
                done = t_out + 1


def _head(hist: torch.Tensor, head_w, head_b: float, out: torch.Tensor) -> None:
    """y = head_b + w_0 h_0 + w_1 h_1 + ..., summed in the kernel's order."""
    out.fill_(head_b)
    term = torch.empty_like(out)
    for j, w in enumerate(head_w):
        torch.mul(hist[:, j], w, out=term)
        out.add_(term)
