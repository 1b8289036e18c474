"""PyTorch-Lightning `.ckpt` files, read without Lightning and without running anything the file asks for."""

from __future__ import annotations

from pathlib import Path

from . import unpickle
from .errors import CorruptFileError, FileAccessError, LegacyError
from .torch_zip import TorchArchive


def read_checkpoint(path: str | Path) -> dict:
    """The checkpoint as plain Python data and CPU tensors (`state_dict` is an OrderedDict of tensors).

    Raises a `compat.errors.LegacyError` subclass, naming the file, for anything unsafe, damaged or unknown.
    """
    try:
        with TorchArchive(path) as archive:
            checkpoint = unpickle.loads(archive.pickle_bytes(), archive.storage)
        if not isinstance(checkpoint, dict):
            raise CorruptFileError(f"holds a {type(checkpoint).__name__}, not a checkpoint dict")
    except LegacyError as e:
        raise type(e)(f"{Path(path).name}: {e}") from None
    except OSError as e:
        raise FileAccessError(f"cannot read {path}: {e.strerror or e}") from None
    return checkpoint
