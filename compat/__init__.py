"""Everything about old files: detecting, reading, upgrading, loading and writing them."""

from .errors import (
    ConfigError,
    CorruptFileError,
    DependencyError,
    FileAccessError,
    LegacyError,
    NonFiniteWeightsError,
    UnknownFormatError,
    UnsafeFileError,
    UnsupportedReleaseError,
    WeightsMismatchError,
)
from .checkpoint import read_checkpoint
from .loading import LoadedCheckpoint, load_checkpoint, open_checkpoint
from .knobs import KnobError, KnobSpec, OutOfRangeWarning, check_knob_values
from .loader import LegacyModel, load
from .exporter import export

__all__ = [
    "ConfigError",
    "CorruptFileError",
    "DependencyError",
    "FileAccessError",
    "LegacyError",
    "NonFiniteWeightsError",
    "KnobError",
    "KnobSpec",
    "OutOfRangeWarning",
    "check_knob_values",
    "LegacyModel",
    "LoadedCheckpoint",
    "UnknownFormatError",
    "UnsafeFileError",
    "UnsupportedReleaseError",
    "WeightsMismatchError",
    "export",
    "load",
    "load_checkpoint",
    "open_checkpoint",
    "read_checkpoint",
]
