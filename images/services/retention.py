"""Optional retention: images older than IMAGE_RETENTION_DAYS are deleted, rows and files."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from images.models import Image
from images.services.library import delete_image_rows

BATCH = 500


def images_expire(*, older_than_days: int) -> int:
    """Delete every image created more than ``older_than_days`` ago; returns how many.

    Works in batches, each its own transaction; files go after each batch commits.
    Direct uploads never completed are left to ``direct_uploads_expire``.
    """
    cutoff = timezone.now() - timedelta(days=older_than_days)
    total = 0
    while True:
        with transaction.atomic():
            batch = list(
                Image.objects.filter(created_at__lt=cutoff)
                .exclude(processing=Image.Processing.AWAITING_UPLOAD)
                .order_by("created_at")[:BATCH]
            )
            if not batch:
                return total
            delete_image_rows(batch)
        total += len(batch)
