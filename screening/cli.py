"""The `screening` console script: rules-engine commands plus the web application's commands.

Rules commands (screen, rules, lists) never load the Flask app, so they stay fast and work
without a database; app commands (db, demo, users, audit, ...) load it on demand.
"""

from flask.cli import FlaskGroup

import rules.cli
from screening.commands import register as register_app_commands


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
register_app_commands(main)
