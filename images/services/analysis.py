"""Labels and moderation of stored images, in the worker after their derivatives are made.

``image_analyze`` runs the analyzer (``IMAGE_ANALYZER``) and the moderation
provider's image check (``MODERATION_PROVIDER``) on one ready image. Neither
can fail the image: a failure is logged, the image stays ready without labels
(or unmoderated), and it is tried again by the task's retries and then by
``images_analysis_owed`` on beat's schedule. ``analyzed_at`` and
``moderated_at`` record what is done, so each step runs once per image.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from images.analysis import get_analyzer
from images.analysis.base import AnalysisError, Label
from images.jobs import job
from images.models import Image, ImageLabel
from images.moderation.base import ModerationError
from images.services.moderation import image_verdict, image_verdict_record
from images.storage import read_bytes

logger = logging.getLogger(__name__)

ANALYZE_IMAGE = "images.analyze_image"
MAX_LABEL_LENGTH = 100
# Owed images queued per beat run: a backlog drains over several runs instead of flooding the queue.
OWED_BATCH = 200
# An image this young is still in its first task's hands; beat leaves it alone.
OWED_GRACE = timedelta(minutes=2)


class AnalysisIncomplete(Exception):
    """A step failed in a way worth retrying; the task tries again later."""


def image_analysis_queue_on_commit(*, image_ids: list[str]) -> None:
    """Queue ``analyze_image`` for each image once the transaction commits; a broker failure is only logged
    (beat's ``analyze_owed_images`` queues it again)."""

    def send() -> None:
        task = job(ANALYZE_IMAGE)
        for image_id in image_ids:
            try:
                task.delay(image_id)
            except Exception:
                logger.warning("analysis not queued; beat will", extra={"image_id": image_id}, exc_info=True)

    transaction.on_commit(send)


def _moderation_on() -> bool:
    return settings.MODERATION_PROVIDER != "none"


def _source(image: Image) -> tuple[bytes, str]:
    # The served original: the thumbnails are lossy WebP, which blurs what the builtin analyzer measures.
    return read_bytes(image.storage_key), image.content_type or "image/png"


def labels_store(*, image_id: object, labels: list[Label]) -> None:
    """Keep ``labels`` as the image's (shown as given, indexed lower-cased for ``?label=``) and mark it analyzed."""
    unique: dict[str, Label] = {}
    for label in labels:
        name = label.name.strip()[:MAX_LABEL_LENGTH]
        if name and name.lower() not in unique:
            unique[name.lower()] = Label(name, max(0.0, min(1.0, label.confidence)))
    with transaction.atomic():
        updated = Image.objects.filter(pk=image_id).update(
            labels=[label.as_dict() for label in unique.values()], analyzed_at=timezone.now()
        )
        if not updated:
            return
        ImageLabel.objects.filter(image_id=image_id).delete()
        ImageLabel.objects.bulk_create(
            [ImageLabel(image_id=image_id, name=key, confidence=label.confidence) for key, label in unique.items()]
        )


def image_analyze(*, image_id: str) -> str:
    """Label and moderate one ready image; returns what happened.

    Raises ``AnalysisIncomplete`` when a step failed and is worth retrying;
    storage errors propagate (retried the same way).
    """
    image = Image.objects.filter(pk=image_id, processing=Image.Processing.READY).first()
    if image is None:
        return "missing"
    wants_labels = image.analyzed_at is None
    wants_moderation = image.moderated_at is None and _moderation_on()
    if not (wants_labels or wants_moderation):
        return "done"
    data, content_type = _source(image)
    incomplete = []
    if wants_labels:
        analyzer = get_analyzer()
        try:
            labels = analyzer.analyze(data, content_type=content_type)
        except AnalysisError as exc:
            extra = {"image_id": image_id, "analyzer": analyzer.name, "error": exc.message, "permanent": exc.permanent}
            logger.warning("image analysis failed", extra=extra)
            if exc.permanent:
                labels_store(image_id=image.pk, labels=[])
            else:
                incomplete.append("labels")
        else:
            labels_store(image_id=image.pk, labels=labels)
    if wants_moderation:
        try:
            verdict = image_verdict(image=image, data=data, content_type=content_type)
        except ModerationError as exc:
            logger.warning("image moderation failed", extra={"image_id": image_id, "error": exc.message})
            incomplete.append("moderation")
        else:
            image_verdict_record(image_id=image.pk, verdict=verdict)
            if verdict.flagged:
                logger.info(
                    "image held for review", extra={"image_id": image_id, "categories": list(verdict.categories)}
                )
    if incomplete:
        raise AnalysisIncomplete(", ".join(incomplete))
    return "analyzed"


def images_analysis_owed() -> QuerySet[Image]:
    """Ready images whose labels or moderation are still owed (a failed or lost task), oldest first."""
    owed = Q(analyzed_at__isnull=True)
    if _moderation_on():
        owed |= Q(moderated_at__isnull=True)
    cutoff = timezone.now() - OWED_GRACE
    return Image.objects.filter(owed, processing=Image.Processing.READY, updated_at__lt=cutoff).order_by("created_at")


def images_analysis_queue_owed() -> int:
    """Queue the analysis of up to ``OWED_BATCH`` owed images (beat); returns how many were queued."""
    ids = [str(pk) for pk in images_analysis_owed().values_list("pk", flat=True)[:OWED_BATCH]]
    task = job(ANALYZE_IMAGE)
    for image_id in ids:
        task.delay(image_id)
    return len(ids)
