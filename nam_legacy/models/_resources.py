"""Where upstream's `loudness_input.wav` lives.

The `.nam` metadata of 0.5.1+ (loudness, gain) is measured on a recording that belongs to
upstream. We do not ship it: we read it from an installed `neural-amp-modeler`
distribution (every release 0.5.1–0.13.0 carries the same file), located through
`importlib.metadata` so that `nam` itself is never imported.
"""

from importlib import metadata
from pathlib import Path

DISTRIBUTION = "neural-amp-modeler"
_RELATIVE = "nam/models/_resources/loudness_input.wav"


class LoudnessInputMissing(FileNotFoundError):
    """No installed neural-amp-modeler distribution provides loudness_input.wav."""


def loudness_input_path() -> Path:
    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        dist = None
    if dist is not None:
        path = Path(dist.locate_file(_RELATIVE))
        if path.is_file():
            return path
    raise LoudnessInputMissing(
        "loudness/gain metadata needs upstream's loudness_input.wav "
        f"(add it with `pip install --no-deps {DISTRIBUTION}==0.7.4`; any release 0.5.1-0.13.0 has it)"
    )
