"""Django's PostgreSQL backend, whose per-request health check reads the socket instead of the server.

With ``CONN_HEALTH_CHECKS`` on (settings.py), Django checks a kept connection before a
request's first query with ``SELECT 1``: one more round trip on every request, a quarter of a
status poll's four, and a wait for the GIL again when the answer comes back. A connection at
rest receives nothing: this project listens for notifications on connections of its own
(imagegen.wakeup). So whatever has arrived on an idle connection's socket (a server's
"terminating connection" error, the end of the stream after a restart or a killed backend)
means something happened to it, and only then is ``SELECT 1`` asked, to tell. A quiet socket is
taken as alive: a peer gone without a word (a cut cable) is found by the request's own query,
as by ``SELECT 1``, and the connection dropped at the end of that request.
"""

from __future__ import annotations

import select
from typing import Any

import psycopg
from django.db.backends.postgresql import base
from psycopg import pq


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        if connection.info.transaction_status != pq.TransactionStatus.IDLE or _has_input(connection):
            return super().is_usable()
        return True


def _has_input(connection: Any) -> bool:
    """Whether anything (data, the end of the stream, an error) waits on the connection's socket, without waiting.

    Any doubt (no socket to read) is a yes: ``SELECT 1`` tells.
    """
    try:
        fd = connection.pgconn.socket
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLPRI)
        return bool(poller.poll(0))
    except (OSError, ValueError, psycopg.Error):
        return True
