"""Resolved API tokens, cached per worker process and dropped by every worker when access changes.

A cache hit costs a SHA-256 and a dictionary look-up: no database, no Redis. Two bounds keep it
safe (measured in ``bench/api_bench.py`` and ``tests/web/test_api_token_cache.py``):

- **Changes made through the application** (a token revoked, a user disabled, a role or a
  membership withdrawn or added, an institution changed: any insert, update or delete of the
  ``api_token``, ``user_account``, ``membership`` or ``institution`` tables through the ORM, bulk
  statements included) increase the *access generation*, a counter in Redis, right after their
  transaction commits. Each worker reads the counter at most every ``API_AUTH_REFRESH_SECONDS``
  (0.25) and empties its cache when it changed; the worker that committed empties its own at once.
  So such a change reaches every worker within 0.25 s plus the time of a request in flight.
- **Anything else** (SQL typed by hand, another program writing the tables): an entry is never
  older than ``API_AUTH_CACHE_SECONDS`` (1 in production, 0 = no cache elsewhere), whatever happens.

When Redis cannot be read, nothing is served from the cache (every call reads the database) until
it can. Expiry is always exact: an entry is checked against the token's ``expires_at``. Without
Redis (the embedded default) the generation lives in the process, which then is the only one.
"""

import logging
import threading
import time
from collections.abc import Callable

import redis
import sqlalchemy as sa
from flask import Flask, current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, make_transient_to_detached

from screening.accounts.service import Actor
from screening.api.tokens import Resolved
from screening.core.database import utcnow

log = logging.getLogger(__name__)

GENERATION_KEY = "screening:api:access-generation"
# The tables whose rows decide what a token may do: the token, its user, the user's memberships
# (roles) and institutions.
ACCESS_TABLES = frozenset({"api_token", "user_account", "membership", "institution"})
EXTENSION = "api_auth_cache"
MAX_ENTRIES = 10_000
_CHANGED = "api_access_changed"


class TokenCache:
    """One process's cache of ``tokens.resolve`` answers, keyed by the token's SHA-256."""

    def __init__(self, redis_url: str | None, clock: Callable[[], float] = time.monotonic) -> None:
        self._redis = (redis.Redis.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
                       if redis_url else None)
        self._clock = clock
        self._local_generation = 0
        self._entries: dict[str, tuple[float, Resolved]] = {}
        self._generation: object = None  # the generation the entries belong to; None: unknown
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    def get(self, digest: str, max_age: float, refresh: float) -> Resolved | None:
        """The cached answer for ``digest`` if it is still valid, else None (then resolve and ``put``)."""
        now = self._clock()
        if now - self._checked_at >= refresh:
            self._sync(now, refresh)
        if self._generation is None:
            return None
        hit = self._entries.get(digest)
        if hit is None or now - hit[0] >= max_age or hit[1].token.expires_at <= utcnow():
            return None
        return hit[1]

    def generation(self) -> object:
        """Read before resolving a miss and hand to ``put``: an answer read from the database while
        the generation changed is not kept (it may predate the change)."""
        return self._generation

    def put(self, digest: str, resolved: Resolved | None, generation: object) -> None:
        with self._lock:
            if resolved is None:
                self._entries.pop(digest, None)
                return
            if generation is None or generation != self._generation:
                return
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[digest] = (self._clock(), _detached(resolved))

    def bump(self) -> None:
        """Access changed: every worker drops its entries (this one at once, the others at their next check)."""
        with self._lock:
            self._entries.clear()
            self._generation = None
            self._checked_at = float("-inf")
            if self._redis is None:
                self._local_generation += 1
                return
        try:
            self._redis.incr(GENERATION_KEY)
        except redis.RedisError:
            log.warning("could not publish an API access change to Redis; other workers follow within "
                        "API_AUTH_CACHE_SECONDS")

    def _sync(self, now: float, refresh: float) -> None:
        with self._lock:
            if now - self._checked_at < refresh:
                return
            try:
                generation = self._local_generation if self._redis is None else self._redis.get(GENERATION_KEY)
            except redis.RedisError:
                log.warning("Redis unreachable: API tokens are read from the database on every call")
                self._entries.clear()
                self._generation = None
                self._checked_at = now
                return
            if generation is None:  # a counter never increased yet
                generation = b"0"
            if generation != self._generation:
                self._entries.clear()
            self._generation = generation
            self._checked_at = now


def _detached(resolved: Resolved) -> Resolved:
    """Copies of the token and user rows that belong to no session: the request that read them may
    still roll its session back (a 422, say), which would expire the originals for every later hit."""

    def copy(row):
        twin = type(row)(**{attr.key: getattr(row, attr.key) for attr in sa.inspect(type(row)).column_attrs})
        make_transient_to_detached(twin)  # keeps its identity (the id the logs report), in no session
        return twin

    actor = resolved.actor
    return Resolved(token=copy(resolved.token),
                    actor=Actor(user=copy(actor.user), institution_id=actor.institution_id, roles=actor.roles))


def cache(app: Flask) -> TokenCache:
    found = app.extensions.get(EXTENSION)
    if found is None:
        found = app.extensions.setdefault(EXTENSION, TokenCache(app.config.get("REDIS_URL")))
    return found


# ----------------------------------------------------------------- noticing changes of access


def _touches_access(session: Session) -> bool:
    return any(getattr(obj, "__tablename__", None) in ACCESS_TABLES
               for obj in (*session.new, *session.dirty, *session.deleted))


def _after_flush(session: Session, _context) -> None:
    if _touches_access(session):
        session.info[_CHANGED] = True


def _on_execute(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        if isinstance(table, sa.Table) and table.name in ACCESS_TABLES:
            state.session.info[_CHANGED] = True


def _after_commit(session: Session) -> None:
    if session.info.pop(_CHANGED, False) and has_app_context():
        cache(current_app._get_current_object()).bump()


def _after_rollback(session: Session) -> None:
    session.info.pop(_CHANGED, None)


def watch_access_changes() -> None:
    """Listen on every ORM session for changes of the access tables (idempotent)."""
    for name, listener in (("after_flush", _after_flush), ("do_orm_execute", _on_execute),
                           ("after_commit", _after_commit), ("after_rollback", _after_rollback)):
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)
