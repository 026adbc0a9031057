"""What this app counts in-process, for ``GET /metrics`` (imagegen/metrics.py).

Counted by the process that publishes (the web process for new jobs, the worker for
its retries and beat's re-sends); /metrics shows the web processes' counts.
"""

from __future__ import annotations

from prometheus_client import Counter

PUBLISH_FAILURES = Counter("imagegen_publish_failures", "Job messages the broker did not take (each is re-sent)")
PUBLISH_RETRIES = Counter("imagegen_publish_retries", "Re-sends of job messages owed to the broker", ["result"])
BROKER_OUTAGES = Counter("imagegen_broker_outages", "Times publishing to the broker started failing, per process")

PROMPTS_BLOCKED = Counter(
    "imagegen_moderation_prompts_blocked", "Prompts refused by moderation before queueing", ["category"]
)
MODERATION_UNAVAILABLE = Counter(
    "imagegen_moderation_unavailable", "Prompt checks the moderation provider could not answer (let through)"
)
