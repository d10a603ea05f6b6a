"""The authorisation matrix, assembled from one module per feature.

Each module in this package defines ``SPEC`` (endpoint -> (method, url builder(ids),
expectation(actor, same_institution) or "public"/"any")) and may define
``extend_world(factory, world)`` to create the objects its URLs need and put their ids into
``world["ids"]``. Modules are discovered, so a feature adds its file and edits nothing else.
Expectation helpers shared across features live in ``core``.
"""

import importlib
import pkgutil

MODULES = [
    importlib.import_module(f"{__name__}.{info.name}")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name)
]

SPEC: dict = {}
for _module in MODULES:
    overlap = set(SPEC) & set(_module.SPEC)
    assert not overlap, f"{_module.__name__} redefines {overlap}"
    SPEC.update(_module.SPEC)


def extend_world(factory, world) -> None:
    for module in MODULES:
        if hasattr(module, "extend_world"):
            module.extend_world(factory, world)
