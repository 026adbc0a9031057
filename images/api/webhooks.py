"""Webhook delivery: one attempt to POST an event, the generation in it as the API shows it.

The outbound side of the API (its payload is ``GenerationSerializer``'s), run by
the ``deliver_webhook`` task; queueing, signing and redelivery live in
``images/webhooks.py``, which the services use.
"""

from __future__ import annotations

import json
import logging
import time

from django.conf import settings
from django.db import transaction

from accounts.selectors import webhook_signing_secrets
from imagegen.backoff import doubling
from images.api.serializers import GenerationSerializer
from images.failures import clipped
from images.fetch import DEFAULT_POLICY, AddressPolicy, FetchError, post_pinned
from images.models import Generation, WebhookDelivery
from images.services.generations import generation_queryset
from images.webhooks import EVENT_TYPES, signature_header

logger = logging.getLogger(__name__)


def _payload(generation: Generation, event: str) -> bytes:
    fresh = generation_queryset(user=generation.user).get(pk=generation.pk)
    data = GenerationSerializer(fresh, context={}).data
    body = {"type": EVENT_TYPES[event], "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "data": data}
    return json.dumps(body, default=str, separators=(",", ":")).encode()


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str]:
    # The URL is the caller's, the request is ours: the SSRF guard applies (no private
    # addresses unless allowed, connection pinned to the checked address, no redirects).
    try:
        status = post_pinned(
            url, body=body, headers=headers, timeout=settings.WEBHOOK_TIMEOUT, allow_http=settings.DEBUG,
            policy=webhook_policy(),
        )  # fmt: skip
    except FetchError as exc:
        return None, f"{exc.code}: {exc.message}"
    return status, "" if 200 <= status < 300 else f"HTTP {status}"


PRIVATE_NETWORKS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "::1/128", "fc00::/7")


def webhook_policy():
    if settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES:
        return AddressPolicy.allowing(*PRIVATE_NETWORKS)
    return DEFAULT_POLICY


def deliver(*, generation_id: str, event: str, webhook_id: str, attempt: int) -> float | None:
    """Make one delivery attempt; returns seconds until the next attempt, or None when done."""
    generation = Generation.objects.select_related("user").filter(pk=generation_id).first()
    if generation is None or not generation.webhook_url:
        return None
    body = _payload(generation, event)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Imagegen-Webhooks/1",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(
            secrets=webhook_signing_secrets(user=generation.user), webhook_id=webhook_id, timestamp=timestamp, body=body
        ),
    }
    started = time.monotonic()
    status, error = _post(generation.webhook_url, body, headers)
    ok = status is not None and 200 <= status < 300
    with transaction.atomic():
        WebhookDelivery.objects.create(
            generation=generation,
            webhook_id=webhook_id,
            event=event,
            url=generation.webhook_url,
            attempt=attempt,
            status_code=status,
            ok=ok,
            error=clipped(error),
            duration_ms=int((time.monotonic() - started) * 1000),
        )
    # A progress event is stale by the time a retry would go: the next one says more.
    if ok or attempt >= settings.WEBHOOK_MAX_ATTEMPTS or event == "progress":
        if not ok:
            logger.warning("webhook gave up", extra={"generation": generation_id, "event": event, "error": error})
        return None
    return doubling(attempt, first=settings.WEBHOOK_RETRY_BASE_SECONDS, cap=settings.WEBHOOK_RETRY_MAX_SECONDS)
