"""`Exportable`: the export interface of nam/models/_exportable.py, every release's variant.

The container a release wrote is a profile field (`export_container`):
- "directory" (0.3.0, 0.4.0): `config.json` (indent 4) + `weights.npy`, and always a
  snapshot (`inputs.npy`, `outputs.npy`, `input.wav`, `output.wav`).
- "nam" (0.5.0+): one JSON file. 0.5.0 wrote `model.nam` indented, without metadata;
  from 0.5.1 the dict comes from `_get_export_dict()` (version, metadata, architecture,
  config, weights[, sample_rate]) written compactly as `<basename>.nam`.
"""

import abc
import json
import logging
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np

from ..data import np_to_wav
from ..releases import ReleaseProfile, current_release
from .metadata import Date, UserMetadata

logger = logging.getLogger(__name__)


def _cast_enums(d: Dict[Any, Any]) -> Dict[Any, Any]:
    # Upstream replaced Enum *values* (not keys) by their `.value`.
    return {k: (v.value if isinstance(v, Enum) else v) for k, v in d.items()}


def _dump_user_metadata(release: ReleaseProfile, user_metadata: UserMetadata) -> dict:
    dump = getattr(user_metadata, release.user_metadata_dump or "dict")
    return _cast_enums(dump())


class Exportable(abc.ABC):
    @property
    def _export_release(self) -> ReleaseProfile:
        # Models remember the release they were built under; other exportables follow
        # whatever is active now.
        return getattr(self, "_release", None) or current_release()

    def export(
        self,
        outdir: Path,
        include_snapshot: bool = False,
        basename: str = "model",
        user_metadata: Optional[UserMetadata] = None,
    ):
        release = self._export_release
        if not release.export_include_snapshot_flag and include_snapshot:
            raise TypeError(f"export() takes no include_snapshot in {release.name}")
        if not release.export_basename and (basename != "model" or user_metadata):
            raise TypeError(f"export() takes no basename/user_metadata in {release.name}")
        if release.export_container == "directory":
            return self._export_directory(Path(outdir), release)
        return self._export_nam(Path(outdir), release, include_snapshot, basename, user_metadata)

    def _export_directory(self, outdir: Path, release: ReleaseProfile):
        was_training = self.training
        self.eval()
        document = {
            "version": release.package_version,
            "architecture": type(self).__name__,
            "config": self._export_config(),
        }
        with open(outdir / "config.json", "w") as fp:
            json.dump(document, fp, indent=4)
        np.save(outdir / "weights.npy", self._export_weights())
        x, y = self._export_input_output()
        np.save(outdir / "inputs.npy", x)
        np.save(outdir / "outputs.npy", y)
        np_to_wav(x, outdir / "input.wav")
        np_to_wav(y, outdir / "output.wav")
        self.train(was_training)

    def _export_nam(self, outdir, release, include_snapshot, basename, user_metadata):
        was_training = self.training
        if release.metadata_in_export:
            # From 0.5.1 the dict (weights and metadata included) is built before the
            # switch to eval mode, i.e. in whatever mode the caller left the model.
            document = self._get_export_dict()
            if user_metadata is not None:
                document["metadata"].update(_dump_user_metadata(release, user_metadata))
            self.eval()
        else:
            self.eval()
            document = {
                "version": release.nam_file_version,
                "architecture": type(self).__name__,
                "config": self._export_config(),
                "weights": self._export_weights().tolist(),
            }
        with open(outdir / f"{basename}.nam", "w") as fp:
            json.dump(document, fp, indent=release.nam_indent)
        if include_snapshot:
            x, y = self._export_input_output()
            np.save(outdir / "test_inputs.npy", x)
            np.save(outdir / "test_outputs.npy", y)
        self.train(was_training)

    @abc.abstractmethod
    def export_cpp_header(self, filename: Path):
        """Write a C++ header with the weights spelled out, for compiling into a plugin."""

    def export_onnx(self, filename: Path):
        raise NotImplementedError(
            f"Exporting to ONNX is not supported for models of type {type(self).__name__}"
        )

    def import_weights(self, weights: Sequence[float]):
        raise NotImplementedError(
            f"Importing weights for models of type {type(self).__name__} isn't implemented yet."
        )

    @abc.abstractmethod
    def _export_config(self):
        """JSON-serialisable architecture hyperparameters."""

    @abc.abstractmethod
    def _export_input_output(self) -> Tuple[np.ndarray, np.ndarray]:
        """A test input and the model's output for it."""

    @abc.abstractmethod
    def _export_weights(self) -> np.ndarray:
        """Every exported number, flattened into one vector."""

    def _get_export_dict(self):
        return {
            "version": self._export_release.nam_file_version,
            "metadata": self._get_non_user_metadata(),
            "architecture": type(self).__name__,
            "config": self._export_config(),
            "weights": self._export_weights().tolist(),
        }

    def _get_non_user_metadata(self) -> Dict[str, Union[str, int, float]]:
        t = self._export_now()
        date = Date(t.year, t.month, t.day, t.hour, t.minute, t.second)
        return {"date": date.dict()}

    def _export_now(self) -> datetime:
        # One seam for byte-stable exports: compat may pin the date here.
        return getattr(self, "_export_fixed_date", None) or datetime.now()
