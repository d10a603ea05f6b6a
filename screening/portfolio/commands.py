"""``screening portfolio ...``: maintenance of the portfolio's search tables."""

import click
from flask.cli import AppGroup
from sqlmodel import select

from screening.core.extensions import db

portfolio_cli = AppGroup("portfolio", help="The international office's portfolio (search tables and counts).")


def _institution_id(slug: str | None) -> int | None:
    from screening.accounts.models import Institution

    if not slug:
        return None
    inst = db.session.exec(select(Institution).where(Institution.slug == slug)).first()
    if inst is None:
        raise click.UsageError(f"no institution {slug!r}")
    return inst.id


@portfolio_cli.command("reindex")
@click.option("--institution", "slug", default=None, help="Only this institution (slug); default: all.")
@click.option("--chunk", default=500, show_default=True, type=click.IntRange(1, 10000),
              help="Proposals per transaction.")
def reindex(slug, chunk):
    """Fill the portfolio's search tables for proposals screened before they existed.

    Run once after upgrading an existing installation (after `screening db upgrade`). Proposals
    that already have their search rows are left alone, so running it again is harmless; it
    commits every CHUNK proposals and can be interrupted and restarted.
    """
    from screening.portfolio.index import reindex_all

    institution_id = _institution_id(slug)
    total = 0
    while True:
        done = reindex_all(db.session, institution_id, limit=chunk)
        db.session.commit()
        db.session.expunge_all()  # keep memory bounded on large installations
        total += done
        if done < chunk:
            break
        click.echo(f"... {total} proposals indexed")
    click.echo(f"portfolio search tables: {total} proposals indexed")


@portfolio_cli.command("recount")
@click.option("--institution", "slug", default=None, help="Only this institution (slug); default: all.")
def recount(slug):
    """Rebuild the dashboard's counts and the partner-name filter's names from the proposals (one transaction).

    Triggers keep both up to date; this is for after a restore from a partial backup or a
    manual repair. On PostgreSQL writers to the proposals wait until it is done (seconds at
    100,000 proposals); readers do not.
    """
    from screening.portfolio import counts

    rows = counts.recount(db.session, _institution_id(slug))
    db.session.commit()
    click.echo(f"portfolio counts rebuilt: {rows} rows")
