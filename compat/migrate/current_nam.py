"""Current-NAM `.nam` documents (format "0.7.0", what neural-amp-modeler 0.13.0 writes).

Layout, as 0.13.0's exporter produces it (`json.dump` with default separators, no indent):

    {"version": "0.7.0",
     "metadata": {"date": {year, month, day, hour, minute, second}, "loudness", "gain",
                  [user metadata], [other metadata]},
     "architecture": "LSTM" | "WaveNet" | "ConvNet",
     "config": {...},
     "weights": [float, ...],          # float32 values written as Python floats
     "sample_rate": 48000.0}           # only when known

`loudness`/`gain` are not computed here yet: the caller passes the metadata it wants. Our
own provenance goes into ``metadata["nam_legacy"]`` (current NAM keeps unknown metadata
keys and ignores them).
"""

from __future__ import annotations

import copy
import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Union

import numpy as np

from ..atomic import atomic_write_bytes
from ..errors import NonFiniteWeightsError
from .fold import Folded

__all__ = ["MODEL_VERSION", "PROVENANCE_KEY", "date_metadata", "nam_document", "provenance", "write_nam", "dumps"]

MODEL_VERSION = "0.7.0"  # nam.models._constants.MODEL_VERSION in 0.13.0
PROVENANCE_KEY = "nam_legacy"
_UNSET: Any = object()


def date_metadata(when: Optional[datetime] = None) -> Dict[str, int]:
    """The `metadata.date` object (local time, to the second, like current NAM)."""
    t = datetime.now() if when is None else when
    return {"year": t.year, "month": t.month, "day": t.day, "hour": t.hour, "minute": t.minute, "second": t.second}


def provenance(folded: Folded, legacy=None, **extra: Any) -> Dict[str, Any]:
    """What the migrated file came from: the legacy architecture, knobs, file, release."""
    from nam_legacy import __version__

    block: Dict[str, Any] = {
        "version": __version__,
        "source_architecture": folded.source_architecture,
        "knobs": folded.named_knobs if folded.knob_names else list(folded.knobs),
    }
    if folded.initial_state is not None:
        block["initial_state"] = folded.initial_state
    if legacy is not None:
        fmt = getattr(legacy, "format", None)
        if fmt is not None:
            block["source_format"] = fmt
        detected = getattr(legacy, "detected", None)
        if detected is not None:
            block["source_releases"] = str(detected)
    block.update(extra)
    return block


def nam_document(
    folded: Folded,
    *,
    version: str = MODEL_VERSION,
    metadata: Optional[Mapping[str, Any]] = None,
    provenance: Optional[Mapping[str, Any]] = None,
    sample_rate: Any = _UNSET,
    date: Optional[datetime] = None,
) -> Dict[str, Any]:
    """The `.nam` document of a folded model, keys in current NAM's order.

    :param metadata: the whole metadata object; default ``{"date": ...}`` (now, or `date`).
    :param provenance: placed at ``metadata["nam_legacy"]`` (see `provenance()`); a dict of
        the form ``{"nam_legacy": {...}}`` is accepted too.
    :param sample_rate: default the folded model's; None leaves the key out (as current NAM
        does for models without a rate).
    """
    meta = {"date": date_metadata(date)} if metadata is None else copy.deepcopy(dict(metadata))
    if provenance is not None:
        block = provenance[PROVENANCE_KEY] if set(provenance) == {PROVENANCE_KEY} else provenance
        meta[PROVENANCE_KEY] = copy.deepcopy(dict(block))
    weights = np.asarray(folded.weights)
    if weights.dtype != np.float32 or weights.ndim != 1:
        raise ValueError("folded weights must be a 1-D float32 array")
    document: Dict[str, Any] = {
        "version": version,
        "metadata": meta,
        "architecture": folded.architecture,
        "config": copy.deepcopy(folded.config),
        "weights": weights.tolist(),
    }
    rate = folded.sample_rate if sample_rate is _UNSET else sample_rate
    if rate is not None:
        document["sample_rate"] = float(rate)
    return document


def dumps(document: Mapping[str, Any]) -> str:
    """The text current NAM writes for a document (`json.dump(d, fp)`: default separators)."""
    for value in document.get("weights", ()):
        if not math.isfinite(value):
            # fold refuses NaN weights up front; this is the last guard (e.g. an overflow)
            raise NonFiniteWeightsError("a .nam file cannot hold NaN or infinite weights")
    return json.dumps(document)


def write_nam(path: Union[str, Path], document: Mapping[str, Any]) -> Path:
    """Write `document` to `path` atomically; returns the path."""
    path = Path(path)
    atomic_write_bytes(path, dumps(document).encode("utf-8"))
    return path
