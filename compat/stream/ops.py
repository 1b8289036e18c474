"""The two convolutions of a stream, as one matrix product each, on (channels, n) tensors.

At stream block sizes torch's conv1d takes its generic paths (for a dilated kernel,
`slow_conv_dilated2d`, ~30x slower here than the product it amounts to), so a block's convs
are written out: a 1x1 conv is `W @ x + b`; a dilated conv of kernel k reads, for each
output, the k inputs d apart — gathered (a strided view, copied once) into rows
`c·k + j`, the layout of the weight (C_out, C_in, k) flattened, then one `addmm`. The
results equal the model's conv1d up to float rounding order (last-place differences; the
tests bound the stream against the offline forward at 1e-6).
"""

from __future__ import annotations

from typing import Optional

import torch


def weight2d(conv_weight: torch.Tensor) -> torch.Tensor:
    """(C_out, C_in, k) → (C_out, C_in·k), a view when possible."""
    return conv_weight.reshape(conv_weight.shape[0], -1)


def pointwise(weight: torch.Tensor, bias: Optional[torch.Tensor], x: torch.Tensor, *, out=None) -> torch.Tensor:
    """1x1 conv: weight (C_out, C_in), bias (C_out, 1) (or (C_out, n): any addend) or None,
    x (C_in, n) → (C_out, n) (into `out` when given)."""
    if bias is None:
        return torch.mm(weight, x, out=out)
    return torch.addmm(bias, weight, x, out=out)


def dilated(weight: torch.Tensor, bias: Optional[torch.Tensor], full: torch.Tensor, kernel: int, dilation: int, n: int) -> torch.Tensor:
    """Valid dilated conv producing the last n outputs of `full` (C_in, T), T >= (k-1)·d + n,
    contiguous: output t reads full[:, T-n+t-(k-1)d :: d] (k taps). weight (C_out, C_in·k), bias as in `pointwise`."""
    if kernel == 1:
        columns = full[:, full.shape[1] - n :]
    else:
        channels, length = full.shape
        start = length - n - (kernel - 1) * dilation
        # (C_in, k, n) view: tap j of output t is full[c, start + j·d + t]
        taps = full.as_strided((channels, kernel, n), (full.stride(0), dilation, 1), full.storage_offset() + start)
        columns = taps.reshape(channels * kernel, n)
    return pointwise(weight, bias, columns)


class History:
    """The last `span` inputs of a dilated conv, followed in memory by the new block, so that
    [history ‖ block] is one strided view: no per-block concatenation of the history. The
    buffer has room for several blocks; when full, the last `span` columns move to the front."""

    def __init__(self, initial: torch.Tensor, room: int = 4096):
        channels, span = initial.shape
        self.span = span
        self._buffer = torch.empty((channels, span + max(room, span)))
        self._buffer[:, :span] = initial
        self._end = span  # columns in use

    def slot(self, n: int) -> torch.Tensor:
        """Where the next n inputs go, (C, n): write them there, then `commit(n)`. (Lets the
        previous layer compute its output straight into this history, no copy.)"""
        span, end = self.span, self._end
        if end + n > self._buffer.shape[1]:
            tail = self._buffer[:, end - span : end].clone()
            if span + n > self._buffer.shape[1]:
                self._buffer = torch.empty((self._buffer.shape[0], span + n))
            self._buffer[:, :span] = tail
            self._end = end = span
        return self._buffer[:, end : end + n]

    def commit(self, n: int) -> torch.Tensor:
        """After the slot is written: [last span inputs ‖ the n new ones] as a (C, span + n) view."""
        end = self._end
        self._end = end + n
        return self._buffer[:, end - self.span : end + n]

    def extend(self, block: torch.Tensor) -> torch.Tensor:
        """Append block (C, n); return [last span inputs ‖ block] as a (C, span + n) view."""
        n = block.shape[1]
        self.slot(n).copy_(block)
        return self.commit(n)
