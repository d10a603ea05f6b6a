"""The `screening` console script: rules-engine commands plus the web application's commands.

Rules commands (screen, rules, lists) never load the Flask app, so they stay fast and work
without a database; app commands (db, demo, users, audit, ...) load it on demand.
"""

from flask.cli import FlaskGroup

import rules.cli


def register_app_commands(cli: FlaskGroup) -> None:
    """The web application's commands; each imports its services only when it runs."""
    from screening.accounts.commands import institutions_cli, users_cli
    from screening.core.commands import audit_cli, db_cli, outbox_cli, serve_command
    from screening.demo.commands import demo_command
    from screening.portfolio.commands import portfolio_cli
    from screening.privacy.commands import person_cli, retention_cli
    from screening.sso.commands import sso_cli

    for command in (db_cli, institutions_cli, users_cli, audit_cli, outbox_cli, demo_command, serve_command,
                    portfolio_cli, sso_cli, retention_cli, person_cli):
        cli.add_command(command)


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
