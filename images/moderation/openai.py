"""``MODERATION_PROVIDER=openai``: OpenAI's moderations endpoint through the official client.

A flagged prompt is blocked; a flagged image is held for review. The model
(``OPENAI_MODERATION_MODEL``, default ``omni-moderation-latest``) reads text
and images; the key and base URL are the image provider's (``OPENAI_API_KEY``,
``OPENAI_BASE_URL``).
"""

from __future__ import annotations

import base64
from typing import Any

import openai
from django.conf import settings

from images.analysis.base import AnalysisError, sendable
from images.moderation.base import Action, ModerationError, Verdict

MAX_IMAGE_BYTES = 4 * 1024 * 1024


class OpenAIModerator:
    name = "openai"

    def _client(self) -> openai.OpenAI:
        return openai.OpenAI(
            api_key=settings.OPENAI_API_KEY or "missing",
            base_url=settings.OPENAI_BASE_URL or None,
            max_retries=1,
            timeout=float(settings.MODERATION_TIMEOUT),
        )

    def _verdict(self, moderation_input: Any, action: Action) -> Verdict:
        try:
            answer = self._client().moderations.create(model=settings.OPENAI_MODERATION_MODEL, input=moderation_input)
        except openai.OpenAIError as exc:
            raise ModerationError(f"OpenAI moderations: {exc}") from exc
        if not answer.results:
            raise ModerationError("OpenAI moderations: an answer with no results")
        result = answer.results[0]
        flags = result.categories.model_dump(by_alias=True)
        scores = {name: float(score) for name, score in result.category_scores.model_dump(by_alias=True).items()
                  if isinstance(score, int | float)}  # fmt: skip
        categories = tuple(name for name, flagged in flags.items() if flagged)
        if not result.flagged:
            return Verdict(scores={name: scores[name] for name in categories if name in scores})
        return Verdict(
            action=action, categories=categories, scores={name: scores.get(name, 1.0) for name in categories}
        )

    def check_text(self, text: str) -> Verdict:
        """Flagged → ``block``."""
        return self._verdict(text, "block")

    def check_image(self, data: bytes, *, content_type: str) -> Verdict:
        """The image as a data URL (a JPEG of at most 1600 px for anything over 4 MB); flagged → ``review``."""
        try:
            sent = sendable(data, content_type, max_bytes=MAX_IMAGE_BYTES)
        except AnalysisError as exc:
            raise ModerationError(exc.message) from exc
        kind = content_type if sent is data else "image/jpeg"
        url = f"data:{kind or 'image/png'};base64,{base64.b64encode(sent).decode()}"
        return self._verdict([{"type": "image_url", "image_url": {"url": url}}], "review")
