"""``screening documents ...``: demo signing keys, missing letters, checking a file, failed letters.

Registered on the documents blueprint's command group (:mod:`screening.documents.views`).
"""

from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlmodel import select

from screening.accounts.models import Institution
from screening.core.extensions import db
from screening.core.models import OutboxMessage
from screening.documents import config, letters, verification
from screening.documents.models import GeneratedDocument


@click.command("demo-signing-key")
@click.option("--institution", "slugs", multiple=True, help="Slug (repeatable); default: every institution.")
@with_appcontext
def demo_signing_key_command(slugs):
    """Create self-signed demo signing keys (instance/signing/<slug>/) for institutions without one."""
    rows = db.session.exec(select(Institution).order_by(Institution.id)).all()
    chosen = [(i.slug, i.name) for i in rows if not slugs or i.slug in slugs]
    unknown = set(slugs) - {slug for slug, _name in chosen}
    if unknown:
        raise click.UsageError(f"unknown institution(s): {', '.join(sorted(unknown))}")
    made = config.create_demo_signing_keys(db.session, chosen)
    click.echo(f"created {len(made)} demo signing key(s)" + "".join(f"\n  {p}" for p in made))
    click.echo("letters rendered from now on are signed (self-signed: for demonstrations only)")


@click.command("request-missing")
@with_appcontext
def request_missing_command():
    """Request letters for current decisions and fast-tracked proposals that have none."""
    ids = letters.request_missing_letters(db.session)
    db.session.commit()
    click.echo(f"requested {len(ids)} letter(s)")


@click.command("verify")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def verify_command(path):
    """Check a PDF file against the letters issued here (exit 1 if it is not one)."""
    result = verification.verify_bytes(db.session, Path(path).read_bytes())
    if result is None:
        click.echo("NOT a letter issued by this installation (or it was changed)")
        raise SystemExit(1)
    click.echo(f"authentic: {result.kind} {result.reference} of {result.issued_on.isoformat()} "
               f"({result.decision or 'cleared'}){' - superseded' if result.superseded else ''}")


@click.command("failed")
@with_appcontext
def failed_command():
    """List letters whose rendering failed for good (retry them on the admin page or the case page)."""
    rows = db.session.exec(select(GeneratedDocument, OutboxMessage)
                           .join(OutboxMessage, OutboxMessage.id == GeneratedDocument.outbox_message_id)
                           .where(OutboxMessage.status == "failed").order_by(GeneratedDocument.id)).all()
    for doc, message in rows:
        click.echo(f"document #{doc.id} {doc.kind} proposal {doc.proposal_id} institution {doc.institution_id}: "
                   f"{message.last_error}")
    click.echo(f"{len(rows)} failed letter(s)")


ALL = (demo_signing_key_command, request_missing_command, verify_command, failed_command)
