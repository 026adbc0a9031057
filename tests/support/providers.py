"""A scriptable provider for pipeline tests; the prompt says how it behaves.

- "fail-permanent": a permanent ProviderError.
- "fail-transient-N": a transient ProviderError on the first N calls for that prompt
  (counted in a file under var/, so it works across worker processes).
- "slow-S": S seconds of work in 0.1 s steps, checking for cancellation.
- anything else: solid-colour PNGs of the requested size.
"""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

from django.conf import settings
from PIL import Image

from images.providers.base import GeneratedImage, GenerationCanceled, ProviderError, RenderRequest


def _calls_file(prompt: str) -> Path:
    return Path(settings.VAR_DIR) / f"fake-provider-{abs(hash(prompt)) % 10**12}.count"


class FakeProvider:
    name = "fake"

    def is_configured(self) -> bool:
        return True

    def models(self) -> list[str]:
        return ["fake-1"]

    def generate(self, request: RenderRequest, *, on_progress, should_cancel) -> list[GeneratedImage]:
        prompt = request.prompt
        if "fail-permanent" in prompt:
            raise ProviderError("the fake provider refuses this prompt", code="moderation_blocked", permanent=True)
        if match := re.search(r"fail-transient-(\d+)", prompt):
            counter = _calls_file(prompt)
            calls = int(counter.read_text()) if counter.exists() else 0
            counter.write_text(str(calls + 1))
            if calls < int(match.group(1)):
                raise ProviderError("the fake provider is overloaded", code="provider_unavailable")
        steps = 1
        if match := re.search(r"slow-(\d+(?:\.\d+)?)", prompt):
            steps = max(1, int(float(match.group(1)) * 10))
        for step in range(steps):
            if should_cancel():
                raise GenerationCanceled()
            if steps > 1:
                time.sleep(0.1)
            on_progress(round(100 * (step + 1) / steps))
        outputs = []
        for index in range(request.n):
            buffer = io.BytesIO()
            color = ((request.seed + index * 40) % 256, 120, 200)
            Image.new("RGB", (request.width, request.height), color).save(buffer, "PNG")
            outputs.append(GeneratedImage(buffer.getvalue(), "image/png", request.width, request.height))
        return outputs


class Calls:
    """on_progress / should_cancel stand-ins for calling a provider directly; they remember what they saw."""

    def __init__(self, cancel_after: int | None = None) -> None:
        self.progress: list[int] = []
        self.cancel_checks = 0
        self.cancel_after = cancel_after

    def on_progress(self, percent: int) -> None:
        self.progress.append(percent)

    def should_cancel(self) -> bool:
        self.cancel_checks += 1
        return self.cancel_after is not None and self.cancel_checks > self.cancel_after
