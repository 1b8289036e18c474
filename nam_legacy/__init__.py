"""The parametric API of Neural Amp Modeler 0.3.0–ae86979, rebuilt at upstream's module paths.

`nam_legacy.models.parametric.catnets` mirrors `nam.models.parametric.catnets`, and so on.
Behaviour that changed between releases is looked up in `nam_legacy.releases`.
"""

import logging

from .releases import RELEASES, current_release, get_release, use_release

__all__ = ["RELEASES", "current_release", "get_release", "use_release"]
__version__ = "0.1.0"

# A library logs and never prints: modules log to getLogger(__name__) and nothing here
# configures output. Without a handler anywhere, Python's last-resort handler would write
# WARNING records (upstream's "Nominal settings aren't defined ...", a dozen per export) to
# stderr; the NullHandler stops that. Applications that configure logging still get them.
logging.getLogger(__name__).addHandler(logging.NullHandler())
