"""The ``Cancel-After`` request header (as Replicate's): ``30s``, ``5m``, a deadline for the job.

Parsed before anything is created, so a malformed value is a 400 naming the
header with nothing left behind; whether the deadline is allowed is the
services' rule (images/services/deadlines.py).
"""

from __future__ import annotations

import re

from django.http import HttpRequest
from rest_framework.request import Request

from imagegen.api.errors import ApiError

HEADER = "Cancel-After"
_VALUE = re.compile(r"(\d{1,7})([sm])")
_UNIT_SECONDS = {"s": 1, "m": 60}


def parse_cancel_after(value: str) -> int:
    """Seconds in a ``Cancel-After`` value (``<n>s`` or ``<n>m``); ApiError 400 ``invalid_header`` otherwise."""
    match = _VALUE.fullmatch(value.strip().lower())
    if match is None or int(match[1]) == 0:
        raise ApiError(400, "invalid_header", f"{HEADER} must be a positive duration like 30s or 5m", field=HEADER)
    return int(match[1]) * _UNIT_SECONDS[match[2]]


def cancel_after_seconds(request: Request | HttpRequest) -> int | None:
    """Seconds asked for with ``Cancel-After``; None when the header is absent."""
    value = request.headers.get(HEADER)
    return None if value is None else parse_cancel_after(value)
