"""``screening retention set|show|run`` and ``screening person export|erase`` (guide: docs/operations.md).

Bad input or a refused operation: exit status 2 and one line on standard error, nothing changed.
"""

import sys
from pathlib import Path
from typing import NoReturn

import click
from flask.cli import AppGroup

from screening.core.extensions import db

retention_cli = AppGroup("retention", help="How long each institution keeps proposals and cases.")
person_cli = AppGroup("person", help="A person's rights: export everything about them, or erase them.")


def _refuse(reason) -> NoReturn:
    """One line, exit status 2; ``reason`` may be a lazily translated message (shown in English here)."""
    from flask_babel import force_locale

    db.session.rollback()
    with force_locale("en"):
        text = str(reason)
    click.echo("error: " + " ".join(text.split()), err=True)
    sys.exit(2)


def _institution(slug: str | None):
    from screening.accounts import service as accounts
    from screening.core.errors import NotFound

    if slug is None:
        return None
    if not slug.isprintable() or len(slug) > 64:
        _refuse(f"no institution {slug!r}")
    try:
        return accounts.get_institution(db.session, slug)
    except NotFound:
        _refuse(f"no institution {slug!r}")


def _period(ctx, param, value: str | None) -> int | None:
    from screening.privacy.retention import parse_period

    if value is None:
        return None
    try:
        return parse_period(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@retention_cli.command("set")
@click.option("--institution", "slug", required=True, help="Institution slug.")
@click.option("--drafts", callback=_period, help="Drafts never submitted, from their last change (e.g. 6m).")
@click.option("--withdrawn", callback=_period, help="Withdrawn proposals, from the withdrawal (e.g. 2y).")
@click.option("--decided", callback=_period, help="Decided cases, from the end of the collaboration (e.g. 10y).")
def retention_set(slug: str, drafts: int | None, withdrawn: int | None, decided: int | None) -> None:
    """Set an institution's retention periods (months: 6m, or years: 10y)."""
    from screening.privacy import retention

    institution = _institution(slug)
    months = {name: value for name, value in (("drafts", drafts), ("withdrawn", withdrawn), ("decided", decided))
              if value is not None}
    if not months:
        _refuse("give at least one of --drafts, --withdrawn, --decided")
    policy = retention.set_policy(db.session, None, institution, months)
    db.session.commit()
    click.echo(f"{slug}: " + _describe(policy))


def _describe(policy) -> str:
    from screening.privacy.models import CATEGORIES
    from screening.privacy.retention import format_period

    return ", ".join(f"{c} {format_period(getattr(policy, f'{c}_months'))}" for c in CATEGORIES)


@retention_cli.command("show")
@click.option("--institution", "slug", help="Only this institution.")
def retention_show(slug: str | None) -> None:
    """Show each institution's retention periods (defaults where none were set)."""
    from sqlmodel import select

    from screening.accounts.models import Institution
    from screening.privacy import retention

    chosen = _institution(slug)
    institutions = [chosen] if chosen else db.session.exec(select(Institution).order_by(Institution.slug)).all()
    for institution in institutions:
        policy = retention.policy_of(db.session, institution.id)
        origin = "" if db.session.get(type(policy), institution.id) else " (defaults)"
        click.echo(f"{institution.slug}: {_describe(policy)}{origin}")


@retention_cli.command("run")
@click.option("--institution", "slug", help="Only this institution.")
@click.option("--dry-run", is_flag=True, help="List what would go, per category; change nothing.")
def retention_run(slug: str | None, dry_run: bool) -> None:
    """Delete expired drafts, pseudonymise expired withdrawn proposals and decided cases."""
    from screening.core.database import utcnow
    from screening.privacy import retention

    institution = _institution(slug)
    now = utcnow()
    if dry_run:
        items = retention.expired(db.session, now, institution)
        db.session.rollback()
        for item in items:
            click.echo(f"{item.category}\t{item.reference}\tsince {item.since.date().isoformat()}")
        click.echo("would remove: " + _counts(retention.counts(items)))
        return
    items = retention.apply(db.session, None, now, institution)
    db.session.commit()
    click.echo("removed: " + _counts(retention.counts(items)))


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{category} {number}" for category, number in counts.items())


@person_cli.command("export")
@click.argument("email")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="The ZIP file to write (new).")
def person_export(email: str, out: Path) -> None:
    """Write everything stored about the person with EMAIL into a ZIP (JSON and their letters)."""
    from screening.core.errors import DomainError
    from screening.privacy import rights

    if out.exists():
        _refuse(f"{out} exists already: choose a new file")
    if not out.parent.is_dir():
        _refuse(f"folder {out.parent} does not exist")
    try:
        person = rights.find_person(db.session, None, email)
        archive = rights.export_person(db.session, None, person)
    except DomainError as exc:
        _refuse(exc)
    db.session.commit()  # the audit row
    try:
        with out.open("xb") as handle:
            handle.write(archive.data)
    except OSError as exc:
        _refuse(f"cannot write {out}: {exc.strerror}")
    click.echo(f"exported {archive.summary} to {out}")


@person_cli.command("erase")
@click.argument("email")
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
def person_erase(email: str, dry_run: bool) -> None:
    """Erase the person with EMAIL: pseudonymise their account and every copy of their name and address."""
    from screening.core.errors import DomainError
    from screening.privacy import rights

    try:
        person = rights.find_person(db.session, None, email)
        outcome = rights.erase_person(db.session, None, person, dry_run=dry_run)
    except DomainError as exc:
        _refuse(exc)
    if dry_run:
        db.session.rollback()
        click.echo("would change: " + _counts(outcome))
        return
    db.session.commit()
    click.echo("erased: " + _counts(outcome))
