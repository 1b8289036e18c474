"""Migration of legacy parametric models to current NAM (neural-amp-modeler 0.13.0).

`fold(model, knobs)` turns one knob setting of a CatLSTM / CatWaveNet / HyperConvNet into
an ordinary current-NAM LSTM / WaveNet / ConvNet (`Folded`); `nam_document` and
`write_nam` make the `.nam` file current NAM would have written for it. docs/migration.md.
"""

from .current_nam import MODEL_VERSION, date_metadata, dumps, nam_document, provenance, write_nam
from .fold import INITIAL_STATES, Folded, fold

__all__ = [
    "Folded",
    "INITIAL_STATES",
    "MODEL_VERSION",
    "date_metadata",
    "dumps",
    "fold",
    "nam_document",
    "provenance",
    "write_nam",
]
