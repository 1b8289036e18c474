"""Activations by name, as configs spell them (nam/models/_activations.py)."""

import torch.nn as nn


def get_activation(name: str) -> nn.Module:
    """A fresh instance of the `torch.nn` class called `name` (e.g. "Tanh"), default args."""
    return getattr(nn, name)()
