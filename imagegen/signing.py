"""Checking an expiring signed URL: one check for signed media and signed uploads."""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable


def expiring_signature_valid(
    expected: Callable[[int], str], expires: str, signature: str | None, *, now: float | None = None
) -> bool:
    """Whether ``signature`` is ``expected(expires)`` and ``expires`` (a Unix time from the URL) is still ahead."""
    try:
        expires_at = int(expires)
    except (TypeError, ValueError):
        return False
    if expires_at < (time.time() if now is None else now):
        return False
    # compare_digest raises TypeError on non-ASCII text; no real signature has any.
    if not signature or not signature.isascii():
        return False
    return hmac.compare_digest(expected(expires_at), signature)
