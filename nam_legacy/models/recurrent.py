"""The LSTM of nam/models/recurrent.py, as each release had it.

Release differences (profile fields):
- `lstm_bias_init` (0.4.0): the core is `_L`, whose init shifts the input-gate biases
  down and the forget-gate biases up by 2.
- `lstm_learned_initial_state` (0.4.0): trainable `_initial_cell`/`_initial_hidden`
  (registered in that order) are where every forward starts; 0.3.0 starts from zeros.
- `lstm_cpp_header` (0.4.0): `export_cpp_header` exists (0.3.0 raised).
"""

import json
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Optional, Tuple

import numpy as np
import torch
import torch.nn as nn

from ._base import BaseNet, _sine_snapshot_input

# (hidden, cell), each (num_layers, batch, hidden_size)
_LSTMHiddenType = torch.Tensor
_LSTMCellType = torch.Tensor
_LSTMHiddenCellType = Tuple[_LSTMHiddenType, _LSTMCellType]

_GATE_SHIFT = 2.0


class _L(nn.LSTM):
    """nn.LSTM whose initial biases favour remembering (0.4.0+)."""

    def reset_parameters(self) -> None:
        super().reset_parameters()
        h = self.hidden_size
        for layer in range(self.num_layers):
            for kind in ("ih", "hh"):
                bias = getattr(self, f"bias_{kind}_l{layer}").data
                bias[0:h] -= _GATE_SHIFT  # input gate (PyTorch gate order i, f, g, o)
                bias[h : 2 * h] += _GATE_SHIFT  # forget gate


class LSTM(BaseNet):
    def __init__(
        self,
        hidden_size,
        train_burn_in: Optional[int] = None,
        train_truncate: Optional[int] = None,
        input_size: int = 1,
        sample_rate: Optional[float] = None,
        **lstm_kwargs,
    ):
        """
        :param train_burn_in: in training, the first this many samples only warm the
            state up (their outputs are detached).
        :param train_truncate: in training, backpropagate through chunks this long.
        :param input_size: 1 for audio; CatLSTM uses 1 + number of knobs.
        """
        super().__init__(sample_rate=sample_rate)
        if "batch_first" in lstm_kwargs:
            raise ValueError("batch_first cannot be set.")
        self._input_size = input_size
        core_class = _L if self._release.lstm_bias_init else nn.LSTM
        self._core = core_class(self._input_size, hidden_size, batch_first=True, **lstm_kwargs)
        self._head = nn.Linear(hidden_size, 1)
        self._train_burn_in = train_burn_in
        self._train_truncate = train_truncate
        if self._release.lstm_learned_initial_state:
            shape = (lstm_kwargs.get("num_layers", 1), hidden_size)
            self._initial_cell = nn.Parameter(torch.zeros(shape))
            self._initial_hidden = nn.Parameter(torch.zeros(shape))
        self._get_initial_state_burn_in = 48_000

    @property
    def receptive_field(self) -> int:
        return 1

    @property
    def pad_start_default(self) -> bool:
        return True

    # --- forward ---

    def _forward(
        self, x: torch.Tensor, initial_state: Optional[_LSTMHiddenCellType] = None
    ) -> torch.Tensor:
        """(B, L) or (B, L, D) → (B, L)."""
        if initial_state is not None and not self._release.lstm_initial_state_kwarg:
            raise TypeError(f"_forward() takes no initial_state in {self._release.name}")
        state = self._forward_start_state(len(x), initial_state)
        if x.ndim == 2:
            x = x[:, :, None]
        if not self.training or self._train_truncate is None:
            features = self._core(x, state)[0] if state is not None else self._core(x)[0]
        else:
            features = self._truncated_features(x, state)
        return self._apply_head(features)

    def _forward_start_state(self, n, initial_state):
        if initial_state is not None:
            return initial_state
        if self._release.lstm_learned_initial_state:
            return self._initial_state(n)
        return None  # 0.3.0: nn.LSTM's own zero state

    def _truncated_features(self, x, state):
        """Training-mode pass: optional burn-in, then chunks of `train_truncate` samples."""
        chunks = []
        if self._train_burn_in is not None:
            burn_in_features, state = self._core_from(x[:, : self._train_burn_in, :], state)
            chunks.append(burn_in_features.detach())
        start = 0 if self._train_burn_in is None else self._train_burn_in
        for i in range(start, x.shape[1], self._train_truncate):
            # 0.4.0+ keeps the graph through the burn-in state so the learned initial
            # state gets gradients; 0.3.0 detached every carried-over state.
            keep_graph = i == start and self._release.lstm_learned_initial_state
            if state is not None and not keep_graph:
                state = tuple(z.detach() for z in state)
            features, state = self._core_from(x[:, i : i + self._train_truncate, :], state)
            chunks.append(features)
        return torch.cat(chunks, dim=1)

    def _core_from(self, x, state):
        return self._core(x) if state is None else self._core(x, state)

    def _apply_head(self, features: torch.Tensor) -> torch.Tensor:
        """(B, S, H) → (B, S)."""
        return self._head(features)[:, :, 0]

    def _initial_state(self, n: Optional[int]) -> _LSTMHiddenCellType:
        """The learned state the forward pass starts from, tiled to n sequences."""
        if n is None:
            return self._initial_hidden, self._initial_cell
        return (
            torch.tile(self._initial_hidden[:, None], (1, n, 1)),
            torch.tile(self._initial_cell[:, None], (1, n, 1)),
        )

    # --- export ---

    def _get_initial_state(self, inputs=None) -> _LSTMHiddenCellType:
        """The state a plugin starts from: the core run on silence from the zero state.

        :param inputs: (1, S, input_size); default 48,000 zeros.
        :return: (h, c), each (num_layers, 1, hidden_size).
        """
        if inputs is None:
            inputs = torch.zeros((1, self._get_initial_state_burn_in, 1))
        _, (h, c) = self._core(inputs)
        return h, c

    def _export_cell_weights(self, i: int, hidden_state, cell_state) -> np.ndarray:
        # [W_ih | W_hh] row-major, b_ih + b_hh, then the starting h and c of the layer.
        core = self._core
        tensors = [
            torch.cat([getattr(core, f"weight_ih_l{i}").data, getattr(core, f"weight_hh_l{i}").data], dim=1),
            getattr(core, f"bias_ih_l{i}").data + getattr(core, f"bias_hh_l{i}").data,
            hidden_state,
            cell_state,
        ]
        return np.concatenate([t.detach().cpu().numpy().flatten() for t in tensors])

    def _export_weights(self) -> np.ndarray:
        h, c = self._get_initial_state()
        layers = [self._export_cell_weights(i, hi, ci) for i, (hi, ci) in enumerate(zip(h, c))]
        head = [
            self._head.weight.data.detach().cpu().numpy().flatten(),
            self._head.bias.data.detach().cpu().numpy().flatten(),
        ]
        return np.concatenate(layers + head)

    def _export_config(self):
        return {
            "input_size": self._core.input_size,
            "hidden_size": self._core.hidden_size,
            "num_layers": self._core.num_layers,
        }

    def _export_input_output_030(self, *args, **kwargs):
        # Reached from `_Base._export_input_output` under 0.3.0 only.
        return self._export_input_output_lstm_030(*args, **kwargs)

    def _export_input_output_lstm_030(self, x=None):
        # 0.3.0: the sine signal run from the exported (burn-in) state, head applied
        # per sample of the single sequence.
        if x is None:
            x = self._export_input_signal()[None, :, None]
        features = self._core(x, self._get_initial_state())[0][0]
        y = self._head(features)[:, 0]
        return x[0, :, 0].detach().cpu().numpy(), y.detach().cpu().numpy().flatten()

    def _export_input_signal(self):
        return _sine_snapshot_input()

    def _export_cpp_header_parametric(self, config):
        if config is not None:
            raise ValueError("Got non-None parametric config")
        return ("nlohmann::json PARAMETRIC {};\n",)

    def export_cpp_header(self, filename: Path):
        if not self._release.lstm_cpp_header:
            raise NotImplementedError()
        with TemporaryDirectory() as tmpdir:
            # Like upstream: export for real, then read the numbers back, so the header
            # carries exactly what the export file carried.
            LSTM.export(self, Path(tmpdir))
            version, config, weights = _read_back_export(Path(tmpdir))
        lines = (
            "#pragma once\n",
            "// Automatically-generated model file\n",
            "#include <vector>\n",
            '#include "json.hpp"\n',
            '#include "lstm.h"\n',
            f'#define PYTHON_MODEL_VERSION "{version}"\n',
            f'const int NUM_LAYERS = {config["num_layers"]};\n',
            f'const int INPUT_SIZE = {config["input_size"]};\n',
            f'const int HIDDEN_SIZE = {config["hidden_size"]};\n',
        )
        lines += self._export_cpp_header_parametric(config.get("parametric"))
        lines += ("std::vector<float> PARAMS{" + ", ".join(f"{w:.16f}f" for w in weights) + "};\n",)
        with open(filename, "w") as f:
            f.writelines(lines)

    def export_onnx(self, filename: Path):
        if not self._release.export_onnx:
            return super().export_onnx(filename)
        if self._input_size != 1:
            raise NotImplementedError("Multi-dimensional inputs not supported yet")
        wrapped = _ONNXWrapped(self)
        h, c = [z[:, 0, :] for z in self._initial_state(1)]
        torch.onnx.export(
            wrapped,
            (torch.randn((64,)), h, c),
            filename,
            input_names=["x", "hin", "cin"],
            output_names=["y", "hout", "cout"],
            dynamic_axes={"x": {0: "num_frames"}, "y": {0: "num_frames"}},
        )

    def forward_onnx(self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor):
        """(S,), (L, H), (L, H) → (S,), (L, H), (L, H): one unbatched stream with state."""
        features, (h, c) = self._core(x[None, :, None], (h[:, None, :], c[:, None, :]))
        return self._apply_head(features)[0, :], h[:, 0, :], c[:, 0, :]


class _ONNXWrapped(nn.Module):
    def __init__(self, net: LSTM):
        super().__init__()
        self._net = net

    def forward(self, x, hidden, cell):
        return self._net.forward_onnx(x, hidden, cell)


def _read_back_export(outdir: Path):
    """(version, config, weights) from what `export` just wrote into outdir."""
    nam_files = sorted(outdir.glob("*.nam"))
    if nam_files:
        with open(nam_files[0]) as fp:
            document = json.load(fp)
        return document["version"], document["config"], document["weights"]
    with open(outdir / "config.json") as fp:  # 0.4.0 directory export
        document = json.load(fp)
    return document["version"], document["config"], np.load(outdir / "weights.npy")
