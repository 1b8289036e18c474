"""`InitializableFromConfig`, the config-driven constructor mixin of nam/_core.py."""

from copy import deepcopy

from .releases import current_release


class InitializableFromConfig(object):
    @classmethod
    def init_from_config(cls, config):
        return cls(**cls.parse_config(config))

    @classmethod
    def parse_config(cls, config):
        # Until 413d031 (0.5.1) the caller's dict itself was handed on, so whatever a
        # subclass popped from it was gone for the caller too.
        return deepcopy(config) if current_release().parse_config_deepcopies else config
