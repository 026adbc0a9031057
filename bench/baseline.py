"""The floors the API benchmark measures Imagegen's endpoints against.

Served only by ``bench/settings_baseline.py`` (``ROOT_URLCONF = "bench.baseline"``), under the
same gunicorn settings and the same middleware stack as the real service; ``imagegen/urls.py``
never mounts them.

* ``BARE_PATH``: a bare Django ``JsonResponse``: no DRF, no authentication, no database.
* ``DRF_SELECT_PATH``: a DRF ``APIView`` (no authentication or throttle) answering one
  primary-key ``SELECT`` of a generation: what the framework and one query cost. A status poll
  does that plus authentication, a throttle count and its images.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bench.bench_api import BARE_PATH, DRF_SELECT_PATH
from imagegen import health
from images.models import Generation


def bare(request: HttpRequest) -> JsonResponse:
    """A small constant dict, about the shape of a tiny API answer."""
    return JsonResponse({"id": "00000000-0000-0000-0000-000000000000", "status": "succeeded", "progress": 100})


class OneSelect(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    def get(self, request: Request, pk: str) -> Response:
        row = Generation.objects.filter(pk=pk).values("id", "status", "progress").first()
        return Response(row)


urlpatterns = [
    # The benchmark's server helper waits on /healthz before sending load.
    path("healthz", health.healthz, name="healthz"),
    path(BARE_PATH.lstrip("/"), bare, name="bench-bare"),
    path(f"{DRF_SELECT_PATH.lstrip('/')}/<uuid:pk>", OneSelect.as_view(), name="bench-drf-select"),
]
