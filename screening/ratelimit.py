"""A small sliding-window rate limiter: in memory (embedded) or in Redis (production).

Counts expire on their own, so nobody is ever locked out permanently.
"""

import threading
import time
from collections import defaultdict, deque


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
    _HIT = "local n = redis.call('INCR', KEYS[1]) redis.call('EXPIRE', KEYS[1], ARGV[1]) return n"

    def __init__(self, url: str):
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._hit = self._redis.register_script(self._HIT)

    def hit(self, key: str, window: int) -> int:
        bucket = int(time.time() // window)
        full = f"screening:rl:{key}:{bucket}"
        return int(self._hit(keys=[full], args=[window * 2]))

    def close(self) -> None:
        self._redis.close()

    def reset(self) -> None:  # pragma: no cover - only for tests against real Redis
        for key in self._redis.scan_iter("screening:rl:*"):
            self._redis.delete(key)


class RateLimiter:
    def init_app(self, app) -> None:
        url = app.config["RATELIMIT_STORAGE"]
        app.extensions["ratelimit_store"] = MemoryStore() if url.startswith("memory") else RedisStore(url)

    @property
    def store(self):
        from flask import current_app

        return current_app.extensions["ratelimit_store"]

    def exceeded(self, key: str, limit: tuple[int, int]) -> bool:
        """Record one attempt under ``key``; True when over ``limit`` = (attempts, seconds).

        If the store is unreachable the limiter fails open (and logs), so logins keep working
        when Redis is down.
        """
        attempts, window = limit
        try:
            return self.store.hit(key, window) > attempts
        except Exception:
            import logging

            logging.getLogger(__name__).warning("rate limit store unavailable; not limiting")
            return False
