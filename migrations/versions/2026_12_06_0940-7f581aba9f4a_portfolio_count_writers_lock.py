"""portfolio count writers lock: the counting triggers first take the audit chain's lock (PostgreSQL)

Revision ID: 7f581aba9f4a
Revises: c41f7a2e9b03
Create Date: 2026-12-06 09:40:00.000000+00:00

A transaction that changes proposals, partners or fields upserts ``portfolio_count`` rows
statement by statement, and holds them until it commits; two such transactions (a submission and
an import chunk, two import chunks) could lock them in different orders, or lock some and then
queue for the audit chain's advisory lock while the other holds it and wants the same rows: a
deadlock. Now a statement that changes any count first takes that same transaction-wide lock,
so whoever writes counts holds it, and no one ever waits for a count row. See
screening/portfolio/counts.py for the reasoning. SQLite lets one writer in at a time: no change.

Triggers of one event fire in the alphabetical order of their names: ``search_count_0lock_*``
fire before the ``search_count_{proposal,partner,field}_*`` triggers that upsert the counts.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '7f581aba9f4a'
down_revision: str | None = 'c41f7a2e9b03'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# screening.core.audit._LOCK_KEY, the lock that serialises appends to the audit chain.
AUDIT_CHAIN_LOCK = 0x5C12EE

# Only statements that change a count wait: saving a draft's text or touching ``updated_at`` does not.
LOCK_FUNCTION = f"""CREATE FUNCTION search_count_lock() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  counted boolean;
BEGIN
  IF TG_OP = 'INSERT' THEN
    counted := EXISTS (SELECT 1 FROM new_rows);
  ELSIF TG_OP = 'DELETE' THEN
    counted := EXISTS (SELECT 1 FROM old_rows);
  ELSIF TG_TABLE_NAME = 'proposal' THEN
    counted := EXISTS (SELECT 1 FROM new_rows n JOIN old_rows o ON o.id = n.id
                       WHERE (n.institution_id, n.status, n.tier, n.created_at)
                             IS DISTINCT FROM (o.institution_id, o.status, o.tier, o.created_at));
  ELSE
    counted := EXISTS (SELECT 1 FROM new_rows);
  END IF;
  IF counted THEN
    PERFORM pg_advisory_xact_lock({AUDIT_CHAIN_LOCK});
  END IF;
  RETURN NULL;
END $fn$"""

TRANSITION_TABLES = {"INSERT": "NEW TABLE AS new_rows", "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
                     "DELETE": "OLD TABLE AS old_rows"}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(LOCK_FUNCTION)
    for table in ("proposal", "proposal_partner", "proposal_field"):
        for event, tables in TRANSITION_TABLES.items():
            op.execute(f"CREATE TRIGGER search_count_0lock_{event.lower()} AFTER {event} ON {table} "
                       f"REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION search_count_lock()")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION search_count_lock() CASCADE")
