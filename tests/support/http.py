"""A JSON call to a live server started by a test (gunicorn on loopback)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request


def call(method: str, url: str, token: str | None = None, body: dict | None = None, **headers: str) -> tuple[int, dict]:
    """``(status, decoded JSON body)``; error statuses are answered, not raised."""
    data = json.dumps(body).encode() if body is not None else None
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={**auth, "Content-Type": "application/json", **headers})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=90) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")
