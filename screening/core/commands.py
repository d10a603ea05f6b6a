"""Commands of the core: ``screening db``, ``audit``, ``outbox`` and ``serve``."""

import sys

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from screening.core.extensions import db

db_cli = AppGroup("db", help="Database schema (Alembic migrations).")
audit_cli = AppGroup("audit", help="The hash-chained audit trail.")
outbox_cli = AppGroup("outbox", help="Side effects waiting to be run by Celery workers.")


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision):
    """Apply migrations up to REVISION (default: head)."""
    from screening.core import migrations

    migrations.upgrade(current_app, revision)
    click.echo(f"database at {revision}")


@db_cli.command("revision")
@click.option("-m", "--message", required=True)
def db_revision(message):
    """Autogenerate a migration from the models (developers)."""
    from screening.core import migrations

    migrations.revision(current_app, message)


@audit_cli.command("verify")
def audit_verify():
    """Check the audit chain; exit 1 naming the first broken sequence number."""
    from screening.core import audit

    try:
        result = audit.verify(db.session)
    except SQLAlchemyError as exc:
        raise click.ClickException("cannot read the audit trail (run `screening db upgrade` first?)") from exc
    if result.ok:
        pseudonymised = f" ({result.pseudonymised} pseudonymised)" if result.pseudonymised else ""
        click.echo(f"audit trail intact: {result.checked} events{pseudonymised}")
        return
    click.echo(f"audit trail BROKEN at seq {result.broken_seq}: {result.reason} "
               f"({result.checked} events verified before it)", err=True)
    sys.exit(1)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@with_appcontext
def serve_command(host, port):
    """Serve the embedded installation (development server; use gunicorn in production)."""
    serve(host, port)


def serve(host, port):
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

    from screening.core import outbox

    ids = outbox.sweep(db.session, timedelta(seconds=older_than))
    click.echo(f"republished {len(ids)} message(s)" + (f": {', '.join(map(str, ids))}" if ids else ""))


@outbox_cli.command("status")
def outbox_status():
    """Count outbox messages by status and list the failed ones."""
    from sqlalchemy import func, select

    from screening.core.models import OutboxMessage

    counts = db.session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ).all()
    click.echo(", ".join(f"{status}: {count}" for status, count in sorted(counts)) or "empty")
    for message in db.session.scalars(select(OutboxMessage).where(OutboxMessage.status == "failed")):
        click.echo(f"failed #{message.id} {message.task} after {message.attempts} attempts: {message.last_error}")
