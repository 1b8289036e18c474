"""The parametric API of Neural Amp Modeler 0.3.0–ae86979, rebuilt at upstream's module paths.

`nam_legacy.models.parametric.catnets` mirrors `nam.models.parametric.catnets`, and so on.
Behaviour that changed between releases is looked up in `nam_legacy.releases`.
"""

from .releases import RELEASES, current_release, get_release, use_release

__all__ = ["RELEASES", "current_release", "get_release", "use_release"]
__version__ = "0.1.0"
