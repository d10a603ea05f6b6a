"""Access to the rules engine and its taxonomy, loaded once per process and cached on the app."""

import gc
import threading
from functools import lru_cache
from pathlib import Path

import yaml
from flask import current_app

_screener_lock = threading.Lock()


def get_screener():
    """The process-wide :class:`rules.Screener` (``Screener.default()``), cached on the app.

    Built once per process under a lock: without it, each of a worker's threads that answers one
    of the first requests builds its own (seconds of CPU each, all at once on a fresh worker).
    """
    app = current_app._get_current_object()
    screener = app.extensions.get("screener")
    if screener is None:
        with _screener_lock:
            screener = app.extensions.get("screener")
            if screener is None:
                screener = screener_class().default()
                install_screener(app, screener)
    return screener


def install_screener(app, screener) -> None:
    """Make ``screener`` the app's, for the rest of the process or until another replaces it.

    A screener's indexes are some 200,000 objects that live as long as it does. Python's cyclic
    garbage collector walked them all in each full collection: 45 ms, several times during an
    import of a thousand rows, a pause in whatever request was running. Everything alive once the
    screener is built is therefore frozen (``gc.freeze``), out of the collector's sight; the
    screener it replaces is unfrozen first, so that it can still be collected.
    """
    app.extensions["screener"] = screener
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def screener_class():
    """:class:`rules.Screener`, or the subclass a feature installed (operations counts and times it)."""
    from rules import Screener

    return current_app.extensions.get("screener_class", Screener)


def proposal_error_class():
    from rules import ProposalError

    return ProposalError


@lru_cache(maxsize=1)
def technology_areas() -> dict[str, str]:
    try:
        from rules.taxonomy import TECHNOLOGY_AREAS

        return dict(TECHNOLOGY_AREAS)
    except ImportError:  # the engine's taxonomy module not there yet: read its data file
        path = Path(__file__).resolve().parents[2] / "rules" / "data" / "taxonomy.yaml"
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return {key: value["label"] for key, value in data["areas"].items()}


# OECD Fields of Research and Development (Frascati Manual 2015), used until rules.taxonomy has them.
_FORD_FALLBACK = {
    "1.1": "Mathematics", "1.2": "Computer and information sciences", "1.3": "Physical sciences",
    "1.4": "Chemical sciences", "1.5": "Earth and related environmental sciences",
    "1.6": "Biological sciences", "1.7": "Other natural sciences",
    "2.1": "Civil engineering",
    "2.2": "Electrical engineering, electronic engineering, information engineering",
    "2.3": "Mechanical engineering", "2.4": "Chemical engineering", "2.5": "Materials engineering",
    "2.6": "Medical engineering", "2.7": "Environmental engineering", "2.8": "Environmental biotechnology",
    "2.9": "Industrial biotechnology",
    "2.10": "Nano-technology", "2.11": "Other engineering and technologies",
    "3.1": "Basic medicine", "3.2": "Clinical medicine", "3.3": "Health sciences",
    "3.4": "Medical biotechnology", "3.5": "Other medical sciences",
    "4.1": "Agriculture, forestry, and fisheries", "4.2": "Animal and dairy science",
    "4.3": "Veterinary science", "4.4": "Agricultural biotechnology", "4.5": "Other agricultural sciences",
    "5.1": "Psychology and cognitive sciences", "5.2": "Economics and business",
    "5.3": "Education", "5.4": "Sociology", "5.5": "Law", "5.6": "Political science",
    "5.7": "Social and economic geography", "5.8": "Media and communications", "5.9": "Other social sciences",
    "6.1": "History and archaeology",
    "6.2": "Languages and literature", "6.3": "Philosophy, ethics and religion",
    "6.4": "Arts", "6.5": "Other humanities",
}


@lru_cache(maxsize=1)
def ford_fields() -> dict[str, str]:
    try:
        from rules.taxonomy import FORD_FIELDS

        return dict(FORD_FIELDS)
    except ImportError:
        return dict(_FORD_FALLBACK)
