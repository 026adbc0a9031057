"""Periodic deletions: images older than IMAGE_RETENTION_DAYS (optional), and strays at direct upload staging keys."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from images.models import Image
from images.services.library import delete_image_rows
from images.storage import UPLOAD_STAGING_PREFIX, delete_keys

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
            batch = list(Image.objects.filter(created_at__lt=cutoff).listed().order_by("created_at")[:BATCH])
            if not batch:
                return total
            delete_image_rows(batch)
        total += len(batch)


def _staging_keys() -> Iterator[str]:
    folders = [UPLOAD_STAGING_PREFIX.rstrip("/")]
    while folders:
        folder = folders.pop()
        try:
            subfolders, files = default_storage.listdir(folder)
        except FileNotFoundError:  # local storage before the first direct upload
            continue
        folders += [f"{folder}/{name}" for name in subfolders]
        yield from (f"{folder}/{name}" for name in files)


def upload_staging_sweep(*, batch: int = BATCH) -> int:
    """Delete every staging object no direct upload awaits; returns how many went.

    That is a file sent to an upload URL after its upload was completed (or
    expired), or left behind by a completion that failed half-way. An
    awaiting upload's own staging key is kept: its client may still send or
    replace the file.
    """
    count = 0
    keys = list(_staging_keys())
    for start in range(0, len(keys), batch):
        chunk = keys[start : start + batch]
        awaited = set(
            Image.objects.filter(storage_key__in=chunk, processing=Image.Processing.AWAITING_UPLOAD).values_list(
                "storage_key", flat=True
            )
        )
        stale = [key for key in chunk if key not in awaited]
        delete_keys(stale)
        count += len(stale)
    return count
