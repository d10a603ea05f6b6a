"""``screening backup create|verify|restore DIR`` (guide: docs/operations.md).

Bad input or a refused operation: exit status 2 and one line on standard error, nothing changed.
"""

import os
import sys
from pathlib import Path
from typing import NoReturn

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from screening.core.extensions import db
from screening.operations.backup import BackupError, Installation, create_backup, restore_backup, verify_backup
from screening.operations.health import document_dir, migration_heads

backup_cli = AppGroup("backup", help="Backups of the database, documents, reports and lists.")


def installation_of(app: Flask) -> Installation:
    """The configured database and folders of this installation."""
    cfg = app.config
    lists = cfg.get("LISTS_DIR") or os.environ.get("SCREENING_LISTS_DIR")
    return Installation(
        database_url=cfg["DATABASE_URL"],
        directories={
            "documents": document_dir(app),
            "reports": Path(cfg.get("PORTFOLIO_REPORT_DIR") or Path(app.instance_path) / "reports"),
            "lists": Path(lists) if lists else None,
        },
        pg_dump=cfg["BACKUP_PG_DUMP"],
        pg_restore=cfg["BACKUP_PG_RESTORE"],
    )


def _refuse(reason: str) -> NoReturn:
    click.echo("error: " + " ".join(reason.split()), err=True)
    sys.exit(2)


def _release_connections() -> None:
    """Close the app's own connections (the command's session holds none afterwards)."""
    db.session.close()
    for engine in db.engines.values():
        engine.dispose()


@backup_cli.command("create")
@click.argument("directory", type=click.Path(path_type=Path))
def backup_create(directory: Path) -> None:
    """Write a backup into DIRECTORY (new, or an empty folder)."""
    _release_connections()
    try:
        manifest = create_backup(installation_of(current_app), directory)
    except BackupError as exc:
        _refuse(str(exc))
    size = sum(info["size"] for info in manifest.files.values())
    click.echo(f"backup written to {directory}: {manifest.dialect} database at revision "
               f"{manifest.alembic_revision}, {len(manifest.files)} files, {size} bytes")


@backup_cli.command("verify")
@click.argument("directory", type=click.Path(path_type=Path))
def backup_verify(directory: Path) -> None:
    """Check the manifest and every file of the backup in DIRECTORY."""
    try:
        manifest = verify_backup(directory)
    except BackupError as exc:
        _refuse(str(exc))
    click.echo(f"backup intact: {len(manifest.files)} files, created {manifest.created_at}, "
               f"revision {manifest.alembic_revision}")


@backup_cli.command("restore")
@click.argument("directory", type=click.Path(path_type=Path))
def backup_restore(directory: Path) -> None:
    """Restore the backup in DIRECTORY into an empty database and empty folders."""
    from screening.core import audit

    _release_connections()
    try:
        result = restore_backup(installation_of(current_app), directory)
    except BackupError as exc:
        _refuse(str(exc))
    click.echo(f"restored {result.manifest.dialect} database at revision {result.manifest.alembic_revision}"
               + "".join(f"; {role} into {folder}" for role, folder in sorted(result.directories.items())))
    if result.manifest.alembic_revision not in migration_heads():
        click.echo("the code expects a newer schema: run `screening db upgrade`")
    chain = audit.verify(db.session)
    db.session.rollback()
    if not chain.ok:
        click.echo(f"audit trail BROKEN at seq {chain.broken_seq}: {chain.reason}", err=True)
        sys.exit(1)
    click.echo(f"audit trail intact: {chain.checked} events")
