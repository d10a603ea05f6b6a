"""portfolio search and counts: proposal_text with full-text indexes, portfolio_count kept by triggers

Revision ID: c7d2e4f1a9b3
Revises: 314ad782d98e
Create Date: 2026-12-06 09:15:00.000000+00:00

Everything dialect-specific is plain DDL here, never in the models: on PostgreSQL a GIN index over
the 'simple', English and German text-search vectors of ``proposal_text.body`` and statement-level
triggers (with transition tables, so a multi-row INSERT or COPY costs one aggregate per statement);
on SQLite an FTS5 table with the Porter stemmer kept in step by triggers, and row-level triggers.
Raw-DDL objects that autogenerate must leave alone are named ``search_*``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = 'c7d2e4f1a9b3'
down_revision: str | None = '314ad782d98e'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNT_KEY = "institution_id, dimension, key, tier"

# --- PostgreSQL -------------------------------------------------------------------------------

PG_UPSERT = f"""
    INSERT INTO portfolio_count AS c ({COUNT_KEY}, n)
    SELECT {COUNT_KEY}, sum(n) FROM ({{delta}}) AS d ({COUNT_KEY}, n)
    GROUP BY {COUNT_KEY} HAVING sum(n) <> 0
    ORDER BY {COUNT_KEY}
    ON CONFLICT ({COUNT_KEY}) DO UPDATE SET n = c.n + excluded.n;"""


def _pg_function(name: str, branches: dict[str, str]) -> str:
    """A statement-level trigger function: one grouped upsert of the deltas of the firing operation."""
    body = "\n  ELSIF ".join(f"TG_OP = '{op_}' THEN {PG_UPSERT.format(delta=delta)}" for op_, delta in branches.items())
    return f"""CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF {body}
  END IF;
  RETURN NULL;
END $fn$"""


# The dashboard's ageing of open cases: open proposals per day filed (UTC).
OPEN_STATES = "('submitted', 'screened', 'in_review', 'information_requested', 'imported')"


def _pg_status(rows: str, sign: int) -> str:
    return (f"SELECT institution_id, 'status' AS dimension, status AS key, coalesce(tier, '') AS tier, {sign} AS n "
            f"FROM {rows} UNION ALL "
            f"SELECT institution_id, 'opened', to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), '', {sign} "
            f"FROM {rows} WHERE status IN {OPEN_STATES}")


# A proposal's countries move with its tier.
PG_COUNTRY_RETIER = """
    SELECT r.institution_id, 'country', c.country, coalesce(r.tier, ''), r.sign
    FROM (SELECT n.id, n.institution_id, n.tier, 1 AS sign FROM new_rows n JOIN old_rows o ON o.id = n.id
          WHERE o.tier IS DISTINCT FROM n.tier
          UNION ALL
          SELECT o.id, o.institution_id, o.tier, -1 FROM new_rows n JOIN old_rows o ON o.id = n.id
          WHERE o.tier IS DISTINCT FROM n.tier) AS r
    CROSS JOIN LATERAL (SELECT DISTINCT country FROM proposal_partner WHERE proposal_id = r.id) AS c"""

# Partner rows: the (proposal, country) and (proposal, list entry) pairs of the touched proposals
# after the statement against before it; a pair counts once however many partners carry it.
PG_PARTNER_DELTA = """
    WITH touched AS (SELECT DISTINCT proposal_id FROM {changed}),
    after_rows AS (SELECT id, proposal_id, institution_id, country, listed_entry FROM proposal_partner
                   WHERE proposal_id IN (SELECT proposal_id FROM touched)),
    before_rows AS ({before}),
    countries AS (
        (SELECT proposal_id, institution_id, country, 1 AS n FROM (
            SELECT proposal_id, institution_id, country FROM after_rows
            EXCEPT SELECT proposal_id, institution_id, country FROM before_rows) AS a)
        UNION ALL
        (SELECT proposal_id, institution_id, country, -1 FROM (
            SELECT proposal_id, institution_id, country FROM before_rows
            EXCEPT SELECT proposal_id, institution_id, country FROM after_rows) AS b)),
    listed AS (
        (SELECT institution_id, listed_entry, 1 AS n FROM (
            SELECT proposal_id, institution_id, listed_entry FROM after_rows WHERE listed_entry IS NOT NULL
            EXCEPT SELECT proposal_id, institution_id, listed_entry FROM before_rows) AS a)
        UNION ALL
        (SELECT institution_id, listed_entry, -1 FROM (
            SELECT proposal_id, institution_id, listed_entry FROM before_rows WHERE listed_entry IS NOT NULL
            EXCEPT SELECT proposal_id, institution_id, listed_entry FROM after_rows) AS b))
    SELECT c.institution_id, 'country' AS dimension, c.country AS key, coalesce(p.tier, '') AS tier, c.n
    FROM countries c JOIN proposal p ON p.id = c.proposal_id
    UNION ALL
    SELECT institution_id, 'listed', listed_entry, '', n FROM listed"""
PG_PARTNER_COLUMNS = "id, proposal_id, institution_id, country, listed_entry"
# NOT EXISTS, not NOT IN: an anti-join stays linear when a COPY brings a million rows.
PG_AFTER_WITHOUT_NEW = "SELECT * FROM after_rows a WHERE NOT EXISTS (SELECT 1 FROM new_rows x WHERE x.id = a.id)"
PG_OLD = f"SELECT {PG_PARTNER_COLUMNS} FROM old_rows"


def _pg_field(rows: str, sign: int) -> str:
    return f"SELECT institution_id, 'field', code, '', {sign} FROM {rows}"


PG_TRIGGERS = [
    _pg_function("search_count_proposal", {
        "INSERT": _pg_status("new_rows", 1),
        "DELETE": _pg_status("old_rows", -1),
        "UPDATE": f"{_pg_status('new_rows', 1)} UNION ALL {_pg_status('old_rows', -1)} UNION ALL {PG_COUNTRY_RETIER}",
    }),
    _pg_function("search_count_partner", {
        "INSERT": PG_PARTNER_DELTA.format(changed="new_rows", before=PG_AFTER_WITHOUT_NEW),
        "DELETE": PG_PARTNER_DELTA.format(changed="old_rows", before=f"SELECT * FROM after_rows UNION ALL {PG_OLD}"),
        "UPDATE": PG_PARTNER_DELTA.format(
            changed="(SELECT proposal_id FROM new_rows UNION SELECT proposal_id FROM old_rows) AS changed",
            before=f"{PG_AFTER_WITHOUT_NEW} UNION ALL {PG_OLD}"),
    }),
    _pg_function("search_count_field", {
        "INSERT": _pg_field("new_rows", 1),
        "DELETE": _pg_field("old_rows", -1),
        "UPDATE": f"{_pg_field('new_rows', 1)} UNION ALL {_pg_field('old_rows', -1)}",
    }),
    # A proposal's partner rows go before it, while its tier is still there to count them by.
    """CREATE FUNCTION search_count_proposal_gone() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  DELETE FROM proposal_partner WHERE proposal_id = OLD.id;
  RETURN OLD;
END $fn$""",
    "CREATE TRIGGER search_count_proposal_gone BEFORE DELETE ON proposal "
    "FOR EACH ROW EXECUTE FUNCTION search_count_proposal_gone()",
]
for _table, _function in (("proposal", "search_count_proposal"), ("proposal_partner", "search_count_partner"),
                          ("proposal_field", "search_count_field")):
    PG_TRIGGERS += [
        f"CREATE TRIGGER {_function}_insert AFTER INSERT ON {_table} REFERENCING NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {_function}()",
        f"CREATE TRIGGER {_function}_update AFTER UPDATE ON {_table} "
        f"REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {_function}()",
        f"CREATE TRIGGER {_function}_delete AFTER DELETE ON {_table} REFERENCING OLD TABLE AS old_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {_function}()",
    ]

# 'simple' finds every word and prefix as written; the English and German stems find inflected forms.
# Stored, not an expression index: a query matching half the portfolio then reads vectors instead
# of parsing every text three times.
PG_SEARCH = [
    """CREATE FUNCTION search_proposal_text_words() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  NEW.words := to_tsvector('simple', NEW.body) || to_tsvector('english', NEW.body)
               || to_tsvector('german', NEW.body);
  RETURN NEW;
END $fn$""",
    "CREATE TRIGGER search_proposal_text_words BEFORE INSERT OR UPDATE OF body ON proposal_text "
    "FOR EACH ROW EXECUTE FUNCTION search_proposal_text_words()",
    "CREATE INDEX search_proposal_text_words ON proposal_text USING gin (words)",
]



def _partner_name_trigrams() -> None:
    """The partner-name filter (``ILIKE '%...%'``) through a trigram index, where pg_trgm can be had.

    The extension is one per database: made in ``public`` unless it exists already, and its
    operator class named with the schema it lives in, whatever schema the tables are in. Without
    it (not installed, or no right to create it) the filter still works, by a scan.
    """
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")).first() is None:
        return
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public"))
    except sa.exc.DBAPIError:
        return
    schema = bind.execute(sa.text("SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
                                  "WHERE e.extname = 'pg_trgm'")).scalar_one()
    op.execute(f'CREATE INDEX search_proposal_partner_name ON proposal_partner USING gin (name "{schema}".gin_trgm_ops)')


# --- SQLite -----------------------------------------------------------------------------------

SQLITE_UPSERT = f"""
    INSERT INTO portfolio_count ({COUNT_KEY}, n)
    SELECT {COUNT_KEY}, sum(n) FROM ({{delta}}) WHERE true
    GROUP BY {COUNT_KEY} HAVING sum(n) <> 0
    ON CONFLICT ({COUNT_KEY}) DO UPDATE SET n = portfolio_count.n + excluded.n;"""


def _sqlite_trigger(name: str, when: str, table: str, delta: str, condition: str = "") -> str:
    return (f"CREATE TRIGGER {name} {when} ON {table} {condition}\nBEGIN{SQLITE_UPSERT.format(delta=delta)}\nEND")


def _sqlite_status(row: str, sign: int) -> str:
    return (f"SELECT {row}.institution_id AS institution_id, 'status' AS dimension, {row}.status AS key, "
            f"coalesce({row}.tier, '') AS tier, {sign} AS n UNION ALL "
            f"SELECT {row}.institution_id, 'opened', substr({row}.created_at, 1, 10), '', {sign} "
            f"WHERE {row}.status IN {OPEN_STATES}")


def _sqlite_countries(row: str, sign: int) -> str:
    return (f"SELECT {row}.institution_id, 'country', country, coalesce({row}.tier, ''), {sign} "
            f"FROM (SELECT DISTINCT country FROM proposal_partner WHERE proposal_id = {row}.id)")


def _sqlite_pair(row: str, column: str, sign: int, extra: str = "") -> str:
    """+1 when ``row`` adds a (proposal, column) pair no other partner row has, -1 when it took the last one."""
    others = "AND x.id <> NEW.id" if row == "NEW" else ""
    unique = (f"NOT EXISTS (SELECT 1 FROM proposal_partner x WHERE x.proposal_id = {row}.proposal_id "
              f"AND x.{column} = {row}.{column} {others})")
    if column == "country":
        return (f"SELECT {row}.institution_id AS institution_id, 'country' AS dimension, {row}.country AS key, "
                f"coalesce(p.tier, '') AS tier, {sign} AS n FROM proposal p "
                f"WHERE p.id = {row}.proposal_id AND {unique} {extra}")
    return (f"SELECT {row}.institution_id, 'listed', {row}.listed_entry, '', {sign} "
            f"WHERE {row}.listed_entry IS NOT NULL AND {unique} {extra}")


_MOVED = "AND (OLD.proposal_id IS NOT NEW.proposal_id OR OLD.{0} IS NOT NEW.{0})"
SQLITE_TRIGGERS = [
    _sqlite_trigger("search_count_proposal_insert", "AFTER INSERT", "proposal", _sqlite_status("NEW", 1)),
    _sqlite_trigger("search_count_proposal_update", "AFTER UPDATE OF status, tier, institution_id, created_at",
                    "proposal",
                    f"{_sqlite_status('NEW', 1)} UNION ALL {_sqlite_status('OLD', -1)} UNION ALL "
                    f"{_sqlite_countries('NEW', 1)} UNION ALL {_sqlite_countries('OLD', -1)}"),
    # A proposal's partner rows go before it, while its tier is still there to count them by.
    "CREATE TRIGGER search_count_proposal_gone BEFORE DELETE ON proposal\nBEGIN\n"
    "  DELETE FROM proposal_partner WHERE proposal_id = OLD.id;\nEND",
    _sqlite_trigger("search_count_proposal_delete", "AFTER DELETE", "proposal", _sqlite_status("OLD", -1)),
    _sqlite_trigger("search_count_partner_insert", "AFTER INSERT", "proposal_partner",
                    f"{_sqlite_pair('NEW', 'country', 1)} UNION ALL {_sqlite_pair('NEW', 'listed_entry', 1)}"),
    _sqlite_trigger("search_count_partner_delete", "AFTER DELETE", "proposal_partner",
                    f"{_sqlite_pair('OLD', 'country', -1)} UNION ALL {_sqlite_pair('OLD', 'listed_entry', -1)}"),
    _sqlite_trigger("search_count_partner_update", "AFTER UPDATE OF proposal_id, institution_id, country, "
                    "listed_entry", "proposal_partner",
                    " UNION ALL ".join([_sqlite_pair('OLD', 'country', -1, _MOVED.format("country")),
                                        _sqlite_pair('OLD', 'listed_entry', -1, _MOVED.format("listed_entry")),
                                        _sqlite_pair('NEW', 'country', 1, _MOVED.format("country")),
                                        _sqlite_pair('NEW', 'listed_entry', 1, _MOVED.format("listed_entry"))])),
    _sqlite_trigger("search_count_field_insert", "AFTER INSERT", "proposal_field",
                    "SELECT NEW.institution_id AS institution_id, 'field' AS dimension, NEW.code AS key, "
                    "'' AS tier, 1 AS n"),
    _sqlite_trigger("search_count_field_delete", "AFTER DELETE", "proposal_field",
                    "SELECT OLD.institution_id AS institution_id, 'field' AS dimension, OLD.code AS key, "
                    "'' AS tier, -1 AS n"),
    _sqlite_trigger("search_count_field_update", "AFTER UPDATE OF institution_id, code", "proposal_field",
                    "SELECT NEW.institution_id AS institution_id, 'field' AS dimension, NEW.code AS key, "
                    "'' AS tier, 1 AS n UNION ALL SELECT OLD.institution_id, 'field', OLD.code, '', -1"),
]
SQLITE_SEARCH = [
    # External content: the words live once, in proposal_text; the proposal id is the rowid.
    "CREATE VIRTUAL TABLE search_proposal_text USING fts5(body, content='proposal_text', "
    "content_rowid='proposal_id', tokenize='porter unicode61 remove_diacritics 0')",
    "CREATE TRIGGER search_proposal_text_insert AFTER INSERT ON proposal_text BEGIN "
    "INSERT INTO search_proposal_text (rowid, body) VALUES (NEW.proposal_id, NEW.body); END",
    "CREATE TRIGGER search_proposal_text_delete AFTER DELETE ON proposal_text BEGIN "
    "INSERT INTO search_proposal_text (search_proposal_text, rowid, body) "
    "VALUES ('delete', OLD.proposal_id, OLD.body); END",
    "CREATE TRIGGER search_proposal_text_update AFTER UPDATE ON proposal_text BEGIN "
    "INSERT INTO search_proposal_text (search_proposal_text, rowid, body) "
    "VALUES ('delete', OLD.proposal_id, OLD.body); "
    "INSERT INTO search_proposal_text (rowid, body) VALUES (NEW.proposal_id, NEW.body); END",
]

# --- Back-fill (both) ---------------------------------------------------------------------------

RECOUNT = """
INSERT INTO portfolio_count ({COUNT_KEY}, n)
SELECT institution_id, 'status', status, coalesce(tier, ''), count(*) FROM proposal
GROUP BY institution_id, status, coalesce(tier, '')
UNION ALL
SELECT institution_id, 'opened', {opened_day}, '', count(*) FROM proposal WHERE status IN {OPEN_STATES}
GROUP BY institution_id, {opened_day}
UNION ALL
SELECT p.institution_id, 'country', x.country, coalesce(p.tier, ''), count(*)
FROM (SELECT DISTINCT proposal_id, country FROM proposal_partner) AS x JOIN proposal p ON p.id = x.proposal_id
GROUP BY p.institution_id, x.country, coalesce(p.tier, '')
UNION ALL
SELECT institution_id, 'listed', listed_entry, '', count(DISTINCT proposal_id) FROM proposal_partner
WHERE listed_entry IS NOT NULL GROUP BY institution_id, listed_entry
UNION ALL
SELECT institution_id, 'field', code, '', count(*) FROM proposal_field GROUP BY institution_id, code"""


def _text_backfill(concat_names: str) -> str:
    """Titles and partner names of screened proposals (keywords and abstracts come with the next screening)."""
    return f"""
INSERT INTO proposal_text (proposal_id, institution_id, body)
SELECT p.id, p.institution_id, p.title || ' ' || coalesce(
    (SELECT {concat_names} FROM proposal_partner x WHERE x.proposal_id = p.id), '')
FROM proposal p WHERE EXISTS (SELECT 1 FROM proposal_screening s WHERE s.proposal_id = p.id)"""


def upgrade() -> None:
    op.create_table('portfolio_count',
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('dimension', sa.String(length=16), nullable=False),
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('tier', sa.String(length=16), nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['institution_id'], ['institution.id'],
                            name=op.f('fk_portfolio_count_institution_id_institution')),
    sa.PrimaryKeyConstraint('institution_id', 'dimension', 'key', 'tier', name=op.f('pk_portfolio_count'))
    )
    op.create_table('proposal_text',
    sa.Column('proposal_id', sa.Integer(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('words', sa.Text().with_variant(postgresql.TSVECTOR(), 'postgresql'), nullable=True),
    sa.ForeignKeyConstraint(['institution_id'], ['institution.id'],
                            name=op.f('fk_proposal_text_institution_id_institution')),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposal.id'], name=op.f('fk_proposal_text_proposal_id_proposal'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('proposal_id', name=op.f('pk_proposal_text'))
    )
    with op.batch_alter_table('proposal', schema=None) as batch_op:
        batch_op.drop_index('ix_proposal_institution_status')
        batch_op.create_index('ix_proposal_institution_status', ['institution_id', 'status', 'created_at'],
                              unique=False)
        batch_op.create_index('ix_proposal_institution_title', ['institution_id', 'title', 'id'], unique=False)
        batch_op.create_index('ix_proposal_institution_updated', ['institution_id', 'updated_at', 'id'], unique=False)
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in (PG_TRIGGERS + PG_SEARCH) if postgres else (SQLITE_TRIGGERS + SQLITE_SEARCH):
        op.execute(statement)
    if postgres:
        _partner_name_trigrams()
    op.execute(RECOUNT.format(COUNT_KEY=COUNT_KEY, OPEN_STATES=OPEN_STATES, opened_day=(
        "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')" if postgres else "substr(created_at, 1, 10)")))
    op.execute(_text_backfill("string_agg(x.name, ' ' ORDER BY x.position)" if postgres
                              else "group_concat(x.name, ' ')"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for function in ("search_count_proposal", "search_count_partner", "search_count_field",
                         "search_count_proposal_gone", "search_proposal_text_words"):
            op.execute(f"DROP FUNCTION {function}() CASCADE")
        op.execute("DROP INDEX IF EXISTS search_proposal_partner_name")
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {statement.split()[2]}")
        op.execute("DROP TABLE search_proposal_text")
    with op.batch_alter_table('proposal', schema=None) as batch_op:
        batch_op.drop_index('ix_proposal_institution_updated')
        batch_op.drop_index('ix_proposal_institution_title')
        batch_op.drop_index('ix_proposal_institution_status')
        batch_op.create_index('ix_proposal_institution_status', ['institution_id', 'status'], unique=False)
    op.drop_table('proposal_text')
    op.drop_table('portfolio_count')
