"""The one hierarchy of errors that `compat` raises for bad or unsupported input.

Every message is a single line a user can act on; the CLI prints it as is and exits 2.
"""

from __future__ import annotations


class LegacyError(Exception):
    """Base class: anything wrong with a legacy file or its use."""


class FileAccessError(LegacyError):
    """The file cannot be opened or read (missing, a directory, no permission)."""


class UnsafeFileError(LegacyError):
    """The file asks for something we refuse to do (a global outside the allowlist, a bomb)."""


class CorruptFileError(LegacyError):
    """The bytes are not a well-formed file of the format they claim to be."""


class UnknownFormatError(LegacyError):
    """No reader recognises the file."""


class UnsupportedReleaseError(LegacyError):
    """The file comes from a release (or uses a feature) we do not reconstruct."""


class ConfigError(LegacyError):
    """A model, data, learning or param config is missing keys or has bad values."""


class WeightsMismatchError(LegacyError):
    """The weights do not fit the architecture the config describes."""
