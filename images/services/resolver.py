"""A generation request resolved: the rules of size, provider, model, style, URLs and defaults, decided once.

The REST API, the OpenAI-compatible endpoint and the pages parse their own
shapes, then hand the values here; what comes out is a ``GenerationParams``,
the only thing ``generation_create`` takes. A broken rule raises ``Invalid``
naming its field; its message is the rule's own words, without the field
(each edge adds the field as it shows errors).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings

from imagegen.errors import Invalid
from images import params
from images.fetch import FetchError, validate_url
from images.providers import configured_providers, default_provider_name
from images.styles import STYLES


@dataclass
class GenerationParams:
    """A resolved generation request, as the service takes it."""

    prompt: str
    width: int
    height: int
    provider: str
    negative_prompt: str = ""
    style: str = ""
    n: int = 1
    seed: int | None = None
    model: str = ""
    quality: str = ""
    strength: float | None = None
    reference_images: list[str] = field(default_factory=list)
    reference_image_urls: list[str] = field(default_factory=list)
    webhook_url: str = ""
    webhook_events: list[str] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)
    output_format: str = params.DEFAULT_OUTPUT_FORMAT
    output_compression: int | None = None
    background: str = "auto"
    # OpenAI-compatible extras kept with the job (see Generation.options).
    options: dict = field(default_factory=dict)

    def fingerprint_payload(self) -> dict:
        """What makes two requests "the same" for Idempotency-Key purposes."""
        return {k: v for k, v in self.__dict__.items()}


def _choice(name: str, value: object, valid: Iterable[str]) -> Invalid:
    return Invalid("invalid_choice", f"{value!r} is not a valid {name}; valid values: {', '.join(valid)}", name)


# --- One rule each ----------------------------------------------------------------------


def check_style(value: str) -> str:
    if value and value not in STYLES:
        raise Invalid("invalid_choice", f"{value!r} is not a style; valid styles: {', '.join(STYLES)}", "style")
    return value


def check_reference_urls(urls: list[str]) -> list[str]:
    for url in urls:
        try:
            validate_url(url, allow_http=settings.DEBUG)
        except FetchError as exc:
            raise Invalid(exc.code, f"{url!r}: {exc.message}", "reference_image_urls") from None
    return urls


def check_webhook_url(value: str) -> str:
    if not value:
        return value
    parts = urlsplit(value)
    allowed = ("https", "http") if settings.DEBUG else ("https",)
    if parts.scheme not in allowed or not parts.hostname:
        message = "webhook_url must be an https URL" + (" (or http in DEBUG)" if settings.DEBUG else "")
        raise Invalid("invalid", message, "webhook_url")
    return value


def _holds_nul(value: object) -> bool:
    """Whether a NUL character is in any key or text of ``value`` (iterative: depth cannot recurse)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def check_metadata(value: dict) -> dict:
    if len(json.dumps(value)) > params.MAX_METADATA_BYTES:
        raise Invalid("max_length", f"metadata must be at most {params.MAX_METADATA_BYTES} bytes of JSON", "metadata")
    # PostgreSQL's jsonb cannot hold NUL (\u0000): refused here, not a 500 at the INSERT.
    if _holds_nul(value):
        raise Invalid("null_characters_not_allowed", "metadata cannot contain NUL characters", "metadata")
    return value


def check_output(output_format: str, output_compression: int | None, background: str) -> tuple[str, int | None, str]:
    """The output format, its compression and the background, which must fit together.

    Compression applies to JPEG and WebP only; a transparent background needs a
    format with alpha (PNG or WebP). Codes are OpenAI's words for these refusals.
    """
    output_format = output_format or params.DEFAULT_OUTPUT_FORMAT
    background = background or "auto"
    if output_format not in params.OUTPUT_FORMATS:
        raise _choice("output_format", output_format, params.OUTPUT_FORMATS)
    if background not in params.BACKGROUNDS:
        raise _choice("background", background, params.BACKGROUNDS)
    if output_compression is not None:
        if not 0 <= output_compression <= 100:
            raise Invalid("invalid_value", "output_compression must be between 0 and 100", "output_compression")
        if output_format not in params.COMPRESSED_FORMATS:
            raise Invalid(
                "invalid_value",
                f"output_compression applies only to jpeg and webp, not to output_format {output_format!r}",
                "output_compression",
            )
    if background == "transparent" and output_format not in params.ALPHA_FORMATS:
        raise Invalid(
            "invalid_value",
            f"a transparent background needs output_format png or webp, not {output_format!r}",
            "background",
        )
    return output_format, output_compression, background


def resolve_size(size: str | None, aspect_ratio: str | None, resolution: str | None) -> tuple[int, int]:
    """``size`` ("WxH"), or ``aspect_ratio`` with an optional ``resolution``, or the default size."""
    if size and (aspect_ratio or resolution):
        raise Invalid("conflict", "give either size or aspect_ratio + resolution, not both", "size")
    if size:
        try:
            return params.parse_size(size)
        except ValueError:
            raise _choice("size", size, params.SIZES) from None
    if aspect_ratio or resolution:
        if not aspect_ratio:
            raise Invalid("required", "aspect_ratio is required with resolution", "aspect_ratio")
        if aspect_ratio not in params.ASPECT_RATIOS:
            raise _choice("aspect_ratio", aspect_ratio, params.ASPECT_RATIOS)
        if (resolution or "1K") not in params.RESOLUTIONS:
            raise _choice("resolution", resolution, params.RESOLUTIONS)
        return params.size_for_aspect_ratio(aspect_ratio, resolution or "1K")
    return params.parse_size(params.DEFAULT_SIZE)


def resolve_model(provider: str, model: str) -> tuple[str, str]:
    """The provider (the default when blank) and one of its models (its first when blank)."""
    providers = configured_providers()
    name = provider or default_provider_name()
    if name not in providers:
        raise _choice("provider", name, providers)
    models = providers[name].models()
    model = model or models[0]
    if model not in models:
        raise _choice("model", model, models)
    return name, model


def resolve_model_by_name(model: str) -> tuple[str, str]:
    """The provider serving ``model`` (OpenAI's clients name only a model), or the default's first model."""
    if not model:
        return resolve_model("", "")
    providers = configured_providers()
    provider = next((name for name, p in providers.items() if model in p.models()), None)
    if provider is None:
        known = [m for p in providers.values() for m in p.models()]
        raise Invalid("model_not_found", f"model {model!r} is not available; use one of {', '.join(known)}", "model")
    return provider, model


# --- The whole request -----------------------------------------------------------------


def generation_params(
    *,
    prompt: str,
    negative_prompt: str = "",
    style: str = "",
    size: str | None = None,
    aspect_ratio: str | None = None,
    resolution: str | None = None,
    n: int = 1,
    seed: int | None = None,
    provider: str = "",
    model: str = "",
    quality: str = "",
    strength: float | None = None,
    reference_images: Iterable[object] = (),
    reference_image_urls: Iterable[str] = (),
    webhook_url: str = "",
    webhook_events: Iterable[str] = (),
    metadata: dict | None = None,
    output_format: str = params.DEFAULT_OUTPUT_FORMAT,
    output_compression: int | None = None,
    background: str = "auto",
    exact_size: tuple[int, int] | None = None,
    options: dict | None = None,
) -> GenerationParams:
    """Every rule of a generation request, and its defaults: what ``generation_create`` takes.

    A blank ``provider`` is the default provider (the OpenAI-compatible
    endpoint finds the provider of a model with ``resolve_model_by_name`` first).
    ``exact_size`` (an edit's "auto": the input image's own size) replaces the size rules.
    """
    width, height = exact_size or resolve_size(size, aspect_ratio, resolution)
    output_format, output_compression, background = check_output(output_format, output_compression, background)
    provider, model = resolve_model(provider, model)
    references = [str(i) for i in dict.fromkeys(reference_images)]
    urls = list(dict.fromkeys(check_reference_urls(list(reference_image_urls))))
    if strength is not None and not (references or urls):
        raise Invalid("invalid", "strength applies only with reference_images or reference_image_urls", "strength")
    events = list(dict.fromkeys(webhook_events))
    if events and not webhook_url:
        raise Invalid("required", "webhook_events needs a webhook_url", "webhook_events")
    return GenerationParams(
        prompt=prompt,
        negative_prompt=negative_prompt,
        style=check_style(style),
        width=width,
        height=height,
        n=n,
        seed=seed,
        provider=provider,
        model=model,
        quality=quality,
        strength=strength,
        reference_images=references,
        reference_image_urls=urls,
        webhook_url=check_webhook_url(webhook_url),
        webhook_events=events or (list(params.WEBHOOK_EVENTS) if webhook_url else []),
        metadata=check_metadata(metadata or {}),
        output_format=output_format,
        output_compression=output_compression,
        background=background,
        options=dict(options or {}),
    )
