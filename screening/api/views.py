"""The JSON API and the token pages, registered with the app by :func:`init_app`."""

from flask import Flask

from screening.api import cases, portfolio, proposals, screen, support, token_views  # noqa: F401 - importing a resource attaches its routes to bp
from screening.api.blueprint import bp
from screening.core import security
from screening.core.config import is_production


def init_app(app: Flask) -> None:
    """Register the API and the token pages; the per-token rate limit defaults to 600 a minute."""
    app.config.setdefault("API_RATE_LIMIT", support.DEFAULT_RATE_LIMIT)
    app.config.setdefault("API_AUTH_CACHE_SECONDS", 2 if is_production(app) else 0)
    app.register_blueprint(bp)
    app.register_blueprint(token_views.bp)
    security.answer_errors_under(app, "/api/", support.handle_error)  # no route under /api/: a problem too
