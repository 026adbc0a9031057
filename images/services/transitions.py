"""Every change of a generation's status, each one conditional UPDATE that says whether it took.

A transition names the state it expects (the status, and for a running job the
attempt or heartbeat its caller read) and changes the row only if it is still
in that state: of two callers racing (two workers, a worker and the sweeper, a
cancel and a finish) exactly one sees ``True``. No caller writes ``status``
any other way (the house rule: no read-modify-write of a job).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from imagegen.returning import update_returning
from images.failures import clipped
from images.models import Generation
from images.services.publishing import owed_fields
from images.webhooks import queue_webhook

QUEUED, RUNNING = Generation.Status.QUEUED, Generation.Status.RUNNING


@dataclass(frozen=True)
class Claim:
    """The outcome of a claim: ``taken``, or why not ("missing", "busy", "exhausted", or the status it ended with)."""

    generation: Generation | None
    taken: bool
    reason: str = ""


def claim(generation_id: object, *, stale_before: dt.datetime, max_attempts: int) -> Claim:
    """Take a queued job, or a running one whose heartbeat is older than ``stale_before`` (its worker died)."""
    now = timezone.now()
    claimable = (
        Q(status=QUEUED)
        | Q(status=RUNNING, heartbeat_at__lt=stale_before)
        | Q(status=RUNNING, heartbeat_at__isnull=True)
    )
    in_time = Q(deadline_at__isnull=True) | Q(deadline_at__gt=now)
    # One round trip when it is taken: the UPDATE hands back the claimed row.
    taken = update_returning(
        Generation.objects.filter(claimable, in_time, pk=generation_id, attempts__lt=max_attempts),
        status=RUNNING, attempts=F("attempts") + 1, progress=0, heartbeat_at=now,
        started_at=Coalesce(F("started_at"), now),
    )  # fmt: skip
    if taken is not None:
        return Claim(taken, True)
    generation = Generation.objects.filter(pk=generation_id).first()
    if generation is None:
        return Claim(None, False, "missing")
    if generation.status not in Generation.ACTIVE:
        return Claim(generation, False, generation.status)
    if generation.deadline_at is not None and generation.deadline_at <= now and expire(generation.pk, now=now):
        # Checked here, not only by the sweeper: a job found past its deadline never starts.
        generation.refresh_from_db()
        return Claim(generation, False, generation.status)
    if generation.status == RUNNING and generation.heartbeat_at and generation.heartbeat_at >= stale_before:
        return Claim(generation, False, "busy")  # its worker is alive
    if generation.attempts >= max_attempts:
        return Claim(generation, False, "exhausted")
    return Claim(generation, False, "busy")  # another worker claimed it between the update and the read


def fail(generation: Generation, *, code: str, message: str, expect: Q | None = None) -> bool:
    """End an active job as failed (``expect``: the state the caller read); its "failed" webhook goes on commit."""
    expected = Q(status__in=Generation.ACTIVE) & (expect or Q())
    shown = clipped(message)
    changed = Generation.objects.filter(expected, pk=generation.pk).update(
        status=Generation.Status.FAILED, finished_at=timezone.now(), error_code=code, error_message=shown
    )
    if changed:
        generation.status = Generation.Status.FAILED
        generation.error_code, generation.error_message = code, shown
        transaction.on_commit(lambda: queue_webhook(generation=generation, event="failed"))
    return bool(changed)


def succeed(generation: Generation, *, attempt: int, usage: dict | None = None) -> bool:
    """End the running attempt ``attempt`` as succeeded, with the ``usage`` its provider reported, if any."""
    now = timezone.now()
    extra = {"usage": usage} if usage else {}
    changed = Generation.objects.filter(pk=generation.pk, status=RUNNING, attempts=attempt).update(
        status=Generation.Status.SUCCEEDED, progress=100, finished_at=now, heartbeat_at=now, error_code="",
        error_message="", **extra,
    )  # fmt: skip
    if changed:
        generation.status = Generation.Status.SUCCEEDED
    return bool(changed)


def requeue(
    generation_id: object, *, expect: Q, run_at: dt.datetime, resend: bool, code: str = "", message: str = ""
) -> bool:
    """Back to ``queued`` from the state ``expect`` describes, due at ``run_at``.

    ``resend``: the job's message is owed again (the sweeper's requeue), rather
    than scheduled by the caller itself (a worker's retry after backoff).
    """
    fields: dict[str, object] = {"status": QUEUED, "progress": 0, "enqueued_at": run_at}
    if code:
        fields |= {"error_code": code, "error_message": clipped(message)}
    if resend:
        fields |= owed_fields()
    return bool(Generation.objects.filter(expect, pk=generation_id).update(**fields))


def cancel(generation_id: object, *, user_id: object | None = None) -> bool:
    """Cancel a queued or running job (of ``user_id``, when given); its worker sees it at its next step."""
    owner = Q(user_id=user_id) if user_id is not None else Q()
    return bool(
        Generation.objects.filter(owner, pk=generation_id, status__in=Generation.ACTIVE).update(
            status=Generation.Status.CANCELED, cancel_requested=True, finished_at=timezone.now()
        )
    )


DEADLINE_MESSAGE = "The job was canceled: its deadline passed before it finished."


def expire(generation_id: object, *, now: dt.datetime) -> bool:
    """Cancel an active job whose deadline (``deadline_at``) is past, with error code ``deadline_exceeded``.

    A job that never started is not counted against its user's quota (quotas.py).
    """
    return bool(
        Generation.objects.filter(pk=generation_id, status__in=Generation.ACTIVE, deadline_at__lte=now).update(
            status=Generation.Status.CANCELED,
            cancel_requested=True,
            finished_at=now,
            error_code="deadline_exceeded",
            error_message=DEADLINE_MESSAGE,
        )
    )


def restart(generation_id: object) -> bool:
    """A failed or canceled job from scratch (staff): queued again, its message owed."""
    ended = Generation.objects.filter(
        pk=generation_id, status__in=[Generation.Status.FAILED, Generation.Status.CANCELED]
    )
    changed = ended.update(
        status=QUEUED, progress=0, attempts=0, cancel_requested=False, error_code="", error_message="",
        started_at=None, finished_at=None, heartbeat_at=None, enqueued_at=timezone.now(), held=False, deadline_at=None,
        **owed_fields(),
    )  # fmt: skip
    return bool(changed)
