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
_VALUE = re.compile(r"([1-9][0-9]{0,6})([sm])")
_UNIT_SECONDS = {"s": 1, "m": 60}


def parse_cancel_after(value: str) -> int:
    """Seconds in a ``Cancel-After`` value (``<n>s`` or ``<n>m``); ApiError 400 ``invalid_header`` otherwise."""
    match = _VALUE.fullmatch(value.strip().lower())
    if match is None:
        raise ApiError(400, "invalid_header", f"{HEADER} must be a positive duration like 30s or 5m", field=HEADER)
    return int(match[1]) * _UNIT_SECONDS[match[2]]


def _up_to(limit: int) -> str:
    """A regular expression matching the whole numbers 1..``limit`` written without leading zeros."""
    if limit < 1:
        return "(?!)"  # none: a maximum under a minute allows no minutes
    digits = str(limit)
    shorter = [f"[1-9][0-9]{{{n - 1}}}" if n > 1 else "[1-9]" for n in range(1, len(digits))]
    same_length = []
    for i, digit in enumerate(digits):
        low = 1 if i == 0 else 0
        if int(digit) > low:
            rest = len(digits) - i - 1
            same_length.append(f"{digits[:i]}[{low}-{int(digit) - 1}]" + (f"[0-9]{{{rest}}}" if rest else ""))
    return "(?:" + "|".join([*shorter, *same_length, digits]) + ")"


def header_pattern(max_seconds: int) -> str:
    """The values the header takes for deadlines up to ``max_seconds``, as the schema states them."""
    return f"^(?:{_up_to(max_seconds)}[sS]|{_up_to(max_seconds // 60)}[mM])$"


def cancel_after_seconds(request: Request | HttpRequest) -> int | None:
    """Seconds asked for with ``Cancel-After``; None when the header is absent."""
    value = request.headers.get(HEADER)
    return None if value is None else parse_cancel_after(value)
