import sys
from pathlib import Path

import torch

# Test helper modules (golden.py, oracle/) are imported by name.
sys.path.insert(0, str(Path(__file__).parent))

# Bit-equality with the releases is defined for one torch thread (reductions such as the
# loudness metadata's mean round differently when split across threads).
torch.set_num_threads(1)
