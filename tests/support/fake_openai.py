"""A fake OpenAI-compatible Images API on a loopback port, driven by the real ``openai`` client.

``FakeServer`` (also the base of ``tests/support/fake_kie.py`` and the file
servers of the fetch tests) records every request and answers with scripted
``Reply`` objects. Start and stop it with ``with FakeOpenAI() as server:``.
"""

from __future__ import annotations

import base64
import io
import json
import ssl
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image


def png_bytes(width: int = 64, height: int = 48, color: str = "teal", fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format=fmt)
    return buf.getvalue()


@dataclass
class Reply:
    status: int = 200
    json: object | None = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # Hold the request open until the server stops (the client's timeout fires first).
    hang: bool = False
    # False: no Content-Length, the body simply ends when the connection closes.
    send_length: bool = True

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        body = self.body
        if self.json is not None:
            body = json.dumps(self.json).encode()
            headers.setdefault("Content-Type", "application/json")
        if self.send_length:
            headers.setdefault("Content-Length", str(len(body)))
        return body, headers


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    client: str

    def json(self) -> object:
        return json.loads(self.body)


class FakeServer:
    """A ThreadingHTTPServer on a free loopback port; subclasses implement ``answer``.

    ``host`` may be another loopback address (127.0.0.2); ``tls`` a server-side
    SSLContext to speak https.
    """

    def __init__(self, host: str = "127.0.0.1", *, tls: ssl.SSLContext | None = None) -> None:
        self.host = host
        self.tls = tls
        self.requests: list[Recorded] = []
        self.files: dict[str, Reply] = {}
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> FakeServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self)

            def do_POST(self) -> None:
                fake._handle(self)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer((self.host, 0), Handler)
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        self._server.daemon_threads = True
        # A short poll keeps stop() (which waits for the loop to notice) quick.
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name=type(self).__name__, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    @property
    def origin(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.origin + path

    def serve_file(self, path: str, reply: Reply) -> str:
        """Answer GET ``path`` with ``reply``; returns its absolute URL."""
        self.files[path] = reply
        return self.url(path)

    def hits(self, path: str | None = None) -> list[Recorded]:
        return [r for r in self.requests if path is None or r.path == path]

    # -- request handling -------------------------------------------------------------
    def answer(self, request: Recorded) -> Reply:
        if request.method == "GET" and request.path in self.files:
            return self.files[request.path]
        return Reply(status=404, json={"error": {"message": f"no route {request.path}"}})

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        request = Recorded(
            method=handler.command,
            path=handler.path,
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=body,
            client=handler.client_address[0],
        )
        with self._lock:
            self.requests.append(request)
            reply = self.answer(request)
        if reply.hang:
            self.stopping.wait(60)
            return
        data, headers = reply.encoded()
        try:
            handler.send_response(reply.status)
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:
            pass  # the client gave up first (too large, timeout): that is the point of the test


class FakeOpenAI(FakeServer):
    """``POST /v1/images/generations`` and ``/v1/images/edits`` answer the queued replies in order."""

    def __init__(self) -> None:
        super().__init__()
        self.replies: deque[Reply] = deque()

    @property
    def base_url(self) -> str:
        return self.url("/v1")

    def queue(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def api_calls(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.startswith("/v1/images/")]

    def answer(self, request: Recorded) -> Reply:
        if request.method == "POST" and request.path in ("/v1/images/generations", "/v1/images/edits"):
            if not self.replies:
                return Reply(status=500, json={"error": {"message": "the test queued no reply"}})
            return self.replies.popleft()
        return super().answer(request)


def b64_reply(*images: bytes, revised_prompt: str | None = None) -> Reply:
    data = [{"b64_json": base64.b64encode(image).decode()} for image in images]
    if revised_prompt:
        for item in data:
            item["revised_prompt"] = revised_prompt
    return Reply(json={"created": 1, "data": data})


def url_reply(*urls: str) -> Reply:
    return Reply(json={"created": 1, "data": [{"url": url} for url in urls]})


def error_reply(status: int, message: str, *, code: str | None = None, type_: str = "invalid_request_error") -> Reply:
    return Reply(status=status, json={"error": {"message": message, "type": type_, "param": None, "code": code}})
