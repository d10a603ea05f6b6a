"""The JSON API and the token pages, registered with the app by :func:`init_app`."""

from flask import Flask

from screening.accounts import access
from screening.api import cases, lean_screen, portfolio, proposals, screen, support, token_cache, token_views  # noqa: F401 - importing a resource attaches its routes to bp
from screening.api.blueprint import bp
from screening.core import security
from screening.core.config import is_production


def init_app(app: Flask) -> None:
    """Register the API and the token pages; the per-token rate limit defaults to 600 a minute.

    Token answers are cached per worker in production (:mod:`screening.api.token_cache`): an
    entry lives at most a second, and a change of access made through the application reaches
    every worker within a quarter of a second.
    """
    app.config.setdefault("API_RATE_LIMIT", support.DEFAULT_RATE_LIMIT)
    app.config.setdefault("API_AUTH_CACHE_SECONDS", 1 if is_production(app) else 0)
    app.config.setdefault("API_AUTH_REFRESH_SECONDS", 0.25)
    app.config.setdefault("API_LEAN_SCREEN", True)  # with the token cache only (lean_screen)
    token_cache.watch_access_changes()
    app.register_blueprint(bp)
    access.no_session_under(app, "/api/")  # bearer tokens only: no session cookie is read or set
    app.register_blueprint(token_views.bp)
    security.answer_errors_under(app, "/api/", support.handle_error)  # no route under /api/: a problem too
    lean_screen.install(app)
