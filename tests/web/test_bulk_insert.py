"""``core.bulk.insert_rows`` (an import chunk's writer) stores exactly what an ordinary INSERT of the
same rows stores: on SQLite its own executemany, on PostgreSQL COPY (the PostgreSQL pass)."""

from datetime import UTC, datetime

import sqlalchemy as sa

from screening.core import bulk
from screening.core.extensions import db
from screening.portfolio.models import ProposalScreening


def screening_row(proposal_id: int, institution_id: int) -> dict:
    """Every kind of column: integers, text with non-ASCII letters, a NULL, JSON lists and objects
    (a float, a null, a string needing escapes), a UTC timestamp with microseconds."""
    return {"proposal_id": proposal_id, "institution_id": institution_id, "version_number": 3,
            "screened_at": datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), "tier": "high",
            "flag_keys": ["partner_listed:high", "Universität \"Nord\""],
            "flags": [{"rule": "r", "score": 0.875, "note": None, "title": "Zhōngguó \u4e2d\u56fd\n"}],
            "lists": [], "ruleset_version": "2026.11", "ruleset_hash": None, "cause": "import 7"}


def stored(proposal_id: int) -> tuple:
    """The row as the database holds it (on SQLite: the text of timestamps and JSON), its id aside."""
    row = db.session.execute(sa.text("SELECT * FROM proposal_screening WHERE proposal_id = :p"),
                             {"p": proposal_id}).mappings().one()
    return tuple(value for key, value in row.items() if key != "proposal_id")


def test_bulk_rows_are_stored_as_an_ordinary_insert_stores_them(factory):
    institution = factory.institution()
    user = factory.user(institution, "researcher")
    first, second = (factory.proposal(user, institution) for _ in range(2))
    bulk.insert_rows(db.session, ProposalScreening, [screening_row(first.id, institution.id)])
    db.session.execute(sa.insert(ProposalScreening.__table__), [screening_row(second.id, institution.id)])
    assert stored(first.id) == stored(second.id)
