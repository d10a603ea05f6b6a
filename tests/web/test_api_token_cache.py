"""The per-worker token cache (screening.api.token_cache) never outlives a change of access by more
than a second: two application instances stand for two gunicorn workers sharing PostgreSQL and Redis.

Runs in the PostgreSQL pass (SCREENING_TEST_DATABASE_URL and SCREENING_TEST_REDIS_URL set).
"""

import os
import time

import pytest
import redis
import sqlalchemy as sa
from sqlmodel import delete, select

from screening import create_app
from screening.accounts import service as accounts
from screening.accounts.models import Membership
from screening.api import tokens
from screening.api.models import ApiToken
from screening.api.token_cache import GENERATION_KEY, TokenCache
from screening.core import migrations
from screening.core.engine import get_screener
from screening.core.extensions import db

from .conftest import base_config, scratch_database

PG_URL = os.environ.get("SCREENING_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("SCREENING_TEST_REDIS_URL")
BOUND_SECONDS = 1.0

pytestmark = [
    pytest.mark.no_isolation,
    pytest.mark.skipif(not (PG_URL and REDIS_URL), reason="needs SCREENING_TEST_DATABASE_URL and _REDIS_URL"),
]


@pytest.fixture(scope="module")
def workers(tmp_path_factory):
    """Two app instances on one database and one Redis, with production's cache settings."""
    with scratch_database(tmp_path_factory, "tokencache") as url:
        apps = [create_app(base_config(url, tmp_path_factory.mktemp("files"), REDIS_URL=REDIS_URL,
                                       API_AUTH_CACHE_SECONDS=BOUND_SECONDS, API_AUTH_REFRESH_SECONDS=0.25))
                for _ in range(2)]
        migrations.upgrade(apps[0])
        yield apps
        for app in apps:
            with app.app_context():
                db.engine.dispose()


@pytest.fixture
def token(workers):
    """A researcher's read token, made in the first worker; (plaintext, user id, institution id)."""
    with workers[0].app_context():
        suffix = str(time.monotonic_ns())
        inst = accounts.create_institution(db.session, None, f"uni-{suffix}", "Cache University")
        user = accounts.create_user(db.session, None, inst, f"r{suffix}@example.org", "Researcher",
                                    "a-password-long-enough", ["researcher"])
        actor = accounts.Actor(user=user, institution_id=inst.id, roles=accounts.roles_in(db.session, user, inst.id))
        _, plaintext = tokens.create(db.session, actor, "cache test", "read", 30)
        db.session.commit()
        return plaintext, user.id, inst.id


def status(app, plaintext: str) -> int:
    return app.test_client().get("/api/v1/lists", headers={"Authorization": f"Bearer {plaintext}"}).status_code


def generation() -> int:
    return int(redis.Redis.from_url(REDIS_URL).get(GENERATION_KEY) or 0)


def seconds_until_refused(app, plaintext: str, since: float, limit: float = 5.0) -> float:
    while status(app, plaintext) == 200:
        assert time.monotonic() - since < limit, "the token is still accepted"
        time.sleep(0.02)
    return time.monotonic() - since


def test_a_revoked_token_is_refused_by_every_worker_within_a_second(workers, token):
    plaintext, user_id, inst_id = token
    assert [status(app, plaintext) for app in workers] == [200, 200]  # both workers now hold it
    with workers[0].app_context():
        user = db.session.get(accounts.User, user_id)
        actor = accounts.Actor(user=user, institution_id=inst_id, roles=accounts.roles_in(db.session, user, inst_id))
        row = db.session.exec(select(ApiToken).where(ApiToken.user_id == user_id)).one()
        tokens.revoke(db.session, actor, row.id)
        db.session.commit()
    revoked = time.monotonic()
    assert status(workers[0], plaintext) == 401  # the worker that revoked it forgets it at once
    assert seconds_until_refused(workers[1], plaintext, revoked) < BOUND_SECONDS


def test_a_withdrawn_membership_reaches_every_worker_within_a_second(workers, token):
    plaintext, user_id, _inst_id = token
    assert [status(app, plaintext) for app in workers] == [200, 200]
    before = generation()
    with workers[0].app_context():
        db.session.exec(delete(Membership).where(Membership.user_id == user_id))  # a bulk statement
        db.session.commit()
    withdrawn = time.monotonic()
    assert generation() > before  # announced to every worker, not left to the entries' age
    assert seconds_until_refused(workers[1], plaintext, withdrawn) < BOUND_SECONDS


def test_a_change_made_outside_the_application_is_honoured_within_the_entries_age(workers, token):
    plaintext, user_id, _inst_id = token
    assert status(workers[1], plaintext) == 200
    with workers[0].app_context(), db.engine.begin() as conn:  # plain SQL: no session event sees it
        conn.execute(sa.text("UPDATE api_token SET revoked_at = now() WHERE user_id = :u"), {"u": user_id})
    changed = time.monotonic()
    assert status(workers[1], plaintext) == 200  # served from the cache, which did not hear of it
    assert seconds_until_refused(workers[1], plaintext, changed) < BOUND_SECONDS + 0.1


def test_a_call_that_fails_and_rolls_back_leaves_the_cached_token_usable(workers, token):
    plaintext, _user_id, _inst_id = token
    with workers[1].app_context():
        get_screener()  # built beforehand, so that the calls below follow each other closely
    client = workers[1].test_client()
    bearer = {"Authorization": f"Bearer {plaintext}"}
    # The call that finds the token (and caches it) fails and rolls its session back.
    assert client.post("/api/v1/screen", json={"title": ""}, headers=bearer).status_code == 422
    assert [client.get("/api/v1/lists", headers=bearer).status_code for _ in range(3)] == [200, 200, 200]


def test_a_write_call_never_uses_the_cache(workers, token):
    plaintext, user_id, _inst_id = token
    assert status(workers[1], plaintext) == 200
    with workers[0].app_context(), db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE api_token SET revoked_at = now() WHERE user_id = :u"), {"u": user_id})
    bearer = {"Authorization": f"Bearer {plaintext}"}
    answer = workers[1].test_client().post("/api/v1/proposals", json={}, headers=bearer)
    assert answer.status_code == 401


def test_without_redis_nothing_is_served_from_the_cache(workers, token):
    plaintext, _user_id, _inst_id = token
    unreachable = TokenCache("redis://127.0.0.1:1/0")
    digest = tokens.hash_token(plaintext)
    with workers[0].app_context():
        resolved = tokens.resolve(db.session, plaintext)
    unreachable.put(digest, resolved, unreachable.generation())
    assert unreachable.get(digest, max_age=60, refresh=0) is None
