"""ZIP downloads: ``POST /images/download-zip``, ``GET /albums/{id}/download``, ``GET /shared/{token}/download``.

Each checks everything (ids, ownership, the size cap) before the first byte,
then streams ``application/zip`` (``images.services.archives``).
"""

from __future__ import annotations

import re

from django.http import HttpRequest, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import renderers, serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from imagegen.api.errors import ApiError, ErrorSerializer
from imagegen.api.strict import RejectUnknownFields
from imagegen.errors import Unauthenticated
from images.api import examples
from images.api.sharing import PASSWORD_HEADER, SHARE_PASSWORD, open_link, password_required
from images.services import albums, archives, sharing
from images.services.archives import ArchiveEntry

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
VARIANT = OpenApiParameter(
    "variant",
    OpenApiTypes.STR,
    enum=list(archives.ZIP_VARIANTS),
    default="original",
    description="Sent empty: original",
)
ZIP_RESPONSE = OpenApiResponse(
    OpenApiTypes.BINARY, description="The ZIP archive, streamed (entries named from titles, duplicates numbered)"
)


class ZipRenderer(renderers.BaseRenderer):
    """Lets ``Accept: application/zip`` through content negotiation; the views answer with a stream themselves."""

    media_type = "application/zip"
    format = "zip"
    charset = None
    render_style = "binary"

    def render(self, data: object, accepted_media_type: str | None = None, renderer_context: dict | None = None):
        return data


# The API's own renderers (its errors) and, for content negotiation only, the archive's type.
RENDERERS = [*api_settings.DEFAULT_RENDERER_CLASSES, ZipRenderer]


def zip_response(entries: list[ArchiveEntry], *, name: str) -> StreamingHttpResponse:
    """The archive of ``entries`` as a download named ``name``.zip."""
    filename = (_UNSAFE.sub("-", name).strip("-.")[:80] or "images") + ".zip"
    response = StreamingHttpResponse(archives.archive_stream(entries), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _variant(request: HttpRequest | Request) -> str:
    params = getattr(request, "query_params", None) or request.GET
    return params.get("variant") or "original"


def _errors(*codes: int) -> dict:
    return {code: ErrorSerializer for code in codes}


class DownloadZipInputSerializer(RejectUnknownFields):
    ids = serializers.ListField(
        child=serializers.UUIDField(), allow_empty=False, min_length=1, max_length=archives.MAX_ZIP_IDS
    )
    variant = serializers.ChoiceField(choices=archives.ZIP_VARIANTS, default="original")


class ImagesDownloadZipView(APIView):
    renderer_classes = RENDERERS

    @extend_schema(
        summary="Download up to 500 of your images as one ZIP",
        description="Every id must be one of your ready images (else 404 naming them, nothing sent). "
        "`variant: webp` takes each image's WebP (the original when it has none). Over ZIP_MAX_BYTES: 413.",
        request=DownloadZipInputSerializer,
        responses={(200, "application/zip"): ZIP_RESPONSE, **_errors(400, 401, 404, 413)},
        examples=examples.DOWNLOAD_ZIP,
    )
    def post(self, request: Request) -> StreamingHttpResponse:
        serializer = DownloadZipInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        images = archives.archive_images_selected(user=request.user, ids=data["ids"])
        entries = archives.archive_plan(images, variant=data["variant"])
        return zip_response(entries, name=f"imagegen-{len(entries)}-images")


class AlbumDownloadView(APIView):
    renderer_classes = RENDERERS

    @extend_schema(
        summary="Download an album as one ZIP",
        parameters=[VARIANT],
        responses={(200, "application/zip"): ZIP_RESPONSE, **_errors(400, 401, 404, 413)},
    )
    def get(self, request: Request, pk: str) -> StreamingHttpResponse:
        album = albums.album_get(user=request.user, album_id=pk)
        images = albums.album_images(user=request.user, album=album)
        entries = archives.archive_plan(images, variant=_variant(request))
        return zip_response(entries, name=album.title)


def share_archive(request: HttpRequest | Request, link: sharing.ShareLink) -> StreamingHttpResponse:
    """A share link's images as a ZIP, when the link allows downloads."""
    if not link.allow_download:
        raise ApiError(403, "download_not_allowed", "this share link does not allow downloads")
    entries = archives.archive_plan(sharing.shared_images(link), variant=_variant(request))
    if not entries:
        raise ApiError(404, "not_found", "this share link has nothing to download")
    return zip_response(entries, name=link.album.title if link.album_id else "shared-image")


class SharedDownloadView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    renderer_classes = RENDERERS

    @extend_schema(
        summary="Download what a share link shows, as one ZIP",
        auth=[],
        parameters=[VARIANT, SHARE_PASSWORD],
        responses={
            (200, "application/zip"): ZIP_RESPONSE,
            401: OpenApiResponse(ErrorSerializer, description=f"share_password_required: send {PASSWORD_HEADER}"),
            403: OpenApiResponse(ErrorSerializer, description="download_not_allowed"),
            410: OpenApiResponse(ErrorSerializer, description="share_expired"),
            **_errors(400, 404, 413),
        },
    )
    def get(self, request: Request, token: str) -> StreamingHttpResponse:
        try:
            link = open_link(request, token, request.headers.get(PASSWORD_HEADER))
        except Unauthenticated as exc:
            raise password_required(exc) from None
        return share_archive(request, link)
