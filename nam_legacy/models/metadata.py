"""Export metadata (0.5.1+): the date block and what users may add.

Upstream used pydantic models; plain dataclasses with the same field names are enough
here, and `dict()`/`model_dump()` give the same dictionaries the two pydantic majors gave.
"""

from dataclasses import asdict, dataclass
from enum import Enum
from typing import Optional

__all__ = ["GearType", "ToneType", "Date", "UserMetadata"]


class GearType(Enum):
    AMP = "amp"
    PEDAL = "pedal"
    PEDAL_AMP = "pedal_amp"  # 0.7.0+
    AMP_CAB = "amp_cab"
    AMP_PEDAL_CAB = "amp_pedal_cab"
    PREAMP = "preamp"
    STUDIO = "studio"


class ToneType(Enum):
    CLEAN = "clean"
    OVERDRIVE = "overdrive"
    CRUNCH = "crunch"
    HI_GAIN = "hi_gain"
    FUZZ = "fuzz"


class _Dumpable:
    def dict(self):
        return asdict(self)

    def model_dump(self):
        return asdict(self)


@dataclass
class Date(_Dumpable):
    year: int
    month: int
    day: int
    hour: int
    minute: int
    second: int


@dataclass
class UserMetadata(_Dumpable):
    name: Optional[str] = None
    modeled_by: Optional[str] = None
    gear_type: Optional[GearType] = None
    gear_make: Optional[str] = None
    gear_model: Optional[str] = None
    tone_type: Optional[ToneType] = None
