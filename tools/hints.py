"""The CLI's spelling of the remedies compat errors name by kind (`LegacyError.hint`):
the library's messages name no option, so the API and the CLI each add their own."""

from __future__ import annotations

import re

from .output import exception_text

FLAG_HINTS = {
    "extrapolate": "pass --extrapolate to run it anyway",
    "param-config": "give them with --param-config",
}


# The option that gave the file an error is about (`LegacyError.role`): `--param-config p.json ...`.
FLAG_FILES = {
    "config": "--config",
    "input": "--input",
    "param-config": "--param-config",
}


def error_text(error: BaseException) -> str:
    """The error's message, led by the option that gave its file and followed by the CLI
    flag for its hint, as it has them."""
    text = exception_text(error)
    flag = FLAG_FILES.get(getattr(error, "role", None))
    if flag:  # `--param-config p.json is not valid JSON`, `--param-config: cannot read p.json: ...`
        named = getattr(error, "named", None)
        first = re.match(r"[^\s:]*", text).group()  # the file's path or name, when the message starts with it
        text = f"{flag} {text}" if named and first.endswith(named) else f"{flag}: {text}"
    hint = FLAG_HINTS.get(getattr(error, "hint", None))
    return f"{text} ({hint})" if hint else text
