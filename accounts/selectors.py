"""Reads about a user that other parts need: the user behind a token, the webhook signing secrets."""

from __future__ import annotations

import datetime as dt
import uuid

from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import WEBHOOK_SECRET_OVERLAP, User
from imagegen.compiled import CompiledQuery

_USER_FIELDS = tuple(field.attname for field in User._meta.concrete_fields)

# Every JWT request reads its user: compiling ``User.objects.get(pk=...)`` cost as much as running it.
_USER_BY_ID = CompiledQuery(
    lambda pk: User.objects.filter(pk=pk).values_list(*_USER_FIELDS),
    params={"pk": (User._meta.pk, uuid.UUID(int=1))},
)


def user_by_id(user_id: object) -> User | None:
    """The user with primary key ``user_id`` (a UUID or its text), or None: none, or not an id at all."""
    try:
        pk = User._meta.pk.to_python(user_id)
    except ValidationError:
        return None
    rows = _USER_BY_ID.rows(pk=pk)
    return User.from_db("default", _USER_FIELDS, rows[0]) if rows else None


def webhook_signing_secrets(*, user: User, now: dt.datetime | None = None) -> list[str]:
    """The secrets a webhook of ``user`` is signed with: the current one first, then the
    previous one while its overlap after a rotation lasts."""
    secrets = [user.webhook_secret]
    rotated_at = user.webhook_secret_rotated_at
    if user.previous_webhook_secret and rotated_at and (now or timezone.now()) < rotated_at + WEBHOOK_SECRET_OVERLAP:
        secrets.append(user.previous_webhook_secret)
    return secrets
