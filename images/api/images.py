"""REST endpoints for images: input serializer → one service → output serializer."""

from __future__ import annotations

import functools
import uuid

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpResponseRedirect
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from imagegen.api.errors import ApiError, ErrorSerializer
from imagegen.api.etags import IF_NONE_MATCH, not_modified, response_etag
from imagegen.api.pagination import CursorPagination
from imagegen.api.schema import links
from imagegen.compiled import CompiledQuery
from images.api import examples
from images.api.filters import DEFAULT_ORDERING, ORDERINGS, ImageFilter, PublicImageFilter, list_ordering
from images.api.representations import ImageRow
from images.api.serializers import (
    IMAGE_ROW_FIELDS,
    BulkDeleteInputSerializer,
    BulkDeleteResultSerializer,
    DirectUploadInputSerializer,
    DirectUploadSerializer,
    ImageListSerializer,
    ImageSerializer,
    ImageUpdateInputSerializer,
    ImageUploadInputSerializer,
)
from images.models import Image
from images.services import library, uploads
from images.storage import url_epoch

# A multipart body of MAX_FILES files at the limit, plus the form's own overhead.
_FORM_OVERHEAD = 64 * 1024


def _errors(*codes: int) -> dict:
    return {code: ErrorSerializer for code in codes}


class ImageCursorPagination(CursorPagination):
    """Cursor pagination whose ordering follows ``?ordering=`` (validated by ``ImageFilter``)."""

    def get_ordering(self, request: Request, queryset: object, view: object) -> tuple[str, ...]:
        self.ordering = ORDERINGS[list_ordering(request.query_params)]
        return self.ordering

    def _check_position(self, position: str) -> None:
        if self.ordering[0] == "-rank":  # relevance: a float, not a model field
            try:
                float(position)
            except ValueError:
                raise self._invalid_cursor() from None
            return
        super()._check_position(position)


# Rows, not model instances: building 50 instances cost more than the query. Each
# queryset is built once per process (a tag subquery and 21 columns cost a tenth of a
# request to resolve); a request filters a copy of it, never evaluates it.
@functools.cache
def _listed_rows() -> QuerySet[dict]:
    return library.listed_images().values(*IMAGE_ROW_FIELDS)


@functools.cache
def _public_rows() -> QuerySet[dict]:
    return library.public_image_queryset().values(*IMAGE_ROW_FIELDS)


# The first page of the caller's own images, newest first, is most of what lists are asked for:
# its query is compiled once per connection and page size (imagegen.compiled), not per request.
_USER_SENTINEL = uuid.UUID(int=7919)


@functools.cache
def _first_page_query(rows: int) -> CompiledQuery:
    return CompiledQuery(
        lambda user_id: (
            library.listed_images()
            .filter(user_id=user_id)
            .order_by(*ORDERINGS[DEFAULT_ORDERING])
            .values_list(*IMAGE_ROW_FIELDS)[:rows]
        ),
        params={"user_id": (Image._meta.get_field("user"), _USER_SENTINEL)},
    )


def _first_page_rows(user_id: object, rows: int) -> list[ImageRow]:
    query = _first_page_query(rows)
    # Converted only where needed: the serializer keeps each image's representation by its raw row.
    return [ImageRow(raw, _row_key(raw), fields=IMAGE_ROW_FIELDS, convert=query.convert)
            for raw in query.raw_rows(user_id=user_id)]  # fmt: skip


_TAGS = IMAGE_ROW_FIELDS.index("tag_names")


def _row_key(raw: tuple) -> tuple:
    tags = raw[_TAGS]  # PostgreSQL's array_agg: a list
    return raw if not isinstance(tags, list) else (*raw[:_TAGS], tuple(tags), *raw[_TAGS + 1 :])


def images_response(request: Request, images: list, *, code: int = status.HTTP_201_CREATED) -> Response:
    return Response({"images": ImageSerializer(images, many=True, context={"request": request}).data}, status=code)


class ImageListCreateView(generics.ListAPIView):
    serializer_class = ImageSerializer
    filterset_class = ImageFilter
    pagination_class = ImageCursorPagination
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Image.objects.none()
        return _listed_rows().filter(user=self.request.user)

    @extend_schema(
        summary="The caller's images",
        responses={200: ImageSerializer(many=True), **_errors(400, 401)},
        examples=examples.IMAGE_LIST,
    )
    def get(self, request: Request) -> Response:
        if request.query_params.keys() <= {self.paginator.page_size_query_param}:
            page = self.paginator.paginate_first_page(
                request, ORDERINGS[DEFAULT_ORDERING], functools.partial(_first_page_rows, request.user.pk)
            )
            return self.get_paginated_response(self.get_serializer(page, many=True).data)
        return super().get(request)

    @extend_schema(
        summary="Upload images (multipart)",
        request={"multipart/form-data": ImageUploadInputSerializer},
        responses={201: ImageListSerializer, **_errors(400, 401, 413, 415)},
        examples=examples.IMAGE_UPLOAD,
    )
    def post(self, request: Request) -> Response:
        # Refuse an oversized body before Django spools it to disk.
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        limit = uploads.MAX_FILES * settings.MAX_UPLOAD_BYTES + _FORM_OVERHEAD
        if length > limit:
            raise ApiError(413, "request_too_large", f"the request body is over {limit} bytes", field="files")
        serializer = ImageUploadInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        images = uploads.image_upload(
            user=request.user,
            files=data["files"],
            title=data["title"],
            category=data["category"],
            tags=data["tags"],
            visibility=data["visibility"],
        )
        return images_response(request, images)


class ImageUploadUrlView(APIView):
    @extend_schema(
        summary="Start a direct upload",
        description="Creates the image (awaiting its file) and a URL to send the file to: a presigned S3 POST "
        "(send `fields` then `file` as multipart form data) or a signed PUT (send the raw bytes with `headers`). "
        "Then call `POST /images/{id}/complete`.",
        request=DirectUploadInputSerializer,
        responses={201: DirectUploadSerializer, **_errors(400, 401, 413)},
        examples=examples.DIRECT_UPLOAD,
        extensions=links(
            ("201",),
            CompleteUpload=("images_complete_create", {"id": "$response.body#/image_id"}),
            GetImage=("images_retrieve", {"id": "$response.body#/image_id"}),
        ),
    )
    def post(self, request: Request) -> Response:
        serializer = DirectUploadInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        upload = uploads.direct_upload_create(
            user=request.user,
            filename=data["filename"],
            content_type=data["content_type"],
            size=data["bytes"],
            base_url=request.build_absolute_uri("/").rstrip("/"),
        )
        body = {"image_id": str(upload.image.pk), "upload": upload.target(), "expires_in": upload.expires_in}
        return Response(body, status=status.HTTP_201_CREATED)


class ImageCompleteView(APIView):
    @extend_schema(
        summary="Finish a direct upload",
        description="Checks the uploaded file and starts processing (202); again later → 200 with the image.",
        request=None,
        responses={202: ImageSerializer, 200: ImageSerializer, **_errors(400, 401, 404, 409, 413)},
        examples=examples.IMAGE_COMPLETE,
    )
    def post(self, request: Request, pk: str) -> Response:
        image, started = uploads.direct_upload_complete(user=request.user, image_id=pk)
        code = status.HTTP_202_ACCEPTED if started else status.HTTP_200_OK
        return Response(ImageSerializer(image, context={"request": request}).data, status=code)


class ImageDetailView(APIView):
    @extend_schema(
        summary="One image",
        responses={200: ImageSerializer, 304: None, **_errors(401, 404)},
        parameters=[IF_NONE_MATCH],
        examples=examples.IMAGE_DETAIL,
    )
    def get(self, request: Request, pk: str) -> Response:
        image = library.image_get(user=request.user, image_id=pk)
        etag = response_etag(request, f"{library.image_fingerprint(image)}:{url_epoch()}")
        if unchanged := not_modified(request, etag):
            return unchanged
        return Response(ImageSerializer(image, context={"request": request}).data, headers={"ETag": etag})

    @extend_schema(
        summary="Edit an image's title, tags, category or visibility",
        request=ImageUpdateInputSerializer,
        responses={200: ImageSerializer, **_errors(400, 401, 404)},
        examples=examples.IMAGE_UPDATE,
    )
    def patch(self, request: Request, pk: str) -> Response:
        serializer = ImageUpdateInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        image = library.image_update(user=request.user, image_id=pk, **serializer.validated_data)
        return Response(ImageSerializer(image, context={"request": request}).data)

    @extend_schema(
        summary="Delete an image and every stored file of it",
        responses={204: OpenApiResponse(description="Deleted"), **_errors(401, 404)},
    )
    def delete(self, request: Request, pk: str) -> Response:
        library.image_delete(user=request.user, image_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ImageBulkDeleteView(APIView):
    @extend_schema(
        summary="Delete up to 100 images",
        request=BulkDeleteInputSerializer,
        responses={200: BulkDeleteResultSerializer, **_errors(400, 401)},
        examples=examples.BULK_DELETE,
    )
    def post(self, request: Request) -> Response:
        serializer = BulkDeleteInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        deleted, not_found = library.images_bulk_delete(user=request.user, ids=serializer.validated_data["ids"])
        return Response({"deleted": deleted, "not_found": not_found})


class ImageDownloadView(APIView):
    @extend_schema(
        summary="Download the original or a variant",
        parameters=[
            OpenApiParameter(
                "variant",
                OpenApiTypes.STR,
                enum=list(library.DOWNLOAD_VARIANTS),
                default="original",
                description="Sent empty: original",
            )
        ],
        responses={
            302: OpenApiResponse(description="Redirect to the file (Location header)"),
            **_errors(400, 401, 404, 409),
        },
    )
    def get(self, request: Request, pk: str) -> HttpResponseRedirect:
        url = library.image_download_url(
            user=request.user, image_id=pk, variant=request.query_params.get("variant") or "original"
        )
        if url.startswith("/"):
            url = request.build_absolute_uri(url)
        response = HttpResponseRedirect(url)
        response["Cache-Control"] = "private, no-store"  # the target URL expires
        return response


class PublicImageListView(generics.ListAPIView):
    """Everyone's public images; no credentials are read, so a stale token never blocks the public list."""

    serializer_class = ImageSerializer
    filterset_class = PublicImageFilter
    pagination_class = CursorPagination
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get_queryset(self):
        return _public_rows().all()

    @extend_schema(
        summary="Public images of everyone",
        auth=[],
        responses={200: ImageSerializer(many=True), 400: ErrorSerializer},
        examples=[examples.answer({**examples.IMAGE, "visibility": "public"})],
    )
    def get(self, request: Request) -> Response:
        return super().get(request)
