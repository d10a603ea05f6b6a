"""The web application's commands for the ``screening`` console script.

``register(cli)`` adds them to the FlaskGroup in ``screening/cli.py``.
"""

import getpass
import secrets
import sys

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from screening.errors import DomainError
from screening.extensions import db

db_cli = AppGroup("db", help="Database schema (Alembic migrations).")
institutions_cli = AppGroup("institutions", help="Institutions hosted by this installation.")
users_cli = AppGroup("users", help="User accounts and roles.")
audit_cli = AppGroup("audit", help="The hash-chained audit trail.")
outbox_cli = AppGroup("outbox", help="Side effects waiting to be run by Celery workers.")


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision):
    """Apply migrations up to REVISION (default: head)."""
    from screening import db as migrations

    migrations.upgrade(current_app, revision)
    click.echo(f"database at {revision}")


@db_cli.command("revision")
@click.option("-m", "--message", required=True)
def db_revision(message):
    """Autogenerate a migration from the models (developers)."""
    from screening import db as migrations

    migrations.revision(current_app, message)


@institutions_cli.command("create")
@click.argument("slug")
@click.argument("name")
def institutions_create(slug, name):
    """Create an institution with a short SLUG and a display NAME."""
    from screening.services import accounts

    try:
        inst = accounts.create_institution(db.session, None, slug, name)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    click.echo(f"institution {inst.slug} created (id {inst.id})")


def _password_option(password: str | None, generate: bool) -> str:
    if generate:
        return secrets.token_urlsafe(12)
    if password:
        return password
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat: "):
        raise click.ClickException("passwords do not match")
    return first


@users_cli.command("create")
@click.argument("email")
@click.option("--name", required=True)
@click.option("--institution", "slug", required=True, help="Institution slug.")
@click.option("--role", "roles", multiple=True, required=True,
              help="researcher, committee_member, committee_chair, external_advisor, "
                   "international_office or institution_admin (repeatable).")
@click.option("--password", envvar="SCREENING_NEW_PASSWORD", help="Else prompted (or read from stdin).")
@click.option("--generate-password", is_flag=True, help="Generate and print a password.")
def users_create(email, name, slug, roles, password, generate_password):
    """Create a user with roles in one institution."""
    from screening.services import accounts

    secret = _password_option(password, generate_password)
    try:
        inst = accounts.get_institution(db.session, slug)
        user = accounts.create_user(db.session, None, inst, email, name, secret, list(roles))
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    click.echo(f"user {user.email} created in {inst.slug} with roles {', '.join(roles)}")
    if generate_password:
        click.echo(f"password: {secret}")


@users_cli.command("grant")
@click.argument("email")
@click.option("--institution", "slug", required=True)
@click.option("--role", required=True)
@click.option("--allow-other-institution", is_flag=True,
              help="Administrator's decision to let this user hold roles in more than one institution.")
def users_grant(email, slug, role, allow_other_institution):
    """Give an existing user a role."""
    from screening.services import accounts

    try:
        user = accounts.get_user_by_email(db.session, email)
        if allow_other_institution:
            user.multi_institution = True
        accounts.grant_role(db.session, None, user, accounts.get_institution(db.session, slug), role)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc) or type(exc).__name__) from exc
    click.echo(f"{email}: {role} in {slug}")


@users_cli.command("reset-password")
@click.argument("email")
@click.option("--password", envvar="SCREENING_NEW_PASSWORD")
@click.option("--generate-password", is_flag=True)
def users_reset_password(email, password, generate_password):
    """Set a new password; ends every session of the user."""
    from screening.services import accounts

    secret = _password_option(password, generate_password)
    try:
        user = accounts.get_user_by_email(db.session, email)
        accounts.set_password(db.session, None, user, secret)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc) or "no such user") from exc
    click.echo(f"password of {user.email} reset; sessions ended")
    if generate_password:
        click.echo(f"password: {secret}")


@users_cli.command("disable")
@click.argument("email")
def users_disable(email):
    """Disable an account and end its sessions."""
    from screening.services import accounts

    try:
        user = accounts.get_user_by_email(db.session, email)
        accounts.set_active(db.session, None, user, False)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException("no such user") from exc
    click.echo(f"{user.email} disabled")


@audit_cli.command("verify")
def audit_verify():
    """Check the audit chain; exit 1 naming the first broken sequence number."""
    from screening.services import audit

    try:
        result = audit.verify(db.session)
    except SQLAlchemyError as exc:
        raise click.ClickException("cannot read the audit trail (run `screening db upgrade` first?)") from exc
    if result.ok:
        click.echo(f"audit trail intact: {result.checked} events")
        return
    click.echo(f"audit trail BROKEN at seq {result.broken_seq}: {result.reason} "
               f"({result.checked} events verified before it)", err=True)
    sys.exit(1)


@click.command("demo")
@click.option("--serve", is_flag=True, help="Start the web server afterwards.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@with_appcontext
def demo_command(serve, host, port):
    """Migrate, load demo data (once), print the demo logins; optionally serve."""
    from screening import db as migrations
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
        _serve(host, port)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@with_appcontext
def serve_command(host, port):
    """Serve the embedded installation (development server; use gunicorn in production)."""
    _serve(host, port)


def _serve(host, port):
    from werkzeug.serving import run_simple

    # The command's own session must not keep a transaction open while the server runs: on
    # SQLite that transaction holds the write lock and every request would time out waiting.
    db.session.close()
    click.echo(f"serving on http://{host}:{port}/  (Ctrl-C to stop)")
    run_simple(host, port, current_app._get_current_object(), threaded=True, use_reloader=False)


@outbox_cli.command("sweep")
@click.option("--older-than", type=int, default=300, show_default=True, help="Seconds a message may wait.")
def outbox_sweep(older_than):
    """Republish outbox messages left pending (also run every minute by Celery beat)."""
    from datetime import timedelta

    from screening import outbox

    ids = outbox.sweep(db.session, timedelta(seconds=older_than))
    click.echo(f"republished {len(ids)} message(s)" + (f": {', '.join(map(str, ids))}" if ids else ""))


@outbox_cli.command("status")
def outbox_status():
    """Count outbox messages by status and list the failed ones."""
    from sqlalchemy import func, select

    from screening.models import OutboxMessage

    counts = db.session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ).all()
    click.echo(", ".join(f"{status}: {count}" for status, count in sorted(counts)) or "empty")
    for message in db.session.scalars(select(OutboxMessage).where(OutboxMessage.status == "failed")):
        click.echo(f"failed #{message.id} {message.task} after {message.attempts} attempts: {message.last_error}")


def register(cli: click.Group) -> None:
    from screening.portfolio.commands import portfolio_cli
    from screening.sso.commands import sso_cli

    for command in (db_cli, institutions_cli, users_cli, audit_cli, outbox_cli, demo_command, serve_command,
                    portfolio_cli, sso_cli):
        cli.add_command(command)
