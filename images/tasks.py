"""Celery tasks: thin wrappers that load by id and call a service."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from images.services.pipeline import generation_run
from images.services.publishing import generation_publish


@shared_task(
    name="images.run_generation",
    soft_time_limit=settings.GENERATION_TIME_LIMIT,
    time_limit=settings.GENERATION_TIME_LIMIT + 30,
)
def run_generation(generation_id: str) -> str:
    outcome = generation_run(generation_id=generation_id)
    if outcome.retry_in is not None:
        # A new message, due later; this one is acknowledged. If the broker does
        # not take it, the job is owed a message and re-sent (publishing.py).
        generation_publish(generation_id=generation_id, countdown=outcome.retry_in)
    return outcome.status


@shared_task(name="images.publish_owed_generations")
def publish_owed_generations() -> dict[str, int]:
    from images.services.publishing import generations_publish_owed

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

    return generations_sweep()


@shared_task(name="images.deliver_webhook")
def deliver_webhook(generation_id: str, event: str, webhook_id: str, attempt: int) -> None:
    from images.webhooks import deliver

    retry_in = deliver(generation_id=generation_id, event=event, webhook_id=webhook_id, attempt=attempt)
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
