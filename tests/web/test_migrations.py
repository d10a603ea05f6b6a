"""Models and migrations agree (autogenerate finds no difference) on this test run's database."""

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import screening.proposals.models  # noqa: F401
from screening.core.migrations import MIGRATIONS_DIR, described_by_models


def test_models_and_migrations_agree(app, database_url):
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True,
                                                      "include_name": described_by_models})
        diff = compare_metadata(ctx, SQLModel.metadata)
    engine.dispose()
    assert diff == []


def test_migration_files_are_date_prefixed():
    import re

    names = [p.name for p in (MIGRATIONS_DIR / "versions").glob("*.py")]
    assert names and all(re.match(r"^\d{4}_\d{2}_\d{2}_\d{4}-[0-9a-f]+_", n) for n in names)


def test_metadata_uses_naming_convention():
    assert SQLModel.metadata.naming_convention["fk"].startswith("fk_")
    names = {c.name for t in SQLModel.metadata.tables.values() for c in t.constraints}
    assert all(n for n in names)
