"""Submodule names shared by models, so state_dict keys match upstream's (nam/models/_names.py).

Only WaveNet's `_Head` uses them here; the others are kept because upstream exported them.
"""

ACTIVATION_NAME = "activation"
BATCHNORM_NAME = "batchnorm"
CONV_NAME = "conv"
LAYERNORM_NAME = "layernorm"
