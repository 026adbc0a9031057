"""Webhooks in the Standard Webhooks convention (https://www.standardwebhooks.com/).

A POST of ``{type, timestamp, data}`` signed with the user's ``whsec_`` secret:
``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">``; for a day
after the secret is rotated a second signature, with the previous secret, follows
(space-separated, as the convention allows) so receivers can switch over. Delivery
runs in its own task with exponential retries; every attempt is recorded; it
never blocks or fails the job.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
import uuid

from django.conf import settings
from django.db import transaction

from accounts.selectors import webhook_signing_secrets
from imagegen.backoff import doubling
from images.failures import clipped
from images.models import Generation, WebhookDelivery

logger = logging.getLogger(__name__)

EVENT_TYPES = {"started": "generation.started", "completed": "generation.completed", "failed": "generation.failed"}


def sign(*, secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def signature_header(*, secrets: list[str], webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: one ``v1,<sig>`` per secret, space-separated."""
    return " ".join(sign(secret=secret, webhook_id=webhook_id, timestamp=timestamp, body=body) for secret in secrets)


def queue_webhook(*, generation: Generation, event: str) -> None:
    """Queue delivery of ``event`` after the current transaction commits, if the generation asked for it."""
    if not generation.webhook_url or event not in (generation.webhook_events or []):
        return
    from images.tasks import deliver_webhook

    webhook_id = f"msg_{uuid.uuid4().hex}"
    deliver_webhook.delay_on_commit(str(generation.pk), event, webhook_id, 1)


def _payload(generation: Generation, event: str) -> bytes:
    from images.api.serializers import GenerationSerializer
    from images.services.generations import generation_queryset

    fresh = generation_queryset(user=generation.user).get(pk=generation.pk)
    data = GenerationSerializer(fresh, context={}).data
    body = {"type": EVENT_TYPES[event], "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "data": data}
    return json.dumps(body, default=str, separators=(",", ":")).encode()


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str]:
    # The URL is the caller's, the request is ours: the SSRF guard applies (no private
    # addresses unless allowed, connection pinned to the checked address, no redirects).
    from images.fetch import FetchError, post_pinned

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
    from images.fetch import DEFAULT_POLICY, AddressPolicy

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
    if ok or attempt >= settings.WEBHOOK_MAX_ATTEMPTS:
        if not ok:
            logger.warning("webhook gave up", extra={"generation": generation_id, "event": event, "error": error})
        return None
    return doubling(attempt, first=settings.WEBHOOK_RETRY_BASE_SECONDS, cap=settings.WEBHOOK_RETRY_MAX_SECONDS)


def redeliver(*, delivery: WebhookDelivery) -> None:
    """Staff action: send the same event again, under the same webhook-id so receivers can dedupe."""
    from images.tasks import deliver_webhook

    attempts = WebhookDelivery.objects.filter(webhook_id=delivery.webhook_id).count()
    deliver_webhook.delay_on_commit(str(delivery.generation_id), delivery.event, delivery.webhook_id, attempts + 1)
