"""The embedded broker's SQLite file: the same durability settings as the main database.

kombu's SQLAlchemy transport opens the file with SQLite's defaults: a rollback
journal with a full sync, several fsyncs per published message, and readers
(the worker's polls) blocked while a publish writes. Under a few concurrent
submissions those waits made most of a POST's time. WAL lets the worker read
while the web process writes, and ``synchronous=NORMAL`` syncs at checkpoints
instead of every commit: a process crash loses nothing; a power cut may lose
the last messages, which the sweeper re-sends (jobs left ``queued``).
"""

from __future__ import annotations

import sqlite3
from typing import Any

_installed = False


def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def tune_sqlite_broker() -> None:
    """Apply the settings above to every SQLite connection SQLAlchemy opens in this process (once)."""
    global _installed
    if _installed:
        return
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    # The transport builds its engine itself: a listener on the Engine class is
    # SQLAlchemy's documented way to set SQLite pragmas on every connection.
    event.listen(Engine, "connect", _on_connect)
    _installed = True
