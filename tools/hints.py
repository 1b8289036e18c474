"""The CLI's spelling of the remedies compat errors name by kind (`LegacyError.hint`):
the library's messages name no option, so the API and the CLI each add their own."""

from __future__ import annotations

from .output import exception_text

FLAG_HINTS = {
    "extrapolate": "pass --extrapolate to run it anyway",
    "param-config": "give them with --param-config",
}


def error_text(error: BaseException) -> str:
    """The error's message, followed by the CLI flag for its hint, if it has one."""
    text = exception_text(error)
    hint = FLAG_HINTS.get(getattr(error, "hint", None))
    return f"{text} ({hint})" if hint else text
