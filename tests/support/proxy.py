"""A TCP proxy in front of a local server that a test can cut, like a network outage.

Point the code under test at the proxy's URL instead of the server's, then::

    with tcp_proxy(moto_url) as proxy:
        env = child_env(**aws_env(proxy.url))  # a worker that reaches moto through the proxy
        ...
        proxy.pause()              # open connections drop, new ones are refused
        proxy.pause(hang=True)     # or: nothing moves, as when packets are lost
        proxy.resume()             # traffic flows again

``pause()`` is what a dead endpoint looks like (the client sees a reset at
once); ``pause(hang=True)`` is a partition: connections stay open and new
ones are accepted, but no byte passes until ``resume()``, so clients hit their
own timeouts. ``refused`` counts the connections turned away while paused,
which tells how hard a client retried.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

_CHUNK = 65536


class TcpProxy:
    """Forwards connections on a free 127.0.0.1 port to ``target_host:target_port``."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.refused = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._dropping = False
        self._flowing = threading.Event()
        self._flowing.set()
        self._stopped = threading.Event()
        self._acceptor = threading.Thread(target=self._accept_loop, name="tcp-proxy", daemon=True)
        self._acceptor.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pause(self, *, hang: bool = False) -> None:
        """Cut the path: drop and refuse connections, or with ``hang`` stall every byte."""
        with self._lock:
            if hang:
                self._flowing.clear()
                return
            self._dropping = True
            doomed = list(self._open)
        for sock in doomed:
            _reset(sock)

    def resume(self) -> None:
        with self._lock:
            self._dropping = False
        self._flowing.set()

    def close(self) -> None:
        self._stopped.set()
        self._flowing.set()  # stalled pumps must see the stop
        self._acceptor.join(timeout=5)
        self._listener.close()
        with self._lock:
            doomed = list(self._open)
        for sock in doomed:
            _reset(sock)

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                refuse = self._dropping
                if refuse:
                    self.refused += 1
            if refuse:
                _reset(client)
                continue
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        # A connection made during a partition waits for it to heal, as a SYN would.
        self._flowing.wait()
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            _reset(client)
            return
        upstream.settimeout(None)
        with self._lock:
            if self._dropping or self._stopped.is_set():
                for sock in (client, upstream):
                    _reset(sock)
                return
            self._open.update((client, upstream))
        pair = _Pair(client, upstream)
        for src, dst in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(src, dst, pair), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, pair: _Pair) -> None:
        try:
            while data := src.recv(_CHUNK):
                self._flowing.wait()
                if self._stopped.is_set():
                    raise ConnectionAbortedError
                dst.sendall(data)
            # An orderly end: pass it on, so bytes still in flight arrive.
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)
        except OSError:
            for sock in pair.sockets:
                _reset(sock)
        finally:
            if pair.pump_finished():
                with self._lock:
                    self._open.difference_update(pair.sockets)
                for sock in pair.sockets:
                    sock.close()


class _Pair:
    """The two sockets of one proxied connection; closed once both directions end."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.sockets = (client, upstream)
        self._running = 2
        self._lock = threading.Lock()

    def pump_finished(self) -> bool:
        with self._lock:
            self._running -= 1
            return self._running == 0


def _reset(sock: socket.socket) -> None:
    """Close ``sock`` with a TCP reset, waking any thread blocked reading it."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


@contextmanager
def tcp_proxy(target_url: str) -> Iterator[TcpProxy]:
    """A :class:`TcpProxy` in front of ``target_url`` (``http://host:port``), closed on exit."""
    parts = urlsplit(target_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 80)
    try:
        yield proxy
    finally:
        proxy.close()
