"""Waking request threads that wait for a row to change, instead of polling with a back-off.

On PostgreSQL the change is announced with ``NOTIFY`` (a trigger sends it when the row's
transaction commits: see the migration that installs it), and each process keeps **one**
listener thread with one connection that ``LISTEN``\\ s and wakes the waiting threads whose key
came in: no connection per waiting request. Elsewhere (SQLite) a waiter reads again after a
short fixed interval.

A waiter never relies on the notification alone: it registers before its first read (so a
change that commits in between still wakes it), and reads again at least every
``SAFETY_INTERVAL`` s, which covers a listener that is reconnecting after losing its
connection (it wakes every waiter when it is back, too).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import TypeVar

from django.db import connections

from imagegen.backoff import doubling

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Where nothing announces changes (SQLite): how often a waiter reads again.
POLL_INTERVAL = 0.02
# With a listener: the longest a waiter goes without reading, should a notification be lost.
SAFETY_INTERVAL = 1.0
# The listener looks up from its connection this often (to notice it is asked to stop).
NOTIFY_TIMEOUT = 1.0
# How long a first waiter gives a new listener to be listening before it reads anyway.
READY_TIMEOUT = 2.0


def _listening_supported(alias: str = "default") -> bool:
    return connections[alias].vendor == "postgresql"


class Listener:
    """One thread and one connection per process, ``LISTEN``\\ ing on ``channel``; wakes waiters by payload."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self._lock = threading.Lock()
        self._waiters: dict[str, set[threading.Event]] = defaultdict(set)
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._pid = 0

    def subscribe(self, key: str) -> threading.Event:
        """An event set when ``key`` is announced on the channel (or the listener reconnects)."""
        event = threading.Event()
        with self._lock:
            self._waiters[key].add(event)
            self._ensure_running()
        self._ready.wait(READY_TIMEOUT)
        return event

    def unsubscribe(self, key: str, event: threading.Event) -> None:
        with self._lock:
            events = self._waiters.get(key)
            if events is not None:
                events.discard(event)
                if not events:
                    del self._waiters[key]

    @property
    def listening(self) -> bool:
        return self._ready.is_set()

    def stop(self) -> None:
        """End the thread and close its connection (tests, before their database goes away)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2 * NOTIFY_TIMEOUT + 1)

    def _ensure_running(self) -> None:
        import os

        # A forked child (a pre-forking server) inherits the parent's object but not its thread.
        if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
            self._pid = os.getpid()
            self._ready.clear()
            self._thread = threading.Thread(target=self._run, name=f"listen-{self.channel}", daemon=True)
            self._thread.start()

    def _wake(self, key: str | None) -> None:
        with self._lock:
            events = (
                [e for events in self._waiters.values() for e in events] if key is None else self._waiters.get(key, ())
            )
            for event in list(events):
                event.set()

    def _connect(self):  # -> psycopg.Connection
        import psycopg

        params = connections["default"].get_connection_params()
        for django_only in ("cursor_factory", "context"):
            params.pop(django_only, None)
        conn = psycopg.connect(**params, autocommit=True)
        conn.execute(f'LISTEN "{self.channel}"')
        return conn

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                with self._connect() as conn:
                    self._ready.set()
                    failures = 0
                    self._wake(None)  # whatever committed while we were away: everyone reads again
                    while not self._stop.is_set():
                        for notice in conn.notifies(timeout=NOTIFY_TIMEOUT):
                            self._wake(notice.payload)
                self._ready.clear()
            except Exception as exc:  # the database is away: the waiters fall back to their safety reads
                self._ready.clear()
                failures += 1
                if failures == 1:
                    logger.warning("LISTEN connection lost; waiters poll until it is back", extra={"error": str(exc)})
                self._stop.wait(doubling(failures, first=0.5, cap=10.0))


_LISTENERS: dict[str, Listener] = {}
_LISTENERS_LOCK = threading.Lock()


def listener(channel: str) -> Listener:
    """This process's listener for ``channel`` (made on first use)."""
    with _LISTENERS_LOCK:
        if channel not in _LISTENERS:
            _LISTENERS[channel] = Listener(channel)
        return _LISTENERS[channel]


def stop_listeners() -> None:
    """Stop every listener of this process (they start again on the next wait)."""
    with _LISTENERS_LOCK:
        listeners = list(_LISTENERS.values())
        _LISTENERS.clear()
    for one in listeners:
        one.stop()


def wait_for(read: Callable[[], T], done: Callable[[T], bool], *, channel: str, key: str, seconds: float) -> T:
    """Call ``read`` until ``done`` says so or ``seconds`` pass, reading again as soon as ``key`` is announced.

    Returns the last value read. The first read is immediate. On PostgreSQL the
    thread sleeps until ``key`` is notified on ``channel`` (or ``SAFETY_INTERVAL``);
    elsewhere it reads every ``POLL_INTERVAL`` s.
    """
    deadline = time.monotonic() + seconds
    if not _listening_supported():
        while True:
            value = read()
            if done(value) or time.monotonic() >= deadline:
                return value
            time.sleep(min(POLL_INTERVAL, max(0.0, deadline - time.monotonic())))
    hub = listener(channel)
    event = hub.subscribe(key)
    try:
        while True:
            value = read()
            if done(value) or time.monotonic() >= deadline:
                return value
            interval = SAFETY_INTERVAL if hub.listening else POLL_INTERVAL * 5
            event.wait(min(interval, max(0.0, deadline - time.monotonic())))
            event.clear()
    finally:
        hub.unsubscribe(key, event)
