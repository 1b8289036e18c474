"""Everything about old files: reading, detecting, upgrading and (later) migrating them."""

from .errors import (
    ConfigError,
    CorruptFileError,
    LegacyError,
    UnknownFormatError,
    UnsafeFileError,
    UnsupportedReleaseError,
    WeightsMismatchError,
)
from .loading import LoadedCheckpoint, load_checkpoint, open_checkpoint

__all__ = [
    "ConfigError",
    "CorruptFileError",
    "LegacyError",
    "LoadedCheckpoint",
    "UnknownFormatError",
    "UnsafeFileError",
    "UnsupportedReleaseError",
    "WeightsMismatchError",
    "load_checkpoint",
    "open_checkpoint",
]
