"""``GET /public/images/{id}``: a public or unlisted image for anyone with its id, no credentials read."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from imagegen.api.errors import ErrorSerializer
from images.api import examples
from images.api.serializers import ImageSerializer
from images.models import Image
from images.services.links import link_image_get


class PublicImageDetailView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="A public or unlisted image",
        description="Anyone with the id may read a public or unlisted image; a private one is 404. "
        "An unlisted image never appears in any list.",
        auth=[],
        responses={200: ImageSerializer, 404: ErrorSerializer},
        examples=examples.PUBLIC_IMAGE,
    )
    def get(self, request: Request, pk: str) -> Response:
        image = link_image_get(image_id=pk)
        response = Response(ImageSerializer(image, context={"request": request}).data)
        if image.visibility == Image.Visibility.UNLISTED:
            response["X-Robots-Tag"] = "noindex"
        return response
