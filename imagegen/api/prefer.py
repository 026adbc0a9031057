"""The ``Prefer`` request header (RFC 7240): only ``wait=N`` means something to us.

Parsed before anything is created, so a malformed value is a 400 with nothing
left behind. Preferences we do not know (``respond-async``, ``return=...``)
are ignored, as the RFC asks; a ``wait`` that is not a small whole number of
seconds is refused rather than guessed at.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.http import HttpRequest
from rest_framework.request import Request

from imagegen.api.errors import ApiError

# A day in seconds has 5 digits; more than this is not a wait anyone means, and
# int() of thousands of digits is slow or refused outright (sys.int_max_str_digits).
_MAX_DIGITS = 6


def parse_prefer_wait(header: str, *, maximum: int) -> int:
    """Seconds asked for with ``wait=N`` in a ``Prefer`` value, capped at ``maximum``; 0 if not asked.

    Raises ApiError 400 ``invalid_header`` (field ``Prefer``) when ``wait`` has
    no value or a value that is not a whole number of seconds.
    """
    # Split on ";" too: "respond-async; wait=10" is common, though the RFC would make wait a parameter there.
    for preference in re.split(r"[,;]", header):
        name, _, value = preference.partition("=")
        if name.strip().lower() != "wait":
            continue
        seconds = value.strip().strip('"')
        if not (seconds.isascii() and seconds.isdigit() and len(seconds) <= _MAX_DIGITS):
            raise ApiError(
                400, "invalid_header", "Prefer: wait must be a whole number of seconds, e.g. wait=30", field="Prefer"
            )
        return min(int(seconds), maximum)
    return 0


def prefer_wait_seconds(request: Request | HttpRequest) -> int:
    """Seconds asked for with ``Prefer: wait=N``, capped at MAX_WAIT_SECONDS; 0 if absent."""
    return parse_prefer_wait(request.headers.get("Prefer", ""), maximum=settings.MAX_WAIT_SECONDS)
