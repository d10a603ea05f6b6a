"""The process's screener: kept out of the garbage collector's walks while installed, freed once replaced."""

import gc
import weakref

from screening.core.engine import install_screener


class StandIn:
    """In place of a screener: it holds a reference cycle, as a real one does (its caches hold its
    own methods), so only the cyclic collector can free it."""

    def __init__(self):
        self.itself = self


def test_an_installed_screener_is_out_of_the_collectors_sight_and_freed_once_replaced(app):
    original = app.extensions.get("screener")
    try:
        first = StandIn()
        gone = weakref.ref(first)
        install_screener(app, first)
        app.extensions["screener"] = None
        del first
        gc.collect()
        assert gone() is not None  # frozen: a full collection no longer walks it
        install_screener(app, StandIn())
        gc.collect()
        assert gone() is None  # unfrozen when replaced, so collected
    finally:
        app.extensions["screener"] = original
        gc.unfreeze()
