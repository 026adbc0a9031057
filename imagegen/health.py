"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def check_broker() -> None:
    from celery_app import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=3)
        # A declare is a real round trip on every transport (SQS: GetQueueUrl).
        conn.default_channel.queue_declare(queue=settings.CELERY_TASK_DEFAULT_QUEUE, passive=False)


def check_storage() -> None:
    bucket = getattr(default_storage, "bucket", None)
    if bucket is not None:
        bucket.meta.client.head_bucket(Bucket=bucket.name)
        return
    location = default_storage.location
    os.makedirs(location, exist_ok=True)
    if not os.access(location, os.W_OK):
        raise OSError(f"{location} is not writable")


def provider_status() -> dict[str, dict]:
    """Which providers have their settings; informational, never a reason to be unready."""
    from images.providers import configured_providers, default_provider_name, get_provider

    configured = configured_providers()
    return {
        name: {
            "configured": name in configured,
            "default": name == default_provider_name(),
            "models": get_provider(name).models() if name in configured else [],
        }
        for name in settings.IMAGE_PROVIDERS
    }


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "broker": check_broker,
    "storage": check_storage,
}


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    results: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:  # any failure means "not ready"; say which and why
            logger.warning("readiness check failed", extra={"check": name, "error": str(exc)})
            results[name] = f"error: {type(exc).__name__}: {exc}"[:300]
        else:
            results[name] = "ok"
    failed = sorted(name for name, value in results.items() if value != "ok")
    body = {
        "status": "ok" if not failed else "unavailable",
        "checks": results,
        "failed": failed,
        "providers": provider_status(),
    }
    return JsonResponse(body, status=503 if failed else 200)
