"""screening backup create / verify / restore: round trips on SQLite and PostgreSQL, and every refusal."""

import io
import json
import os
import shutil
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from screening import create_app
from screening.cli import main as screening_cli
from screening.core import migrations
from screening.core.extensions import db
from screening.documents.models import GeneratedDocument
from tests.web.conftest import Factory, base_config

PG_URL = os.environ.get("SCREENING_TEST_DATABASE_URL")


class Installation:
    """One installation's configuration (database and folders), with its CLI and web client."""

    def __init__(self, root: Path, database_url: str) -> None:
        self.root = root
        self.database_url = database_url
        self.config = base_config(database_url, root, DOCUMENT_STORE_DIR=str(root / "documents"),
                                  PORTFOLIO_REPORT_DIR=str(root / "reports"))
        self.app = create_app(self.config)

    def cli(self, *args: str):
        result = self.app.test_cli_runner().invoke(screening_cli, list(args))
        self.app.extensions["celery"].set_current()
        return result

    def close(self) -> None:
        with self.app.app_context():
            for engine in db.engines.values():
                engine.dispose()


def fill(installation: Installation) -> str:
    """Migrate and add a fast-tracked proposal with its letter; returns the letter's verification code."""
    app = installation.app
    migrations.upgrade(app)
    with app.app_context():
        factory = Factory(app)
        institution = factory.institution()
        researcher = factory.user(institution)
        factory.proposal(researcher, institution, submit=True)
        letter = db.session.scalars(sa.select(GeneratedDocument)).one()
        assert letter.sha256, "the fast-track letter should have been rendered"
        db.session.rollback()
        return letter.verification_code


def row_counts(installation: Installation) -> dict[str, int]:
    engine = sa.create_engine(installation.database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            names = sa.inspect(conn).get_table_names()
            return {name: conn.execute(sa.text(f'SELECT count(*) FROM "{name}"')).scalar() for name in names}
    finally:
        engine.dispose()


def assert_refused(result, reason: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and reason in lines[0], result.output


def assert_restored_installation_works(installation: Installation, code: str) -> None:
    audit = installation.cli("audit", "verify")
    assert audit.exit_code == 0 and "audit trail intact" in audit.output, audit.output
    client = installation.app.test_client()
    by_code = client.get(f"/verify/{code}")
    assert by_code.status_code == 200 and 'data-verified="yes"' in by_code.text
    pdf = next((installation.root / "documents").rglob("*.pdf")).read_bytes()
    upload = client.post("/verify", data={"document": (io.BytesIO(pdf), "letter.pdf")},
                         content_type="multipart/form-data")
    assert upload.status_code == 200 and 'data-verified="yes"' in upload.text


# ---------------------------------------------------------------- SQLite


@pytest.fixture(scope="module")
def sqlite_backup(tmp_path_factory):
    """An embedded installation with one letter, and a backup of it."""
    root = tmp_path_factory.mktemp("source")
    source = Installation(root, f"sqlite:///{root / 'screening.core.database'}")
    code = fill(source)
    backup_dir = root.parent / f"backup-{uuid.uuid4().hex[:6]}"
    created = source.cli("backup", "create", str(backup_dir))
    assert created.exit_code == 0, created.output
    yield source, backup_dir, code
    source.close()


@pytest.fixture
def backup_copy(sqlite_backup, tmp_path):
    """A copy of the backup that a test may damage."""
    copy = tmp_path / "backup"
    shutil.copytree(sqlite_backup[1], copy)
    return copy


def test_the_backup_has_a_manifest_with_every_file_hashed(sqlite_backup):
    source, backup_dir, _code = sqlite_backup
    manifest = json.loads((backup_dir / "manifest.json").read_text())
    assert manifest["database"] == {"dialect": "sqlite", "file": "database.sqlite3"}
    assert manifest["alembic_revision"] and manifest["app_version"] and manifest["created_at"]
    paths = {entry["path"] for entry in manifest["files"]}
    assert "database.sqlite3" in paths and any(p.startswith("documents/") and p.endswith(".pdf") for p in paths)
    assert all(len(entry["sha256"]) == 64 and entry["size"] > 0 for entry in manifest["files"])
    assert not list(backup_dir.parent.glob(f".{backup_dir.name}.partial-*"))
    assert source.cli("backup", "verify", str(backup_dir)).exit_code == 0


def test_create_wipe_restore_verify_on_sqlite(sqlite_backup, tmp_path):
    _source, backup_dir, code = sqlite_backup
    target = Installation(tmp_path, f"sqlite:///{tmp_path / 'screening.core.database'}")  # wiped: no database, no files
    try:
        restored = target.cli("backup", "restore", str(backup_dir))
        assert restored.exit_code == 0, restored.output
        assert "audit trail intact" in restored.output
        assert_restored_installation_works(target, code)
    finally:
        target.close()


def test_create_refuses_a_folder_that_is_not_empty(sqlite_backup, tmp_path):
    source = sqlite_backup[0]
    (tmp_path / "keep.txt").write_text("mine")
    assert_refused(source.cli("backup", "create", str(tmp_path)), "is not an empty folder")
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_a_failed_create_leaves_nothing_behind(tmp_path):
    missing = Installation(tmp_path, f"sqlite:///{tmp_path / 'absent.db'}")
    target = tmp_path / "backup"
    assert_refused(missing.cli("backup", "create", str(target)), "does not exist")
    assert not target.exists() and not list(tmp_path.glob(".backup.partial-*"))


def test_verify_names_an_altered_file(sqlite_backup, backup_copy):
    pdf = next((backup_copy / "documents").rglob("*.pdf"))
    data = bytearray(pdf.read_bytes())
    data[len(data) // 2] ^= 0x01
    pdf.write_bytes(bytes(data))
    assert_refused(sqlite_backup[0].cli("backup", "verify", str(backup_copy)), "was altered")


def test_verify_names_a_missing_file(sqlite_backup, backup_copy):
    (backup_copy / "database.sqlite3").unlink()
    assert_refused(sqlite_backup[0].cli("backup", "verify", str(backup_copy)), "database.sqlite3 is missing")


def test_verify_names_a_file_the_manifest_does_not_list(sqlite_backup, backup_copy):
    (backup_copy / "documents" / "stray.pdf").write_bytes(b"%PDF")
    assert_refused(sqlite_backup[0].cli("backup", "verify", str(backup_copy)), "documents/stray.pdf is not in")


@pytest.mark.parametrize(("manifest", "reason"), [
    ("{not json", "manifest.json is not valid JSON"),
    ('{"format": 1}', "manifest.json is incomplete or malformed"),
    (None, "manifest.json is missing"),
])
def test_verify_refuses_a_broken_manifest(sqlite_backup, backup_copy, manifest, reason):
    if manifest is None:
        (backup_copy / "manifest.json").unlink()
    else:
        (backup_copy / "manifest.json").write_text(manifest)
    assert_refused(sqlite_backup[0].cli("backup", "verify", str(backup_copy)), reason)


@pytest.mark.parametrize("path", ["../outside.pdf", "/etc/passwd", "documents/../../x", "documents\\x.pdf"])
def test_verify_refuses_paths_that_leave_the_backup(sqlite_backup, backup_copy, path):
    manifest = json.loads((backup_copy / "manifest.json").read_text())
    manifest["files"].append({"path": path, "sha256": "0" * 64, "size": 1})
    (backup_copy / "manifest.json").write_text(json.dumps(manifest))
    assert_refused(sqlite_backup[0].cli("backup", "verify", str(backup_copy)), "manifest.json")


def test_verify_refuses_a_folder_that_does_not_exist(sqlite_backup, tmp_path):
    assert_refused(sqlite_backup[0].cli("backup", "verify", str(tmp_path / "nowhere")), "is not a folder")


def test_restore_refuses_a_database_that_is_not_empty_and_changes_nothing(sqlite_backup):
    source, backup_dir, _code = sqlite_backup
    before = row_counts(source)
    documents = sorted((source.root / "documents").rglob("*"))
    assert_refused(source.cli("backup", "restore", str(backup_dir)), "the target database is not empty")
    assert row_counts(source) == before
    assert sorted((source.root / "documents").rglob("*")) == documents


def test_restore_refuses_a_documents_folder_that_is_not_empty_and_writes_no_database(sqlite_backup, tmp_path):
    (tmp_path / "documents").mkdir()
    (tmp_path / "documents" / "someone-elses.pdf").write_bytes(b"%PDF")
    target = Installation(tmp_path, f"sqlite:///{tmp_path / 'screening.core.database'}")
    try:
        assert_refused(target.cli("backup", "restore", str(sqlite_backup[1])), "documents folder")
        assert row_counts(target) == {}
        assert [p.name for p in (tmp_path / "documents").iterdir()] == ["someone-elses.pdf"]
    finally:
        target.close()


def test_restore_refuses_an_altered_backup_before_touching_anything(sqlite_backup, backup_copy, tmp_path):
    (backup_copy / "database.sqlite3").write_bytes(b"not a database")
    target = Installation(tmp_path / "site", f"sqlite:///{tmp_path / 'site.db'}")
    try:
        assert_refused(target.cli("backup", "restore", str(backup_copy)), "database.sqlite3 was altered")
        assert not (tmp_path / "site.db").exists() and not (tmp_path / "site" / "documents").exists()
    finally:
        target.close()


# ---------------------------------------------------------------- PostgreSQL


@pytest.fixture
def postgres_databases():
    """Two fresh databases, test_ops_backup_src and test_ops_restore, dropped afterwards."""
    if not PG_URL:
        pytest.skip("needs SCREENING_TEST_DATABASE_URL")
    server = make_url(PG_URL)
    names = ("test_ops_backup_src", "test_ops_restore")
    admin = sa.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)

    def reset() -> None:
        with admin.connect() as conn:
            for name in names:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    reset()
    with admin.connect() as conn:
        for name in names:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield [server.set(database=name).render_as_string(hide_password=False) for name in names]
    finally:
        reset()
        admin.dispose()


def test_create_wipe_restore_verify_on_postgresql(postgres_databases, tmp_path):
    source_url, restore_url = postgres_databases
    source = Installation(tmp_path / "source", source_url)
    code = fill(source)
    backup_dir = tmp_path / "backup"
    created = source.cli("backup", "create", str(backup_dir))
    source.close()
    assert created.exit_code == 0, created.output
    assert json.loads((backup_dir / "manifest.json").read_text())["database"]["file"] == "database.pgdump"

    target = Installation(tmp_path / "restored", restore_url)  # a fresh database and no files
    try:
        assert_refused(target.cli("backup", "restore", str(tmp_path / "nowhere")), "is not a folder")
        restored = target.cli("backup", "restore", str(backup_dir))
        assert restored.exit_code == 0, restored.output
        assert_restored_installation_works(target, code)
        assert_refused(target.cli("backup", "restore", str(backup_dir)), "the target database is not empty")
    finally:
        target.close()


def test_a_sqlite_backup_is_not_restored_into_postgresql(postgres_databases, sqlite_backup, tmp_path):
    target = Installation(tmp_path, postgres_databases[1])
    try:
        assert_refused(target.cli("backup", "restore", str(sqlite_backup[1])), "holds a sqlite database")
        assert row_counts(target) == {}
    finally:
        target.close()
