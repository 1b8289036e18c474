"""The one hierarchy of errors that `compat` raises for bad or unsupported input.

Every message is a single printable line a user can act on, made safe when the error is
built (compat.text): control characters, line separators, bidi overrides and lone
surrogates escaped visibly, the whole clipped to MESSAGE_LIMIT characters around an
ellipsis. The CLI prints it as is and exits 2.

Entry points that take a file (`compat.load`, `open_checkpoint`, the readers) name it:
`names_file` / `naming` prefix any LegacyError that escapes without the file's name
(``amp.nam: ...``). Code building a message from file contents uses `quote(value)` for a
value and `describe_value(obj)` for an object of unknown type (its type and size, never
its str or repr, which an attacker's structure can make arbitrarily slow).
"""

from __future__ import annotations

import functools
import os
import re
from contextlib import contextmanager
from typing import Any, Iterator, Optional

from .text import MESSAGE_LIMIT, clip, describe_value, one_line, quote

__all__ = [
    "ConfigError", "CorruptFileError", "DependencyError", "FileAccessError", "LegacyError", "MESSAGE_LIMIT", "UnknownFormatError",
    "NonFiniteWeightsError", "UnsafeFileError", "UnsupportedReleaseError", "WeightsMismatchError", "describe_value", "names_file",
    "naming", "one_line", "quote",
]

_NAME_LIMIT = 80  # a file name in a prefix: clipped, keeping its extension


class LegacyError(Exception):
    """Base class: anything wrong with a legacy file or its use.

    `hint` names a remedy the message leaves to its caller, because each caller spells it
    differently: "extrapolate" (allow continuous knobs outside their range: the API's
    `allow_out_of_range=True`, the CLI's `--extrapolate`) or "param-config" (give the
    knobs' param config: the API's `param_config=`, the CLI's `--param-config`). The
    message itself names no option; the CLI appends its flag (tools/hints.py).
    """

    hint: Optional[str] = None

    def __init__(self, message: Any = "", *, hint: Optional[str] = None):
        self.hint = hint
        text = message if isinstance(message, str) else describe_value(message)
        if len(text) > 2 * MESSAGE_LIMIT + 1:
            # Only the first and last MESSAGE_LIMIT characters can be shown (compat.text).
            text = text[:MESSAGE_LIMIT] + "…" + text[-MESSAGE_LIMIT:]
        self._text = text
        self.file: Optional[str] = None  # the file's shown name, once an entry point added it
        # Once a file was found to be the one at fault (`naming`), no outer entry point names
        # another: a bad --param-config is its own file's error, not the model's. `role`
        # says which of a command's inputs it is ("config", "param-config"), for the CLI
        # to name the option (tools/hints.py).
        self.named: Optional[str] = None  # the name of the file at fault, once known
        self.role: Optional[str] = None
        super().__init__(str(self))

    def __str__(self) -> str:
        text = getattr(self, "_text", None)
        if text is None:  # built without our __init__ (e.g. copy.copy): show args safely
            text = self.args[0] if len(self.args) == 1 and isinstance(self.args[0], str) else describe_value(self.args)
        if getattr(self, "file", None):
            text = f"{self.file}: {text}"
        return one_line(text)

    def name_file(self, path: Any, role: Optional[str] = None) -> "LegacyError":
        """Prefix the name of `path` unless the message names a file already, or an inner
        entry point already named the file at fault."""
        if getattr(self, "file", None) or getattr(self, "named", False) or not isinstance(path, (str, os.PathLike)):
            return self
        name = file_label(path)
        if name and not _mentions(getattr(self, "_text", ""), name):
            self.file = clip(name, _NAME_LIMIT)
            self.args = (str(self),)
        self.named, self.role = clip(name, _NAME_LIMIT) if name else None, role
        return self


def file_label(path: Any) -> str:
    """The name a message uses for `path`: its last component (the whole path if it has none)."""
    try:
        text = os.fspath(path)
    except TypeError:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "surrogateescape")
    name = os.path.basename(text.rstrip("/\\")) or text
    return name


def _mentions(text: str, name: str) -> bool:
    """Whether `name` stands as a file name near the start of `text` (where clipping keeps it).

    It must stand apart (after a space, quote, slash or the start) and be followed by
    punctuation or the end, or by a space when it looks like a file name (has a dot): so
    "a bad byte" does not name a file called "a", and "amp.nam is ..." names amp.nam.
    """
    head = text[: MESSAGE_LIMIT // 2 + len(name)]
    after = r"(?:$|[:'\",;)`]|\s)" if "." in name else r"(?:$|[:'\",;)`])"
    return re.search(r"(?:^|[\s'\"/\\(`])" + re.escape(name) + after, head) is not None


@contextmanager
def naming(path: Any, role: Optional[str] = None) -> Iterator[None]:
    """Any LegacyError raised inside names `path` (a str or PathLike; other values are
    ignored) and no other file; `role` says which input it is (LegacyError.role)."""
    try:
        yield
    except LegacyError as e:
        e.name_file(path, role)
        raise


def names_file(func):
    """Decorator for an entry point whose first argument is the file it reads."""

    @functools.wraps(func)
    def wrapper(path, *args, **kwargs):
        with naming(path):
            return func(path, *args, **kwargs)

    return wrapper


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


class DependencyError(LegacyError):
    """A package a feature needs is missing or broken (e.g. current NAM for `compat.migrate.register`)."""


class NonFiniteWeightsError(ConfigError, ValueError):
    """The model's weights hold NaN or infinite values (a diverged training run): it can only
    output NaN, so nothing is migrated, packed or exported from it (compat/finite.py). Also a
    ValueError, which the writers raised for it before."""
