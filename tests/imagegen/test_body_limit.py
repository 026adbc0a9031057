"""An over-limit body is refused on its declared length before anything reads it; chunked ones are cut at the limit."""

from __future__ import annotations

import json
import socket
import time

import pytest
from rest_framework_simplejwt.tokens import RefreshToken

from imagegen.body_limit import request_body_limit
from images.models import Generation
from tests.support.processes import child_env, web_server

HUGE = str(8 * 1024**3)  # 8 GiB


def test_the_limit_is_a_full_multipart_upload_where_several_files_are_taken_and_one_file_elsewhere(settings):
    settings.MAX_UPLOAD_BYTES = 4 * 1024 * 1024
    several = 20 * settings.MAX_UPLOAD_BYTES + 64 * 1024
    one = settings.MAX_UPLOAD_BYTES + 64 * 1024

    assert request_body_limit("/api/v1/images") == request_body_limit("/upload") == several
    assert request_body_limit("/v1/images/edits") == several  # up to 16 images and a mask
    assert request_body_limit("/api/v1/auth/token") == request_body_limit("/create") == one


@pytest.mark.django_db
def test_a_body_for_one_file_is_refused_where_no_endpoint_takes_more(client, settings):
    settings.MAX_UPLOAD_BYTES = 1024 * 1024
    declared = str(3 * 1024 * 1024)

    refused = client.generic("POST", "/api/v1/auth/token", data=b"x", content_type="application/json",
                             CONTENT_LENGTH=declared)  # fmt: skip
    upload = client.generic("POST", "/api/v1/images", data=b"x", content_type="application/json",
                            CONTENT_LENGTH=declared)  # fmt: skip

    assert refused.status_code == 413
    assert upload.status_code != 413  # within a multi-file upload's limit: the view judges it


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "shape"),
    [("/api/v1/images", "api"), ("/api/v1/auth/token", "api"), ("/v1/images/generations", "openai"),
     ("/upload", "page"), ("/create", "page"), ("/accounts/login", "page")],
)  # fmt: skip
def test_a_declared_length_over_the_limit_is_a_413_in_the_paths_shape(client, path, shape):
    response = client.generic("POST", path, data=b"x", content_type="application/json", CONTENT_LENGTH=HUGE)
    assert response.status_code == 413
    if shape == "page":
        assert response["Content-Type"].startswith("text/html")
        assert b"Request too large" in response.content
        return
    error = response.json()["error"]
    assert error["code"] == "request_too_large"
    assert ("field" in error) if shape == "api" else (error["type"] == "invalid_request_error")


@pytest.mark.django_db
def test_a_body_within_the_limit_goes_through(client):
    response = client.post("/api/v1/auth/token", {"email": "a@example.com", "password": "x"}, "application/json")
    assert response.status_code == 401


def _exchange(base: str, head: str, body: bytes, *, timeout: float = 10) -> tuple[bytes, float]:
    """Send ``head`` and ``body`` on a raw socket; the response (up to the body) and how long it took."""
    host, port = base.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(head.encode() + body)
        received = b""
        while b"\r\n\r\n" not in received:
            data = sock.recv(65536)
            if not data:
                break
            received += data
    return received, time.monotonic() - started


def _chunked(payload: bytes, size: int = 65536) -> bytes:
    pieces = [payload[i : i + size] for i in range(0, len(payload), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_live_server_answers_413_at_once_to_a_huge_declared_body(user, tmp_path):
    token = str(RefreshToken.for_user(user).access_token)
    # The smallest upload limit leaves Django's 2 MiB for other bodies as the limit.
    with web_server(tmp_path / "web.log", env=child_env(MAX_UPLOAD_BYTES="1024")) as base:
        form = "application/x-www-form-urlencoded"
        for path, content_type in [("/upload", "multipart/form-data; boundary=zz"), ("/create", form),
                                   ("/accounts/login", form), ("/api/v1/generations", "application/json")]:  # fmt: skip
            head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
                    f"Content-Length: {HUGE}\r\n\r\n")  # fmt: skip
            response, seconds = _exchange(base, head, b"--zz\r\n" + b"x" * 1000)
            assert response.startswith(b"HTTP/1.1 413"), (path, response[:200])
            assert seconds < 3, (path, seconds)

        # Chunked: no length to judge, so the body is read up to the limit and no further.
        limit = 2 * 1024 * 1024
        head = ("POST /api/v1/generations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Authorization: Bearer {token}\r\nTransfer-Encoding: chunked\r\n\r\n")  # fmt: skip
        response, _ = _exchange(base, head, _chunked(b" " * (limit + 100)))
        assert response.startswith(b"HTTP/1.1 413"), response[:200]

        # A chunked body within the limit reaches the view whole (Django alone would read it as empty).
        response, _ = _exchange(base, head, _chunked(json.dumps({"prompt": "a chunked kite"}).encode(), size=7))
        assert response.startswith(b"HTTP/1.1 202"), response[:300]
    assert Generation.objects.filter(prompt="a chunked kite").count() == 1
