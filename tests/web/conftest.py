"""Fixtures for the web application.

One database per test session (a SQLite file, or a fresh schema in PostgreSQL when
SCREENING_TEST_DATABASE_URL is set), migrated with Alembic; each test runs inside a transaction
rolled back afterwards (the app's sessions join it through savepoints).
"""

import os
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from screening import create_app
from screening.accounts import service as accounts
from screening.accounts.models import Institution, Membership, User
from screening.core import migrations
from screening.core.extensions import db

from .helpers import PASSWORD, minimal_proposal

_HASH = PasswordHasher().hash(PASSWORD)
PG_URL = os.environ.get("SCREENING_TEST_DATABASE_URL")


def pytest_configure(config):
    config.addinivalue_line("markers", "no_isolation: the test manages its own database (no per-test rollback)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/web" in str(item.fspath) and PG_URL:
            item.add_marker(pytest.mark.postgres)


@contextmanager
def scratch_database(tmp_path_factory, prefix: str):
    """A database of its own: a SQLite file, or a fresh PostgreSQL schema dropped afterwards."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path_factory.mktemp(prefix) / f'{prefix}.db'}"
        return
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_URL, poolclass=sa.pool.NullPool)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    with scratch_database(tmp_path_factory, "web") as url:
        yield url


def base_config(database_url: str, files: Path, **extra) -> dict:
    """Test configuration; letters and reports the app stores go below ``files`` (a tmp_path)."""
    cfg = {
        "TESTING": True,
        "SECRET_KEY": "test-" + "x" * 40,
        "DATABASE_URL": database_url,
        "WTF_CSRF_ENABLED": False,
        "SERVER_NAME": None,
        "DOCUMENT_STORE_DIR": str(files / "documents"),  # out of instance/, removed with the tmp_path
        "PORTFOLIO_REPORT_DIR": str(files / "reports"),
    }
    cfg.update(extra)
    return cfg


def migrated_app(database_url: str, files: Path):
    """An app on ``database_url`` migrated to head; its connections are closed when the caller is done."""
    application = create_app(base_config(database_url, files))
    migrations.upgrade(application)
    yield application
    with application.app_context():
        for engine in db.engines.values():
            engine.dispose()


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    yield from migrated_app(database_url, tmp_path_factory.mktemp("files"))


@contextmanager
def isolated(application):
    """Run everything the app does inside one outer transaction, rolled back at the end."""
    with application.app_context():
        engine = db.engine
        maker = db.sessionmaker
    conn = engine.connect()
    trans = conn.begin()
    maker.configure(bind=conn, join_transaction_mode="create_savepoint")
    try:
        yield conn
    finally:
        maker.configure(bind=engine, join_transaction_mode="conditional_savepoint")
        trans.rollback()
        conn.close()


def wipe_all_rows(application) -> None:
    """Delete every row a test committed for real, children first, so later tests start empty."""
    from sqlmodel import SQLModel

    with application.app_context(), db.engine.begin() as conn:
        for table in reversed(SQLModel.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(autouse=True)
def _isolation(request, app):
    if "no_isolation" in request.keywords:
        yield None
        wipe_all_rows(app)  # the test committed into the session database: leave it as it found it
        return
    app.extensions["ratelimit_store"].reset()
    app.extensions["ratelimit_leases"].clear()
    # Other tests build their own apps (create_app makes each one's Celery current): run tasks here.
    app.extensions["celery"].set_current()
    app.extensions["celery"].set_default()
    app.config["WTF_CSRF_ENABLED"] = False
    with isolated(app) as conn, app.app_context():
        yield conn


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def csrf_enabled(app):
    app.config["WTF_CSRF_ENABLED"] = True
    yield
    app.config["WTF_CSRF_ENABLED"] = False


# ---------------------------------------------------------------- factories

class Factory:
    def __init__(self, app):
        self.app = app
        self._n = 0

    def _next(self) -> int:
        self._n += 1
        return self._n

    def institution(self, slug: str | None = None, name: str | None = None) -> Institution:
        n = self._next()
        inst = accounts.create_institution(db.session, None, slug or f"inst-{n}-{uuid.uuid4().hex[:6]}",
                                           name or f"Institution {n}")
        db.session.commit()
        return inst

    def user(self, institution: Institution, *roles: str, email: str | None = None,
             language: str | None = None) -> User:
        n = self._next()
        user = User(email=email or f"user{n}-{uuid.uuid4().hex[:6]}@example.org", name=f"User {n}",
                    password_hash=_HASH, language=language)
        db.session.add(user)
        db.session.flush()
        for role in roles or ("researcher",):
            db.session.add(Membership(user_id=user.id, institution_id=institution.id, role=role))
        db.session.commit()
        return user

    def logged_in_client(self, user: User, institution: Institution | None = None):
        """A new test client with ``user`` logged in (acting for ``institution``, else their home)."""
        client = self.app.test_client()
        self.login(client, user, institution)
        return client

    def login(self, client, user: User, institution: Institution | None = None) -> None:
        """Give ``client`` a logged-in session for ``user`` (no password round trip)."""
        inst_id = institution.id if institution else accounts.home_institution_id(db.session, user)
        token = accounts.start_session(db.session, user, inst_id)
        db.session.commit()
        with client.session_transaction() as sess:
            sess.clear()
            sess["sid"] = token

    def actor(self, user: User, institution: Institution):
        return accounts.Actor(user=user, institution_id=institution.id,
                              roles=accounts.roles_in(db.session, user, institution.id))

    def proposal(self, user: User, institution: Institution, submit: bool = False, **overrides):
        from screening.core.engine import get_screener
        from screening.proposals import service as svc

        data = minimal_proposal(**overrides)
        actor = self.actor(user, institution)
        proposal = svc.save_draft(db.session, actor, data, creation_token=uuid.uuid4().hex)
        if submit:
            svc.submit(db.session, actor, proposal, uuid.uuid4().hex, get_screener())
        db.session.commit()
        return proposal


@pytest.fixture
def factory(app):
    return Factory(app)
