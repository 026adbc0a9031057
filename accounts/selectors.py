"""Reads about a user that other parts need (the webhook signing secrets)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from accounts.models import WEBHOOK_SECRET_OVERLAP, User


def webhook_signing_secrets(*, user: User, now: dt.datetime | None = None) -> list[str]:
    """The secrets a webhook of ``user`` is signed with: the current one first, then the
    previous one while its overlap after a rotation lasts."""
    secrets = [user.webhook_secret]
    rotated_at = user.webhook_secret_rotated_at
    if user.previous_webhook_secret and rotated_at and (now or timezone.now()) < rotated_at + WEBHOOK_SECRET_OVERLAP:
        secrets.append(user.previous_webhook_secret)
    return secrets
