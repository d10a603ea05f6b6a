"""Fixtures for the operations tests: the web tests' database, app and factories, reused."""

import pytest

from screening import create_app
from screening.core import migrations
from screening.core.extensions import db
from tests.web.conftest import Factory, base_config, isolated, scratch_database


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    with scratch_database(tmp_path_factory, "ops") as url:
        yield url


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    application = create_app(base_config(database_url, tmp_path_factory.mktemp("files")))
    migrations.upgrade(application)
    yield application
    with application.app_context():
        for engine in db.engines.values():
            engine.dispose()


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
