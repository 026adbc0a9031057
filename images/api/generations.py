"""REST endpoints for generations: input serializer → one service → output serializer."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from imagegen.api.errors import ErrorSerializer
from imagegen.api.etags import IF_NONE_MATCH, not_modified, response_etag
from imagegen.api.idempotency import IDEMPOTENCY_KEY, idempotency_key_header
from imagegen.api.prefer import prefer_wait_seconds
from imagegen.api.schema import links
from images.api import examples
from images.api.filters import GenerationFilter
from images.api.serializers import GenerationCreateSerializer, GenerationSerializer
from images.services.generations import (
    WAIT_SLOTS,
    generation_cancel,
    generation_create,
    generation_detail,
    generation_get,
    generation_queryset,
    generation_wait,
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

    @extend_schema(
        request=GenerationCreateSerializer,
        responses={
            200: GenerationSerializer,
            202: GenerationSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
        parameters=[
            IDEMPOTENCY_KEY,
            OpenApiParameter("Prefer", str, OpenApiParameter.HEADER, description="wait=N (N ≤ 60) holds the reply"),
        ],
        summary="Queue a generation",
        examples=examples.GENERATION_CREATE,
        extensions=links(
            ("200", "202"),
            GetGeneration=("generations_retrieve", {"id": "$response.body#/id"}),
            CancelGeneration=("generations_cancel_create", {"id": "$response.body#/id"}),
        ),
        description="202 while it runs, 200 once it has ended (`Prefer: wait`, or a replay of an ended one). "
        "404 `not_found`: a reference image is not the caller's. 409 `idempotency_key_reused`: the key came "
        "with another body. 429: throttled or over the daily quota.",
    )
    def post(self, request: Request) -> Response:
        serializer = GenerationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        wait = prefer_wait_seconds(request)  # a bad header is a 400 before anything is created
        generation, created = generation_create(
            user=request.user,
            params=serializer.validated_data["params"],
            idempotency_key=idempotency_key_header(request),
            request_id=getattr(request._request, "request_id", ""),
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


class GenerationDetailView(APIView):
    @extend_schema(
        responses={200: GenerationSerializer, 304: None},
        parameters=[IF_NONE_MATCH],
        summary="One generation",
        examples=examples.GENERATION_DETAIL,
    )
    def get(self, request: Request, pk: str) -> Response:
        generation, fingerprint = generation_detail(user=request.user, generation_id=pk)
        etag = response_etag(request, f"{fingerprint}:{url_epoch()}")
        if unchanged := not_modified(request, etag):
            return unchanged
        return Response(GenerationSerializer(generation, context={"request": request}).data, headers={"ETag": etag})


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
