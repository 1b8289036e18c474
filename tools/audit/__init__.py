"""`nam-legacy audit`: the API history of upstream's parametric modules, read from git.

Layout, one job per module:

- ``repo``        open a repository, resolve a range, read blobs without a checkout;
- ``surface``     the API surface of one source file (``ast``, cached by blob SHA);
- ``history``     stable-coded changes between two surfaces, commit by commit;
- ``quirks``      the machine-readable entries of docs/quirks.md;
- ``conformance`` nam_legacy's own surface against upstream's at each release;
- ``numeric``     optional: upstream's own code at each release vs nam_legacy, bit for bit;
- ``analysis``    runs the above and assembles the report dict (docs/audit-schema.md);
- ``render``      JSON / markdown / GitHub annotations, no analysis;
- ``command``     the CLI verb (``add_parser`` / ``run``).
"""

SCHEMA = "nam-legacy-audit/1"

#: Upstream modules we mirror (paths inside upstream's repository).
MODULES = (
    "nam/_core.py",
    "nam/data.py",
    "nam/models/_base.py",
    "nam/models/_exportable.py",
    "nam/models/base.py",
    "nam/models/recurrent.py",
    "nam/models/wavenet.py",
    "nam/models/parametric/params.py",
    "nam/models/parametric/catnets.py",
    "nam/models/parametric/hyper_net.py",
)
