"""A small rate limiter: a sliding window in memory (embedded) or fixed windows in Redis (production).

Counts expire on their own, so nobody is ever locked out permanently.

A busy key (an API token) may be counted in leases: a worker process reserves a block of the
window's attempts in one Redis call and hands them out locally, so most requests skip the round
trip. The limit still holds across all workers (a block never reaches past it); the price is that
attempts reserved by one worker and not used there are lost to the others, so a client may be
refused up to (workers x (block - 1)) attempts early in a window. Login throttling counts every
attempt in Redis.
"""

import os
import threading
import time
from collections import defaultdict, deque

LEASE_MAX = 64  # attempts one Redis call may reserve for a worker (a limit of 3,200 or more)
LEASE_SHARE = 50  # a lease is at most 1/50 of the limit, so small limits stay exact
LEASES_KEPT = 10_000


class MemoryStore:
    def __init__(self, clock=time.monotonic):
        self._hits: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()
        self.clock = clock

    def hit(self, key: str, window: int) -> int:
        now = self.clock()
        with self._lock:
            q = self._hits[key]
            while q and q[0] <= now - window:
                q.popleft()
            q.append(now)
            return len(q)

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


class RedisStore:
    # INCR and EXPIRE in one atomic server-side step: one command and one reply per hit (EVALSHA;
    # redis-py loads the script again by itself after a SCRIPT FLUSH or a Redis restart), instead
    # of a MULTI/INCR/EXPIRE/EXEC transaction with four replies to parse.
    _HIT = "local n = redis.call('INCRBY', KEYS[1], ARGV[1]) redis.call('EXPIRE', KEYS[1], ARGV[2]) return n"

    def __init__(self, url: str):
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._hit = self._redis.register_script(self._HIT)

    def hit(self, key: str, window: int, count: int = 1, bucket: int | None = None) -> int:
        """Add ``count`` attempts to the key's current window; the window's total afterwards."""
        if bucket is None:
            bucket = int(time.time() // window)
        full = f"screening:rl:{key}:{bucket}"
        return int(self._hit(keys=[full], args=[count, window * 2]))

    def close(self) -> None:
        self._redis.close()

    def reset(self) -> None:  # pragma: no cover - only for tests against real Redis
        for key in self._redis.scan_iter("screening:rl:*"):
            self._redis.delete(key)


class Leases:
    """The attempts this process has reserved in Redis and not used yet: key -> (window, left)."""

    def __init__(self) -> None:
        self._held: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def take(self, key: str, bucket: int) -> bool | None:
        """Use one reserved attempt of ``key`` in window ``bucket``: True when one was left, False
        when this window is known to be spent, None when Redis must be asked."""
        with self._lock:
            if self._pid != os.getpid():  # a forked worker must not spend its parent's lease
                self._held.clear()
                self._pid = os.getpid()
            bucket_held, left = self._held.get(key, (bucket, 0))
            if bucket_held != bucket or left == 0:
                return None
            if left < 0:
                return False
            self._held[key] = (bucket, left - 1)
            return True

    def add(self, key: str, bucket: int, attempts: int) -> None:
        """Hold ``attempts`` more of ``key`` in window ``bucket``; -1 marks the window as spent."""
        with self._lock:
            if len(self._held) >= LEASES_KEPT:
                self._held.clear()  # leases of idle keys are only an optimisation: drop them
            bucket_held, left = self._held.get(key, (bucket, 0))
            if attempts >= 0 and bucket_held == bucket and left > 0:
                attempts += left
            self._held[key] = (bucket, attempts)

    def clear(self) -> None:
        with self._lock:
            self._held.clear()


def lease_size(attempts: int) -> int:
    return max(1, min(LEASE_MAX, attempts // LEASE_SHARE))


class RateLimiter:
    def init_app(self, app) -> None:
        url = app.config["RATELIMIT_STORAGE"]
        app.extensions["ratelimit_store"] = MemoryStore() if url.startswith("memory") else RedisStore(url)
        app.extensions["ratelimit_leases"] = Leases()

    def exceeded(self, key: str, limit: tuple[int, int], leased: bool = False, app=None) -> bool:
        """Record one attempt under ``key``; True when over ``limit`` = (attempts, seconds).

        ``leased``: count in blocks reserved per process (see the module's description) when the
        store is Redis. If the store is unreachable the limiter fails open (and logs), so logins
        keep working when Redis is down. ``app``: the application, outside its context.
        """
        from flask import current_app

        attempts, window = limit
        extensions = (app or current_app).extensions
        store = extensions["ratelimit_store"]
        try:
            if leased and isinstance(store, RedisStore):
                return self._exceeded_leased(store, extensions["ratelimit_leases"], key, attempts, window)
            return store.hit(key, window) > attempts
        except Exception:
            import logging

            logging.getLogger(__name__).warning("rate limit store unavailable; not limiting")
            return False

    @staticmethod
    def _exceeded_leased(store: RedisStore, leases: Leases, key: str, attempts: int, window: int) -> bool:
        bucket = int(time.time() // window)
        held = leases.take(key, bucket)
        if held is not None:
            return not held
        size = lease_size(attempts)
        total = store.hit(key, window, size, bucket)
        granted = min(size, attempts - (total - size))  # never past the limit, whoever reserved first
        if granted <= 0:
            leases.add(key, bucket, -1)  # a window's count only grows: refuse the rest of it locally
            return True
        leases.add(key, bucket, granted - 1)
        return False
