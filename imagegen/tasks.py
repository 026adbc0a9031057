from __future__ import annotations

from celery import shared_task

from imagegen.maintenance import broker_messages_prune
from imagegen.ratelimit import expired_counters_delete


@shared_task(name="imagegen.prune_broker_messages")
def prune_broker_messages() -> int:
    return broker_messages_prune()


@shared_task(name="imagegen.delete_expired_rate_counters")
def delete_expired_rate_counters() -> int:
    return expired_counters_delete()
