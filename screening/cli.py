"""The `screening` console script: rules-engine commands plus the web application's commands.

Rules commands (screen, rules, lists) never load the Flask app, so they stay fast and work
without a database; app commands (db, demo, users, audit, ...) load it on demand.
"""

from flask.cli import FlaskGroup

import rules.cli


def _create_app():
    from screening import create_app

    return create_app()


main = FlaskGroup(
    name="screening",
    create_app=_create_app,
    add_default_commands=True,
    load_dotenv=False,
    help="Research-collaboration risk screening.",
)
rules.cli.register(main)

try:
    from screening.commands import register as _register_app_commands
except ImportError:  # the web application is optional for rules-only installs
    pass
else:
    _register_app_commands(main)
