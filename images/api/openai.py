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

from django.conf import settings
from django.core.cache import cache
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from imagegen.api.errors import ApiError, exception_handler
from imagegen.api.idempotency import idempotency_key_header
from imagegen.api.strict import StrictTypes
from imagegen.errors import NotFound
from images import params
from images.api import examples
from images.api.serializers import absolute
from images.models import Generation
from images.providers import configured_providers
from images.services.generations import WAIT_SLOTS, generation_create, generation_get, generation_wait
from images.services.resolver import generation_params, resolve_model_by_name
from images.storage import file_url, read_bytes
from images.styles import STYLES, styled_prompt

# The client's own words for the error classes it raises.
_TYPES = {401: "authentication_error", 403: "permission_error", 404: "invalid_request_error", 429: "rate_limit_error"}
# OpenAI's dall-e-3 styles: accepted, with no preset of ours behind them.
_OPENAI_STYLES = ("vivid", "natural")
# Failures that are about the request, not the service: 400, which the SDK does not retry.
_CLIENT_ERRORS = {"content_policy", "provider_rejected", "invalid_style", "invalid_reference", "reference_url_required"}
RETRY_COUNT_HEADER = "X-Stainless-Retry-Count"


def openai_exception_handler(exc: Exception, context: dict) -> Response | None:
    response = exception_handler(exc, context)
    if response is None:
        return None
    error = response.data["error"]
    kind = _TYPES.get(response.status_code, "server_error" if response.status_code >= 500 else "invalid_request_error")
    response.data = {
        "error": {"message": error["message"], "type": kind, "param": error.get("field"), "code": error["code"]}
    }
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

    def validate_size(self, value: str) -> str:
        if value in ("", "auto"):
            return params.DEFAULT_SIZE
        if value not in params.SIZES:
            raise serializers.ValidationError(f"size must be one of auto, {', '.join(params.SIZES)}")
        return value

    def validate_style(self, value: str) -> str:
        if value and value not in STYLES and value not in _OPENAI_STYLES:
            raise serializers.ValidationError(f"style must be one of {', '.join((*_OPENAI_STYLES, *STYLES))}")
        return value if value in STYLES else ""

    def validate(self, attrs: dict) -> dict:
        attrs["provider"], attrs["model"] = resolve_model_by_name(attrs["model"])
        return attrs


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
        responses=inline_serializer(
            "OpenAIImagesResponse",
            {"created": serializers.IntegerField(), "data": serializers.ListField(child=serializers.DictField())},
        ),
        summary="OpenAI-compatible image generation (waits for the result)",
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
        )
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
        if generation.status == Generation.Status.FAILED:
            status = 400 if generation.error_code in _CLIENT_ERRORS else 500
            if status == 400 and unanswered:
                cache.delete(unanswered)  # answered for good: the SDK does not retry a 400
            raise ApiError(status, generation.error_code or "generation_failed", generation.error_message)
        if generation.status == Generation.Status.CANCELED:
            raise ApiError(409, "canceled", "the generation was canceled")
        if generation.status != Generation.Status.SUCCEEDED:
            raise ApiError(504, "timeout", f"generation {generation.pk} did not finish within "
                           f"{settings.OPENAI_COMPAT_TIMEOUT} s; poll /api/v1/generations/{generation.pk}")  # fmt: skip
        revised = styled_prompt(generation.prompt, generation.style)
        items = []
        for image in sorted(generation.images.all(), key=lambda i: i.index or 0):
            if data["response_format"] == "b64_json":
                items.append({"b64_json": base64.b64encode(read_bytes(image.storage_key)).decode(),
                              "revised_prompt": revised})  # fmt: skip
            else:
                url = absolute(file_url(image.storage_key), {"request": request})
                items.append({"url": url, "revised_prompt": revised})
        if unanswered:
            cache.delete(unanswered)
        return Response({"created": int(time.time()), "data": items})


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
