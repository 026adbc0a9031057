"""Webhooks in the Standard Webhooks convention (https://www.standardwebhooks.com/).

A POST of ``{type, timestamp, data}`` signed with the user's ``whsec_`` secret:
``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">``; for a day
after the secret is rotated a second signature, with the previous secret, follows
(space-separated, as the convention allows) so receivers can switch over. Delivery
runs in its own task with exponential retries (``images/api/webhooks.py``); every
attempt is recorded; it never blocks or fails the job.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid

from images.jobs import DELIVER_WEBHOOK, job
from images.models import Generation, WebhookDelivery

EVENT_TYPES = {
    "started": "generation.started",
    "progress": "generation.progress",
    "completed": "generation.completed",
    "failed": "generation.failed",
}
# At most one "progress" event per job in this many seconds (images/services/pipeline.py's JobTracker).
PROGRESS_EVENT_INTERVAL = 1.0


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
    deliver_webhook = job(DELIVER_WEBHOOK)

    webhook_id = f"msg_{uuid.uuid4().hex}"
    deliver_webhook.delay_on_commit(str(generation.pk), event, webhook_id, 1)


def redeliver(*, delivery: WebhookDelivery) -> None:
    """Staff action: send the same event again, under the same webhook-id so receivers can dedupe."""
    deliver_webhook = job(DELIVER_WEBHOOK)

    attempts = WebhookDelivery.objects.filter(webhook_id=delivery.webhook_id).count()
    deliver_webhook.delay_on_commit(str(delivery.generation_id), delivery.event, delivery.webhook_id, attempts + 1)
