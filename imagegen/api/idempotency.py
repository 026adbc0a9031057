"""The ``Idempotency-Key`` request header, checked before anything is created.

Any printable text is a key (services keep its first 255 characters). Control
characters are refused: PostgreSQL cannot store NUL in text, so such a key
would otherwise fail the insert after every other check had passed.
"""

from __future__ import annotations

from django.http import HttpRequest
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request

from imagegen.api.errors import ApiError

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description="Replays the first request with this key (same body) within 24 h instead of making another",
    pattern=r"^[^\x00-\x1f\x7f]*$",
)


def idempotency_key_header(request: Request | HttpRequest) -> str | None:
    """The request's ``Idempotency-Key``, or None; ApiError 400 ``invalid_header`` for control characters."""
    key = request.headers.get("Idempotency-Key")
    if key is not None and any(ord(char) < 32 or ord(char) == 127 for char in key):
        raise ApiError(400, "invalid_header", "Idempotency-Key must be printable text", field="Idempotency-Key")
    return key
