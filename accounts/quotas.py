"""Daily generation quotas by tier.

``settings.TIER_QUOTAS`` maps a tier to the images a user may request per UTC
day (0 = unlimited). Usage is the sum of ``Generation.n`` over the user's
generations created since 00:00 UTC today, whatever became of them: a request
reserves its images when it is accepted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from accounts.models import User
from imagegen.api.errors import ApiError
from images.models import Generation


@dataclass(frozen=True)
class Quota:
    daily_limit: int | None  # None: unlimited
    used_today: int
    remaining: int | None  # None: unlimited
    resets_at: dt.datetime  # next 00:00 UTC


class QuotaExceeded(ApiError):
    """429 ``quota_exceeded``, with ``Retry-After`` set to the seconds until the quota resets."""

    def __init__(self, *, quota: Quota, requested: int, now: dt.datetime | None = None) -> None:
        now = now or timezone.now()
        resets = quota.resets_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        if quota.remaining:
            message = (
                f"Daily quota exceeded: {requested} image(s) requested, {quota.remaining} of "
                f"{quota.daily_limit} left today; it resets at {resets}."
            )
        else:
            message = f"Daily quota of {quota.daily_limit} image(s) used up; it resets at {resets}."
        super().__init__(429, "quota_exceeded", message, wait=(quota.resets_at - now).total_seconds())
        self.quota = quota


def day_start(now: dt.datetime | None = None) -> dt.datetime:
    """00:00 UTC of the current (or given) day."""
    now = (now or timezone.now()).astimezone(dt.UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def daily_limit_for_tier(tier: str) -> int | None:
    """The tier's daily image limit, ``None`` when unlimited.

    A tier no longer in ``TIER_QUOTAS`` (removed from the configuration while
    users still carry it) gets the default tier's limit rather than none.
    """
    quotas = settings.TIER_QUOTAS
    limit = quotas.get(tier, quotas.get(settings.DEFAULT_TIER, 0))
    return limit or None


def images_requested_since(*, user: User, since: dt.datetime) -> int:
    total = Generation.objects.filter(user=user, created_at__gte=since).aggregate(total=Sum("n"))["total"]
    return total or 0


def quota_for_user(*, user: User, now: dt.datetime | None = None) -> Quota:
    """The user's quota for today (UTC)."""
    start = day_start(now)
    limit = daily_limit_for_tier(user.tier)
    used = images_requested_since(user=user, since=start)
    remaining = None if limit is None else max(limit - used, 0)
    return Quota(daily_limit=limit, used_today=used, remaining=remaining, resets_at=start + dt.timedelta(days=1))


def check_quota(*, user: User, requested: int) -> None:
    """Raise ``QuotaExceeded`` unless the user may request ``requested`` more images today.

    Two concurrent requests could both pass: the caller holds a lock on the
    user's row (``select_for_update``) in the transaction that also creates
    the generation.
    """
    now = timezone.now()
    quota = quota_for_user(user=user, now=now)
    if quota.remaining is not None and requested > quota.remaining:
        raise QuotaExceeded(quota=quota, requested=requested, now=now)
