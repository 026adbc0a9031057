"""The periodic safety net for jobs whose message was lost or whose worker died."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from images.models import Generation
from images.services import scheduling, transitions
from images.services.deadlines import generations_expire_overdue
from images.services.publishing import generation_publish_on_commit

logger = logging.getLogger(__name__)

BATCH = 500
QUEUED, RUNNING = Generation.Status.QUEUED, Generation.Status.RUNNING
WORKER_LOST = "the worker running this job stopped answering"


def generations_sweep() -> dict[str, int]:
    """Cancel jobs past their deadline; re-enqueue jobs queued too long; requeue or fail running jobs whose
    heartbeat stopped; admit held jobs (scheduling.py).

    The last resort for a lost message: a message the broker did not take is
    re-sent much sooner by images/services/publishing.py.

    Every change is a transition on the value just read (transitions.py), so two
    sweepers (or a sweeper and a worker) never both act on one job.
    """
    now = timezone.now()
    counts = {"requeued_lost": 0, "requeued_stale": 0, "failed_stale": 0}
    counts["deadline_exceeded"] = generations_expire_overdue()

    queued_before = now - timedelta(seconds=settings.GENERATION_QUEUED_STALE_SECONDS)
    # A held job has no message to lose: it waits for its turn (scheduling.py).
    for pk, enqueued_at in Generation.objects.filter(
        status=Generation.Status.QUEUED, held=False, enqueued_at__lt=queued_before
    ).values_list("pk", "enqueued_at")[:BATCH]:
        with transaction.atomic():
            if transitions.requeue(pk, expect=Q(status=QUEUED, enqueued_at=enqueued_at), run_at=now, resend=True):
                generation_publish_on_commit(generation_id=str(pk))
                counts["requeued_lost"] += 1

    beat_before = now - timedelta(seconds=settings.GENERATION_HEARTBEAT_TIMEOUT)
    for generation in Generation.objects.filter(status=RUNNING, heartbeat_at__lt=beat_before)[:BATCH]:
        read = Q(status=RUNNING, heartbeat_at=generation.heartbeat_at)
        with transaction.atomic():
            if generation.attempts >= settings.GENERATION_MAX_ATTEMPTS:
                # Its "failed" webhook goes as a worker's would, after the commit.
                if transitions.fail(generation, code="worker_lost", message=WORKER_LOST, expect=read):
                    counts["failed_stale"] += 1
            elif transitions.requeue(generation.pk, expect=read, run_at=now, resend=True):
                generation_publish_on_commit(generation_id=str(generation.pk))
                counts["requeued_stale"] += 1
    # Ends found above free places in flight; and an admission a crashed process never made is made here.
    counts["admitted"] = scheduling.generations_admit() if scheduling.holds_jobs() else 0
    if any(counts[name] for name in ("requeued_lost", "requeued_stale", "failed_stale")):
        logger.warning("sweeper acted", extra=counts)
    return counts
