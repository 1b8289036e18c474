"""CatLSTM as a stream: the LSTM's (h, c) carried from block to block.

Each block runs through the model's own `nn.LSTM` in one call (as the offline forward runs
the whole sequence), then its linear head; the input rows are `[x(t); knobs(t)]` exactly as
`_CatMixin._forward` builds them. Start state: the one the offline forward starts from —
the learned `_initial_hidden/_initial_cell` (checkpoints of 0.4.0+), the burn-in state a
.nam file or header stores (loaded into the same parameters), or zeros (models built as 0.3.0).
"""

from __future__ import annotations

import torch

from .knobs import KnobBlock
from .processor import StreamProcessor


def initial_state(model) -> tuple:
    """(h, c), each (num_layers, 1, hidden): where the model's forward pass starts."""
    state = model._forward_start_state(1, None)
    if state is None:  # 0.3.0 starts from nn.LSTM's zero state
        core = model._core
        zeros = torch.zeros((core.num_layers, 1, core.hidden_size))
        return zeros, zeros.clone()
    return tuple(s.detach().clone() for s in state)


class LSTMStream(StreamProcessor):
    architecture = "CatLSTM"

    def _reset_state(self) -> None:
        self._state = initial_state(self.model)

    def _run(self, x: torch.Tensor, knobs: KnobBlock) -> torch.Tensor:
        n = x.shape[0]
        d = self.knob_count
        augmented = torch.empty((1, n, 1 + d))
        augmented[0, :, 0] = x
        if knobs.curves is None:
            augmented[0, :, 1:] = torch.from_numpy(knobs.constant)
        else:
            augmented[0, :, 1:] = torch.from_numpy(knobs.curves)
        features, self._state = self.model._core(augmented, self._state)
        return self.model._head(features)[0, :, 0]
