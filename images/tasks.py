"""Celery tasks: thin wrappers that load by id and call a service."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from django.conf import settings

from imagegen.database import DATABASE_ERRORS, is_database_unavailable, outage_backoff, reset_connections
from images.services.pipeline import generation_run
from images.services.publishing import generation_publish, generations_publish_owed
from images.services.scheduling import generations_admit_quietly, holds_jobs

logger = logging.getLogger(__name__)

# Retries (about 10 s apart once backed off) of a task that cannot reach the database.
# Past them a generation is still safe: the sweeper re-sends jobs left queued.
DATABASE_RETRIES = 60


def retry_after_outage(task: Task, exc: Exception) -> Exception:
    """``raise retry_after_outage(self, exc)``: a database outage is retried later on a new connection.

    The message is acknowledged only once its retry is published; the outage
    is not one of the job's attempts. Anything else is raised as it was.
    """
    if not is_database_unavailable(exc) or task.request.retries >= DATABASE_RETRIES:
        return exc
    reset_connections()
    countdown = outage_backoff(task.request.retries)
    logger.warning(
        "database unavailable; task retried",
        extra={"task": task.name, "retry": task.request.retries, "countdown": round(countdown, 1), "error": str(exc)},
    )
    return task.retry(exc=exc, countdown=countdown, max_retries=DATABASE_RETRIES)


# Its time limits are set from GENERATION_TIME_LIMIT by CELERY_TASK_ANNOTATIONS (settings.py).
@shared_task(bind=True, name="images.run_generation")
def run_generation(self: Task, generation_id: str) -> str:
    try:
        outcome = generation_run(generation_id=generation_id)
    except DATABASE_ERRORS as exc:
        raise retry_after_outage(self, exc) from exc
    if outcome.retry_in is not None:
        # A new message, due later; this one is acknowledged. If the broker does
        # not take it, the job is owed a message and re-sent (publishing.py).
        generation_publish(generation_id=generation_id, countdown=outcome.retry_in)
    elif holds_jobs():
        generations_admit_quietly()  # the job ended: the next user's turn (the fair queue)
    return outcome.status


@shared_task(name="images.publish_owed_generations")
def publish_owed_generations() -> dict[str, int]:
    if holds_jobs():
        generations_admit_quietly()  # also beat's safety net for admissions a crashed process did not make
    return generations_publish_owed()


@shared_task(name="images.process_image", bind=True, max_retries=3)
def process_image(self, image_id: str) -> str:
    """Derivatives of an uploaded image; storage errors are retried, then the image is marked failed."""
    from images.services.uploads import image_process, image_process_failed

    try:
        return image_process(image_id=image_id)
    except Exception as exc:
        if self.request.retries < self.max_retries:
            raise self.retry(exc=exc, countdown=5 * 2**self.request.retries) from exc
        image_process_failed(image_id=image_id, message=f"processing_error: {exc}")
        return "failed"


@shared_task(name="images.sweep_generations")
def sweep_generations() -> dict[str, int]:
    from images.services.sweeper import generations_sweep

    try:
        return generations_sweep()
    except DATABASE_ERRORS as exc:
        if not is_database_unavailable(exc):
            raise
        # Beat runs the next sweep on schedule; every step of one is a conditional update.
        reset_connections()
        logger.warning("database unavailable; sweep skipped", extra={"error": str(exc)})
        return {}


@shared_task(bind=True, name="images.deliver_webhook")
def deliver_webhook(self: Task, generation_id: str, event: str, webhook_id: str, attempt: int) -> None:
    from images.api.webhooks import deliver

    try:
        retry_in = deliver(generation_id=generation_id, event=event, webhook_id=webhook_id, attempt=attempt)
    except DATABASE_ERRORS as exc:
        # The same attempt again: an outage is not the receiver's failure. If the POST
        # went out before the outage, it is sent again with the same webhook-id (receivers dedupe).
        raise retry_after_outage(self, exc) from exc
    if retry_in is not None:
        deliver_webhook.apply_async(args=[generation_id, event, webhook_id, attempt + 1], countdown=retry_in)


@shared_task(name="images.expire_direct_uploads")
def expire_direct_uploads() -> int:
    from datetime import timedelta

    from images.services.uploads import direct_uploads_expire

    return direct_uploads_expire(older_than=timedelta(seconds=settings.DIRECT_UPLOAD_EXPIRY_SECONDS))


@shared_task(name="images.sweep_upload_staging")
def sweep_upload_staging() -> int:
    from images.services.retention import upload_staging_sweep

    return upload_staging_sweep()


@shared_task(name="images.expire_old_images")
def expire_old_images() -> int:
    from images.services.retention import images_expire

    if not settings.IMAGE_RETENTION_DAYS:
        return 0
    return images_expire(older_than_days=settings.IMAGE_RETENTION_DAYS)


@shared_task(name="images.sweep_partial_frames")
def sweep_partial_frames() -> int:
    from images.services.partials import partial_frames_sweep

    return partial_frames_sweep()


@shared_task(name="images.analyze_image", bind=True, max_retries=3)
def analyze_image(self: Task, image_id: str) -> str:
    """Labels and moderation of a ready image; failures are retried, then left to beat's ``analyze_owed_images``."""
    from images.services.analysis import image_analyze

    try:
        return image_analyze(image_id=image_id)
    except Exception as exc:
        if self.request.retries < self.max_retries:
            raise self.retry(exc=exc, countdown=30 * 2**self.request.retries) from exc
        extra = {"image_id": image_id, "error": str(exc)[:300]}
        logger.warning("image analysis still incomplete; beat retries it", extra=extra)
        return "incomplete"


@shared_task(name="images.analyze_owed_images")
def analyze_owed_images() -> int:
    from images.services.analysis import images_analysis_queue_owed

    return images_analysis_queue_owed()
