"""Alembic environment: run by ``screening db upgrade`` (never at start-up)."""

from alembic import context
from sqlalchemy import create_engine, pool
from sqlmodel import SQLModel

# Every module that defines tables, so that the metadata holds them all.
import screening.accounts.models
import screening.admin.models
import screening.api.models
import screening.core.models
import screening.documents.models
import screening.notifications.models
import screening.portfolio.models
import screening.privacy.models
import screening.proposals.models
import screening.review.models
import screening.sso.models  # noqa: F401
from screening.core.database import UTCDateTime
from screening.core.migrations import described_by_models

config = context.config
target_metadata = SQLModel.metadata


def _render_item(type_, obj, autogen_context):
    """Render our column types as plain SQLAlchemy ones, so migrations never import the models."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        compare_server_default=True,
        transaction_per_migration=True,
        render_item=_render_item,
        include_name=described_by_models,
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.connect() as conn:
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
