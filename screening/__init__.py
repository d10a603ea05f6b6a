"""The screening web application."""

from pathlib import Path

from flask import Flask
from werkzeug.routing import IntegerConverter

from screening import config as config_mod


class DatabaseIdConverter(IntegerConverter):
    """``<int:...>`` in URLs stops at the largest id a database column holds.

    A larger number is simply no route (404) instead of an integer overflow in the database (500).
    """

    def __init__(self, url_map, fixed_digits: int = 0, min: int | None = None, max: int | None = None,
                 signed: bool = False) -> None:
        super().__init__(url_map, fixed_digits=fixed_digits, min=min, max=2**31 - 1 if max is None else max,
                         signed=signed)


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

    from screening.extensions import babel, csrf, init_celery, init_db, limiter
    from screening.i18n import select_locale, select_timezone

    init_db(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    limiter.init_app(app)
    init_celery(app)

    import screening.tasks  # noqa: F401 - registers outbox handlers and Celery tasks
    from screening.web import security

    security.init_app(app)

    from screening.blueprints import auth, main, proposals

    app.register_blueprint(main.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(proposals.bp)
    app.register_blueprint(__import__("screening.blueprints.review", fromlist=["bp"]).bp)  # committee review
    __import__("screening.blueprints.api", fromlist=["init_app"]).init_app(app)  # JSON API + token pages
    app.register_blueprint(__import__("screening.blueprints.reports", fromlist=["bp"]).bp)  # international office
    app.register_blueprint(__import__("screening.blueprints.documents", fromlist=["bp"]).bp)  # letters, /verify
    app.register_blueprint(__import__("screening.sso.views", fromlist=["bp"]).bp)  # single sign-on (docs/sso.md)

    from screening.i18n import init_template_helpers

    init_template_helpers(app)
    __import__("screening.operations", fromlist=["init_app"]).init_app(app)  # health, metrics, logs, backup
    return app
