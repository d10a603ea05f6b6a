"""Language selection and localised formatting helpers for templates."""

from datetime import date, datetime
from functools import lru_cache

from flask import current_app, g, request
from flask_babel import format_date, format_datetime, format_decimal, get_locale, to_user_timezone
from flask_babel import lazy_gettext as _l

LANG_COOKIE = "screening_lang"


def supported() -> list[str]:
    return list(current_app.config["LANGUAGES"])


def select_locale() -> str:
    user = getattr(g, "user", None)
    if user is not None and user.language in supported():
        return user.language
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie in supported():
        return cookie
    return request.accept_languages.best_match(supported()) or current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    return "UTC"


def current_language() -> str:
    return str(get_locale() or "en")


STATUS_LABELS = {
    "draft": _l("Draft"),
    "submitted": _l("Submitted"),
    "screened": _l("Screened"),
    "fast_tracked": _l("Fast-tracked"),
    "in_review": _l("In committee review"),
    "information_requested": _l("Information requested"),
    "decided": _l("Decided"),
    "withdrawn": _l("Withdrawn"),
    "imported": _l("Imported, screening pending"),
}
TIER_LABELS = {"low": _l("Low"), "medium": _l("Medium"), "high": _l("High"), "critical": _l("Critical")}
SEVERITY_LABELS = {"info": _l("Information"), **TIER_LABELS}
ROUTE_LABELS = {"fast_track": _l("Fast track"), "committee": _l("Committee review")}
CATEGORY_LABELS = {
    "partner": _l("Partners"),
    "country": _l("Countries"),
    "field": _l("Research fields and technology"),
    "funding": _l("Funding"),
    "data_transfer": _l("Data transfers"),
    "export_control": _l("Export control"),
}
CATEGORY_ORDER = ["partner", "country", "field", "funding", "data_transfer", "export_control"]
LANGUAGE_NAMES = {"en": "English", "de": "Deutsch"}
ROLE_LABELS = {
    "researcher": _l("Researcher"),
    "committee_member": _l("Committee member"),
    "committee_chair": _l("Committee chair"),
    "external_advisor": _l("External advisor"),
    "international_office": _l("International office"),
    "institution_admin": _l("Institution administrator"),
}


def init_template_helpers(app) -> None:
    app.jinja_env.globals.update(
        STATUS_LABELS=STATUS_LABELS, TIER_LABELS=TIER_LABELS, SEVERITY_LABELS=SEVERITY_LABELS,
        ROUTE_LABELS=ROUTE_LABELS, CATEGORY_LABELS=CATEGORY_LABELS, CATEGORY_ORDER=CATEGORY_ORDER,
        LANGUAGE_NAMES=LANGUAGE_NAMES, ROLE_LABELS=ROLE_LABELS, current_language=current_language,
    )
    app.jinja_env.filters.update(
        datetime=lambda v, fmt="medium": format_datetime(v, fmt) if v else "",
        date=local_date,
        number=lambda v: format_decimal(v) if v is not None else "",
    )


def local_date(value: date | datetime | None, fmt: str = "medium") -> str:
    """``value``'s day in the user's time zone, written in the user's language (the ``date``
    filter); "" for no value."""
    if not value:
        return ""
    day = to_user_timezone(value).date() if isinstance(value, datetime) else value
    return _day_text(day, fmt, str(get_locale()))


@lru_cache(maxsize=2048)
def _day_text(day: date, fmt: str, locale: str) -> str:
    # Babel's formatting is most of the filter's cost, and a list shows the same few days in
    # many rows (a 50-row page: a tenth of its rendering), so each day is written once per language.
    return format_date(day, fmt, rebase=False)
