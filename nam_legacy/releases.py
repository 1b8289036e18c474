"""Release profiles: what changed between the upstream releases, as data.

One row per upstream release that shipped the parametric models (0.3.0 … 0.7.4, plus the
last commit before their removal, ae86979). A model captures the profile that is active
when it is constructed (see :func:`use_release`) and consults it wherever upstream
behaviour differs between releases. The default is ae86979, the final state of the code.

Each field names the upstream commit that introduced the behaviour, so the table can be
audited against the history.
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass, replace
from typing import Iterator, Optional, Tuple, Union

from packaging.version import Version


@dataclass(frozen=True)
class ReleaseProfile:
    name: str  # tag without the "v", or the commit for ae86979
    version: Version  # ae86979 sorts after 0.7.4 as "0.7.4+ae86979"
    commit: str
    date: str
    package_version: str  # what nam/_version.py said

    # nam/_core.py
    parse_config_deepcopies: bool  # 413d031 (0.5.1)

    # nam/models/_base.py, _exportable.py
    sample_rate_attribute: bool  # f743c03 (0.7.0): ctor kwarg + plain attribute
    sample_rate_buffers: bool  # a284650 (0.7.4): `_has_sample_rate`/`_sample_rate` buffers
    forward_kwargs: bool  # dd51f16 (0.7.0) BaseNet; e61ebb5 (0.7.3) ParametricBaseNet
    parametric_forward_kwargs: bool  # e61ebb5 (0.7.3)
    snapshot_signal: str  # "noise" (0.3.0: RF+13 N(0,1) samples) or "sine" (50c247a, 0.4.0)
    metadata_in_export: bool  # 2928d24/5304a28 (0.5.1): date, loudness, gain
    user_metadata_dump: Optional[str]  # "dict" (pydantic v1) / "model_dump" (aec1c69)
    export_onnx: bool  # f850933 (0.5.0)
    import_weights_api: bool  # 00cf582 (0.6.0)

    # Export container for CatLSTM/CatWaveNet
    export_container: str  # "directory" (≤0.4.0) or "nam" (148f754, 0.5.0)
    export_include_snapshot_flag: bool  # a1ad297 (0.5.0)
    export_basename: bool  # a94215d/5c16c76 (0.5.1): basename + user_metadata kwargs
    nam_file_version: Optional[str]  # "version" field of .nam files
    nam_indent: Optional[int]  # 4 in 0.5.0, compact from 83886bd (0.5.1)
    nam_sample_rate_key: bool  # f743c03 (0.7.0): trailing "sample_rate"

    # nam/models/recurrent.py
    lstm_bias_init: bool  # 50c247a (0.4.0): input gate -2, forget gate +2
    lstm_learned_initial_state: bool  # 50c247a (0.4.0)
    lstm_cpp_header: bool  # 50c247a (0.4.0)
    lstm_initial_state_kwarg: bool  # dd51f16 (0.7.0): `_forward(x, initial_state=None)`

    # nam/models/parametric
    has_catwavenet: bool  # 50c247a (0.4.0)
    catlstm_nominal_settings: bool  # 5304a28 (0.5.1): identity `_at_nominal_settings`

    # nam/data.py
    data_type_key: bool  # 90c2add (0.7.4): `"type": "parametric"` (old key deprecated)
    data_slice_delay: bool  # 25f1639 (0.5.0): per-slice "delay"
    data_delay_interpolation: bool  # 039e858 (0.5.0): `delay_interpolation_method`
    data_rate_and_presilence: bool  # 0.6.0: `rate`, `require_input_pre_silence`
    data_parse_config_forwards_rest: bool  # bdeed78/ce232d3 (ae86979): slices break
    data_concat_lookup: bool  # 50c247a (0.4.0): ConcatDataset index table (KeyError past the end)
    data_input_validation: bool  # 1caec25/148ca8f (0.5.0): XYError/StartStopError, `input_gain`
    data_wav_rate_arg: bool  # 75b6b14/413d031 (0.5.1): `wav_to_np(rate=...)`, shape-mismatch message
    data_sample_rate: bool  # f743c03 (0.7.0): Dataset `sample_rate` (kwarg + property), `rate` deprecated
    data_any_sampwidth: bool  # 4c71ff4 (0.7.4): any bit depth, x's own rate becomes `sample_rate`

    @property
    def has_sample_rate(self) -> bool:
        return self.sample_rate_attribute or self.sample_rate_buffers


def _v(text: str) -> Version:
    return Version(text)


_V030 = ReleaseProfile(
    name="0.3.0",
    version=_v("0.3.0"),
    commit="ced3ec4",
    date="2022-07-20",
    package_version="0.3.0",
    parse_config_deepcopies=False,
    sample_rate_attribute=False,
    sample_rate_buffers=False,
    forward_kwargs=False,
    parametric_forward_kwargs=False,
    snapshot_signal="noise",
    metadata_in_export=False,
    user_metadata_dump=None,
    export_onnx=False,
    import_weights_api=False,
    export_container="directory",
    export_include_snapshot_flag=False,
    export_basename=False,
    nam_file_version=None,
    nam_indent=None,
    nam_sample_rate_key=False,
    lstm_bias_init=False,
    lstm_learned_initial_state=False,
    lstm_cpp_header=False,
    lstm_initial_state_kwarg=False,
    has_catwavenet=False,
    catlstm_nominal_settings=False,
    data_type_key=False,
    data_slice_delay=False,
    data_delay_interpolation=False,
    data_rate_and_presilence=False,
    data_parse_config_forwards_rest=False,
    data_concat_lookup=False,
    data_input_validation=False,
    data_wav_rate_arg=False,
    data_sample_rate=False,
    data_any_sampwidth=False,
)
_V040 = replace(
    _V030,
    name="0.4.0",
    version=_v("0.4.0"),
    commit="50c247a",
    date="2022-09-03",
    package_version="0.4.0",
    snapshot_signal="sine",
    lstm_bias_init=True,
    lstm_learned_initial_state=True,
    lstm_cpp_header=True,
    has_catwavenet=True,
    data_concat_lookup=True,
)
_V050 = replace(
    _V040,
    name="0.5.0",
    version=_v("0.5.0"),
    commit="8191f36",
    date="2023-02-25",
    package_version="0.5.0",
    export_onnx=True,
    export_container="nam",
    export_include_snapshot_flag=True,
    nam_file_version="0.5.0",
    nam_indent=4,
    data_slice_delay=True,
    data_delay_interpolation=True,
    data_input_validation=True,
)
_V051 = replace(
    _V050,
    name="0.5.1",
    version=_v("0.5.1"),
    commit="c6e88df",
    date="2023-04-25",
    package_version="0.5.1",
    parse_config_deepcopies=True,
    metadata_in_export=True,
    user_metadata_dump="dict",
    export_basename=True,
    nam_file_version="0.5.1",
    nam_indent=None,
    catlstm_nominal_settings=True,
    data_wav_rate_arg=True,
)
# f1888dd: the file version is decoupled from the package version ("0.5.1").
_V052 = replace(
    _V051,
    name="0.5.2",
    version=_v("0.5.2"),
    commit="f1888dd",
    date="2023-04-26",
    package_version="0.5.2",
)
_V060 = replace(
    _V052,
    name="0.6.0",
    version=_v("0.6.0"),
    commit="cd44809",
    date="2023-06-11",
    package_version="0.6.0",
    import_weights_api=True,
    data_rate_and_presilence=True,
)
_V070 = replace(
    _V060,
    name="0.7.0",
    version=_v("0.7.0"),
    commit="3cf65f5",
    date="2023-06-27",
    package_version="0.7.0",
    sample_rate_attribute=True,
    forward_kwargs=True,
    nam_file_version="0.5.2",
    nam_sample_rate_key=True,
    lstm_initial_state_kwarg=True,
    data_sample_rate=True,
)
_V071 = replace(_V070, name="0.7.1", version=_v("0.7.1"), commit="5245fd1", date="2023-07-26", package_version="0.7.1")
_V072 = replace(_V070, name="0.7.2", version=_v("0.7.2"), commit="06547c8", date="2023-07-27", package_version="0.7.2")
_V073 = replace(
    _V070,
    name="0.7.3",
    version=_v("0.7.3"),
    commit="6ff5d9c",
    date="2023-11-06",
    package_version="0.7.3",
    parametric_forward_kwargs=True,
)
_V074 = replace(
    _V073,
    name="0.7.4",
    version=_v("0.7.4"),
    commit="4835350",
    date="2024-01-12",
    package_version="0.7.4",
    sample_rate_attribute=False,
    sample_rate_buffers=True,
    data_type_key=True,
    data_any_sampwidth=True,
)
_AE86979 = replace(
    _V074,
    name="ae86979",
    version=_v("0.7.4+ae86979"),
    commit="ae86979",
    date="2024-01-14",
    user_metadata_dump="model_dump",
    data_parse_config_forwards_rest=True,
)

#: Every profile, oldest first.
RELEASES: Tuple[ReleaseProfile, ...] = (
    _V030,
    _V040,
    _V050,
    _V051,
    _V052,
    _V060,
    _V070,
    _V071,
    _V072,
    _V073,
    _V074,
    _AE86979,
)
DEFAULT: ReleaseProfile = _AE86979

_BY_NAME = {r.name: r for r in RELEASES}
_BY_NAME.update({r.commit: r for r in RELEASES})
_BY_NAME.update({"v" + r.name: r for r in RELEASES if r.name[0].isdigit()})
_BY_VERSION = {r.version: r for r in RELEASES}


def get_release(key: Union[str, Version, ReleaseProfile]) -> ReleaseProfile:
    """Look a profile up by name ("0.5.1", "v0.5.1", "ae86979", a commit) or Version."""
    if isinstance(key, ReleaseProfile):
        return key
    if isinstance(key, Version):
        found = _BY_VERSION.get(key)
    else:
        found = _BY_NAME.get(str(key).strip())
        if found is None:
            try:
                found = _BY_VERSION.get(Version(str(key)))
            except ValueError:
                found = None
    if found is None:
        known = ", ".join(r.name for r in RELEASES)
        raise KeyError(f"unknown release {key!r}; known: {known}")
    return found


_ACTIVE: contextvars.ContextVar[ReleaseProfile] = contextvars.ContextVar(
    "nam_legacy_release", default=DEFAULT
)


def current_release() -> ReleaseProfile:
    """The profile that models constructed now will follow."""
    return _ACTIVE.get()


@contextlib.contextmanager
def use_release(key: Union[str, Version, ReleaseProfile]) -> Iterator[ReleaseProfile]:
    """Build models as the given release did, for the duration of the block."""
    token = _ACTIVE.set(get_release(key))
    try:
        yield _ACTIVE.get()
    finally:
        _ACTIVE.reset(token)
