"""The ``openai`` provider: OpenAI's Images API, or any server that speaks it.

Built on the official ``openai`` client with its own retries off
(``max_retries=0``): the pipeline retries transient failures with backoff, so
retrying here too would multiply the waits. ``OPENAI_BASE_URL`` points it at
an OpenAI-compatible server (LocalAI, a gateway, Imagegen itself).

Text-only requests go to ``images.generate``; requests with references go to
``images.edit`` with the reference bytes as files. ``seed`` and ``strength``
have no equivalent in this API and are not sent.

Results come back as base64 (GPT image models always) or as URLs (legacy
models, some compatible servers). URLs are downloaded through the SSRF guard
of :mod:`images.fetch`: public https hosts, plus the configured base URL's
own origin (we already talk to it). Each image is checked with Pillow and
returned in the format the server sent (PNG, JPEG or WebP; others become PNG).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings

from images.fetch import DEFAULT_POLICY, AddressPolicy
from images.processing import EXTENSIONS
from images.providers.base import (
    CancelCheck,
    GeneratedImage,
    GenerationCanceled,
    ProgressCallback,
    ProviderError,
    RenderRequest,
)
from images.providers.results import download_provider_image, generated_image_from_bytes
from images.styles import styled_prompt

if TYPE_CHECKING:
    import openai

OFFICIAL_BASE_URL = "https://api.openai.com/v1"
# Current OpenAI image models (gpt-image-1 was shut down in October 2026, DALL·E in May 2026).
OFFICIAL_MODELS = ["gpt-image-2", "gpt-image-2.5-sunburst", "gpt-image-2.5-flare", "gpt-image-1.5", "gpt-image-1-mini"]
# Names OpenAI-compatible servers commonly answer to.
COMPATIBLE_MODELS = ["gpt-image-1", "dall-e-3", "dall-e-2"]

_STANDARD_SIZES = [(1024, 1024), (1536, 1024), (1024, 1536)]
# Models that take only a fixed list of sizes; the others get the exact WxH we ask for
# (gpt-image-2 and later take any multiple of 16 between 1:3 and 3:1).
_FIXED_SIZES: dict[str, list[tuple[int, int]]] = {
    "gpt-image-1": _STANDARD_SIZES,
    "gpt-image-1.5": _STANDARD_SIZES,
    "gpt-image-1-mini": _STANDARD_SIZES,
    "chatgpt-image-latest": _STANDARD_SIZES,
    "dall-e-3": [(1024, 1024), (1792, 1024), (1024, 1792)],
    "dall-e-2": [(256, 256), (512, 512), (1024, 1024)],
}
_GPT_QUALITY = {"low": "low", "medium": "medium", "high": "high", "auto": "auto", "standard": "medium", "hd": "high"}
_DALLE3_QUALITY = {"standard": "standard", "hd": "hd", "low": "standard", "medium": "standard", "high": "hd"}
_CONTENT_POLICY_CODES = {"content_policy_violation", "moderation_blocked"}


class OpenAIProvider:
    """Images from the OpenAI Images API (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``, ``OPENAI_IMAGE_MODEL``)."""

    name: ClassVar[str] = "openai"

    def __init__(self, *, fetch_policy: AddressPolicy = DEFAULT_POLICY) -> None:
        # Which hosts result URLs may be downloaded from; tests allow loopback here.
        self.fetch_policy = fetch_policy

    def is_configured(self) -> bool:
        return bool(settings.OPENAI_API_KEY)

    def models(self) -> list[str]:
        known = COMPATIBLE_MODELS if settings.OPENAI_BASE_URL else OFFICIAL_MODELS
        return list(dict.fromkeys([settings.OPENAI_IMAGE_MODEL, *known]))

    def generate(
        self, request: RenderRequest, *, on_progress: ProgressCallback, should_cancel: CancelCheck
    ) -> list[GeneratedImage]:
        """Render ``request.n`` images with one API call (``n`` calls for dall-e-3, which takes n=1).

        Transient failures (429, 5xx, timeouts, connection errors) raise a
        retryable ``ProviderError``; rejections (400 incl. content policy, 401,
        403, 404) and unusable answers raise a permanent one with the server's message.
        """
        if should_cancel():
            raise GenerationCanceled()
        model = request.model or settings.OPENAI_IMAGE_MODEL
        on_progress(10)
        calls = request.n if model == "dall-e-3" else 1
        items: list[Any] = []
        self.usage: list[dict] = []
        with self._client() as client:
            for index in range(calls):
                if index and should_cancel():
                    raise GenerationCanceled()
                items.extend(self._call(client, request, model, n=request.n if calls == 1 else 1))
                on_progress(10 + 80 * (index + 1) // calls)
        if not items:
            raise ProviderError("OpenAI returned no images", code="invalid_response", permanent=True)
        if should_cancel():
            raise GenerationCanceled()
        images = [self._image(item, should_cancel) for item in items[: request.n]]
        if self.usage and images:
            # Reported per call: the sum goes with the first image (the pipeline reads it there).
            images[0] = replace(images[0], info={**images[0].info, "usage": _summed(self.usage)})
        on_progress(100)
        return images

    def _client(self) -> openai.OpenAI:
        # Imported on use: the client library takes seconds to import, and listing the
        # providers (every generation request does) must not pay for it.
        import openai

        return openai.OpenAI(
            api_key=settings.OPENAI_API_KEY,
            base_url=settings.OPENAI_BASE_URL or None,
            max_retries=0,
            timeout=float(settings.OPENAI_TIMEOUT),
        )

    def _call(self, client: openai.OpenAI, request: RenderRequest, model: str, *, n: int) -> list[Any]:
        import openai

        params: dict[str, Any] = {"model": model, "prompt": _prompt(request), "n": n}
        params["size"] = _size(model, request.width, request.height)
        quality = _quality(model, request.quality)
        if quality:
            params["quality"] = quality
        if model.startswith("dall-e"):
            # Legacy models default to URLs; base64 saves a download.
            params["response_format"] = "b64_json"
        else:
            params.update(_output_params(request))
        try:
            if request.references:
                files = [
                    (f"reference-{i}.{EXTENSIONS.get(ref.content_type, 'png')}", ref.data, ref.content_type)
                    for i, ref in enumerate(request.references)
                ]
                if request.mask is not None:
                    params["mask"] = ("mask.png", request.mask, "image/png")
                if request.input_fidelity and not model.startswith("dall-e"):
                    params["input_fidelity"] = request.input_fidelity
                # One file goes as "image" (what dall-e-2-style servers expect), several as "image[]".
                response = client.images.edit(image=files[0] if len(files) == 1 else files, **params)
            else:
                if request.moderation and not model.startswith("dall-e"):
                    params["moderation"] = request.moderation
                response = client.images.generate(**params)
        except openai.OpenAIError as exc:
            raise _provider_error(exc) from None
        except ValueError as exc:  # a body that is not JSON
            raise ProviderError(
                f"OpenAI sent an unreadable answer: {exc}", code="invalid_response", permanent=True
            ) from None
        data = getattr(response, "data", None)
        usage = getattr(response, "usage", None)
        if usage is not None and hasattr(usage, "model_dump"):
            self.usage.append(usage.model_dump())
        if not isinstance(data, list):
            raise ProviderError(
                "OpenAI's answer is not an Images API response (is OPENAI_BASE_URL an OpenAI-compatible server?)",
                code="invalid_response",
                permanent=True,
            )
        return data

    def _image(self, item: Any, should_cancel: CancelCheck) -> GeneratedImage:
        revised = getattr(item, "revised_prompt", None) or None
        if getattr(item, "b64_json", None):
            return generated_image_from_bytes(_b64decode(item.b64_json), provider="OpenAI", revised_prompt=revised)
        if getattr(item, "url", None):
            if should_cancel():
                raise GenerationCanceled()
            policy = self.fetch_policy.trusting(settings.OPENAI_BASE_URL or OFFICIAL_BASE_URL)
            fetched = download_provider_image(item.url, policy=policy, provider="OpenAI")
            return generated_image_from_bytes(fetched.data, provider="OpenAI", revised_prompt=revised)
        raise ProviderError(
            "OpenAI returned an image with neither b64_json nor url", code="invalid_response", permanent=True
        )


def _summed(reports: list[dict]) -> dict:
    """Several calls' usage (dall-e-3 is called once per image) as one."""
    if len(reports) == 1:
        return reports[0]
    keys = ("input_tokens", "output_tokens", "total_tokens")
    return {key: sum(int(report.get(key) or 0) for report in reports) for key in keys}


def _output_params(request: RenderRequest) -> dict[str, Any]:
    """The GPT image models' output settings, sent only when they differ from the API's defaults
    (OpenAI-compatible servers that do not know them then see nothing new)."""
    params: dict[str, Any] = {}
    if request.output_format and request.output_format != "png":
        params["output_format"] = request.output_format
    if request.output_compression is not None:
        params["output_compression"] = request.output_compression
    if request.background and request.background != "auto":
        params["background"] = request.background
    return params


def _prompt(request: RenderRequest) -> str:
    prompt = styled_prompt(request.prompt, request.style)
    if request.negative_prompt.strip():
        prompt = f"{prompt}\n\nAvoid: {request.negative_prompt.strip()}"
    return prompt


def _size(model: str, width: int, height: int) -> str:
    sizes = _FIXED_SIZES.get(model)
    if sizes:
        # Closest shape first, then closest area.
        width, height = min(sizes, key=lambda s: (abs(s[0] / s[1] - width / height), abs(s[0] * s[1] - width * height)))
    return f"{width}x{height}"


def _quality(model: str, quality: str) -> str:
    if not quality or model == "dall-e-2":
        return ""
    if model == "dall-e-3":
        return _DALLE3_QUALITY.get(quality, "")
    if model.startswith(("gpt-image", "chatgpt-image")):
        return _GPT_QUALITY.get(quality, quality)
    return quality  # an OpenAI-compatible server's own vocabulary


def _b64decode(value: str) -> bytes:
    text = value.split(",", 1)[1] if value.startswith("data:") else value
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ProviderError(
            "OpenAI returned invalid base64 image data", code="invalid_response", permanent=True
        ) from None


def _message(exc: openai.APIError) -> str:
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"].strip():
        return body["message"].strip()[:1000]
    return str(exc.message)[:1000]


def _provider_error(exc: openai.OpenAIError) -> ProviderError:
    """Map the client's exceptions onto retryable and permanent provider errors."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return ProviderError(
            f"OpenAI did not answer within {settings.OPENAI_TIMEOUT} s", code="provider_timeout", permanent=False
        )
    if isinstance(exc, openai.APIConnectionError):
        return ProviderError(f"could not reach OpenAI: {exc.message}", code="provider_unavailable", permanent=False)
    if isinstance(exc, openai.APIStatusError):
        message = _message(exc)
        if isinstance(exc, openai.RateLimitError):
            if exc.code == "insufficient_quota":  # billing, not load: waiting will not help
                return ProviderError(message, code="provider_quota", permanent=True)
            return ProviderError(message, code="provider_rate_limited", permanent=False)
        if exc.status_code >= 500:
            return ProviderError(message, code="provider_unavailable", permanent=False)
        if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
            return ProviderError(message, code="provider_auth", permanent=True)
        if exc.code in _CONTENT_POLICY_CODES:
            return ProviderError(message, code="moderation_blocked", permanent=True)
        return ProviderError(message, code="provider_rejected", permanent=True)
    if isinstance(exc, openai.APIError):
        return ProviderError(
            f"OpenAI sent an unusable answer: {_message(exc)}", code="invalid_response", permanent=True
        )
    return ProviderError(f"OpenAI client error: {exc}", code="invalid_response", permanent=True)
