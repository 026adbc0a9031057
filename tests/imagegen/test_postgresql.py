"""imagegen.postgresql: the per-request health check reads the socket, and asks the server only when it spoke."""

from __future__ import annotations

import time

import psycopg
import pytest
from django.db import connection
from django.db.backends.postgresql import base as django_postgresql

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif("connection.vendor != 'postgresql'", reason="the PostgreSQL backend's own check"),
]


def _server_ends(pid: int) -> None:
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone() == (True,)


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_the_test_database_runs_on_this_backend():
    assert connection.settings_dict["ENGINE"] == "imagegen.postgresql"
    assert connection.health_check_enabled


def test_a_quiet_kept_connection_is_usable_without_a_query(monkeypatch):
    connection.ensure_connection()

    def select_one(self) -> bool:
        raise AssertionError("SELECT 1 was sent to a connection that had received nothing")

    monkeypatch.setattr(django_postgresql.DatabaseWrapper, "is_usable", select_one)
    assert connection.is_usable() is True


def test_a_connection_the_server_ended_is_unusable_and_the_next_request_gets_a_new_one():
    pid = _backend_pid()
    _server_ends(pid)
    deadline = time.monotonic() + 10
    while connection.is_usable() and time.monotonic() < deadline:  # the server's goodbye takes a moment
        time.sleep(0.05)
    assert connection.is_usable() is False

    connection.health_check_done = False  # as at the start of a request (close_old_connections)
    assert _backend_pid() != pid  # the check dropped the dead connection; the query ran on a new one


def test_a_connection_inside_a_transaction_is_still_asked(monkeypatch):
    asked = []
    monkeypatch.setattr(django_postgresql.DatabaseWrapper, "is_usable", lambda self: asked.append(1) or True)
    connection.ensure_connection()
    connection.connection.execute("BEGIN")
    try:
        assert connection.is_usable() is True and asked == [1]
    finally:
        connection.connection.execute("ROLLBACK")


def test_a_connection_whose_socket_cannot_be_read_is_asked():
    from imagegen.postgresql import base as ours

    class NoSocket:
        @property
        def socket(self) -> int:
            raise psycopg.OperationalError("the connection is lost")

    class Connection:
        pgconn = NoSocket()

    assert ours._has_input(Connection()) is True
