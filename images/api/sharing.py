"""Share links: the owner's ``/share-links`` and everyone's ``/shared/{token}`` (JSON), plus the password guard.

A link's password comes in the ``X-Share-Password`` header (the page ``/s/<token>``
has a form). Wrong passwords are limited like sign-in attempts: per client
address (``auth`` rate) and per link (``account`` rate); once over, the link
answers 429 to that address until the window ends, right password or not.
"""

from __future__ import annotations

import time

from django.core.cache import cache
from django.http import HttpRequest
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
)
from rest_framework import generics, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from accounts.api.throttles import AuthRateThrottle, client_network
from imagegen.api.errors import ApiError, ErrorSerializer
from imagegen.api.pagination import CursorPagination
from imagegen.api.rates import parse_rate
from imagegen.api.strict import RejectUnknownFields
from imagegen.errors import LimitReached, Unauthenticated
from imagegen.ratelimit import rate_hit
from images.api import examples
from images.api.serializers import ImageSerializer
from images.models import ShareLink
from images.services import sharing

PASSWORD_HEADER = "X-Share-Password"  # noqa: S105 - a header name, not a password
SHARE_PASSWORD = OpenApiParameter(
    PASSWORD_HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, description="The link's password, if it has one"
)


def _errors(*codes: int) -> dict:
    return {code: ErrorSerializer for code in codes}


# --- The password guard (API and page) ---------------------------------------------------


class SharePasswordGuard:
    """Counts a link's wrong passwords per client address and per link; refuses while either is over."""

    def __init__(self, request: HttpRequest | Request, link: ShareLink) -> None:
        address = client_network(AuthRateThrottle().get_ident(request))
        self._keys = [("auth", f"ip:{address}"), ("account", f"link:{link.pk}")]

    def _lock_key(self, ident: str) -> str:
        return f"share-password-lock:{ident}"

    def check(self) -> None:
        """``LimitReached`` while this address or this link is locked out."""
        locks = cache.get_many([self._lock_key(ident) for _, ident in self._keys])
        if locks:
            wait = max(float(until) for until in locks.values()) - _now()
            raise LimitReached(
                "too_many_attempts", "too many wrong passwords; try again later", "password", wait=max(wait, 1)
            )

    def failed(self) -> None:
        """Count one wrong password; over a limit, lock this address or link out until its window ends."""
        for scope, ident in self._keys:
            limit, window = parse_rate(api_settings.DEFAULT_THROTTLE_RATES[scope])
            decision = rate_hit(f"share-password:{window}:{ident}", limit=limit - 1, window=window)
            if not decision.allowed:
                wait = decision.wait or window
                cache.set(self._lock_key(ident), _now() + wait, timeout=max(1, int(wait) + 1))


def _now() -> float:
    return time.time()


def open_link(request: HttpRequest | Request, token: str, password: str | None) -> ShareLink:
    """The live link of ``token`` whose password (if any) is ``password``; the guard counts wrong ones."""
    link = sharing.share_link_find(token=token)
    if link.has_password:
        guard = SharePasswordGuard(request, link)
        guard.check()
        try:
            sharing.share_link_password_check(link, password)
        except Unauthenticated:
            if password:
                guard.failed()
            raise
    return link


# --- Shapes -----------------------------------------------------------------------------


def share_url(request: HttpRequest | Request, link: ShareLink) -> str:
    return request.build_absolute_uri(reverse("share-page", args=[link.token]))


class ShareLinkSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(help_text="The page to hand out: /s/<token>")
    kind = serializers.ChoiceField(choices=["image", "album"], read_only=True)
    image = serializers.UUIDField(source="image_id", allow_null=True, read_only=True)
    album = serializers.UUIDField(source="album_id", allow_null=True, read_only=True)
    has_password = serializers.BooleanField(read_only=True)

    class Meta:
        model = ShareLink
        fields = [
            "id", "token", "url", "kind", "image", "album", "expires_at", "has_password", "allow_download",
            "view_count", "created_at",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field({"type": "string", "format": "uri"})
    def get_url(self, link: ShareLink) -> str:
        return share_url(self.context["request"], link)


class ShareLinkCreateInputSerializer(RejectUnknownFields):
    """A new share link: ``image`` or ``album`` (exactly one), and its settings."""

    image = serializers.UUIDField(required=False, help_text="One of your images (or give album)")
    album = serializers.UUIDField(required=False, help_text="One of your albums (or give image)")
    expires_in = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=sharing.MIN_EXPIRES_IN,
        max_value=sharing.MAX_EXPIRES_IN,
        help_text="Seconds until the link expires (default 30 days); null: never",
    )
    password = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=sharing.MAX_PASSWORD, trim_whitespace=False
    )
    allow_download = serializers.BooleanField(required=False, default=True, help_text="false: no originals, no ZIP")

    def validate(self, attrs: dict) -> dict:
        # The schema says the same (SHARE_LINK_CREATE: one of the two shapes).
        if ("image" in attrs) == ("album" in attrs):
            raise serializers.ValidationError({"image": ["Give either image or album (one of them)."]}, code="invalid")
        return attrs


class ShareImageLinkInputSerializer(ShareLinkCreateInputSerializer):
    """A link to one of your images."""

    image = serializers.UUIDField(help_text="One of your images")
    album = None


class ShareAlbumLinkInputSerializer(ShareLinkCreateInputSerializer):
    """A link to one of your albums."""

    album = serializers.UUIDField(help_text="One of your albums")
    image = None


# The request as the schema shows it: an image link or an album link, never both.
SHARE_LINK_CREATE = PolymorphicProxySerializer(
    component_name="ShareLinkCreate",
    serializers=[ShareImageLinkInputSerializer, ShareAlbumLinkInputSerializer],
    resource_type_field_name=None,
)


_SHARED_FIELDS = (
    "id", "title", "prompt", "width", "height", "format", "content_type", "bytes", "url", "thumbnail_url",
    "variants", "dominant_color", "tags", "created_at",
)  # fmt: skip
_VIEW_ONLY_VARIANTS = ("thumb_256", "thumb_768", "webp")


class SharedImageSerializer(serializers.Serializer):
    """An image as a share link shows it: no owner, no EXIF; without ``allow_download``, no original (``url`` null)."""

    id = serializers.UUIDField()
    title = serializers.CharField()
    prompt = serializers.CharField()
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    format = serializers.CharField()
    content_type = serializers.CharField()
    bytes = serializers.IntegerField()
    url = serializers.URLField(allow_null=True, help_text="The original; null when the link does not allow downloads")
    thumbnail_url = serializers.URLField(allow_null=True)
    variants = serializers.DictField(child=serializers.DictField(), help_text="thumb_256, thumb_768, webp")
    dominant_color = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()


class SharedAlbumSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    description = serializers.CharField()
    image_count = serializers.IntegerField(help_text=f"Images shown (at most {sharing.MAX_SHARED_ALBUM_IMAGES})")
    images = SharedImageSerializer(many=True)


class SharedSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["image", "album"])
    allow_download = serializers.BooleanField()
    download_url = serializers.URLField(allow_null=True, help_text="A ZIP of everything shown, when allowed")
    image = SharedImageSerializer(required=False)
    album = SharedAlbumSerializer(required=False)


def shared_image_data(images: list, *, link: ShareLink, context: dict) -> list[dict]:
    rows = ImageSerializer(images, many=True, context=context).data
    shown = []
    for row in rows:
        item = {name: row[name] for name in _SHARED_FIELDS}
        if not link.allow_download:
            item["url"] = None
            item["variants"] = {k: v for k, v in row["variants"].items() if k in _VIEW_ONLY_VARIANTS}
        shown.append(item)
    return shown


def shared_body(request: HttpRequest | Request, link: ShareLink) -> dict:
    """What ``GET /shared/{token}`` answers (and the page shows)."""
    context = {"request": request}
    download = request.build_absolute_uri(reverse("shared-download", args=[link.token]))
    body: dict = {"kind": link.kind, "allow_download": link.allow_download}
    body["download_url"] = download if link.allow_download else None
    if link.image_id:
        body["image"] = shared_image_data([sharing.shared_image(link)], link=link, context=context)[0]
        return body
    album = link.album
    images = list(sharing.shared_images(link)[: sharing.MAX_SHARED_ALBUM_IMAGES])
    body["album"] = {
        "id": str(album.pk),
        "title": album.title,
        "description": album.description,
        "image_count": len(images),
        "images": shared_image_data(images, link=link, context=context),
    }
    return body


# --- Views ------------------------------------------------------------------------------


class ShareLinkListCreateView(generics.ListAPIView):
    serializer_class = ShareLinkSerializer
    pagination_class = CursorPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ShareLink.objects.none()
        return sharing.share_link_queryset(user=self.request.user)

    @extend_schema(
        summary="Your share links (not revoked), newest first",
        responses={200: ShareLinkSerializer(many=True)},
        examples=examples.SHARE_LINKS,
    )
    def get(self, request: Request) -> Response:
        return super().get(request)

    @extend_schema(
        summary="Share an image or an album",
        description="The link's page is `url` (/s/<token>); `GET /shared/{token}` reads it as JSON. "
        "expires_in defaults to 30 days (null: never); a password is stored hashed.",
        request=SHARE_LINK_CREATE,
        responses={201: ShareLinkSerializer, **_errors(400, 401, 404)},
        examples=examples.SHARE_LINK_CREATE,
    )
    def post(self, request: Request) -> Response:
        serializer = ShareLinkCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        extra = {"expires_in": data["expires_in"]} if "expires_in" in data else {}
        link = sharing.share_link_create(
            user=request.user,
            image_id=data.get("image"),
            album_id=data.get("album"),
            password=data.get("password") or None,
            allow_download=data["allow_download"],
            **extra,
        )
        return Response(ShareLinkSerializer(link, context={"request": request}).data, status=status.HTTP_201_CREATED)


class ShareLinkDetailView(APIView):
    @extend_schema(
        summary="Revoke a share link at once",
        responses={204: OpenApiResponse(description="Revoked: its token is unknown from now on"), **_errors(401, 404)},
    )
    def delete(self, request: Request, pk: str) -> Response:
        sharing.share_link_revoke(user=request.user, link_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


def password_required(exc: Unauthenticated) -> ApiError:
    return ApiError(
        401, exc.code, exc.message, exc.field, headers={"WWW-Authenticate": f'{PASSWORD_HEADER} realm="share"'}
    )


class SharedView(APIView):
    """What a share link shows, for anyone holding its token; no credentials are read."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="What a share link shows",
        auth=[],
        parameters=[SHARE_PASSWORD],
        responses={
            200: SharedSerializer,
            401: OpenApiResponse(ErrorSerializer, description="share_password_required: send X-Share-Password"),
            404: OpenApiResponse(ErrorSerializer, description="Unknown or revoked link"),
            410: OpenApiResponse(ErrorSerializer, description="share_expired"),
            429: OpenApiResponse(ErrorSerializer, description="Throttled, or too many wrong passwords"),
        },
        examples=examples.SHARED,
    )
    def get(self, request: Request, token: str) -> Response:
        try:
            link = open_link(request, token, request.headers.get(PASSWORD_HEADER))
        except Unauthenticated as exc:
            raise password_required(exc) from None
        body = shared_body(request, link)
        sharing.share_link_viewed(link)
        response = Response(body)
        response["X-Robots-Tag"] = "noindex"
        response["Cache-Control"] = "private, no-store"
        return response
