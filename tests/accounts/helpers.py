"""Assertions shared by the accounts API tests."""

from __future__ import annotations


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def error_of(response) -> dict:
    """The error object of an API error response, after checking it has the documented shape."""
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert {"code", "message", "field"} <= set(error), error
    return error
