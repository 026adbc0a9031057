"""Request-rate strings such as ``100/15min``, parsed without Django or DRF.

DRF's own parser reads only the first letter of the period (``100/hour``), so it
cannot say "100 per 15 minutes". This one accepts an optional multiplier:
``20/15min``, ``5/30s``, ``1000/hour``, ``10000/1d``. Settings use it to reject a
bad value at start; the throttles use it at request time.
"""

from __future__ import annotations

import re

_UNITS = {
    "s": 1, "sec": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
}  # fmt: skip
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([a-z]+)\s*$", re.IGNORECASE)


def parse_rate(rate: str) -> tuple[int, int]:
    """``"100/15min"`` -> ``(100, 900)``: the number of requests and the window in seconds.

    Raises ``ValueError`` naming the accepted forms when ``rate`` is malformed.
    """
    match = _RATE.match(rate or "")
    unit = _UNITS.get(match.group(3).lower()) if match else None
    if not match or unit is None:
        raise ValueError(f"{rate!r} is not a rate; use <requests>/<period> such as 100/15min, 1000/hour or 5/30s")
    requests = int(match.group(1))
    multiplier = int(match.group(2)) if match.group(2) else 1
    if requests < 1 or multiplier < 1:
        raise ValueError(f"{rate!r}: a rate needs at least 1 request per period of at least 1")
    return requests, multiplier * unit
