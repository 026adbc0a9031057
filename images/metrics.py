"""What this app counts in-process, for ``GET /metrics`` (imagegen/metrics.py).

Counted by the process that publishes (the web process for new jobs, the worker for
its retries and beat's re-sends); /metrics shows the web processes' counts.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import Counter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

PUBLISH_FAILURES = Counter("imagegen_publish_failures", "Job messages the broker did not take (each is re-sent)")
PUBLISH_RETRIES = Counter("imagegen_publish_retries", "Re-sends of job messages owed to the broker", ["result"])
BROKER_OUTAGES = Counter("imagegen_broker_outages", "Times publishing to the broker started failing, per process")

PROMPTS_BLOCKED = Counter(
    "imagegen_moderation_prompts_blocked", "Prompts refused by moderation before queueing", ["category"]
)
MODERATION_UNAVAILABLE = Counter(
    "imagegen_moderation_unavailable", "Prompt checks the moderation provider could not answer (let through)"
)


def moderation_families() -> Iterator[Metric]:
    """Analysis and moderation figures read from the database at scrape time (imagegen/metrics.py)."""
    from django.conf import settings
    from django.db.models import Count, Q

    from images.models import Image, ModerationEvent

    ready = Image.objects.filter(processing=Image.Processing.READY)
    counts = ready.aggregate(
        done=Count("pk", filter=Q(analyzed_at__isnull=False)),
        owed=Count("pk", filter=Q(analyzed_at__isnull=True)),
        moderated=Count("pk", filter=Q(moderated_at__isnull=False)),
    )
    analyses = GaugeMetricFamily(
        "imagegen_image_analyses", "Ready images by analysis state (labels stored or still owed)", labels=["state"]
    )
    analyses.add_metric(["done"], counts["done"])
    analyses.add_metric(["owed"], counts["owed"])
    yield analyses

    checked = GaugeMetricFamily(
        "imagegen_images_moderated", "Ready images a moderation provider has given a verdict on", labels=["provider"]
    )
    checked.add_metric([settings.MODERATION_PROVIDER], counts["moderated"])
    yield checked

    verdicts = CounterMetricFamily(
        "imagegen_moderation_decisions",
        "Moderation verdicts and staff decisions on images (the audit trail), by action and category",
        labels=["action", "category"],
    )
    totals: dict[tuple[str, str], int] = {}
    rows = ModerationEvent.objects.order_by().values_list("action", "categories").annotate(n=Count("pk"))
    for action, categories, n in rows:
        for category in categories or ["none"]:
            totals[(action, category)] = totals.get((action, category), 0) + n
    for (action, category), n in sorted(totals.items()):
        verdicts.add_metric([action, category], n)
    yield verdicts

    queue = GaugeMetricFamily("imagegen_moderation_queue", "Images waiting for a staff decision", labels=["kind"])
    waiting = Image.objects.filter(moderation_status=Image.Moderation.PENDING_REVIEW).aggregate(
        appeal=Count("pk", filter=Q(appealed_at__isnull=False)), review=Count("pk", filter=Q(appealed_at__isnull=True))
    )
    queue.add_metric(["review"], waiting["review"])
    queue.add_metric(["appeal"], waiting["appeal"])
    yield queue
