"""The embedded broker's SQLite file: the same durability settings as the main database,
and a process that follows the file when it is removed or replaced.

kombu's SQLAlchemy transport opens the file with SQLite's defaults: a rollback
journal with a full sync, several fsyncs per published message, and readers
(the worker's polls) blocked while a publish writes. Under a few concurrent
submissions those waits made most of a POST's time. WAL lets the worker read
while the web process writes, and ``synchronous=NORMAL`` syncs at checkpoints
instead of every commit: a process crash loses nothing; a power cut may lose
the last messages, which the sweeper re-sends (jobs left ``queued``).

A pooled SQLite connection stays on the file it opened: after the file at the
broker's path is deleted or replaced, a worker would poll the unlinked file
forever while new web processes publish into the new one. The
``FollowBrokerFile`` engine plugin (named in ``CELERY_BROKER_TRANSPORT_OPTIONS``,
which kombu hands to ``create_engine()``) compares the path's inode with the
connection's on every checkout and makes the pool reconnect when they differ.
A new connection creates kombu's tables when the file lacks them: kombu only
creates them once per process, when it first builds its engine. A file deleted
alone leaves its ``-wal`` and ``-shm`` behind; they are removed before SQLite
creates the new file, which would otherwise share the old file's WAL index with
every process still on the old file.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kombu.transport.sqlalchemy.models import metadata as kombu_metadata
from sqlalchemy import event
from sqlalchemy.engine import CreateEnginePlugin, Engine
from sqlalchemy.engine.url import URL
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.schema import CreateIndex, CreateTable

logger = logging.getLogger(__name__)

#: The name settings give the plugin in ``CELERY_BROKER_TRANSPORT_OPTIONS["plugins"]``.
PLUGIN_NAME = "imagegen_follow_broker_file"

FileIdentity = tuple[int, int]  # (st_dev, st_ino)

_installed = False
# The file identity each path's stale connections were last reported for: one
# warning per file replaced, however many pooled connections or polls find it.
_reported: dict[str, FileIdentity | None] = {}


def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def tune_sqlite_broker() -> None:
    """Apply the settings above to every SQLite connection SQLAlchemy opens in this process,
    and make the ``FollowBrokerFile`` plugin loadable by name (once)."""
    global _installed
    if _installed:
        return
    from sqlalchemy.dialects import plugins

    # The transport builds its engine itself: a listener on the Engine class is
    # SQLAlchemy's documented way to set SQLite pragmas on every connection.
    event.listen(Engine, "connect", _on_connect)
    plugins.register(PLUGIN_NAME, __name__, "FollowBrokerFile")
    _installed = True


def file_identity(path: str) -> FileIdentity | None:
    """The (device, inode) of the file at ``path`` now; None when there is none (or it cannot be seen)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


@contextmanager
def _directory_locked(directory: str) -> Iterator[None]:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        # No folder to lock (removed, say): SQLite's open fails too, with an
        # error kombu treats as a lost connection, retried, never a crash.
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


class FollowBrokerFile(CreateEnginePlugin):
    """An engine plugin that reconnects to the broker's SQLite file after it is removed or replaced."""

    def __init__(self, url: URL, kwargs: dict[str, Any]) -> None:
        super().__init__(url, kwargs)
        self.dialect: Any = None
        self.path = ""

    def update_url(self, url: URL) -> URL:
        return url

    def engine_created(self, engine: Engine) -> None:
        database = engine.url.database or ""
        if engine.dialect.name != "sqlite" or database in ("", ":memory:") or engine.url.query.get("uri"):
            return
        self.dialect = engine.dialect
        self.path = os.path.abspath(database)  # what the dialect opens
        event.listen(engine, "do_connect", self.before_connect)
        event.listen(engine, "connect", self.on_connect)
        event.listen(engine, "checkout", self.on_checkout)

    def before_connect(self, dialect: Any, connection_record: Any, cargs: list, cparams: dict) -> Any:
        if os.path.exists(self.path):
            return None  # SQLAlchemy connects as usual
        # The file is gone but its -wal and -shm may not be: SQLite would pair a
        # new file with them, sharing the old file's WAL index with every process
        # still on the old file (read errors, or worse). They belong to no file
        # now; removed under a lock so no process removes those of the file
        # another process has just created.
        with _directory_locked(os.path.dirname(self.path)):
            if not os.path.exists(self.path):
                for suffix in ("-wal", "-shm"):
                    with contextlib.suppress(OSError):
                        os.unlink(self.path + suffix)
            return dialect.connect(*cargs, **cparams)

    def on_connect(self, dbapi_connection: sqlite3.Connection, connection_record: Any) -> None:
        # SQLite creates a missing file on open: this is the identity of the file just opened.
        connection_record.info["broker_file"] = file_identity(self.path)
        self.create_missing_tables(dbapi_connection)

    def on_checkout(self, dbapi_connection: sqlite3.Connection, connection_record: Any, proxy: Any) -> None:
        if "broker_file" not in connection_record.info:
            return
        opened = connection_record.info["broker_file"]
        # None: the file was gone again by the time it was looked at, so this connection is already stale.
        if opened is not None and file_identity(self.path) == opened:
            return
        if self.path not in _reported or _reported[self.path] != opened:
            _reported[self.path] = opened
            logger.warning(
                "The broker file %s was removed or replaced; reconnecting to the file at that path "
                "(messages left in the old file are gone: jobs still queued are re-sent by the sweeper)",
                self.path,
            )
        # The pool closes this connection and opens a new one (see before_connect) before handing it out.
        raise DisconnectionError(f"broker file {self.path} was removed or replaced")

    def create_missing_tables(self, dbapi_connection: sqlite3.Connection) -> None:
        # kombu declares its tables (with the configured names) when it builds
        # its channel, before it creates this engine.
        tables = kombu_metadata.sorted_tables
        names = [table.name for table in tables]
        if not names:
            return
        placeholders = ", ".join("?" * len(names))
        present = dbapi_connection.execute(
            f"SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ({placeholders})",  # noqa: S608
            names,
        ).fetchone()[0]
        if present == len(names):
            return
        statements = [str(CreateTable(table, if_not_exists=True).compile(dialect=self.dialect)) for table in tables]
        statements += [
            str(CreateIndex(index, if_not_exists=True).compile(dialect=self.dialect))
            for table in tables
            for index in sorted(table.indexes, key=lambda index: index.name or "")
        ]
        # One transaction: another process creating them at the same time waits, then finds them.
        dbapi_connection.execute("BEGIN IMMEDIATE")
        try:
            for statement in statements:
                dbapi_connection.execute(statement)
        except BaseException:
            dbapi_connection.execute("ROLLBACK")
            raise
        dbapi_connection.execute("COMMIT")
