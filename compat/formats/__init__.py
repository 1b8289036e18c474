"""Readers (and, through nam_legacy's own exporters, writers) of every legacy file format.

Each reader turns bytes into a `RawModel`: the parts of a model as the file stores them,
before anything is built. `compat.load` sniffs the format, calls the reader, then builds
the `nam_legacy` model from the parts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import numpy as np
import torch

from ..detect import ReleaseRange


@dataclass
class RawModel:
    format: str  # "ckpt" | "nam" | "export_dir" | "cpp_header"
    architecture: str  # "CatLSTM" | "CatWaveNet" | "HyperConvNet"
    # Constructor config of the architecture, as `init_from_config` takes it (export
    # configs are translated: HyperConvNet's "input_dim" becomes "num_inputs", CatWaveNet's
    # "layers"/"head"/"head_scale" become "layers_configs"/"head_config"/"head_scale",
    # CatLSTM's {"input_size", "hidden_size", "num_layers"} are kept). None for a
    # checkpoint, whose architecture comes from the model config.
    net_config: Optional[Dict[str, Any]]
    releases: ReleaseRange  # releases that could have written the file
    # flat export vector: float32 from .nam files and headers (streamed), float64 from weights.npy
    weights: Optional[np.ndarray] = None
    state_dict: Optional[Dict[str, torch.Tensor]] = None  # checkpoints only
    # {name: {"type", "default_value"[, "minval", "maxval"]}} in the file's own order.
    param_config: Optional[Dict[str, Dict[str, Any]]] = None
    sample_rate: Optional[float] = None
    metadata: Dict[str, Any] = field(default_factory=dict)  # .nam metadata, checkpoint facts
    file_version: Optional[str] = None  # the "version" string the file carries, if any
    warnings: List[str] = field(default_factory=list)
