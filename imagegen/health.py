"""Liveness and readiness probes for load balancers and orchestrators.

``/readyz`` tells anyone only ok or failing; which check failed and why (and
the provider configuration) is for the metrics token or signed-in staff. Its
checks run at most once per ``READYZ_CACHE_SECONDS`` per process, so probing it
does not put load on the database, broker and storage.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from images.providers import provider_status

logger = logging.getLogger(__name__)


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def check_broker() -> None:
    from imagegen.celery import app

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


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "broker": check_broker,
    "storage": check_storage,
}


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


_cache_lock = threading.Lock()
_cached: tuple[float, dict[str, str]] | None = None


def clear_cache() -> None:
    global _cached
    with _cache_lock:
        _cached = None


def run_checks() -> dict[str, str]:
    """Each check's result, "ok" or the error, reused for READYZ_CACHE_SECONDS within this process."""
    global _cached
    # Held while checking: concurrent probes wait for one round of checks instead of each running their own.
    with _cache_lock:
        now = time.monotonic()
        if _cached is not None and now - _cached[0] < settings.READYZ_CACHE_SECONDS:
            return _cached[1]
        results: dict[str, str] = {}
        for name, check in CHECKS.items():
            try:
                check()
            except Exception as exc:  # any failure means "not ready"; say which and why
                logger.warning("readiness check failed", extra={"check": name, "error": str(exc)})
                results[name] = f"error: {type(exc).__name__}: {exc}"[:300]
            else:
                results[name] = "ok"
        _cached = (time.monotonic(), results)
        return results


def _may_see_details(request: HttpRequest) -> bool:
    from imagegen.metrics import has_metrics_token

    user = getattr(request, "user", None)
    return has_metrics_token(request) or bool(user and user.is_authenticated and user.is_staff)


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    results = run_checks()
    failed = sorted(name for name, value in results.items() if value != "ok")
    body: dict[str, object] = {"status": "failing" if failed else "ok"}
    if _may_see_details(request):
        body.update(checks=results, failed=failed, providers=provider_status())
    return JsonResponse(body, status=503 if failed else 200)
