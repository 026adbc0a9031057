"""``POST /v1/images/edits``: OpenAI's image edits (multipart), answered like /v1/images/generations.

``image`` or ``image[]`` (1-16 files) become the job's reference images through
the uploads machinery, ``mask`` (a PNG whose alpha 0 marks what to change, the
first image's size) goes with them; the rest is the generations endpoint's
request. It waits the same way (a wait slot, a thread), or streams
``image_edit.partial_image`` / ``image_edit.completed`` events with ``stream``.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User
from imagegen.api.errors import ApiError
from images import params
from images.api import examples
from images.api.openai import (
    IMAGE_ERRORS,
    OpenAIImagesResponse,
    OpenAIView,
    finished_answer,
    output_settings,
    stream_response,
)
from images.services.edits import auto_size, edit_inputs_check, image_edit_create
from images.services.generations import WAIT_SLOTS, generation_wait
from images.services.resolver import GenerationParams, generation_params, resolve_model_by_name


class OpenAIImageEditRequest(serializers.Serializer):
    image = serializers.ListField(
        child=serializers.FileField(), help_text="1-16 images, as `image` or `image[]`", required=False
    )
    mask = serializers.FileField(required=False, help_text="PNG with alpha; alpha 0 marks what to change")
    prompt = serializers.CharField(max_length=params.MAX_PROMPT)
    model = serializers.CharField(required=False, allow_blank=True, default="")
    n = serializers.IntegerField(min_value=1, max_value=params.MAX_N, default=1)
    size = serializers.CharField(required=False, allow_blank=True, default="auto")
    response_format = serializers.ChoiceField(choices=["url", "b64_json"], default="b64_json")
    quality = serializers.ChoiceField(choices=params.QUALITIES, required=False, allow_blank=True, default="")
    input_fidelity = serializers.ChoiceField(choices=params.INPUT_FIDELITIES, required=False, allow_blank=True)
    output_format = serializers.ChoiceField(choices=params.OUTPUT_FORMATS, default=params.DEFAULT_OUTPUT_FORMAT)
    output_compression = serializers.IntegerField(min_value=0, max_value=100, required=False, allow_null=True)
    background = serializers.ChoiceField(choices=params.BACKGROUNDS, default="auto")
    user = serializers.CharField(required=False, allow_blank=True, default="", max_length=256)
    stream = serializers.BooleanField(default=False)
    partial_images = serializers.IntegerField(
        min_value=0, max_value=params.MAX_PARTIAL_IMAGES, required=False, allow_null=True, default=0
    )

    def validate_size(self, value: str) -> str:
        if value in ("", "auto"):
            return "auto"
        if value not in params.SIZES:
            raise serializers.ValidationError(f"size must be one of auto, {', '.join(params.SIZES)}", "invalid_choice")
        return value

    def validate(self, attrs: dict) -> dict:
        attrs["provider"], attrs["model"] = resolve_model_by_name(attrs["model"])
        attrs["partial_images"] = attrs.get("partial_images") or 0
        return attrs


class ImagesEditsView(OpenAIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": OpenAIImageEditRequest},
        responses={
            (200, "application/json"): OpenAIImagesResponse,
            (200, "text/event-stream"): OpenApiTypes.STR,
            **IMAGE_ERRORS,
        },
        summary="OpenAI-compatible image edit (waits for the result, or streams events)",
        examples=examples.OPENAI_EDIT,
        tags=["openai-compatible"],
    )
    def post(self, request: Request) -> Response:
        files = request.FILES.getlist("image") + request.FILES.getlist("image[]")
        inputs = edit_inputs_check(images=files, mask=request.FILES.get("mask"))
        form = OpenAIImageEditRequest(
            data={k: v for k, v in request.data.items() if k not in ("image", "image[]", "mask")}
        )
        form.is_valid(raise_exception=True)
        data = form.validated_data
        request_params = generation_params(
            prompt=data["prompt"].strip(),
            size=None if data["size"] == "auto" else data["size"],
            exact_size=auto_size(inputs) if data["size"] == "auto" else None,
            provider=data["provider"],
            model=data["model"],
            n=data["n"],
            quality=data["quality"],
            metadata={"openai_user": data["user"]} if data["user"] else {},
            **_edit_settings(data),
        )
        create = {"inputs": inputs, "request_id": getattr(request._request, "request_id", "")}
        if data["stream"]:
            return stream_response(request, request_params, kind="image_edit", create=_edit_create(create))
        with WAIT_SLOTS as got_slot:
            if not got_slot:
                raise ApiError(429, "too_many_waiting", "too many requests are waiting for images; retry shortly",
                               wait=2)  # fmt: skip
            generation = image_edit_create(user=request.user, params=request_params, **create)
            generation = generation_wait(
                user=request.user, generation_id=generation.pk, seconds=settings.OPENAI_COMPAT_TIMEOUT
            )
        return finished_answer(request, generation, data["response_format"], unanswered=None)


def _edit_settings(data: dict) -> dict:
    settings_ = output_settings({**data, "moderation": "auto"})
    if data.get("input_fidelity"):
        settings_["options"]["input_fidelity"] = data["input_fidelity"]
    return settings_


def _edit_create(create: dict) -> Callable[..., tuple]:
    """``generation_create``'s call, made an edit's: the inputs are stored first (edits take no Idempotency-Key)."""

    def make(*, user: User, params: GenerationParams, **_ignored: object) -> tuple:
        return image_edit_create(user=user, params=params, **create), True

    return make
