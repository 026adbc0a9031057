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

An idle worker used to find a new message by polling the queue every 0.1 s (a
write transaction on the file each time): on average half that wait before a
job was received, and ~15 ms of CPU a second spent on empty polls. ``Transport``
here waits for news instead: a write to the broker file (or its WAL), which every
publish makes, or a delivery being settled, which frees a prefetch slot. It sleeps
on inotify (Linux; elsewhere it reads the files' ``stat`` every 20 ms) and polls
the queue as soon as either happens, and at least once a second regardless, in
case a write went unnoticed. ``use_waking_transport`` makes kombu's ``sqla`` URLs
use it.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import logging
import os
import select
import sqlite3
import struct
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from queue import Empty
from typing import Any

import kombu.transport
from kombu.transport import sqlalchemy as kombu_sqlalchemy
from kombu.transport.sqlalchemy.models import metadata as kombu_metadata
from sqlalchemy import event
from sqlalchemy.engine import CreateEnginePlugin, Engine
from sqlalchemy.engine.url import URL, make_url
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


FileState = tuple[int, int, int] | None  # (st_ino, st_size, st_mtime_ns); None: no file


def broker_files(url: str) -> tuple[str, ...]:
    """The files a publish to the SQLite database at SQLAlchemy ``url`` writes: the file and its WAL.

    Empty for anything else (another database, an in-memory one): nothing to watch there.
    """
    try:
        parsed = make_url(url)
    except Exception:  # not a URL SQLAlchemy reads: nothing to watch
        return ()
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:") or parsed.query.get("uri"):
        return ()
    path = os.path.abspath(database)
    return (path, path + "-wal")


def files_state(paths: tuple[str, ...]) -> tuple[FileState, ...]:
    states: list[FileState] = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            states.append(None)
        else:
            states.append((st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(states)


# inotify(7): the events that a write to, or the replacement of, a file in the watched folder raises.
_IN_MODIFY, _IN_MOVED_TO, _IN_CREATE, _IN_DELETE = 0x2, 0x80, 0x100, 0x200
_IN_IGNORED = 0x8000  # the watch is gone (its folder was removed)
_IN_NONBLOCK, _IN_CLOEXEC = os.O_NONBLOCK, os.O_CLOEXEC
_EVENT_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len (then len bytes of name)


def _inotify_libc() -> Any:
    """libc with inotify, or None (not Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.inotify_init1, libc.inotify_add_watch  # noqa: B018 - present or AttributeError
    except (OSError, AttributeError):
        return None
    return libc


class BrokerWatch:
    """Tells a waiting worker that the broker's files were written, or that it was poked (``poke()``).

    On Linux, inotify on the file's folder (one fd, filtered by name: the folder holds other
    files) and an eventfd for ``poke()``, waited on with ``select``: an idle worker sleeps until
    one of them or the timeout. Elsewhere the files' ``stat`` is read every ``STAT_INTERVAL`` s.
    """

    STAT_INTERVAL = 0.02

    def __init__(self, paths: tuple[str, ...]) -> None:
        self.paths = paths
        self.names = {os.fsencode(os.path.basename(path)) for path in paths}
        self._poked = threading.Event()
        self._inotify = -1
        self._wake = -1
        self._before: tuple[FileState, ...] = ()
        libc = _inotify_libc()
        if libc is None or not hasattr(os, "eventfd"):
            return
        self._wake = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        if not paths:
            return
        fd = libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        if fd < 0:
            return
        folder = os.fsencode(os.path.dirname(paths[0]))
        if libc.inotify_add_watch(fd, folder, _IN_MODIFY | _IN_MOVED_TO | _IN_CREATE | _IN_DELETE) < 0:
            os.close(fd)  # no such folder (yet): the stat reads below stand in
            return
        self._inotify = fd

    @property
    def uses_inotify(self) -> bool:
        return self._inotify >= 0

    def poke(self) -> None:
        """Wake the waiter (from any thread): a prefetch slot may be free."""
        self._poked.set()
        if self._wake >= 0:
            with contextlib.suppress(OSError):
                os.eventfd_write(self._wake, 1)

    def arm(self) -> None:
        """Forget what happened so far: called before each poll of the queue, whose read sees it."""
        self._poked.clear()
        if self._wake >= 0:
            with contextlib.suppress(BlockingIOError):
                os.eventfd_read(self._wake)
        if self.uses_inotify:
            self._read_events()
        if not self.uses_inotify:
            self._before = files_state(self.paths)

    def wait(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for a write to the files or a poke since ``arm()``; True if one came."""
        deadline = time.monotonic() + seconds
        while not self._poked.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if self.uses_inotify:
                readable, _, _ = select.select([self._inotify, self._wake], [], [], left)
                if self._wake in readable or (self._inotify in readable and self._read_events()):
                    return True
            elif self.paths:
                time.sleep(min(self.STAT_INTERVAL, left))
                if files_state(self.paths) != self._before:
                    return True
            else:
                self._poked.wait(left)  # nothing to watch: only a poke or the timeout ends the wait
        return True

    def _read_events(self) -> bool:
        """Drain the inotify fd; True if an event named one of the broker's files (or the watch ended)."""
        seen = False
        while True:
            try:
                data = os.read(self._inotify, 65536)
            except BlockingIOError:
                return seen
            offset = 0
            while offset + _EVENT_HEADER.size <= len(data):
                _, mask, _, length = _EVENT_HEADER.unpack_from(data, offset)
                name = data[offset + _EVENT_HEADER.size : offset + _EVENT_HEADER.size + length].rstrip(b"\0")
                offset += _EVENT_HEADER.size + length
                if mask & _IN_IGNORED:
                    # The folder was removed: a new one at that path is not watched, so read the files' stat.
                    os.close(self._inotify)
                    self._inotify = -1
                    return True
                seen = seen or name in self.names

    def close(self) -> None:
        for fd in (self._inotify, self._wake):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._inotify = self._wake = -1


class Channel(kombu_sqlalchemy.Channel):
    """kombu's channel, telling its transport when a delivery is settled (a prefetch slot may be free)."""

    connection: Transport

    def basic_ack(self, delivery_tag: str, multiple: bool = False) -> None:
        try:
            super().basic_ack(delivery_tag, multiple)
        finally:
            self.connection.poke()

    def basic_reject(self, delivery_tag: str, requeue: bool = False) -> None:
        try:
            super().basic_reject(delivery_tag, requeue)
        finally:
            self.connection.poke()

    def basic_qos(self, *args: Any, **kwargs: Any) -> Any:
        result = super().basic_qos(*args, **kwargs)
        self.connection.poke()
        return result


class Transport(kombu_sqlalchemy.Transport):
    """kombu's SQLAlchemy transport, waiting between empty polls for a write to the broker file.

    Celery's worker runs this transport in its blocking loop (``drain_events``); with
    ``task_acks_late`` its acks come from the pool's result thread, hence ``poke()``.
    """

    Channel = Channel
    #: The longest wait between two polls of the queue: a safety net, should a write go unnoticed.
    polling_interval = 1.0

    def __init__(self, client: Any, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        # Made by the first drain_events: publishers (web processes) never wait, so hold no fds for it.
        self.watch: BrokerWatch | None = None
        self._watch_lock = threading.Lock()

    def poke(self) -> None:
        with self._watch_lock:
            if self.watch is not None:
                self.watch.poke()

    def drain_events(self, connection: Any, timeout: float | None = None) -> None:
        # kombu's loop (virtual.Transport.drain_events) with its sleep replaced by the watch's wait.
        with self._watch_lock:
            if self.watch is None:
                self.watch = BrokerWatch(broker_files(self.client.hostname or ""))
            watch = self.watch  # kept should the connection close meanwhile (a closed watch reads stat)
        started = time.monotonic()
        while True:
            # Armed before the poll: a publish that commits after the poll read the queue wakes the wait.
            watch.arm()
            try:
                self.cycle.get(self._deliver, timeout=timeout)
                return
            except Empty:
                elapsed = time.monotonic() - started
                if timeout is not None and elapsed >= timeout:
                    raise TimeoutError() from None  # socket.timeout, which Celery's loop expects
                wait = self.polling_interval if timeout is None else min(self.polling_interval, timeout - elapsed)
                watch.wait(wait)

    def close_connection(self, connection: Any) -> None:
        try:
            super().close_connection(connection)
        finally:
            with self._watch_lock:
                if self.watch is not None:
                    self.watch.close()
                    self.watch = None


def use_waking_transport() -> None:
    """Make kombu's ``sqla+...`` broker URLs use ``Transport`` above in this process.

    kombu takes the transport from a ``sqla+`` URL's prefix even when Celery names another
    (``broker_transport``), so the prefix's alias is what can point here.
    """
    kombu.transport.TRANSPORT_ALIASES["sqla"] = f"{__name__}:Transport"
    # kombu caches each name's class once resolved (kombu.transport.get_transport_cls).
    getattr(kombu.transport, "_transport_cache", {}).pop("sqla", None)
