"""What the domain says when a rule refuses a request: one vocabulary for every edge.

Services raise these with a stable ``code``, a human ``message`` and, when one
input is at fault, its ``field``. They know nothing of HTTP: the API maps them
to status codes once (``imagegen.api.errors``), the pages once
(``imagegen.web``), the management commands print the message.

>>> raise Conflict("already_finished", "generation already ended as succeeded")
>>> raise Invalid("unknown_style", "style: must be one of photo, ...", field="style")
"""

from __future__ import annotations


class DomainError(Exception):
    """A rule refused the request. ``wait``: seconds until trying again can succeed (quotas).

    ``extra``: more members of the error object for clients to read (a blocked
    prompt's ``categories``).
    """

    def __init__(
        self,
        code: str,
        message: str,
        field: str | None = None,
        *,
        wait: float | None = None,
        extra: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.wait = wait
        self.extra = dict(extra or {})


class Invalid(DomainError):
    """The request itself breaks a rule: a value out of range, a missing input."""


class Unauthenticated(DomainError):
    """The credentials presented were refused (wrong password, revoked or expired token)."""


class Forbidden(DomainError):
    """These credentials may not do this, whoever the object belongs to."""


class NotFound(DomainError):
    """No such object for this user: another user's objects are not found either, never forbidden."""


class Conflict(DomainError):
    """The object's state does not allow it now (already finished, not ready yet)."""


class Gone(DomainError):
    """The object existed but has expired for good (an expired share link)."""


class TooLarge(DomainError):
    """More bytes than a limit allows (a file, a body, the storage quota)."""


class LimitReached(DomainError):
    """A quota is used up until ``wait`` seconds from now."""
