"""``POST /images/{id}/appeal``: the owner asks staff to look again at a rejected image."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from imagegen.api.errors import ErrorSerializer
from imagegen.api.strict import RejectUnknownFields
from images.api import examples
from images.api.serializers import ImageSerializer
from images.services.library import image_get
from images.services.moderation import MAX_APPEAL, image_appeal


class AppealInputSerializer(RejectUnknownFields, serializers.Serializer):
    message = serializers.CharField(max_length=MAX_APPEAL, help_text="Why the decision should change")


class ImageAppealView(APIView):
    @extend_schema(
        summary="Appeal a rejected image (once)",
        description="Puts a rejected image back in the staff's review queue, marked as an appeal, with your message. "
        "An image can be appealed once, and only while it is rejected: otherwise 409 (`not_appealable`, "
        "`already_appealed`). Someone else's image is 404.",
        request=AppealInputSerializer,
        examples=examples.APPEAL,
        responses={
            200: ImageSerializer,
            400: ErrorSerializer,
            401: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    def post(self, request: Request, pk: str) -> Response:
        serializer = AppealInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        image = image_appeal(user=request.user, image_id=pk, message=serializer.validated_data["message"])
        return Response(ImageSerializer(image_get(user=request.user, image_id=image.pk),
                                        context={"request": request}).data)  # fmt: skip
