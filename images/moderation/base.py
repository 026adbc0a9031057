"""The one interface every moderation provider implements, and the ``none`` provider."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

Action = Literal["allow", "review", "block"]


@dataclass(frozen=True)
class Verdict:
    """What a provider says of a prompt or an image.

    ``block``: refuse it outright (a prompt is never queued); ``review``: let it
    through but hold what it makes for staff; ``allow``: nothing found.
    ``scores`` are the provider's own, 0..1, per category.
    """

    action: Action = "allow"
    categories: tuple[str, ...] = ()
    scores: dict[str, float] = field(default_factory=dict)

    @property
    def flagged(self) -> bool:
        return self.action != "allow"


ALLOW = Verdict()


class ModerationError(Exception):
    """The provider could not give a verdict (timeout, service error)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@runtime_checkable
class Moderator(Protocol):
    name: str

    def check_text(self, text: str) -> Verdict:
        """A verdict on a prompt. Raises ``ModerationError``."""
        ...

    def check_image(self, data: bytes, *, content_type: str) -> Verdict:
        """A verdict on an image (``allow`` from providers that cannot look at images). Raises ``ModerationError``."""
        ...


class NoModeration:
    """``MODERATION_PROVIDER=none``: everything is allowed."""

    name = "none"

    def check_text(self, text: str) -> Verdict:
        return ALLOW

    def check_image(self, data: bytes, *, content_type: str) -> Verdict:
        return ALLOW
