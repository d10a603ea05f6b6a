"""Fixtures for the operations tests: the web tests' database, app and factories, reused."""

import pytest

from tests.web.conftest import Factory, isolated, migrated_app, scratch_database


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    with scratch_database(tmp_path_factory, "ops") as url:
        yield url


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    yield from migrated_app(database_url, tmp_path_factory.mktemp("files"))


@pytest.fixture(autouse=True)
def _isolation(app):
    """Each test inside one transaction rolled back afterwards; this app's Celery runs the tasks."""
    app.extensions["ratelimit_store"].reset()
    app.extensions["celery"].set_current()
    app.extensions["celery"].set_default()
    app.extensions["operations_readiness"].clear()
    with isolated(app) as conn, app.app_context():
        yield conn


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def factory(app):
    return Factory(app)
