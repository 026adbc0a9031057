"""Database outages: telling one from a bug, and getting a fresh connection for the next try.

The web answers an outage with 503 (imagegen/api/errors.py, imagegen/middleware.py);
the worker waits it out and retries (images/tasks.py, images/services/pipeline.py).
"""

from __future__ import annotations

import contextlib
import random
import sqlite3

from django.db import DatabaseError, InterfaceError, OperationalError, connections

# Catch these, then ask is_database_unavailable(): SQLite reports bugs as OperationalError too.
DATABASE_ERRORS = (OperationalError, InterfaceError)

# SQLite's OperationalError also means "no such table" or a syntax error: only these are an outage.
_SQLITE_OUTAGES = ("database is locked", "database table is locked", "unable to open database file", "disk i/o error")

# What the web tells clients to wait before trying again.
RETRY_AFTER_SECONDS = 5


def is_database_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` means the database cannot be reached (down, restarting, dropped, locked), not a bad query."""
    if isinstance(exc, InterfaceError):
        return True  # psycopg: "the connection is closed"
    if not isinstance(exc, OperationalError):
        return False
    if isinstance(exc.__cause__, sqlite3.Error):
        return any(text in str(exc).lower() for text in _SQLITE_OUTAGES)
    # PostgreSQL: connection refused or lost, "the database system is shutting down",
    # terminated by an administrator, a deadlock or a cancelled statement: all worth a retry.
    return True


def reset_connections() -> None:
    """Close this thread's connections, so the next query opens a new one instead of reusing a dead one."""
    for connection in connections.all(initialized_only=True):
        with contextlib.suppress(DatabaseError):
            connection.close()


def outage_backoff(retry: int, *, cap: float = 10.0) -> float:
    """Seconds before retry number ``retry`` (0-based): 1, 2, 4, 8, then ``cap``, with jitter."""
    ceiling = min(cap, 2.0**retry)
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not security
