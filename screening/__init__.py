"""The screening web application: ``create_app`` assembles the core and one package per feature."""

from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from screening.core import config as config_mod


class DatabaseIdConverter(IntegerConverter):
    """``<int:...>`` in URLs stops at the largest id a database column holds.

    A larger number is simply no route (404) instead of an integer overflow in the database (500).
    """

    def __init__(self, url_map, fixed_digits: int = 0, min: int | None = None, max: int | None = None,
                 signed: bool = False) -> None:
        super().__init__(url_map, fixed_digits=fixed_digits, min=min, max=2**31 - 1 if max is None else max,
                         signed=signed)


def _register_tasks() -> None:
    """Every Celery task and outbox handler, so that a worker (``screening.celery_app`` builds the app)
    knows the same tasks as the web process."""
    from screening.core import outbox  # noqa: F401 - the outbox runner and sweeper
    from screening.documents import tasks as _letters  # noqa: F401 - documents.render_*
    from screening.notifications import tasks as _mail  # noqa: F401 - mail.send
    from screening.portfolio import tasks as _portfolio  # noqa: F401 - import, re-screen, report, monitor
    from screening.privacy import tasks as _privacy  # noqa: F401 - retention (beat), letter files
    from screening.review import tasks as _review  # noqa: F401 - overdue notices (beat)


def create_app(config: dict | None = None) -> Flask:
    """Build the application.

    Configuration: defaults in code; then ``SCREENING_*`` environment variables, or, when
    ``config`` is given (tests), that dict instead. Production refuses unsafe settings.
    """
    project_root = Path(__file__).resolve().parent.parent
    app = Flask(__name__, instance_relative_config=True, instance_path=str(project_root / "instance"),
                template_folder=str(project_root / "templates"))
    app.config.update(config_mod.defaults(app.instance_path))
    if config is None:
        app.config.from_prefixed_env("SCREENING")
    else:
        app.config.update(config)
    config_mod.finalise(app)
    config_mod.check_production(app)
    if not config_mod.is_production(app):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.url_map.strict_slashes = True
    app.url_map.converters["int"] = DatabaseIdConverter

    from screening.core.extensions import babel, csrf, init_celery, init_db, limiter
    from screening.core.i18n import select_locale, select_timezone

    init_db(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    limiter.init_app(app)
    init_celery(app)

    _register_tasks()
    from screening.accounts import access
    from screening.core import security

    security.init_app(app)  # request id and input checks first,
    access.init_app(app)  # then the current user

    from screening.accounts import views as auth
    from screening.admin import installation_views as installation
    from screening.admin import views as admin
    from screening.api import views as api
    from screening.core import views as main
    from screening.documents import views as documents
    from screening.notifications import views as notifications
    from screening.portfolio import views as portfolio
    from screening.privacy import views as privacy
    from screening.proposals import views as proposals
    from screening.review import views as review
    from screening.sso import views as sso

    app.register_blueprint(main.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(proposals.bp)
    app.register_blueprint(review.bp)  # committee review
    app.register_blueprint(notifications.bp)  # undelivered mail, for institution admins
    api.init_app(app)  # JSON API + token pages
    app.register_blueprint(portfolio.bp)  # international office
    app.register_blueprint(documents.bp)  # letters, /verify
    app.register_blueprint(sso.bp)  # single sign-on (docs/sso.md)
    app.register_blueprint(admin.bp)  # institution administration (docs/web.md)
    app.register_blueprint(installation.bp)  # the installation's institutions (docs/web.md)
    app.register_blueprint(privacy.bp)  # retention periods, a person's data (docs/operations.md)

    from screening.core.i18n import init_template_helpers

    init_template_helpers(app)
    from screening import operations

    operations.init_app(app)  # health, metrics, logs, backup
    hops = int(app.config["TRUSTED_PROXY_HOPS"])
    if hops:  # the client's address and scheme as the proxy saw them (throttling, logs, Secure redirects),
        # outermost, so that every middleware below it (the API's lean screening path) sees them too
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    return app
