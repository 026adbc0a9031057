"""Standard Webhooks delivery: signatures (two for a day after a rotation), headers, a record per attempt, retries."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from accounts.models import User
from accounts.services import webhook_secret_rotate
from images.api.webhooks import deliver
from images.models import WebhookDelivery
from images.webhooks import queue_webhook, sign
from tests.images.factories import GenerationFactory

pytestmark = pytest.mark.django_db


def test_the_signature_matches_the_standard_webhooks_test_vector():
    signature = sign(
        secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        webhook_id="msg_p5jXN8AQM9LWM0D4loKWxJek",
        timestamp=1614265330,
        body=b'{"test": 2432232314}',
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


@pytest.fixture
def receiver():
    """A loopback HTTP server that records requests and answers with the next queued status."""
    seen: list[dict] = []
    statuses: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append({"headers": dict(self.headers), "body": body})
            self.send_response(statuses.pop(0) if statuses else 200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook", seen, statuses
    server.shutdown()


@pytest.fixture(autouse=True)
def loopback_allowed(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True
    settings.DEBUG = True  # http receivers are allowed only in DEBUG


def test_a_delivery_is_signed_with_the_users_secret_and_recorded(receiver):
    url, seen, _ = receiver
    generation = GenerationFactory(webhook_url=url, webhook_events=["completed"], status="succeeded")
    assert deliver(generation_id=str(generation.pk), event="completed", webhook_id="msg_1", attempt=1) is None
    (request,) = seen
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["webhook-id"] == "msg_1"
    key = base64.b64decode(generation.user.webhook_secret.removeprefix("whsec_"))
    signed = f"msg_1.{headers['webhook-timestamp']}.".encode() + request["body"]
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert headers["webhook-signature"] == f"v1,{expected}"
    payload = json.loads(request["body"])
    assert payload["type"] == "generation.completed"
    assert payload["data"]["id"] == str(generation.pk) and payload["data"]["status"] == "succeeded"
    delivery = WebhookDelivery.objects.get()
    assert (delivery.ok, delivery.status_code, delivery.attempt) == (True, 200, 1)


def verifies(header: str, *, secret: str, webhook_id: str, timestamp: str, body: bytes) -> bool:
    """A Standard Webhooks receiver's check: any of the space-separated signatures made with ``secret``."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = base64.b64encode(hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest())
    return any(hmac.compare_digest(signature.removeprefix("v1,").encode(), expected) for signature in header.split(" "))


def rotated(user, *, hours_ago: float) -> tuple[str, str]:
    """Rotate ``user``'s webhook secret as if ``hours_ago``; returns (old, new)."""
    old = user.webhook_secret
    webhook_secret_rotate(user=user)
    User.objects.filter(pk=user.pk).update(webhook_secret_rotated_at=timezone.now() - dt.timedelta(hours=hours_ago))
    return old, user.webhook_secret


def delivered_signature(seen: list, generation) -> tuple[str, dict, bytes]:
    deliver(generation_id=str(generation.pk), event="completed", webhook_id="msg_r", attempt=1)
    request = seen[-1]
    headers = {k.lower(): v for k, v in request["headers"].items()}
    return headers["webhook-signature"], headers, request["body"]


def test_for_a_day_after_a_rotation_both_the_new_and_the_previous_secret_sign(receiver):
    url, seen, _ = receiver
    generation = GenerationFactory(webhook_url=url, webhook_events=["completed"])
    old, new = rotated(generation.user, hours_ago=23.9)

    header, headers, body = delivered_signature(seen, generation)

    first, second = header.split(" ")
    check = {"webhook_id": "msg_r", "timestamp": headers["webhook-timestamp"], "body": body}
    assert verifies(first, secret=new, **check) and not verifies(first, secret=old, **check)
    assert verifies(second, secret=old, **check) and not verifies(second, secret=new, **check)


def test_a_day_after_a_rotation_only_the_new_secret_signs(receiver):
    url, seen, _ = receiver
    generation = GenerationFactory(webhook_url=url, webhook_events=["completed"])
    old, new = rotated(generation.user, hours_ago=24.1)

    header, headers, body = delivered_signature(seen, generation)

    check = {"webhook_id": "msg_r", "timestamp": headers["webhook-timestamp"], "body": body}
    assert header.count("v1,") == 1
    assert verifies(header, secret=new, **check)
    assert not verifies(header, secret=old, **check)


def test_a_failed_delivery_is_recorded_and_retried_later_with_the_same_id(receiver, settings):
    url, seen, statuses = receiver
    statuses.append(500)
    generation = GenerationFactory(webhook_url=url, webhook_events=["failed"])
    retry_in = deliver(generation_id=str(generation.pk), event="failed", webhook_id="msg_2", attempt=1)
    assert retry_in == settings.WEBHOOK_RETRY_BASE_SECONDS
    assert deliver(generation_id=str(generation.pk), event="failed", webhook_id="msg_2", attempt=2) is None
    assert [r["headers"]["webhook-id"] for r in seen] == ["msg_2", "msg_2"]
    assert list(WebhookDelivery.objects.order_by("attempt").values_list("ok", "status_code")) == [
        (False, 500),
        (True, 200),
    ]


def test_it_gives_up_after_the_last_attempt(receiver, settings):
    url, _, statuses = receiver
    statuses.append(503)
    generation = GenerationFactory(webhook_url=url, webhook_events=["completed"])
    attempt = settings.WEBHOOK_MAX_ATTEMPTS
    assert deliver(generation_id=str(generation.pk), event="completed", webhook_id="m", attempt=attempt) is None


def test_an_unreachable_receiver_is_recorded_as_an_error(settings):
    generation = GenerationFactory(webhook_url="http://127.0.0.1:9/hook", webhook_events=["completed"])
    assert deliver(generation_id=str(generation.pk), event="completed", webhook_id="m", attempt=1) is not None
    delivery = WebhookDelivery.objects.get()
    assert not delivery.ok and delivery.status_code is None and delivery.error


def test_a_private_address_is_refused_unless_allowed(receiver, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    url, seen, _ = receiver
    generation = GenerationFactory(webhook_url=url, webhook_events=["completed"])
    deliver(generation_id=str(generation.pk), event="completed", webhook_id="m", attempt=1)
    assert seen == []
    assert "forbidden_address" in WebhookDelivery.objects.get().error


def test_only_subscribed_events_are_queued(django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    monkeypatch.setattr("images.tasks.deliver_webhook.delay", lambda *args: sent.append(args))
    generation = GenerationFactory(webhook_url="https://example.com/h", webhook_events=["completed"])
    with django_capture_on_commit_callbacks(execute=True):
        queue_webhook(generation=generation, event="started")
        queue_webhook(generation=generation, event="completed")
    assert [args[1] for args in sent] == ["completed"]


def test_a_redirect_from_the_receiver_is_not_followed(settings):
    seen: list[str] = []

    class Redirecting(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.append(self.path)
            self.send_response(302)
            self.send_header("Location", "/elsewhere")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hook"
        generation = GenerationFactory(webhook_url=url, webhook_events=["completed"])
        assert deliver(generation_id=str(generation.pk), event="completed", webhook_id="m", attempt=1) is not None
    finally:
        server.shutdown()
    assert seen == ["/hook"]
    delivery = WebhookDelivery.objects.get()
    assert (delivery.ok, delivery.status_code) == (False, 302)


def test_a_running_job_sends_progress_events_at_most_once_a_second(settings, monkeypatch, media_root):
    import itertools
    import time

    from images.services.pipeline import generation_run

    settings.GENERATION_PROGRESS_INTERVAL = 0  # a progress write at each of the fake provider's 0.1 s steps
    queued: list[tuple[str, float]] = []
    monkeypatch.setattr(
        "images.services.pipeline.queue_webhook",
        lambda *, generation, event: queued.append((event, time.monotonic())),
    )
    generation = GenerationFactory(
        provider="fake", model="fake-1", prompt="slow-2.5", webhook_url="https://example.com/hook",
        webhook_events=["progress"],
    )  # fmt: skip

    generation_run(generation_id=str(generation.pk))

    times = [at for event, at in queued if event == "progress"]
    assert len(times) >= 2
    # Timed here, a thread switch after the tracker's own clock reading: a few ms of slack on a loaded machine.
    assert all(later - earlier >= 0.95 for earlier, later in itertools.pairwise(times))


def test_a_progress_event_is_not_retried(receiver):
    url, seen, statuses = receiver
    statuses.append(500)
    generation = GenerationFactory(webhook_url=url, webhook_events=["progress"], status="running", progress=40)

    assert deliver(generation_id=str(generation.pk), event="progress", webhook_id="msg_p", attempt=1) is None
    (request,) = seen
    payload = json.loads(request["body"])
    assert payload["type"] == "generation.progress" and payload["data"]["progress"] == 40


def test_progress_is_an_event_a_generation_may_ask_for(api):
    response = api.post(
        "/api/v1/generations",
        {"prompt": "x", "webhook_url": "https://example.com/hook", "webhook_events": ["progress", "completed"]},
        format="json",
    )

    assert response.status_code == 202 and response.json()["webhook_events"] == ["progress", "completed"]


def test_a_progress_event_the_broker_refuses_does_not_fail_the_job(settings, monkeypatch, media_root):
    from images.services.pipeline import generation_run

    settings.GENERATION_PROGRESS_INTERVAL = 0

    def refused(*, generation, event):
        if event == "progress":
            raise ConnectionError("broker down")

    monkeypatch.setattr("images.services.pipeline.queue_webhook", refused)
    generation = GenerationFactory(provider="fake", model="fake-1", prompt="slow-0.5", webhook_events=["progress"],
                                   webhook_url="https://example.com/hook")  # fmt: skip

    assert generation_run(generation_id=str(generation.pk)).status == "succeeded"
