"""REST endpoints for albums: ``/albums``, ``/albums/{id}``, ``/albums/{id}/images`` (add), ``.../remove``."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from imagegen.api.errors import ErrorSerializer
from imagegen.api.pagination import CursorPagination
from imagegen.api.strict import RejectUnknownFields
from images.api import examples
from images.api.serializers import ImageSerializer, iso_datetime
from images.models import Album
from images.services import albums


def _errors(*codes: int) -> dict:
    return {code: ErrorSerializer for code in codes}


class AlbumSerializer(serializers.ModelSerializer):
    """An album; ``cover`` is the chosen image, else the latest added, else null."""

    cover = serializers.SerializerMethodField()
    image_count = serializers.IntegerField(read_only=True, min_value=0)

    class Meta:
        model = Album
        fields = ["id", "title", "description", "cover", "image_count", "created_at", "updated_at"]
        read_only_fields = fields

    @extend_schema_field(ImageSerializer(allow_null=True))
    def get_cover(self, album: Album) -> dict | None:
        covers = self.context.get("covers")
        if covers is None:
            covers = self.context["covers"] = albums.album_covers([album])
        image = covers.get(album.cover_image_id)
        return ImageSerializer(context=self.context).to_representation(image) if image else None

    def to_representation(self, album: Album) -> dict:
        return {
            "id": str(album.pk),
            "title": album.title,
            "description": album.description,
            "cover": self.get_cover(album),
            "image_count": album.image_count,
            "created_at": iso_datetime(album.created_at),
            "updated_at": iso_datetime(album.updated_at),
        }


class AlbumListSerializer(serializers.ListSerializer):
    def to_representation(self, data: object) -> list[dict]:
        items = list(data)
        self.child.context["covers"] = albums.album_covers(items)  # one query for the page's covers
        return [self.child.to_representation(item) for item in items]


class AlbumCreateInputSerializer(RejectUnknownFields):
    title = serializers.CharField(min_length=1, max_length=albums.MAX_TITLE)
    description = serializers.CharField(max_length=albums.MAX_DESCRIPTION, required=False, allow_blank=True, default="")


class AlbumUpdateInputSerializer(RejectUnknownFields):
    title = serializers.CharField(min_length=1, max_length=albums.MAX_TITLE, required=False)
    description = serializers.CharField(max_length=albums.MAX_DESCRIPTION, required=False, allow_blank=True)
    cover = serializers.UUIDField(
        required=False, allow_null=True, help_text="An image of the album; null: the latest added image"
    )

    def tolerated_fields(self) -> set[str]:
        return {"id", "image_count", "created_at", "updated_at"}


class AlbumImageIdsInputSerializer(RejectUnknownFields):
    ids = serializers.ListField(
        child=serializers.UUIDField(), allow_empty=False, min_length=1, max_length=albums.MAX_IDS
    )


class AlbumAddedSerializer(serializers.Serializer):
    added = serializers.ListField(child=serializers.UUIDField())
    not_found = serializers.ListField(child=serializers.UUIDField())


class AlbumRemovedSerializer(serializers.Serializer):
    removed = serializers.ListField(child=serializers.UUIDField())
    not_found = serializers.ListField(child=serializers.UUIDField())


class AlbumListCreateView(generics.ListAPIView):
    pagination_class = CursorPagination
    serializer_class = AlbumSerializer

    def get_serializer(self, *args: object, **kwargs: object) -> serializers.BaseSerializer:
        if kwargs.get("many"):
            kwargs.pop("many")
            return AlbumListSerializer(*args, child=AlbumSerializer(context=self.get_serializer_context()), **kwargs)
        return super().get_serializer(*args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Album.objects.none()
        return albums.album_queryset(user=self.request.user)

    @extend_schema(
        summary="Your albums, newest first",
        responses={200: AlbumSerializer(many=True), **_errors(400, 401)},
        examples=examples.ALBUM_LIST,
    )
    def get(self, request: Request) -> Response:
        return super().get(request)

    @extend_schema(
        summary="Create an album",
        request=AlbumCreateInputSerializer,
        responses={201: AlbumSerializer, **_errors(400, 401)},
        examples=examples.ALBUM_CREATE,
    )
    def post(self, request: Request) -> Response:
        serializer = AlbumCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        album = albums.album_create(user=request.user, **serializer.validated_data)
        body = AlbumSerializer(album, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)


class AlbumDetailView(APIView):
    @extend_schema(
        summary="One album", responses={200: AlbumSerializer, **_errors(401, 404)}, examples=examples.ALBUM_DETAIL
    )
    def get(self, request: Request, pk: str) -> Response:
        album = albums.album_get(user=request.user, album_id=pk)
        return Response(AlbumSerializer(album, context={"request": request}).data)

    @extend_schema(
        summary="Change an album's title, description or cover",
        request=AlbumUpdateInputSerializer,
        responses={200: AlbumSerializer, **_errors(400, 401, 404)},
        examples=examples.ALBUM_UPDATE,
    )
    def patch(self, request: Request, pk: str) -> Response:
        serializer = AlbumUpdateInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        album = albums.album_update(user=request.user, album_id=pk, **serializer.validated_data)
        return Response(AlbumSerializer(album, context={"request": request}).data)

    @extend_schema(
        summary="Delete an album (its images stay)",
        responses={204: OpenApiResponse(description="Deleted"), **_errors(401, 404)},
    )
    def delete(self, request: Request, pk: str) -> Response:
        albums.album_delete(user=request.user, album_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AlbumImagesAddView(APIView):
    @extend_schema(
        summary="Add up to 500 of your images to an album",
        description="Images already in it count as added; another user's or unknown ids are listed in not_found.",
        request=AlbumImageIdsInputSerializer,
        responses={200: AlbumAddedSerializer, **_errors(400, 401, 404)},
        examples=examples.ALBUM_ADD,
    )
    def post(self, request: Request, pk: str) -> Response:
        serializer = AlbumImageIdsInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        added, not_found = albums.album_images_add(user=request.user, album_id=pk, ids=serializer.validated_data["ids"])
        return Response({"added": added, "not_found": not_found})


class AlbumImagesRemoveView(APIView):
    @extend_schema(
        summary="Take up to 500 images out of an album (they stay in your gallery)",
        description="Ids that are not in the album are listed in not_found.",
        request=AlbumImageIdsInputSerializer,
        responses={200: AlbumRemovedSerializer, **_errors(400, 401, 404)},
        examples=examples.ALBUM_REMOVE,
    )
    def post(self, request: Request, pk: str) -> Response:
        serializer = AlbumImageIdsInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        removed, not_found = albums.album_images_remove(
            user=request.user, album_id=pk, ids=serializer.validated_data["ids"]
        )
        return Response({"removed": removed, "not_found": not_found})
