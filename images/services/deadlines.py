"""Deadlines (``Cancel-After`` / ``deadline_seconds``): a job not ended by its deadline is canceled.

Three places enforce it, so that no process's death lets a job outlive it: the
claim refuses to start an overdue job (transitions.claim), a running job's
worker checks it with its cancellation checks (pipeline.JobTracker), and the
sweeper cancels every overdue job it finds, held, queued or running
(:func:`generations_expire_overdue`), whose worker then stops at its next step.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone

from imagegen.errors import Invalid
from images.models import Generation
from images.services import transitions

BATCH = 500


def check_deadline_seconds(seconds: int | None, *, field: str = "deadline_seconds") -> int | None:
    """``seconds`` if it is a deadline a job may have (1 s to GENERATION_MAX_DEADLINE_SECONDS); Invalid otherwise."""
    if seconds is None:
        return None
    maximum = settings.GENERATION_MAX_DEADLINE_SECONDS
    if not 1 <= seconds <= maximum:
        raise Invalid("invalid_deadline", f"{field}: a deadline must be between 1 and {maximum} seconds", field=field)
    return seconds


def deadline_at(seconds: int | None, *, now: dt.datetime | None = None) -> dt.datetime | None:
    return None if seconds is None else (now or timezone.now()) + dt.timedelta(seconds=seconds)


def generations_expire_overdue() -> int:
    """Cancel (``deadline_exceeded``) every active job past its deadline; returns how many."""
    now = timezone.now()
    overdue = Generation.objects.filter(status__in=Generation.ACTIVE, deadline_at__lte=now).order_by()
    return sum(transitions.expire(pk, now=now) for pk in overdue.values_list("pk", flat=True)[:BATCH])
