"""Per-token API rate limits counted in leases: each worker process reserves a block of a window's
attempts in one Redis call. The limit must hold across all workers together, a lease must never
outlive its window, and a forked worker must not spend its parent's lease.

Against the real Redis of the PostgreSQL pass (SCREENING_TEST_REDIS_URL); skipped without it.
"""

import os
import uuid

import pytest
from flask import Flask

from screening.core import ratelimit
from screening.core.ratelimit import Leases, RateLimiter, RedisStore, lease_size

REDIS_URL = os.environ.get("SCREENING_TEST_REDIS_URL")
pytestmark = pytest.mark.skipif(not REDIS_URL, reason="SCREENING_TEST_REDIS_URL not set")


class CountingStore(RedisStore):
    """The real Redis store, counting its round trips."""

    def __init__(self, url: str):
        super().__init__(url)
        self.calls = 0

    def hit(self, *args, **kwargs) -> int:
        self.calls += 1
        return super().hit(*args, **kwargs)


def worker_app() -> Flask:
    """Stands for one worker process: its own limiter state (leases), the shared Redis."""
    app = Flask(__name__)
    app.config["RATELIMIT_STORAGE"] = REDIS_URL
    RateLimiter().init_app(app)
    app.extensions["ratelimit_store"].close()
    app.extensions["ratelimit_store"] = CountingStore(REDIS_URL)
    return app


@pytest.fixture
def workers():
    apps = [worker_app(), worker_app()]
    yield apps
    for app in apps:
        app.extensions["ratelimit_store"].reset()
        app.extensions["ratelimit_store"].close()


@pytest.fixture
def key():
    return f"api:token:test-{uuid.uuid4().hex}"


def attempt(app: Flask, key: str, limit: tuple[int, int]) -> bool:
    """One request through ``app``'s limiter; True when it is allowed."""
    with app.app_context():
        return not RateLimiter().exceeded(key, limit, leased=True)


def test_two_workers_together_never_pass_the_limit_and_lose_at_most_their_unused_leases(workers, key):
    limit = (300, 600)
    allowed = [attempt(workers[i % 2], key, limit) for i in range(400)]
    granted = sum(allowed)
    assert granted <= 300
    assert granted >= 300 - 2 * (lease_size(300) - 1)
    assert not any(allowed[granted + 2 * lease_size(300):])  # once refused, refused for the window


def test_most_requests_skip_the_round_trip(workers, key):
    app = workers[0]
    for _ in range(120):
        assert attempt(app, key, (600, 600))
    size = lease_size(600)
    assert size > 1
    assert app.extensions["ratelimit_store"].calls == -(-120 // size)


def test_a_spent_window_is_refused_without_asking_redis_again(workers, key):
    app = workers[0]
    assert [attempt(app, key, (2, 600)) for _ in range(3)] == [True, True, False]
    calls = app.extensions["ratelimit_store"].calls
    assert not attempt(app, key, (2, 600))
    assert app.extensions["ratelimit_store"].calls == calls


def test_small_limits_are_counted_exactly(workers, key):
    assert lease_size(49) == 1
    allowed = [attempt(workers[i % 2], key, (49, 600)) for i in range(60)]
    assert allowed == [True] * 49 + [False] * 11


def test_a_lease_is_not_spent_in_the_next_window(workers, key, monkeypatch):
    app = workers[0]
    now = [1_000_000.0]
    monkeypatch.setattr(ratelimit.time, "time", lambda: now[0])
    limit = (100, 60)
    assert attempt(app, key, limit)
    calls = app.extensions["ratelimit_store"].calls
    assert attempt(app, key, limit)
    assert app.extensions["ratelimit_store"].calls == calls  # served from the lease
    now[0] += 60
    assert attempt(app, key, limit)
    assert app.extensions["ratelimit_store"].calls == calls + 1  # a new window: a new reservation


def test_a_forked_worker_does_not_spend_its_parents_lease(monkeypatch):
    leases = Leases()
    leases.add("k", 7, 5)
    assert leases.take("k", 7) is True
    monkeypatch.setattr(ratelimit.os, "getpid", lambda: -1)
    assert leases.take("k", 7) is None


def test_store_failure_fails_open_for_leased_counting(key):
    app = Flask(__name__)
    app.config["RATELIMIT_STORAGE"] = "redis://127.0.0.1:1/0"
    RateLimiter().init_app(app)
    try:
        assert attempt(app, key, (1000, 60))
    finally:
        app.extensions["ratelimit_store"].close()
