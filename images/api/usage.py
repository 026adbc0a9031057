"""``GET /me/stats``: what a user has made and used, from the images they own."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.serializers import QuotaSerializer
from images.api import examples
from images.services.usage import stats_for_user


class CountsByStatusSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    queued = serializers.IntegerField()
    running = serializers.IntegerField()
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField()
    canceled = serializers.IntegerField()


class ImageCountsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    generated = serializers.IntegerField()
    uploaded = serializers.IntegerField()
    public = serializers.IntegerField()


class MonthSerializer(serializers.Serializer):
    since = serializers.DateTimeField(help_text="00:00 UTC on the 1st of this month.")
    generations = serializers.IntegerField()
    images_requested = serializers.IntegerField(help_text="Sum of n over this month's generations.")
    images = serializers.IntegerField(help_text="Images stored this month (generated and uploaded).")


class StatsSerializer(serializers.Serializer):
    images = ImageCountsSerializer()
    generations = CountsByStatusSerializer()
    storage_bytes = serializers.IntegerField(help_text="Originals plus every stored variant.")
    this_month = MonthSerializer()
    mean_generation_seconds = serializers.FloatField(
        allow_null=True, help_text="Mean run time of succeeded generations; null before the first."
    )
    quota = QuotaSerializer()


class StatsView(APIView):
    @extend_schema(responses={200: StatsSerializer}, tags=["me"], examples=examples.STATS)
    def get(self, request: Request) -> Response:
        return Response(StatsSerializer(stats_for_user(user=request.user)).data)
