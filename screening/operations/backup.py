"""Backups: the database, stored documents and reports, and imported list versions, with a manifest.

Layout of a backup directory::

    manifest.json          format, created_at, app_version, alembic_revision, database, directories, files
    database.sqlite3       SQLite: a copy made with SQLite's online backup API
    database.pgdump        PostgreSQL: ``pg_dump --format=custom``
    documents/...          the file document store (content-addressed PDFs)
    reports/...            rendered portfolio reports
    lists/...              list versions under SCREENING_LISTS_DIR (when set)

Consistency: the database is copied first, the folders afterwards. Stored files are written
before the database row that refers to them commits, and never changed afterwards, so every file
the copied database names is in the copied folders (a few newer files may be there as well).

A backup is written into a hidden sibling folder and renamed into place once complete, so a
failed or interrupted run leaves no half-written backup. Restore writes into an empty database
and empty folders only; PostgreSQL restores in one transaction and files are moved into place
only after the database is in, so a refused or failed restore changes nothing.
"""

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1
DATABASE_FILES = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
DIRECTORY_ROLES = ("documents", "reports", "lists")
PARTIAL_PREFIX = ".tmp-"  # FileDocumentStore's files being written: never part of a backup
_CHUNK = 1 << 20


class BackupError(Exception):
    """A backup cannot be made, checked or restored; the message is one line for the operator."""


@dataclass(frozen=True)
class Installation:
    """Where an installation keeps its data: the database URL and its folders by role."""

    database_url: str
    directories: dict[str, Path | None]  # "documents", "reports", "lists" -> folder (None: not used)
    pg_dump: str = "pg_dump"
    pg_restore: str = "pg_restore"

    @property
    def dialect(self) -> str:
        return make_url(self.database_url).get_backend_name()


@dataclass(frozen=True)
class Manifest:
    created_at: str
    app_version: str
    alembic_revision: str | None
    dialect: str
    database_file: str
    directories: tuple[str, ...]
    files: dict[str, dict[str, Any]]  # relative POSIX path -> {"sha256", "size"}

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "created_at": self.created_at,
            "app_version": self.app_version,
            "alembic_revision": self.alembic_revision,
            "database": {"dialect": self.dialect, "file": self.database_file},
            "directories": list(self.directories),
            "files": [{"path": path, **info} for path, info in sorted(self.files.items())],
        }


# ---------------------------------------------------------------- create


def create_backup(installation: Installation, target: Path) -> Manifest:
    """Write a complete backup to ``target`` (absent or an empty folder); returns its manifest."""
    target = Path(target)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BackupError(f"{target} exists and is not an empty folder")
    if not target.parent.is_dir():
        raise BackupError(f"{target.parent} is not a folder")
    dialect = installation.dialect
    if dialect not in DATABASE_FILES:
        raise BackupError(f"cannot back up a {dialect} database (sqlite or postgresql only)")
    staging = target.parent / f".{target.name}.partial-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        database_file = DATABASE_FILES[dialect]
        if dialect == "sqlite":
            revision = _copy_sqlite(_sqlite_path(installation.database_url), staging / database_file)
        else:
            revision = _alembic_revision(installation.database_url)
            _run_pg(installation.pg_dump, installation.database_url,
                    ["--format=custom", "--no-owner", "--no-privileges", f"--file={staging / database_file}"])
        copied = []
        for role, folder in sorted(installation.directories.items()):
            if folder is not None and Path(folder).is_dir():
                _copy_tree(Path(folder), staging / role)
                copied.append(role)
        manifest = Manifest(
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            app_version=_app_version(),
            alembic_revision=revision,
            dialect=dialect,
            database_file=database_file,
            directories=tuple(copied),
            files={_relative(path, staging): {"sha256": file_sha256(path), "size": path.stat().st_size}
                   for path in sorted(_files_under(staging))},
        )
        _write_json(staging / MANIFEST_NAME, manifest.as_dict())
        if target.exists():
            target.rmdir()
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def _sqlite_path(database_url: str) -> Path:
    database = make_url(database_url).database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        raise BackupError("the SQLite database is in memory: nothing to back up or restore")
    return Path(database)


def _copy_sqlite(source: Path, destination: Path) -> str | None:
    """Copy with SQLite's online backup API (consistent while others write); returns the Alembic revision."""
    if not source.is_file():
        raise BackupError(f"the SQLite database {source} does not exist")
    with contextlib.closing(sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)) as src, \
            contextlib.closing(sqlite3.connect(destination)) as dst:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        return _sqlite_revision(dst)


def _sqlite_revision(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:
        return None
    return row[0] if row else None


def _alembic_revision(database_url: str) -> str | None:
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    except sa.exc.ProgrammingError:
        return None
    except sa.exc.SQLAlchemyError as exc:
        raise BackupError(f"cannot read the database ({type(getattr(exc, 'orig', None) or exc).__name__})") from exc
    finally:
        engine.dispose()


def _libpq(database_url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection URI without the password, and the environment carrying the password."""
    url: URL = make_url(database_url)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run_pg(program: str, database_url: str, arguments: list[str]) -> None:
    uri, env = _libpq(database_url)
    try:
        # The operator's configured pg_dump/pg_restore with arguments built here; no shell.
        proc = subprocess.run([program, *arguments, f"--dbname={uri}"], env=env, capture_output=True,  # noqa: S603
                              text=True, timeout=6 * 3600, check=False)
    except FileNotFoundError as exc:
        raise BackupError(f"{program} not found (install the PostgreSQL client tools)") from exc
    if proc.returncode != 0:
        first = next((line for line in proc.stderr.splitlines() if line.strip()), f"exit status {proc.returncode}")
        raise BackupError(f"{Path(program).name} failed: {first.strip()}")


def _copy_tree(source: Path, destination: Path) -> None:
    """Regular files only (no symbolic links followed), skipping files still being written."""
    for path in sorted(_files_under(source)):
        if path.name.startswith(PARTIAL_PREFIX):
            continue
        copy = destination / path.relative_to(source)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, copy)


def _files_under(root: Path) -> list[Path]:
    found = []
    for directory, subdirectories, names in os.walk(root):
        subdirectories[:] = [d for d in subdirectories if not (Path(directory) / d).is_symlink()]
        found.extend(Path(directory) / name for name in names if (Path(directory) / name).is_file()
                     and not (Path(directory) / name).is_symlink())
    return found


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_json(path: Path, data: dict[str, Any]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, ensure_ascii=False)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())


def _app_version() -> str:
    try:
        return metadata.version("screening")
    except metadata.PackageNotFoundError:
        return "unknown"


# ---------------------------------------------------------------- verify


def verify_backup(directory: Path) -> Manifest:
    """Check the manifest and every file's size and SHA-256; ``BackupError`` names the first problem."""
    directory = Path(directory)
    if not directory.is_dir():
        raise BackupError(f"{directory} is not a folder")
    manifest = read_manifest(directory)
    for path, info in sorted(manifest.files.items()):
        file = directory / path
        if not file.is_file():
            raise BackupError(f"{path} is missing")
        if file.stat().st_size != info["size"] or file_sha256(file) != info["sha256"]:
            raise BackupError(f"{path} was altered (size or SHA-256 differs from the manifest)")
    listed = set(manifest.files) | {MANIFEST_NAME}
    extra = sorted(p for p in (_relative(f, directory) for f in _files_under(directory)) if p not in listed)
    if extra:
        raise BackupError(f"{extra[0]} is not in the manifest")
    if manifest.database_file not in manifest.files:
        raise BackupError(f"the database file {manifest.database_file} is not in the manifest")
    return manifest


def read_manifest(directory: Path) -> Manifest:
    path = directory / MANIFEST_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BackupError(f"{MANIFEST_NAME} is missing") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BackupError(f"{MANIFEST_NAME} is not valid JSON") from exc
    try:
        if data["format"] != FORMAT_VERSION:
            raise BackupError(f"{MANIFEST_NAME}: unknown format {data['format']!r}")
        database = data["database"]
        dialect, database_file = database["dialect"], database["file"]
        if DATABASE_FILES.get(dialect) != database_file:
            raise BackupError(f"{MANIFEST_NAME}: unknown database {dialect!r} / {database_file!r}")
        directories = tuple(data["directories"])
        if not set(directories) <= set(DIRECTORY_ROLES):
            raise BackupError(f"{MANIFEST_NAME}: unknown folder in {list(directories)!r}")
        files = {}
        for entry in data["files"]:
            files[_safe_relative(entry["path"])] = {"sha256": str(entry["sha256"]), "size": int(entry["size"])}
        return Manifest(created_at=str(data["created_at"]), app_version=str(data["app_version"]),
                        alembic_revision=data["alembic_revision"], dialect=dialect, database_file=database_file,
                        directories=directories, files=files)
    except (KeyError, TypeError, ValueError) as exc:
        raise BackupError(f"{MANIFEST_NAME} is incomplete or malformed ({type(exc).__name__}: {exc})") from exc


def _safe_relative(value: Any) -> str:
    """A manifest path must stay inside the backup: relative, no ``..``, no backslashes."""
    if not isinstance(value, str) or not value or "\\" in value or "\x00" in value:
        raise BackupError(f"{MANIFEST_NAME}: invalid file path {value!r}")
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts or path.as_posix() != value:
        raise BackupError(f"{MANIFEST_NAME}: file path {value!r} leaves the backup folder")
    return value


# ---------------------------------------------------------------- restore


@dataclass(frozen=True)
class RestoreResult:
    manifest: Manifest
    directories: dict[str, Path]


def restore_backup(installation: Installation, directory: Path) -> RestoreResult:
    """Restore into an empty database and empty folders; refuses (``BackupError``) before changing anything."""
    directory = Path(directory)
    manifest = verify_backup(directory)
    if manifest.dialect != installation.dialect:
        raise BackupError(f"the backup holds a {manifest.dialect} database; this installation uses "
                          f"{installation.dialect}")
    _require_empty_database(installation.database_url)
    targets = _restore_targets(installation, manifest)
    staged: dict[str, Path] = {}
    try:
        for role, folder in targets.items():
            staging = folder.parent / f".{folder.name}.restoring-{uuid.uuid4().hex[:8]}"
            folder.parent.mkdir(parents=True, exist_ok=True)
            _copy_tree(directory / role, staging)
            staged[role] = staging
        database_file = directory / manifest.database_file
        if manifest.dialect == "sqlite":
            _restore_sqlite(database_file, _sqlite_path(installation.database_url))
        else:
            _run_pg(installation.pg_restore, installation.database_url,
                    ["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", str(database_file)])
    except BaseException:
        for staging in staged.values():
            shutil.rmtree(staging, ignore_errors=True)
        raise
    for role, staging in staged.items():
        if targets[role].exists():
            targets[role].rmdir()
        staging.rename(targets[role])
    return RestoreResult(manifest=manifest, directories=targets)


def _restore_targets(installation: Installation, manifest: Manifest) -> dict[str, Path]:
    targets = {}
    for role in manifest.directories:
        folder = installation.directories.get(role)
        if folder is None:
            raise BackupError(f"the backup holds {role}, but this installation has no folder for them"
                              + (" (set SCREENING_LISTS_DIR)" if role == "lists" else ""))
        folder = Path(folder)
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            raise BackupError(f"the {role} folder {folder} is not empty; restore needs an empty one")
        targets[role] = folder
    return targets


def _require_empty_database(database_url: str) -> None:
    if make_url(database_url).get_backend_name() == "sqlite":
        path = _sqlite_path(database_url)
        if not path.exists():
            return
        for suffix in ("-wal", "-journal"):
            side = path.with_name(path.name + suffix)
            if side.exists() and side.stat().st_size > 0:
                raise BackupError(f"{side} holds unfinished writes; stop the application first")
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        tables = sa.inspect(engine).get_table_names()
    except sa.exc.SQLAlchemyError as exc:
        raise BackupError(f"cannot read the target database ({type(getattr(exc, 'orig', None) or exc).__name__})") \
            from exc
    finally:
        engine.dispose()
    if tables:
        raise BackupError(f"the target database is not empty ({len(tables)} tables, e.g. {sorted(tables)[0]}); "
                          "restore needs an empty one")


def _restore_sqlite(backup_file: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(f"{backup_file.resolve().as_uri()}?mode=ro", uri=True)) as src, \
            contextlib.closing(sqlite3.connect(target)) as dst:
        src.backup(dst)
