"""``screening demo [--serve]``: migrate, load the demo data once, print the logins, optionally serve."""

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
    from screening.demo import letters as letters_demo
    from screening.demo.data import load_demo

    migrations.upgrade(current_app)
    letters_demo.before_load()  # demo signing keys, so that the demo's letters are signed
    logins, created = load_demo(db.session)
    click.echo("demo data " + ("loaded" if created else "already present"))
    click.echo(letters_demo.after_load(db.session))  # letters for decided and fast-tracked cases
    click.echo(f"demo logins (password for all: {logins['password']}):")
    for inst, rows in logins["institutions"].items():
        click.echo(f"  {inst}")
        for role, email in rows:
            click.echo(f"    {role:22} {email}")
    click.echo(f"  the installation (/admin/installation/): {logins['installation_admin']}")
    if serve:
        serve_app(host, port)
