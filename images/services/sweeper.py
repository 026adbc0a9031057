"""The periodic safety net for jobs whose message was lost or whose worker died."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from images.models import Generation
from images.services.publishing import generation_publish_on_commit, owed_fields
from images.webhooks import queue_webhook

logger = logging.getLogger(__name__)

BATCH = 500


def generations_sweep() -> dict[str, int]:
    """Re-enqueue jobs queued too long; requeue or fail running jobs whose heartbeat stopped.

    The last resort for a lost message: a message the broker did not take is
    re-sent much sooner by images/services/publishing.py.

    Every change is a conditional UPDATE on the value just read, so two
    sweepers (or a sweeper and a worker) never both act on one job.
    """
    now = timezone.now()
    counts = {"requeued_lost": 0, "requeued_stale": 0, "failed_stale": 0}

    queued_before = now - timedelta(seconds=settings.GENERATION_QUEUED_STALE_SECONDS)
    for pk, enqueued_at in Generation.objects.filter(
        status=Generation.Status.QUEUED, enqueued_at__lt=queued_before
    ).values_list("pk", "enqueued_at")[:BATCH]:
        with transaction.atomic():
            if Generation.objects.filter(pk=pk, status=Generation.Status.QUEUED, enqueued_at=enqueued_at).update(
                enqueued_at=now, **owed_fields()
            ):
                generation_publish_on_commit(generation_id=str(pk))
                counts["requeued_lost"] += 1

    beat_before = now - timedelta(seconds=settings.GENERATION_HEARTBEAT_TIMEOUT)
    for pk, heartbeat_at, attempts in Generation.objects.filter(
        status=Generation.Status.RUNNING, heartbeat_at__lt=beat_before
    ).values_list("pk", "heartbeat_at", "attempts")[:BATCH]:
        stale = Generation.objects.filter(pk=pk, status=Generation.Status.RUNNING, heartbeat_at=heartbeat_at)
        with transaction.atomic():
            if attempts >= settings.GENERATION_MAX_ATTEMPTS:
                if stale.update(
                    status=Generation.Status.FAILED,
                    finished_at=now,
                    error_code="worker_lost",
                    error_message="the worker running this job stopped answering",
                ):
                    # The same "failed" event a worker sends when a job fails, after the commit.
                    queue_webhook(generation=Generation.objects.get(pk=pk), event="failed")
                    counts["failed_stale"] += 1
            elif stale.update(status=Generation.Status.QUEUED, progress=0, enqueued_at=now, **owed_fields()):
                generation_publish_on_commit(generation_id=str(pk))
                counts["requeued_stale"] += 1
    if any(counts.values()):
        logger.warning("sweeper acted", extra=counts)
    return counts
