"""The HTTP status of each kind of domain error: one table for the API and the pages."""

from __future__ import annotations

from imagegen import errors

# Most specific first: a subclass is matched before its base.
STATUSES: tuple[tuple[type[errors.DomainError], int], ...] = (
    (errors.Invalid, 400),
    (errors.Unauthenticated, 401),
    (errors.Forbidden, 403),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.Gone, 410),
    (errors.TooLarge, 413),
    (errors.LimitReached, 429),
)


def status_for(exc: errors.DomainError) -> int:
    """The status answering ``exc`` (400 for a kind without its own)."""
    return next((status for kind, status in STATUSES if isinstance(exc, kind)), 400)
