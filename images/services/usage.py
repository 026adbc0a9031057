"""How much a user has used: images, generations, storage, the quota; for the profile and the statistics."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.utils import timezone

from accounts.models import User
from images.models import Generation, Image
from images.services.quotas import Quota, quota_for_user


def gallery_images(*, user: User):
    """The user's images that count as theirs: a direct upload still waiting for its file does not."""
    return Image.objects.filter(user=user).listed()


def image_count_for_user(*, user: User) -> int:
    return gallery_images(user=user).count()


def profile_figures(user: User) -> dict[str, object]:
    """What a user's profile shows of their images: how many, and today's quota (``accounts.profile``)."""
    return {"image_count": image_count_for_user(user=user), "quota": quota_for_user(user=user)}


def month_start(now: dt.datetime | None = None) -> dt.datetime:
    now = (now or timezone.now()).astimezone(dt.UTC)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def storage_bytes_for_user(*, user: User) -> int:
    """Bytes stored for the user: every original plus each variant recorded in ``Image.variants``."""
    images = gallery_images(user=user)
    originals = images.aggregate(total=Sum("bytes"))["total"] or 0
    # Variant sizes live inside a JSON object; summing them in SQL would need
    # per-database JSON functions, so they are added up here, a chunk at a time.
    variants = 0
    for entries in images.exclude(variants={}).values_list("variants", flat=True).iterator(chunk_size=2000):
        for variant in (entries or {}).values():
            size = variant.get("bytes") if isinstance(variant, dict) else None
            if isinstance(size, int) and size > 0:
                variants += size
    return originals + variants


def stats_for_user(*, user: User, now: dt.datetime | None = None) -> dict[str, Any]:
    """Counts and totals for the statistics page and ``GET /me/stats``."""
    now = now or timezone.now()
    since = month_start(now)

    image_counts = gallery_images(user=user).aggregate(
        total=Count("id"),
        generated=Count("id", filter=Q(source=Image.Source.GENERATED)),
        uploaded=Count("id", filter=Q(source=Image.Source.UPLOADED)),
        public=Count("id", filter=Q(visibility=Image.Visibility.PUBLIC)),
        this_month=Count("id", filter=Q(created_at__gte=since)),
    )
    generations = Generation.objects.filter(user=user)
    by_status = {status: 0 for status in Generation.Status.values}
    for row in generations.values("status").annotate(count=Count("id")).order_by():
        by_status[row["status"]] = row["count"]
    month = generations.filter(created_at__gte=since).aggregate(count=Count("id"), images=Sum("n"))
    run_time = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    mean = generations.filter(
        status=Generation.Status.SUCCEEDED, started_at__isnull=False, finished_at__isnull=False
    ).aggregate(mean=Avg(run_time))["mean"]
    quota: Quota = quota_for_user(user=user, now=now)
    return {
        "images": {key: image_counts[key] for key in ("total", "generated", "uploaded", "public")},
        "generations": {"total": sum(by_status.values()), **by_status},
        "storage_bytes": storage_bytes_for_user(user=user),
        "this_month": {
            "since": since,
            "generations": month["count"],
            "images_requested": month["images"] or 0,
            "images": image_counts["this_month"],
        },
        "mean_generation_seconds": round(mean.total_seconds(), 3) if mean is not None else None,
        "quota": quota,
    }
