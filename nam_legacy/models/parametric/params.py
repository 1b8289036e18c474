"""Knob descriptions of nam/models/parametric/params.py (unchanged in every release).

A param config entry looks like `{"type": "continuous", "default_value": 0.5,
"minval": 0.0, "maxval": 1.0}` or `{"type": "boolean", "default_value": false}`.
"""

import abc
import inspect
from dataclasses import dataclass, fields
from typing import Any

from ..._core import InitializableFromConfig


@dataclass
class Param(InitializableFromConfig):
    default_value: Any

    @classmethod
    def init_from_config(cls, config):
        C, kwargs = cls.parse_config(config)
        return C(**kwargs)

    @classmethod
    def parse_config(cls, config):
        # Upstream quirks kept on purpose: the subclass is found by scanning this
        # module's globals, "type" is popped from the *caller's* dict (a second call on
        # the same dict raises KeyError), and the error text has its typo.
        subclasses = [
            C for C in globals().values() if inspect.isclass(C) and C is not Param and issubclass(C, Param)
        ]
        for C in subclasses:
            if C.typestr() == config["type"]:
                config.pop("type")
                return C, config
        raise ValueError(f"Unrecognized aprameter type {config['type']}")

    @abc.abstractclassmethod
    def typestr(cls) -> str:
        """The "type" string of the subclass.

        Marked abstract as upstream did, but Param has no ABCMeta, so this does not stop
        `Param(...)` from being built; on Param itself it returns None.
        """
        return None

    def to_json(self):
        return {"type": self.typestr(), **{f.name: getattr(self, f.name) for f in fields(self)}}


@dataclass
class BooleanParam(Param):
    @classmethod
    def typestr(cls) -> str:
        return "boolean"


@dataclass
class ContinuousParam(Param):
    minval: float
    maxval: float

    @classmethod
    def typestr(self) -> str:  # upstream's spelling: a classmethod whose first argument is named self
        return "continuous"
