"""REST endpoints for generations: input serializer → one service → output serializer."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from imagegen.api.cancel_after import HEADER as CANCEL_AFTER
from imagegen.api.cancel_after import cancel_after_seconds, header_pattern
from imagegen.api.errors import ErrorSerializer
from imagegen.api.etags import IF_NONE_MATCH, not_modified, response_etag
from imagegen.api.idempotency import IDEMPOTENCY_KEY, idempotency_key_header
from imagegen.api.prefer import prefer_wait_seconds
from imagegen.api.schema import links
from images.api import examples, representations
from images.api.filters import GenerationFilter
from images.api.serializers import (
    DryRunSerializer,
    GenerationCreateSerializer,
    GenerationSerializer,
    answer_fingerprint,
)
from images.services.deadlines import check_deadline_seconds
from images.services.generations import (
    WAIT_SLOTS,
    generation_cancel,
    generation_create,
    generation_detail,
    generation_dry_run,
    generation_get,
    generation_queryset,
    generation_wait,
    with_queue_estimates,
)
from images.storage import url_epoch


def generation_response(request: Request, generation, *, code: int | None = None, waited: int = 0) -> Response:
    body = GenerationSerializer(generation, context={"request": request}).data
    if code is None:
        code = status.HTTP_200_OK if generation.is_finished else status.HTTP_202_ACCEPTED
    response = Response(body, status=code)
    response["Location"] = request.build_absolute_uri(reverse("generation-detail", args=[generation.pk]))
    if waited:
        response["Preference-Applied"] = f"wait={waited}"
    return response


class GenerationListCreateView(generics.ListAPIView):
    serializer_class = GenerationSerializer
    filterset_class = GenerationFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return GenerationSerializer.Meta.model.objects.none()
        return generation_queryset(user=self.request.user)

    @extend_schema(summary="The caller's generations, newest first", examples=examples.GENERATION_LIST)
    def get(self, request: Request) -> Response:
        return super().get(request)

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        # The page's queued generations get their place in the queue in one query, not one each.
        return with_queue_estimates(user=self.request.user, generations=list(page)) if page is not None else None

    @extend_schema(
        request=GenerationCreateSerializer,
        responses={
            200: PolymorphicProxySerializer(
                component_name="GenerationOrDryRun",
                serializers=[GenerationSerializer, DryRunSerializer],
                resource_type_field_name=None,
            ),
            202: GenerationSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
        parameters=[
            IDEMPOTENCY_KEY,
            OpenApiParameter("Prefer", str, OpenApiParameter.HEADER, description="wait=N (N ≤ 60) holds the reply"),
            OpenApiParameter(
                CANCEL_AFTER,
                str,
                OpenApiParameter.HEADER,
                pattern=header_pattern(settings.GENERATION_MAX_DEADLINE_SECONDS),
                description="A deadline, e.g. 30s or 5m: not ended by then, the job is canceled (deadline_exceeded)",
            ),
        ],
        summary="Queue a generation (or, with dry_run, check and estimate it)",
        examples=examples.GENERATION_CREATE,
        extensions=links(
            ("200", "202"),
            GetGeneration=("generations_retrieve", {"id": "$response.body#/id"}),
            CancelGeneration=("generations_cancel_create", {"id": "$response.body#/id"}),
        ),
        description="202 while it runs, 200 once it has ended (`Prefer: wait`, or a replay of an ended one). "
        "404 `not_found`: a reference image is not the caller's. 409 `idempotency_key_reused`: the key came "
        "with another body. 400 `moderation_blocked` (`field: prompt`, `categories`): the moderation policy "
        "refuses the prompt; nothing is queued or counted. 429: throttled or over the daily quota. With "
        "`dry_run: true`, 200 with the estimate and the quota's effect (or the same refusals), nothing created.",
    )
    def post(self, request: Request) -> Response:
        serializer = GenerationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        wait = prefer_wait_seconds(request)  # a bad header is a 400 before anything is created
        deadline = _deadline_seconds(cancel_after_seconds(request), serializer.validated_data["deadline_seconds"])
        if serializer.validated_data["dry_run"]:
            dry_run = generation_dry_run(
                user=request.user, params=serializer.validated_data["params"], deadline_seconds=deadline
            )
            return Response(DryRunSerializer(dry_run).data)
        generation, created = generation_create(
            user=request.user,
            params=serializer.validated_data["params"],
            idempotency_key=idempotency_key_header(request),
            request_id=getattr(request._request, "request_id", ""),
            deadline_seconds=deadline,
        )
        if wait and not generation.is_finished:
            with WAIT_SLOTS as got_slot:
                if got_slot:
                    generation = generation_wait(user=request.user, generation_id=generation.pk, seconds=wait)
                else:
                    wait = 0
        else:
            generation = generation_get(user=request.user, generation_id=generation.pk)
        response = generation_response(request, generation, waited=wait)
        if not created:
            response["Idempotent-Replayed"] = "true"
        return response


def _deadline_seconds(header: int | None, field: int | None) -> int | None:
    """The header's deadline or the field's; both given, the sooner one. Out of range, the error names the header."""
    check_deadline_seconds(header, field=CANCEL_AFTER)
    given = [seconds for seconds in (header, field) if seconds is not None]
    return min(given) if given else None


class GenerationDetailView(APIView):
    @extend_schema(
        responses={200: GenerationSerializer, 304: None},
        parameters=[IF_NONE_MATCH],
        summary="One generation",
        examples=examples.GENERATION_DETAIL,
    )
    def get(self, request: Request, pk: str) -> Response:
        detail = generation_detail(user=request.user, generation_id=pk)
        etag = response_etag(request, f"{detail.fingerprint}:{url_epoch()}")
        if unchanged := not_modified(request, etag):
            return unchanged
        # A poller asks again and again for an answer that has not changed: it is kept by the fingerprint.
        context = {"request": request}
        data = representations.GENERATIONS.get_or_make(
            (detail.fingerprint, answer_fingerprint(context)),
            lambda: GenerationSerializer(detail.generation, context=context).data,
        )
        return Response(data, headers={"ETag": etag})


class GenerationCancelView(APIView):
    @extend_schema(
        request=None,
        responses={200: GenerationSerializer, 409: ErrorSerializer},
        summary="Cancel a queued or running generation",
        examples=examples.GENERATION_CANCEL,
        description="409 `already_finished` when it had already ended.",
    )
    def post(self, request: Request, pk: str) -> Response:
        generation = generation_cancel(user=request.user, generation_id=pk)
        return Response(GenerationSerializer(generation, context={"request": request}).data)
