"""Rate limiting at O(1) per request, atomic, shared by every process.

A client's window opens at its first request and lasts the rate's period;
requests are counted in it until it ends, and the next request opens a new
one. A refused request is answered with the time left in the window, so a
client that used its allowance in a burst waits as long as it would with a log
of request times (what DRF's ``SimpleRateThrottle`` kept: a list of every
request in the window, rewritten per request, without a lock).

The count is incremented in the same atomic operation that reads it, so of
any number of concurrent requests at most ``limit`` pass in one window. Two
stores, chosen by ``THROTTLE_STORE``:

* ``database`` (default): one ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``
  on ``imagegen.RateCounter`` (PostgreSQL, SQLite 3.35+); ended windows are
  deleted by the periodic maintenance.
* ``redis``: one MULTI/EXEC round trip (``SET NX PX``, ``INCR``, ``PTTL``) on
  ``REDIS_URL``; Redis expires the keys itself.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from functools import cache
from typing import Protocol

from django.conf import settings
from django.db import connection


@dataclass(frozen=True)
class Decision:
    allowed: bool
    wait: float | None  # seconds until the window ends, when refused


class CounterStore(Protocol):
    def hit(self, ident: str, *, window_ms: int, now_ms: int) -> tuple[int, int]:
        """Count one request; returns ``(count in the window, milliseconds until it ends)``."""
        ...

    def delete_expired(self, *, now_ms: int) -> int: ...


class DatabaseStore:
    """Counts in ``imagegen_ratecounter``, one row per client."""

    def hit(self, ident: str, *, window_ms: int, now_ms: int) -> tuple[int, int]:
        from imagegen.models import RateCounter

        table = connection.ops.quote_name(RateCounter._meta.db_table)
        # Every SET expression reads the row as it was: a live window counts
        # one more, an ended one starts again at 1.
        sql = f"""
            INSERT INTO {table} (ident, count, resets_ms) {self._row_source()}
            ON CONFLICT (ident) DO UPDATE SET
                count = CASE WHEN {table}.resets_ms > %s THEN {table}.count + 1 ELSE 1 END,
                resets_ms = CASE WHEN {table}.resets_ms > %s THEN {table}.resets_ms ELSE excluded.resets_ms END
            RETURNING count, resets_ms
        """  # the table name comes from the model, the row source is a constant; every value is a parameter
        with connection.cursor() as cursor:
            cursor.execute(sql, [ident, now_ms + window_ms, now_ms, now_ms])
            count, resets_ms = cursor.fetchone()
        return count, resets_ms - now_ms

    @staticmethod
    def _row_source() -> str:
        if connection.vendor != "postgresql" or connection.in_atomic_block:
            return "VALUES (%s, 1, %s)"
        # Outside a transaction the upsert is its own (autocommit), and on
        # PostgreSQL its commit would wait for the WAL flush: the poll's slowest
        # step. A count lost to a server crash only lets a client a few more
        # requests, so this statement, and only this one, commits without waiting
        # (the setting is local to its transaction, read at its commit). Inside a
        # caller's transaction it would loosen the caller's commit too: not there.
        return "SELECT %s, 1, %s FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit"

    def delete_expired(self, *, now_ms: int) -> int:
        from imagegen.models import RateCounter

        deleted, _ = RateCounter.objects.filter(resets_ms__lte=now_ms).delete()
        return deleted


class RedisStore:
    """Counts in Redis keys that expire with their window."""

    def __init__(self, url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)

    def hit(self, ident: str, *, window_ms: int, now_ms: int) -> tuple[int, int]:
        key = f"imagegen:rate:{ident}"
        with self._redis.pipeline(transaction=True) as pipe:
            # MULTI/EXEC: no request can fall between creating the key with its
            # expiry and counting in it (an INCR alone would make a key that never expires).
            pipe.set(key, 0, px=window_ms, nx=True)
            pipe.incr(key)
            pipe.pttl(key)
            _, count, ttl_ms = pipe.execute()
        return int(count), max(int(ttl_ms), 0)

    def delete_expired(self, *, now_ms: int) -> int:
        return 0  # Redis expires the keys itself


@cache
def _store(name: str, redis_url: str) -> CounterStore:
    return RedisStore(redis_url) if name == "redis" else DatabaseStore()


def counter_store() -> CounterStore:
    return _store(settings.THROTTLE_STORE, settings.REDIS_URL)


def _storable(ident: str) -> str:
    # Idents come from request data (an email, a forwarded address): one with control
    # characters (PostgreSQL text refuses NUL) or of any length is counted under its digest.
    if ident.isprintable() and len(ident) <= 150:
        return ident
    return "sha:" + hashlib.blake2b(ident.encode("utf-8", "surrogatepass"), digest_size=20).hexdigest()


def rate_hit(ident: str, *, limit: int, window: int, now: float | None = None) -> Decision:
    """Count one request of ``ident`` against ``limit`` per ``window`` seconds."""
    now_ms = int((time.time() if now is None else now) * 1000)
    count, remaining_ms = counter_store().hit(_storable(ident), window_ms=window * 1000, now_ms=now_ms)
    if count <= limit:
        return Decision(allowed=True, wait=None)
    return Decision(allowed=False, wait=max(1, math.ceil(remaining_ms / 1000)))


def expired_counters_delete(*, now: float | None = None) -> int:
    """Delete counters whose windows have ended; returns how many (0 on Redis)."""
    return counter_store().delete_expired(now_ms=int((time.time() if now is None else now) * 1000))
