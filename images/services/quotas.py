"""Quotas by tier: generations and uploads per UTC day, and bytes stored.

``settings.TIER_QUOTAS`` maps a tier to the images a user may request per UTC
day (0 = unlimited). Usage is the sum of ``Generation.n`` over the user's
generations created since 00:00 UTC today, whatever became of them (but a
job canceled by its deadline before it started): a request reserves its
images when it is accepted.

``settings.TIER_UPLOAD_QUOTAS`` is the files a user may upload per UTC day,
counted when an upload is accepted (a direct upload when its URL is handed
out) in ``UploadDay`` rows, so deleting an upload does not give it back.
``settings.TIER_STORAGE_QUOTAS`` is the bytes of originals a user may keep:
the ``bytes`` of every image of theirs, generated or uploaded, a direct
upload awaiting its file counted at its announced size. Thumbnails and WebP
renditions are not counted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import F, Q, Sum
from django.utils import timezone

from accounts.models import User
from imagegen.errors import LimitReached, TooLarge
from images.models import Generation, Image, UploadDay


@dataclass(frozen=True)
class Quota:
    daily_limit: int | None  # None: unlimited
    used_today: int
    remaining: int | None  # None: unlimited
    resets_at: dt.datetime  # next 00:00 UTC


class QuotaExceeded(LimitReached):
    """``quota_exceeded``, with ``wait`` the seconds until the quota resets."""

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
        super().__init__("quota_exceeded", message, wait=(quota.resets_at - now).total_seconds())
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
    return _tier_limit(settings.TIER_QUOTAS, tier)


def _tier_limit(limits: dict[str, int], tier: str) -> int | None:
    # A tier missing from the map gets the default tier's limit, or else the first (lowest) tier's, not no limit.
    limit = limits.get(tier, limits.get(settings.DEFAULT_TIER, next(iter(limits.values()), 0)))
    return limit or None


# A job whose deadline passed before it started cost nothing: it gives its images back.
NEVER_RUN = Q(status=Generation.Status.CANCELED, error_code="deadline_exceeded", started_at__isnull=True)


def images_requested_since(*, user: User, since: dt.datetime) -> int:
    requested = Generation.objects.filter(user=user, created_at__gte=since).exclude(NEVER_RUN)
    total = requested.aggregate(total=Sum("n"))["total"]
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


# --- Uploads: files per day, bytes stored ---------------------------------------------


class UploadQuotaExceeded(LimitReached):
    """``upload_quota_exceeded``, with ``wait`` the seconds until the count resets."""

    def __init__(self, *, limit: int, used: int, requested: int, resets_at: dt.datetime, now: dt.datetime) -> None:
        resets = resets_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        message = (
            f"Daily upload quota exceeded: {requested} file(s) sent, {max(limit - used, 0)} of {limit} "
            f"left today; it resets at {resets}."
        )
        super().__init__("upload_quota_exceeded", message, wait=(resets_at - now).total_seconds())


class StorageQuotaExceeded(TooLarge):
    """``storage_quota_exceeded``: the upload would take the user past the bytes their tier may store."""

    def __init__(self, *, limit: int, used: int, requested: int, field: str | None = None) -> None:
        message = (
            f"Storage quota exceeded: {requested} more byte(s) on top of {used} stored would pass the "
            f"limit of {limit} bytes; delete some images first."
        )
        super().__init__("storage_quota_exceeded", message, field=field)


def upload_limit_for_tier(tier: str) -> int | None:
    """Files the tier may upload per UTC day, ``None`` when unlimited."""
    return _tier_limit(settings.TIER_UPLOAD_QUOTAS, tier)


def storage_limit_for_tier(tier: str) -> int | None:
    """Bytes of originals the tier may store, ``None`` when unlimited."""
    return _tier_limit(settings.TIER_STORAGE_QUOTAS, tier)


def uploads_since(*, user: User, since: dt.datetime) -> int:
    total = UploadDay.objects.filter(user=user, day__gte=since.date()).aggregate(total=Sum("count"))["total"]
    return total or 0


def storage_used(*, user: User, exclude_image_id: object = None) -> int:
    """Bytes of the user's originals (see the module's docstring), leaving out ``exclude_image_id``."""
    images = Image.objects.filter(user=user)
    if exclude_image_id is not None:
        images = images.exclude(pk=exclude_image_id)
    return images.aggregate(total=Sum("bytes"))["total"] or 0


def check_upload_quota(
    *, user: User, files: int, nbytes: int, exclude_image_id: object = None, field: str | None = "files"
) -> None:
    """Raise ``UploadQuotaExceeded`` or ``StorageQuotaExceeded`` unless the user may upload these files.

    ``files`` counts against today's uploads (0 when they were counted
    already, as at a direct upload's completion); ``nbytes`` against storage,
    where ``exclude_image_id`` (the image whose real size ``nbytes`` is) is
    not counted a second time.
    The caller holds a lock on the user's row (``select_for_update``) in the
    transaction that also records the upload, like ``check_quota``.
    """
    now = timezone.now()
    limit = upload_limit_for_tier(user.tier)
    if files and limit is not None:
        start = day_start(now)
        used = uploads_since(user=user, since=start)
        if used + files > limit:
            raise UploadQuotaExceeded(
                limit=limit, used=used, requested=files, resets_at=start + dt.timedelta(days=1), now=now
            )
    storage = storage_limit_for_tier(user.tier)
    if storage is not None:
        stored = storage_used(user=user, exclude_image_id=exclude_image_id)
        if stored + nbytes > storage:
            raise StorageQuotaExceeded(limit=storage, used=stored, requested=nbytes, field=field)


def uploads_record(*, user: User, files: int, now: dt.datetime | None = None) -> None:
    """Count ``files`` uploads for the user today (UTC), in the caller's transaction."""
    day = day_start(now).date()
    row, created = UploadDay.objects.get_or_create(user=user, day=day, defaults={"count": files})
    if not created:
        UploadDay.objects.filter(pk=row.pk).update(count=F("count") + files)
