"""Migrations: Alembic configured in code; ``screening db upgrade`` runs them."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from flask import Flask

# Objects that migrations make with raw, dialect-specific DDL (full-text tables and indexes) carry this
# prefix; the models do not describe them, so autogenerate and the models-vs-migrations test skip them.
RAW_DDL_PREFIX = "search_"
FILE_TEMPLATE = "%%(year)d_%%(month).2d_%%(day).2d_%%(hour).2d%%(minute).2d-%%(rev)s_%%(slug)s"
MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(url: str, connection=None, app: Flask | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.set_main_option("file_template", FILE_TEMPLATE)
    cfg.set_main_option("timezone", "UTC")
    if connection is not None:
        cfg.attributes["connection"] = connection
    if app is not None:  # data migrations that need the configuration (e.g. a key) read it from here
        cfg.attributes["flask_config"] = app.config
    return cfg


def described_by_models(name: str | None, type_: str, parent_names: dict) -> bool:
    """Alembic ``include_name`` hook: leave the raw-DDL objects (:data:`RAW_DDL_PREFIX`) alone."""
    return not (name or "").startswith(RAW_DDL_PREFIX)


def upgrade(app: Flask, revision: str = "head", connection=None) -> None:
    command.upgrade(alembic_config(app.config["DATABASE_URL"], connection, app), revision)


def revision(app: Flask, message: str, autogenerate: bool = True) -> None:
    command.revision(alembic_config(app.config["DATABASE_URL"]), message=message, autogenerate=autogenerate)
