"""Moderation: prompts checked before anything is queued, images held for staff review, decisions, appeals.

A prompt the provider blocks is refused (``ModerationBlocked``, 400
``moderation_blocked``) before the quota is read or a row written. An image
a provider flags after generation or upload becomes ``pending_review``:
``Image.objects.visible_to_others()`` leaves it out of every view but its
owner's, and its files leave the public prefix. Staff approve or reject it
(``images_review``); the owner may appeal a rejection once (``image_appeal``).
Every verdict and decision is kept in ``ModerationEvent``, the audit trail.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import User
from imagegen.errors import Conflict, Invalid, NotFound
from images.metrics import MODERATION_UNAVAILABLE, PROMPTS_BLOCKED
from images.models import Image, ModerationEvent
from images.moderation import get_moderator
from images.moderation.base import ModerationError, Verdict
from images.services.relocation import image_files_relocate

logger = logging.getLogger(__name__)

MAX_REASON = 2000
MAX_APPEAL = 2000
DECISIONS = ("approve", "reject")


class ModerationBlocked(Invalid):
    """A prompt the moderation policy refuses; ``categories`` says why (also in the error's ``extra``)."""

    def __init__(self, categories: Iterable[str], *, field: str = "prompt") -> None:
        self.categories = list(categories)
        named = ", ".join(self.categories) or "unspecified"
        super().__init__(
            "moderation_blocked",
            f"{field}: refused by the content policy (categories: {named})",
            field,
            extra={"categories": self.categories},
        )


# --- Prompts --------------------------------------------------------------------------


def prompt_check(*, prompt: str) -> Verdict:
    """The provider's verdict on a prompt; raises ``ModerationBlocked`` for ``block``.

    A provider that cannot answer lets the prompt through (logged and counted):
    the images it makes are checked again after generation, and held for review
    if the prompt or the image is flagged then. The negative prompt is not
    checked: it names what to leave out.
    """
    moderator = get_moderator()
    try:
        verdict = moderator.check_text(prompt)
    except ModerationError as exc:
        MODERATION_UNAVAILABLE.inc()
        logger.warning("prompt moderation unavailable; the prompt is let through", extra={"error": exc.message})
        return Verdict()
    if verdict.action == "block":
        for category in verdict.categories or ("unspecified",):
            PROMPTS_BLOCKED.labels(category=category).inc()
        logger.info("prompt blocked by moderation", extra={"categories": list(verdict.categories)})
        raise ModerationBlocked(verdict.categories)
    return verdict


# --- Verdicts on images ---------------------------------------------------------------


def image_verdict(*, image: Image, data: bytes, content_type: str) -> Verdict:
    """The provider's verdict on a stored image: its pixels and its words (prompt, title).

    Anything flagged is ``review``: the image exists already, so staff decide.
    """
    moderator = get_moderator()
    verdicts = [moderator.check_image(data, content_type=content_type)]
    text = " \n".join(part for part in (image.prompt, image.title) if part)
    if text:
        verdicts.append(moderator.check_text(text))
    flagged = [verdict for verdict in verdicts if verdict.flagged]
    if not flagged:
        return Verdict()
    categories = tuple(dict.fromkeys(category for verdict in flagged for category in verdict.categories))
    scores: dict[str, float] = {}
    for verdict in flagged:
        for category, score in verdict.scores.items():
            scores[category] = max(scores.get(category, 0.0), score)
    return Verdict(action="review", categories=categories, scores=scores)


def image_verdict_record(*, image_id: object, verdict: Verdict) -> bool:
    """Store a provider's verdict on an image, once; a flagged image goes to the review queue.

    Returns False if the image was moderated already (a redelivered task) or is gone.
    """
    now = timezone.now()
    with transaction.atomic():
        image = Image.objects.select_for_update().filter(pk=image_id, moderated_at__isnull=True).first()
        if image is None:
            return False
        image.moderated_at = now
        fields = ["moderated_at", "updated_at"]
        if verdict.flagged and image.moderation_status == Image.Moderation.OK:
            image.moderation_status = Image.Moderation.PENDING_REVIEW
            image.moderation_categories = list(verdict.categories)
            image.moderation_scores = {name: round(score, 4) for name, score in verdict.scores.items()}
            fields += ["moderation_status", "moderation_categories", "moderation_scores"]
            ModerationEvent.objects.create(
                image=image,
                action=ModerationEvent.Action.FLAGGED,
                previous_status=Image.Moderation.OK,
                new_status=Image.Moderation.PENDING_REVIEW,
                categories=list(verdict.categories),
                reason=f"flagged by the {get_moderator().name} moderation provider",
            )
        image.save(update_fields=fields)
        if verdict.flagged:
            image_files_relocate(image_id=image.pk)  # a public image's files leave the CDN's prefix
    return True


# --- Staff decisions ------------------------------------------------------------------


def review_queue() -> QuerySet[Image]:
    """Images waiting for a staff decision, appeals and oldest first."""
    return Image.objects.filter(moderation_status=Image.Moderation.PENDING_REVIEW).order_by(
        "-appealed_at", "created_at"
    )


def images_review(*, actor: User, ids: Iterable[object], decision: str, reason: str = "") -> int:
    """Approve or reject these images (staff); each decision is recorded with who, why and the state before.

    ``reject`` needs a reason, which the owner reads. Approving makes the image
    ``ok`` again (visible as its visibility says); rejecting keeps it from
    everyone but its owner. Returns how many images were decided.
    """
    if decision not in DECISIONS:
        raise Invalid("invalid_choice", f"decision: must be one of {', '.join(DECISIONS)}", "decision")
    reason = reason.strip()
    if decision == "reject" and not reason:
        raise Invalid("required", "reason: a rejection needs a reason, which the owner reads", "reason")
    if len(reason) > MAX_REASON:
        raise Invalid("max_length", f"reason: at most {MAX_REASON} characters", "reason")
    new_status = Image.Moderation.OK if decision == "approve" else Image.Moderation.REJECTED
    action = ModerationEvent.Action.APPROVED if decision == "approve" else ModerationEvent.Action.REJECTED
    count = 0
    with transaction.atomic():
        for image in Image.objects.select_for_update().filter(pk__in=list(ids)).order_by("pk"):
            ModerationEvent.objects.create(
                image=image,
                actor=actor,
                action=action,
                previous_status=image.moderation_status,
                new_status=new_status,
                categories=image.moderation_categories,
                reason=reason,
            )
            image.moderation_status = new_status
            image.moderation_reason = reason
            # Decided by staff: a later automatic check must not undo it.
            image.moderated_at = image.moderated_at or timezone.now()
            image.save(update_fields=["moderation_status", "moderation_reason", "moderated_at", "updated_at"])
            image_files_relocate(image_id=image.pk)
            count += 1
    return count


# --- Appeals --------------------------------------------------------------------------


def image_appeal(*, user: User, image_id: object, message: str) -> Image:
    """The owner asks staff to look again at a rejected image: once, back into the queue marked as an appeal.

    NotFound for someone else's image; Conflict for an image that is not
    rejected (nothing to appeal) or was appealed before.
    """
    message = message.strip()
    if not message:
        raise Invalid("required", "message: say why the decision should change", "message")
    if len(message) > MAX_APPEAL:
        raise Invalid("max_length", f"message: at most {MAX_APPEAL} characters", "message")
    with transaction.atomic():
        image = Image.objects.select_for_update().filter(Q(pk=_uuid_or_none(image_id)), user=user).first()
        if image is None:
            raise NotFound("not_found", f"image {image_id} not found")
        if image.appealed_at is not None:
            raise Conflict("already_appealed", "this image was appealed already; an image can be appealed once")
        if image.moderation_status != Image.Moderation.REJECTED:
            raise Conflict(
                "not_appealable",
                f"only a rejected image can be appealed; this one is {image.moderation_status}",
            )
        ModerationEvent.objects.create(
            image=image,
            action=ModerationEvent.Action.APPEALED,
            previous_status=image.moderation_status,
            new_status=Image.Moderation.PENDING_REVIEW,
            categories=image.moderation_categories,
            reason=message,
        )
        image.moderation_status = Image.Moderation.PENDING_REVIEW
        image.appeal_message = message
        image.appealed_at = timezone.now()
        image.save(update_fields=["moderation_status", "appeal_message", "appealed_at", "updated_at"])
    return image


def _uuid_or_none(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def moderation_summary(image: Image | dict) -> dict[str, object]:
    """The API's and the pages' ``moderation`` object of an image (a model or a list's row)."""
    get = image.get if isinstance(image, dict) else lambda name: getattr(image, name)
    return {
        "status": get("moderation_status"),
        "categories": list(get("moderation_categories") or []),
        "reason": get("moderation_reason") or None,
        "appealed": get("appealed_at") is not None,
    }
