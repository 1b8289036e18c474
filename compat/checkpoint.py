"""PyTorch-Lightning `.ckpt` files, read without Lightning and without running anything the file asks for."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from . import unpickle
from .errors import CorruptFileError, FileAccessError, LegacyError, UnsafeFileError, describe_value
from .torch_zip import TorchArchive

# What a Lightning checkpoint holds beyond the net: the optimizer state (Adam: two moments per parameter, so twice
# the parameters), scalar callback and loop state. Reading one may inflate at most this much.
CHECKPOINT_COPIES = 4  # net + Adam's two moments, and one spare
CHECKPOINT_SLACK = 64 * 2**20  # bytes for everything that does not scale with the model


def storage_budget(model_bytes: int) -> int:
    """The most a genuine checkpoint of a model with `model_bytes` of state can inflate to."""
    return CHECKPOINT_SLACK + CHECKPOINT_COPIES * model_bytes


def read_checkpoint(path: str | Path, *, max_bytes: Optional[int] = None) -> dict:
    """The checkpoint as plain Python data and CPU tensors (`state_dict` is an OrderedDict of tensors).

    :param max_bytes: refuse the file if its entries inflate to more than this (default and cap:
        `torch_zip.MAX_TOTAL_BYTES`); `storage_budget` gives the figure for a model.

    Raises a `compat.errors.LegacyError` subclass, naming the file, for anything unsafe, damaged or unknown.
    """
    try:
        with TorchArchive(path, max_bytes) as archive:
            checkpoint = unpickle.loads(archive.pickle_bytes(), archive.storage)
        if not isinstance(checkpoint, dict):
            raise CorruptFileError(f"holds {describe_value(checkpoint)}, not a checkpoint dict")
    except LegacyError as e:
        raise type(e)(f"{Path(path).name}: {e}") from None
    except MemoryError:  # the limits above should make this unreachable; never let it escape untyped
        raise UnsafeFileError(f"{Path(path).name}: reading it needs more memory than is available") from None
    except RecursionError:
        raise UnsafeFileError(f"{Path(path).name}: it nests too deeply to read") from None
    except OSError as e:
        raise FileAccessError(f"cannot read {path}: {e.strerror or e}") from None
    return checkpoint
