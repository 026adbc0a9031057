"""Handing generation jobs to the broker, and re-sending what it did not take (an outbox).

A job's row is committed before its message is sent, so a broker outage must
not turn a committed job into an error for the client (who would retry and
create a duplicate) or into a job that waits for the sweeper's long timer.
Every send goes through :func:`generation_publish`, which never raises: a
success records ``published_at``; a failure leaves the job *owed* a message
(``published_at`` NULL, ``publish_retry_at`` set with backoff by
``publish_attempts``). :func:`generations_publish_owed` re-sends owed jobs; it
runs from Celery beat every ``PUBLISH_RETRY_INTERVAL`` s and, because beat
needs the broker too, from a thread in the process whose send failed, which
lives only while something is owed. A second message for a job is harmless:
the worker's claim runs a job once (images/services/pipeline.py).
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from imagegen.backoff import doubling
from images.jobs import RUN_GENERATION, job
from images.metrics import BROKER_OUTAGES, PUBLISH_FAILURES, PUBLISH_RETRIES
from images.models import Generation

logger = logging.getLogger(__name__)

# A job not yet confirmed sent is re-sent after this, whatever happened to its sender
# (a process killed between the commit and the send, or a send stuck on a dead network).
UNCONFIRMED_GRACE = timedelta(seconds=30)
BATCH = 100


def owed_fields() -> dict[str, object]:
    """Field values of a job about to be (re-)sent: owed until a send is confirmed."""
    return {"published_at": None, "publish_retry_at": timezone.now() + UNCONFIRMED_GRACE}


def publish_backoff_seconds(failures: int) -> float:
    """1, 2, 4... seconds after the n-th failed send of a job, up to PUBLISH_RETRY_MAX_SECONDS."""
    return doubling(failures, first=1, cap=settings.PUBLISH_RETRY_MAX_SECONDS)


class _BrokerState:
    """Whether this process's last send worked: one warning and one count per outage, not per job."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.failing = False

    def failed(self, exc: Exception) -> None:
        with self._lock:
            started, self.failing = not self.failing, True
        if started:
            BROKER_OUTAGES.inc()
            logger.warning(
                "publishing to the broker failed; jobs stay queued and are re-sent when it is back",
                extra={"error": f"{type(exc).__name__}: {exc}"[:300]},
            )

    def worked(self) -> None:
        with self._lock:
            ended, self.failing = self.failing, False
        if ended:
            logger.info("publishing to the broker works again")


BROKER_STATE = _BrokerState()


def generation_publish(*, generation_id: str, countdown: float | None = None) -> bool:
    """Send the job's message (due in ``countdown`` s); True if the broker took it.

    Never raises: on failure the job is left owed a message and this process
    starts re-sending owed jobs. Call it outside transactions (on commit).
    """
    run_generation = job(RUN_GENERATION)

    try:
        if countdown:
            run_generation.apply_async(args=[generation_id], countdown=countdown)
        else:
            run_generation.delay(generation_id)
    except Exception as exc:  # any broker error: the row says what is owed, nothing is lost
        PUBLISH_FAILURES.inc()
        BROKER_STATE.failed(exc)
        _record_failure(generation_id, countdown or 0.0)
        RETRIER.ensure_running()
        return False
    BROKER_STATE.worked()
    try:
        Generation.objects.filter(pk=generation_id).update(published_at=timezone.now(), publish_retry_at=None)
    except DatabaseError:
        # Sent, but not recorded: it will be sent again after the grace, and run once.
        logger.warning("could not record a published job", extra={"generation": generation_id}, exc_info=True)
    return True


def generation_publish_on_commit(*, generation_id: str) -> None:
    """Publish the job once the current transaction commits (the row must be visible to workers)."""
    transaction.on_commit(lambda: generation_publish(generation_id=generation_id))


def _record_failure(generation_id: str, countdown: float) -> None:
    try:
        failures = 1 + (
            Generation.objects.filter(pk=generation_id).values_list("publish_attempts", flat=True).first() or 0
        )
        retry_in = max(countdown, publish_backoff_seconds(failures))
        Generation.objects.filter(pk=generation_id).update(
            published_at=None,
            publish_attempts=F("publish_attempts") + 1,
            publish_retry_at=timezone.now() + timedelta(seconds=retry_in),
        )
    except DatabaseError:
        # The database is out too: the job stays as it was, and the sweeper re-sends it.
        logger.warning("could not record a failed publish", extra={"generation": generation_id}, exc_info=True)


def _owed() -> QuerySet[Generation]:
    return Generation.objects.filter(
        status=Generation.Status.QUEUED, published_at__isnull=True, publish_retry_at__isnull=False
    )


def generations_publish_owed() -> dict[str, int]:
    """Re-send queued jobs owed a message; returns how many were sent, failed, and are still owed.

    Jobs whose retry time has come go first. The first failed send ends the
    pass: the broker is down, the rest wait for their own retry times. Once a
    send works the broker is back, so every job a send failed for goes out
    too, without waiting out its backoff. Each message is due at the job's
    ``enqueued_at`` (later for a worker's retry). Each job is claimed with a
    conditional UPDATE first, so two re-senders (beat and a web process)
    rarely send one job twice; when they do, the worker runs it once.
    """
    now = timezone.now()
    sent = failed = 0
    owed = _owed().order_by("publish_retry_at").values_list("pk", "publish_retry_at", "enqueued_at", "publish_attempts")
    for pk, retry_at, enqueued_at, failures in owed[:BATCH]:
        if retry_at > now and not (sent and failures):
            # Not due, and either nothing shows the broker is back or its first send may still be in flight.
            if not sent:
                break
            continue
        claimed = _owed().filter(pk=pk, publish_retry_at=retry_at).update(publish_retry_at=now + UNCONFIRMED_GRACE)
        if not claimed:
            continue
        countdown = max(0.0, (enqueued_at - now).total_seconds()) if enqueued_at else 0.0
        if generation_publish(generation_id=str(pk), countdown=countdown):
            sent += 1
            PUBLISH_RETRIES.labels(result="sent").inc()
        else:
            failed += 1
            PUBLISH_RETRIES.labels(result="failed").inc()
            break
    if sent or failed:
        logger.info("re-sent owed job messages", extra={"sent": sent, "failed": failed})
    return {"sent": sent, "failed": failed, "owed": _owed().count()}


class _Retrier:
    """A thread that re-sends owed jobs while any are owed; started by a failed send in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def ensure_running(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="publish-retrier", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                time.sleep(settings.PUBLISH_RETRY_INTERVAL)
                close_old_connections()
                try:
                    generations_publish_owed()
                    # Checked under the lock: a send failing meanwhile either is counted here
                    # or finds no thread and starts a new one.
                    with self._lock:
                        if not _owed().exists():
                            self._thread = None
                            return
                except Exception:  # the database may be out as well: try again next turn
                    logger.warning("re-sending owed job messages failed", exc_info=True)
        finally:
            connection.close()


RETRIER = _Retrier()
