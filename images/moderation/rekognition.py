"""``MODERATION_PROVIDER=rekognition``: AWS Rekognition ``DetectModerationLabels`` for images.

Rekognition has no text moderation, so prompts pass; an image with any
moderation label at ``MODERATION_MIN_CONFIDENCE`` or more is held for review,
its categories the labels' top-level names (``Explicit Nudity``, ``Violence``...).
"""

from __future__ import annotations

from django.conf import settings

from images.analysis.base import AnalysisError, sendable
from images.analysis.rekognition import MAX_BYTES, aws_error, rekognition_client
from images.moderation.base import ALLOW, ModerationError, Verdict


class RekognitionModerator:
    name = "rekognition"

    def check_text(self, text: str) -> Verdict:
        return ALLOW

    def check_image(self, data: bytes, *, content_type: str) -> Verdict:
        """Any moderation label → ``review``, its score the highest confidence (0..1) in its category."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = rekognition_client().detect_moderation_labels(
                Image={"Bytes": sendable(data, content_type, max_bytes=MAX_BYTES)},
                MinConfidence=float(settings.MODERATION_MIN_CONFIDENCE),
            )
        except AnalysisError as exc:
            raise ModerationError(exc.message) from exc
        except (BotoCoreError, ClientError) as exc:
            raise ModerationError(aws_error(exc, "DetectModerationLabels").message) from exc
        scores: dict[str, float] = {}
        for item in answer.get("ModerationLabels", []):
            top = _top_level(item, answer)
            if not top:
                continue
            scores[top] = max(scores.get(top, 0.0), min(1.0, float(item.get("Confidence", 0)) / 100))
        if not scores:
            return ALLOW
        return Verdict(action="review", categories=tuple(sorted(scores)), scores=scores)


def _top_level(item: dict, answer: dict) -> str | None:
    # Walk up ParentName links through the answer's own labels to the level-1 name.
    by_name = {label.get("Name"): label for label in answer.get("ModerationLabels", [])}
    current = item
    for _ in range(3):
        parent = current.get("ParentName")
        if not parent:
            return current.get("Name")
        current = by_name.get(parent, {"Name": parent})
    return current.get("Name")
