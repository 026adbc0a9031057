"""``GET /metrics``: Prometheus text.

Job and image figures are read from the database at scrape time, so they are
right however many web and worker processes (or machines) there are. Request
counts are kept per web process through prometheus_client's multiprocess mode
(a folder under var/ that gunicorn's hooks reset) and summed at scrape time.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from collections.abc import Iterator

from django.conf import settings
from django.db.models import Case, Count, DurationField, ExpressionWrapper, F, IntegerField, Sum, When
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from images.metrics import (
    BROKER_OUTAGES,
    MODERATION_UNAVAILABLE,
    PROMPTS_BLOCKED,
    PUBLISH_FAILURES,
    PUBLISH_RETRIES,
    moderation_families,
)

logger = logging.getLogger(__name__)

DURATION_BUCKETS = (0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600)

REQUESTS = Counter("imagegen_http_requests", "HTTP requests served", ["method", "status"])
REQUEST_SECONDS = Histogram(
    "imagegen_http_request_duration_seconds", "Time to answer HTTP requests", buckets=DURATION_BUCKETS
)


def observe_request(method: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method=method, status=str(status)).inc()
    REQUEST_SECONDS.observe(seconds)


def _histogram(name: str, doc: str, queryset, duration: ExpressionWrapper) -> HistogramMetricFamily:
    """Cumulative buckets of ``duration`` over ``queryset``, in one aggregate query."""
    from datetime import timedelta

    aggregates = {
        f"le_{i}": Sum(Case(When(**{"d__lte": timedelta(seconds=b)}, then=1), default=0, output_field=IntegerField()))
        for i, b in enumerate(DURATION_BUCKETS)
    }
    row = queryset.annotate(d=duration).aggregate(total=Count("pk"), seconds=Sum("d"), **aggregates)
    total = row["total"] or 0
    buckets = [(str(float(b)), row[f"le_{i}"] or 0) for i, b in enumerate(DURATION_BUCKETS)] + [("+Inf", total)]
    seconds = row["seconds"]
    sum_seconds = seconds.total_seconds() if hasattr(seconds, "total_seconds") else float(seconds or 0) / 1e6
    family = HistogramMetricFamily(name, doc)
    family.add_metric([], buckets, sum_seconds)
    return family


class DatabaseCollector(Collector):
    def collect(self) -> Iterator:
        from images.models import Generation, Image

        jobs = GaugeMetricFamily("imagegen_generations", "Generations by status", labels=["status"])
        counts = dict(Generation.objects.order_by().values_list("status").annotate(n=Count("pk")))
        for status in Generation.Status.values:
            jobs.add_metric([status], counts.get(status, 0))
        yield jobs

        images = GaugeMetricFamily("imagegen_images", "Images by source and processing state",
                                   labels=["source", "processing"])  # fmt: skip
        for source, state, n in Image.objects.order_by().values_list("source", "processing").annotate(n=Count("pk")):
            images.add_metric([source, state], n)
        yield images

        failures = CounterMetricFamily("imagegen_derivative_failures", "Images whose derivatives could not be made")
        failures.add_metric([], Image.objects.filter(processing=Image.Processing.FAILED).count())
        yield failures

        run_time = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
        yield _histogram(
            "imagegen_generation_duration_seconds",
            "Time from a job's start to its end (succeeded jobs)",
            Generation.objects.filter(status=Generation.Status.SUCCEEDED, started_at__isnull=False),
            run_time,
        )
        processing = ExpressionWrapper(F("updated_at") - F("created_at"), output_field=DurationField())
        yield _histogram(
            "imagegen_upload_processing_duration_seconds",
            "Time from an upload to its derivatives being ready",
            Image.objects.filter(source=Image.Source.UPLOADED, processing=Image.Processing.READY),
            processing,
        )

        owed = GaugeMetricFamily("imagegen_generations_unpublished", "Queued jobs whose message the broker owes")
        owed.add_metric([], Generation.objects.filter(**_OWED).count())
        yield owed

        yield from moderation_families()

        depth = _queue_depth()
        if depth is not None:
            gauge = GaugeMetricFamily("imagegen_queue_depth", "Messages waiting in the job queue (as the broker says)")
            gauge.add_metric([], depth)
            yield gauge


# The outbox's "owed a message" (images/services/publishing.py), on its partial index.
_OWED = {"status": "queued", "published_at__isnull": True, "publish_retry_at__isnull": False}


def _queue_depth() -> int | None:
    from imagegen.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=3)
            return conn.default_channel.queue_declare(queue=settings.CELERY_TASK_DEFAULT_QUEUE).message_count
    except Exception as exc:  # the broker not telling is not a reason to fail the scrape
        logger.warning("queue depth unavailable", extra={"error": str(exc)})
        return None


def has_metrics_token(request: HttpRequest) -> bool:
    """Whether the request carries ``Authorization: Bearer <METRICS_TOKEN>`` (never, when no token is set)."""
    token = settings.METRICS_TOKEN
    if not token:
        return False
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    return hmac.compare_digest(given.encode(), token.encode())


def _allowed(request: HttpRequest) -> bool:
    if has_metrics_token(request):
        return True
    # Off by default: behind a reverse proxy on the same host, every client looks like loopback.
    if not settings.METRICS_ALLOW_LOOPBACK:
        return False
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        return HttpResponseNotFound("not found", content_type="text/plain")
    registry = CollectorRegistry()
    registry.register(DatabaseCollector())
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # gunicorn (gunicorn.conf.py): every web process's counts, summed.
        multiprocess.MultiProcessCollector(registry)
    else:
        for metric in (
            REQUESTS,
            REQUEST_SECONDS,
            PUBLISH_FAILURES,
            PUBLISH_RETRIES,
            BROKER_OUTAGES,
            PROMPTS_BLOCKED,
            MODERATION_UNAVAILABLE,
        ):
            registry.register(metric)
    return HttpResponse(generate_latest(registry), content_type="text/plain; version=0.0.4; charset=utf-8")
