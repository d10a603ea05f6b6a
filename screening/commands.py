"""The web application's commands for the ``screening`` console script.

``register(cli)`` adds them to the FlaskGroup in ``screening/cli.py``.
"""


import click
from flask import current_app
from flask.cli import with_appcontext

from screening.core.commands import serve as serve_app
from screening.core.extensions import db


@click.command("demo")
@click.option("--serve", is_flag=True, help="Start the web server afterwards.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@with_appcontext
def demo_command(serve, host, port):
    """Migrate, load demo data (once), print the demo logins; optionally serve."""
    from screening.core import migrations
    from screening.demo import load_demo

    migrations.upgrade(current_app)
    from screening.documents import demo as letters_demo

    letters_demo.before_load()  # demo signing keys, so that the demo's letters are signed
    logins, created = load_demo(db.session)
    click.echo("demo data " + ("loaded" if created else "already present"))
    click.echo(letters_demo.after_load(db.session))  # letters for decided and fast-tracked cases
    click.echo(f"demo logins (password for all: {logins['password']}):")
    for inst, rows in logins["institutions"].items():
        click.echo(f"  {inst}")
        for role, email in rows:
            click.echo(f"    {role:22} {email}")
    if serve:
        serve_app(host, port)


def register(cli: click.Group) -> None:
    from screening.accounts.commands import institutions_cli, users_cli
    from screening.core.commands import audit_cli, db_cli, outbox_cli, serve_command
    from screening.portfolio.commands import portfolio_cli

    for command in (db_cli, institutions_cli, users_cli, audit_cli, outbox_cli, demo_command, serve_command,
                    portfolio_cli):
        cli.add_command(command)
