"""An OpenAI-compatible Images endpoint, so existing OpenAI SDK code works unchanged.

``POST /v1/images/generations`` takes OpenAI's request, creates an ordinary
generation, waits for it the way ``Prefer: wait`` does (a thread, never a
whole process; at most MAX_WAITING_REQUESTS at once per process) and answers
``{created, data: [{url | b64_json, revised_prompt}]}``. Errors use OpenAI's
``{"error": {message, type, param, code}}`` shape.

Admission comes first: without a free wait slot the answer is 429 with
Retry-After and nothing is created or counted. The openai SDK retries 408,
409, 429, 5xx and dropped connections by itself, resending the same body
with ``X-Stainless-Retry-Count: N`` and no idempotency key (its client sets
no idempotency header). So until a request is answered for good, its job is
remembered under (user, body), and a retry of it waits for that job instead
of creating another. A first attempt (count 0 or absent) always creates one:
asking twice for the same prompt means two sets of images.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from imagegen.api.errors import ApiError, exception_handler
from imagegen.api.idempotency import idempotency_key_header
from imagegen.api.strict import StrictTypes
from imagegen.errors import NotFound
from images import params, tokens
from images.api import examples
from images.api.openai_stream import event_stream, generation_events
from images.api.serializers import absolute
from images.models import Generation
from images.providers import configured_providers
from images.services.generations import (
    WAIT_SLOTS,
    generation_create,
    generation_get,
    generation_reference_sizes,
    generation_wait,
)
from images.services.resolver import GenerationParams, generation_params, resolve_model_by_name
from images.storage import file_url, read_bytes
from images.styles import STYLES, styled_prompt

# The client's own words for the error classes it raises.
_TYPES = {401: "authentication_error", 403: "permission_error", 404: "invalid_request_error", 429: "rate_limit_error"}
# OpenAI's dall-e-3 styles: accepted, with no preset of ours behind them.
_OPENAI_STYLES = ("vivid", "natural")
# Failures that are about the request, not the service: 400, which the SDK does not retry.
_CLIENT_ERRORS = {
    "moderation_blocked", "content_policy", "provider_rejected", "invalid_style", "invalid_reference",
    "reference_url_required", "invalid_mask",
}  # fmt: skip
RETRY_COUNT_HEADER = "X-Stainless-Retry-Count"
# Our validation codes in OpenAI's words (its API says "missing_required_parameter", not "required").
_OPENAI_CODES = {
    "required": "missing_required_parameter",
    "invalid_choice": "invalid_value",
    "max_value": "integer_above_max_value",
    "min_value": "integer_below_min_value",
    "max_length": "string_above_max_length",
}


def openai_exception_handler(exc: Exception, context: dict) -> Response | None:
    response = exception_handler(exc, context)
    if response is None:
        return None
    error = response.data["error"]
    kind = _TYPES.get(response.status_code, "server_error" if response.status_code >= 500 else "invalid_request_error")
    code = _OPENAI_CODES.get(error["code"], error["code"])
    response.data = {"error": {"message": error["message"], "type": kind, "param": error.get("field"), "code": code}}
    return response


class OpenAIImageRequest(StrictTypes):
    prompt = serializers.CharField(max_length=params.MAX_PROMPT)
    model = serializers.CharField(required=False, allow_blank=True, default="")
    n = serializers.IntegerField(min_value=1, max_value=params.MAX_N, default=1)
    size = serializers.CharField(required=False, allow_blank=True, default="")
    response_format = serializers.ChoiceField(choices=["url", "b64_json"], default="url")
    quality = serializers.ChoiceField(choices=params.QUALITIES, required=False, allow_blank=True, default="")
    style = serializers.CharField(required=False, allow_blank=True, default="")
    user = serializers.CharField(required=False, allow_blank=True, default="", max_length=256)
    output_format = serializers.ChoiceField(choices=params.OUTPUT_FORMATS, default=params.DEFAULT_OUTPUT_FORMAT)
    output_compression = serializers.IntegerField(
        min_value=0, max_value=100, required=False, allow_null=True, help_text="jpeg and webp only"
    )
    background = serializers.ChoiceField(
        choices=params.BACKGROUNDS, default="auto", help_text="transparent needs output_format png or webp"
    )
    moderation = serializers.ChoiceField(choices=params.MODERATIONS, default="auto")
    stream = serializers.BooleanField(default=False, help_text="true: answer text/event-stream (see the docs)")
    partial_images = serializers.IntegerField(
        min_value=0, max_value=params.MAX_PARTIAL_IMAGES, required=False, allow_null=True, default=0
    )

    def validate_size(self, value: str) -> str:
        if value in ("", "auto"):
            return params.DEFAULT_SIZE
        if value not in params.SIZES:
            raise serializers.ValidationError(f"size must be one of auto, {', '.join(params.SIZES)}", "invalid_choice")
        return value

    def validate_style(self, value: str) -> str:
        if value and value not in STYLES and value not in _OPENAI_STYLES:
            raise serializers.ValidationError(
                f"style must be one of {', '.join((*_OPENAI_STYLES, *STYLES))}", "invalid_choice"
            )
        return value if value in STYLES else ""

    def validate(self, attrs: dict) -> dict:
        attrs["provider"], attrs["model"] = resolve_model_by_name(attrs["model"])
        attrs["partial_images"] = attrs.get("partial_images") or 0
        return attrs


class OpenAIUsage(serializers.Serializer):
    input_tokens = serializers.IntegerField(min_value=0)
    input_tokens_details = serializers.DictField(
        child=serializers.IntegerField(), help_text="text_tokens, image_tokens"
    )
    output_tokens = serializers.IntegerField(min_value=0)
    total_tokens = serializers.IntegerField(min_value=0)
    estimated = serializers.BooleanField(required=False, help_text="true: the provider reported none (docs/api.md)")


class OpenAIErrorDetail(serializers.Serializer):
    message = serializers.CharField()
    type = serializers.CharField(help_text="invalid_request_error, authentication_error, rate_limit_error, ...")
    param = serializers.CharField(allow_null=True, help_text="The field at fault, if one is")
    code = serializers.CharField(allow_null=True)


class OpenAIError(serializers.Serializer):
    error = OpenAIErrorDetail()


# The errors the image endpoints answer, in OpenAI's shape.
IMAGE_ERRORS = {
    400: OpenAIError,
    401: OpenAIError,
    409: OpenAIError,
    413: OpenAIError,
    429: OpenAIError,
    500: OpenAIError,
    504: OpenAIError,
}


class OpenAIImageItem(serializers.Serializer):
    url = serializers.URLField(required=False)
    b64_json = serializers.CharField(required=False)
    revised_prompt = serializers.CharField()


class OpenAIImagesResponse(serializers.Serializer):
    created = serializers.IntegerField()
    data = OpenAIImageItem(many=True)
    size = serializers.CharField(help_text="WxH")
    quality = serializers.ChoiceField(choices=params.USED_QUALITIES)
    background = serializers.ChoiceField(choices=params.RENDERED_BACKGROUNDS[1:])
    output_format = serializers.ChoiceField(choices=params.OUTPUT_FORMATS)
    usage = OpenAIUsage()


def output_settings(data: dict) -> dict:
    """The generation_params arguments of the output asked for, and the options kept with the job."""
    options = {"moderation": data["moderation"]} if data.get("moderation", "auto") != "auto" else {}
    if data.get("stream") and data.get("partial_images"):
        options["partial_images"] = data["partial_images"]  # only a stream has a use for frames
    return {
        "output_format": data["output_format"],
        "output_compression": data.get("output_compression"),
        "background": data["background"],
        "options": options,
    }


def settings_used(generation: Generation) -> dict:
    """What OpenAI's answers echo: the size, quality, background and format the images have."""
    images = getattr(generation, "image_list", None) or []
    transparent = any(image.background == "transparent" for image in images) or (
        not images and generation.background == "transparent"
    )
    return {
        "size": f"{generation.width}x{generation.height}",
        "quality": tokens.resolved_quality(generation.quality),
        "background": "transparent" if transparent else "opaque",
        "output_format": generation.output_format,
    }


def requested_settings(generation: Generation) -> dict:
    """The settings asked for, as partial-image events carry them (before any image exists)."""
    return {
        "size": f"{generation.width}x{generation.height}",
        "quality": tokens.resolved_quality(generation.quality),
        "background": generation.background,
        "output_format": generation.output_format,
    }


def usage_of(generation: Generation) -> dict:
    """Tokens the provider reported, or an estimate (images/tokens.py) where it reported none."""
    if generation.usage:
        return generation.usage
    return tokens.estimate_usage(
        prompt=generation.prompt,
        width=generation.width,
        height=generation.height,
        n=len(getattr(generation, "image_list", None) or []) or generation.n,
        quality=generation.quality,
        input_sizes=generation_reference_sizes(generation=generation),
    )


def _images(generation: Generation) -> list:
    return sorted(getattr(generation, "image_list", None) or generation.images.all(), key=lambda i: i.index or 0)


def failure(generation: Generation) -> tuple[str, str, int]:
    """(code, message, status) of a job that did not succeed in time."""
    if generation.status == Generation.Status.FAILED:
        status = 400 if generation.error_code in _CLIENT_ERRORS else 500
        return generation.error_code or "generation_failed", generation.error_message, status
    if generation.status == Generation.Status.CANCELED:
        return "canceled", "the generation was canceled", 409
    return "timeout", (f"generation {generation.pk} did not finish within {settings.OPENAI_COMPAT_TIMEOUT} s; "
                       f"poll /api/v1/generations/{generation.pk}"), 504  # fmt: skip


def completed_events(generation: Generation) -> list[dict]:
    """The body of each ``completed`` event: one per image, each with its share of the usage."""
    images = _images(generation)
    usage = usage_of(generation)
    return [
        {
            "b64_json": base64.b64encode(read_bytes(image.storage_key)).decode(),
            "usage": tokens.usage_share(usage, index, len(images)),
        }
        for index, image in enumerate(images)
    ]


def stream_response(
    request: Request, request_params: GenerationParams, *, kind: str, create: Callable[..., tuple] | None = None
) -> StreamingHttpResponse:
    """Admit, create the job (``generation_create``, or ``create`` with the same arguments) and answer
    with its events (openai_stream.py); 429 with nothing created when this process has no free wait slot."""
    if not WAIT_SLOTS.take():
        raise ApiError(429, "too_many_waiting", "too many requests are waiting for images; retry shortly", wait=2)
    try:
        generation, _ = (create or generation_create)(
            user=request.user,
            params=request_params,
            idempotency_key=idempotency_key_header(request),
            request_id=getattr(request._request, "request_id", ""),
        )
    except BaseException:
        WAIT_SLOTS.give_back()
        raise
    events = generation_events(
        user=request.user,
        generation_id=generation.pk,
        kind=kind,
        echo=requested_settings(generation),
        seconds=settings.OPENAI_COMPAT_TIMEOUT,
        completed=lambda done: [{**body, **settings_used(done)} for body in completed_events(done)],
        failed=failure,
    )
    return event_stream(events, release=WAIT_SLOTS.give_back)


def images_answer(request: Request, generation: Generation, response_format: str) -> dict:
    """OpenAI's ImagesResponse for a finished job: its images, the settings used, the usage."""
    revised = styled_prompt(generation.prompt, generation.style)
    items = []
    for image in _images(generation):
        if response_format == "b64_json":
            items.append({"b64_json": base64.b64encode(read_bytes(image.storage_key)).decode(),
                          "revised_prompt": revised})  # fmt: skip
        else:
            url = absolute(file_url(image.storage_key), {"request": request})
            items.append({"url": url, "revised_prompt": revised})
    return {"created": int(time.time()), "data": items, **settings_used(generation), "usage": usage_of(generation)}


def _model_list() -> list[dict]:
    return [
        {"id": model, "object": "model", "created": 0, "owned_by": f"imagegen:{name}"}
        for name, provider in configured_providers().items()
        for model in provider.models()
    ]


class OpenAIView(APIView):
    def get_exception_handler(self):
        return openai_exception_handler


class ImagesGenerationsView(OpenAIView):
    @extend_schema(
        request=OpenAIImageRequest,
        responses={
            (200, "application/json"): OpenAIImagesResponse,
            (200, "text/event-stream"): OpenApiTypes.STR,
            **IMAGE_ERRORS,
        },
        summary="OpenAI-compatible image generation (waits for the result, or streams events with stream: true)",
        examples=examples.OPENAI_GENERATE,
        tags=["openai-compatible"],
    )
    def post(self, request: Request) -> Response:
        form = OpenAIImageRequest(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        request_params = generation_params(
            prompt=data["prompt"].strip(),
            size=data["size"],
            provider=data["provider"],
            model=data["model"],
            n=data["n"],
            style=data["style"],
            quality=data["quality"],
            metadata={"openai_user": data["user"]} if data["user"] else {},
            **output_settings(data),
        )
        if data["stream"]:
            return stream_response(request, request_params, kind="image_generation")
        idempotency_key = idempotency_key_header(request)
        unanswered = None if idempotency_key else _unanswered_key(request, data)
        with WAIT_SLOTS as got_slot:
            if not got_slot:
                raise ApiError(429, "too_many_waiting", "too many requests are waiting for images; retry shortly",
                               wait=2)  # fmt: skip
            generation = _retried_generation(request, unanswered)
            if generation is None:
                generation, _ = generation_create(
                    user=request.user,
                    params=request_params,
                    idempotency_key=idempotency_key,
                    request_id=getattr(request._request, "request_id", ""),
                )
                if unanswered:
                    cache.set(unanswered, str(generation.pk), timeout=settings.OPENAI_COMPAT_TIMEOUT + 120)
            generation = generation_wait(
                user=request.user, generation_id=generation.pk, seconds=settings.OPENAI_COMPAT_TIMEOUT
            )
        return finished_answer(request, generation, data["response_format"], unanswered=unanswered)


def finished_answer(
    request: Request, generation: Generation, response_format: str, *, unanswered: str | None
) -> Response:
    """The answer once waiting is over: the images, or OpenAI's error for a job that failed or ran late."""
    if generation.status != Generation.Status.SUCCEEDED:
        code, message, status = failure(generation)
        if status == 400 and unanswered:
            cache.delete(unanswered)  # answered for good: the SDK does not retry a 400
        raise ApiError(status, code, message)
    if unanswered:
        cache.delete(unanswered)
    return Response(images_answer(request, generation, response_format))


def _unanswered_key(request: Request, data: dict) -> str:
    body = json.dumps(data, sort_keys=True, default=str)
    digest = hashlib.sha256(f"{request.user.pk}:{body}".encode()).hexdigest()
    return f"openai-unanswered:{digest}"


def _retried_generation(request: Request, unanswered: str | None) -> Generation | None:
    """The job an earlier attempt of this request created, when this is an SDK retry of it."""
    count = request.headers.get(RETRY_COUNT_HEADER, "").strip()
    if not unanswered or not (count.isascii() and count.isdigit() and int(count[:6]) > 0):
        return None
    generation_id = cache.get(unanswered)
    if generation_id is None:
        return None
    try:
        return generation_get(user=request.user, generation_id=generation_id)
    except NotFound:  # deleted since
        return None


class ModelsView(OpenAIView):
    @extend_schema(
        responses=inline_serializer(
            "OpenAIModelList",
            {"object": serializers.CharField(), "data": serializers.ListField(child=serializers.DictField())},
        ),
        summary="Models of the configured providers",
        examples=examples.OPENAI_MODELS,
        tags=["openai-compatible"],
    )
    def get(self, request: Request) -> Response:
        return Response({"object": "list", "data": _model_list()})


class ModelDetailView(OpenAIView):
    @extend_schema(
        responses=inline_serializer("OpenAIModel", {"id": serializers.CharField()}),
        tags=["openai-compatible"],
        operation_id="v1_models_detail",
        examples=examples.OPENAI_MODEL,
    )
    def get(self, request: Request, model: str) -> Response:
        for item in _model_list():
            if item["id"] == model:
                return Response(item)
        raise ApiError(404, "model_not_found", f"model {model!r} does not exist", field="model")
