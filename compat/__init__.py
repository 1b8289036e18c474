"""Everything about old files: reading, detecting, upgrading and (later) migrating them."""

from .errors import (
    ConfigError,
    CorruptFileError,
    FileAccessError,
    LegacyError,
    UnknownFormatError,
    UnsafeFileError,
    UnsupportedReleaseError,
    WeightsMismatchError,
)
from .checkpoint import read_checkpoint
from .loading import LoadedCheckpoint, load_checkpoint, open_checkpoint

__all__ = [
    "ConfigError",
    "CorruptFileError",
    "FileAccessError",
    "LegacyError",
    "LoadedCheckpoint",
    "UnknownFormatError",
    "UnsafeFileError",
    "UnsupportedReleaseError",
    "WeightsMismatchError",
    "load_checkpoint",
    "open_checkpoint",
    "read_checkpoint",
]
