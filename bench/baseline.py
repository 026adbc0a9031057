"""A bare Django JSON view: the floor the API benchmark measures Imagegen's endpoints against.

Served only by ``bench/settings_baseline.py`` (``ROOT_URLCONF = "bench.baseline"``), under the
same gunicorn settings and the same middleware stack as the real service; ``imagegen/urls.py``
never mounts it. No DRF, no authentication, no database: whatever a real endpoint costs above
this view is what DRF, authentication, throttling, queries and serialisation add.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path

from bench.bench_api import BARE_PATH
from imagegen import health


def bare(request: HttpRequest) -> JsonResponse:
    """A small constant dict, about the shape of a tiny API answer."""
    return JsonResponse({"id": "00000000-0000-0000-0000-000000000000", "status": "succeeded", "progress": 100})


urlpatterns = [
    # The benchmark's server helper waits on /healthz before sending load.
    path("healthz", health.healthz, name="healthz"),
    path(BARE_PATH.lstrip("/"), bare, name="bench-bare"),
]
