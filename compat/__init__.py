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
from .knobs import KnobError, KnobSpec, OutOfRangeWarning, check_knob_values

# The loaders pull in torch (a second or more to import): made on first use, so that what
# only needs the errors, knobs or output rules (the CLI's argument parsing, --help) starts
# at once. `from compat import load` works as before.
_LAZY = {
    "read_checkpoint": ".checkpoint",
    "LoadedCheckpoint": ".loading",
    "load_checkpoint": ".loading",
    "open_checkpoint": ".loading",
    "LegacyModel": ".loader",
    "load": ".loader",
    "export": ".exporter",
}


def __getattr__(name):
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
