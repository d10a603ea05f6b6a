"""partner names: each institution's distinct partner names, kept by triggers, for the partner-name filter

Revision ID: 10af48a51a81
Revises: 3b8d1e6f2a47
Create Date: 2026-12-06 21:00:00.000000+00:00

The partner-name filter (``ILIKE '%...%'``) went through a trigram index over every partner row:
a name part as common as "University 12" made it read and recheck thousands of rows, then join
them all to the proposals. Now it matches the part against ``partner_name`` (each name of the
institution once: 3,000 rows where ``proposal_partner`` has 80,000 at 100,000 proposals) and
finds the proposals by those exact names through ``ix_proposal_partner_inst_name``.

Triggers add a name with its first partner row and remove it with its last (PostgreSQL:
statement-level, with transition tables, named to fire after ``search_count_0lock_*``, so a
writer holds the count writers' lock and two writers never race over a name's last row; SQLite:
row-level, one writer at a time). The trigram index moves from ``proposal_partner`` to
``partner_name``: a partner row written by an import no longer updates it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '10af48a51a81'
down_revision: str | None = '3b8d1e6f2a47'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ADD_NEW = """INSERT INTO partner_name (institution_id, name)
    SELECT DISTINCT institution_id, name FROM new_rows ORDER BY institution_id, name
    ON CONFLICT DO NOTHING;"""
# A name goes when no partner row of the institution carries it any more (the check reads the
# table as the statement left it).
REMOVE_OLD = """DELETE FROM partner_name n USING (SELECT DISTINCT institution_id, name FROM old_rows) AS o
    WHERE n.institution_id = o.institution_id AND n.name = o.name
      AND NOT EXISTS (SELECT 1 FROM proposal_partner p WHERE p.institution_id = o.institution_id AND p.name = o.name);"""

PG_FUNCTION = f"""CREATE FUNCTION search_partner_name() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP <> 'DELETE' THEN
    {ADD_NEW}
  END IF;
  IF TG_OP <> 'INSERT' THEN
    {REMOVE_OLD}
  END IF;
  RETURN NULL;
END $fn$"""
PG_TRANSITION_TABLES = {"INSERT": "NEW TABLE AS new_rows", "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
                        "DELETE": "OLD TABLE AS old_rows"}

SQLITE_ADD = "INSERT OR IGNORE INTO partner_name (institution_id, name) VALUES (NEW.institution_id, NEW.name);"
SQLITE_REMOVE = ("DELETE FROM partner_name WHERE institution_id = OLD.institution_id AND name = OLD.name AND NOT EXISTS "
                 "(SELECT 1 FROM proposal_partner p WHERE p.institution_id = OLD.institution_id AND p.name = OLD.name);")
SQLITE_TRIGGERS = {
    "search_partner_name_insert": ("AFTER INSERT", SQLITE_ADD),
    "search_partner_name_delete": ("AFTER DELETE", SQLITE_REMOVE),
    "search_partner_name_update": ("AFTER UPDATE OF institution_id, name", SQLITE_ADD + " " + SQLITE_REMOVE),
}


def _trigram_index(index: str, table: str) -> None:
    """A trigram index on ``table.name`` where the earlier migration could install pg_trgm (the
    operator class named with the extension's schema, whatever schema the tables are in)."""
    schema = op.get_bind().execute(sa.text(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = 'pg_trgm'")).scalar()
    if schema is not None:
        op.execute(f'CREATE INDEX {index} ON {table} USING gin (name "{schema}".gin_trgm_ops)')


def upgrade() -> None:
    op.create_table('partner_name',
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['institution_id'], ['institution.id'],
                            name=op.f('fk_partner_name_institution_id_institution')),
    sa.PrimaryKeyConstraint('institution_id', 'name', name=op.f('pk_partner_name'))
    )
    # Not a batch: a SQLite batch could recreate the table, and its triggers with it.
    op.create_index('ix_proposal_partner_inst_name', 'proposal_partner', ['institution_id', 'name', 'proposal_id'],
                    unique=False)
    op.execute("INSERT INTO partner_name (institution_id, name) "
               "SELECT DISTINCT institution_id, name FROM proposal_partner")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        for event, tables in PG_TRANSITION_TABLES.items():
            op.execute(f"CREATE TRIGGER search_partner_name_{event.lower()} AFTER {event} ON proposal_partner "
                       f"REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION search_partner_name()")
        op.execute("DROP INDEX IF EXISTS search_proposal_partner_name")
        _trigram_index("search_partner_name_trigrams", "partner_name")
    else:
        for name, (when, body) in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {when} ON proposal_partner BEGIN {body} END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION search_partner_name() CASCADE")
        _trigram_index("search_proposal_partner_name", "proposal_partner")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    op.drop_index('ix_proposal_partner_inst_name', 'proposal_partner')
    op.drop_table('partner_name')
