"""stream: true on /v1/images/generations: server-sent events, in-process (the SDK test: test_openai_compat)."""

from __future__ import annotations

import base64
import io
import json

import pytest
from django.core.signals import request_finished
from django.db import close_old_connections
from PIL import Image as PILImage

from images.api import openai_stream
from images.models import Generation
from images.services.generations import WaitSlots
from images.services.pipeline import generation_run

pytestmark = pytest.mark.django_db


def events(raw: bytes) -> list[tuple[str, dict]]:
    parsed = []
    for block in raw.decode().split("\n\n"):
        lines = [line for line in block.splitlines() if line and not line.startswith(":")]
        if lines:
            fields = dict(line.split(": ", 1) for line in lines)
            parsed.append((fields["event"], json.loads(fields["data"])))
    return parsed


def hang_up(response) -> None:
    """What the server does when the client goes away: close the answer (the test keeps its database)."""
    connected = request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        if connected:
            request_finished.connect(close_old_connections)


def stream(api, body: dict, *, run: bool = True):
    response = api.post("/v1/images/generations", {"stream": True, **body}, format="json")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/event-stream"
    if run:
        generation_run(generation_id=str(Generation.objects.get().pk))
    return events(b"".join(response.streaming_content))


def test_it_sends_the_partial_images_then_one_completed_event(api):
    sent = stream(api, {"prompt": "a city at dusk", "size": "256x256", "partial_images": 2, "model": "builtin-v1"})
    assert [name for name, _ in sent] == [
        "image_generation.partial_image", "image_generation.partial_image", "image_generation.completed"
    ]  # fmt: skip
    assert [data["partial_image_index"] for _, data in sent[:2]] == [0, 1]
    frames = [PILImage.open(io.BytesIO(base64.b64decode(data["b64_json"]))) for _, data in sent]
    assert all(frame.size == (256, 256) for frame in frames)
    _, done = sent[-1]
    assert done["type"] == "image_generation.completed"
    assert (done["size"], done["output_format"], done["background"]) == ("256x256", "png", "opaque")
    assert done["usage"]["total_tokens"] == done["usage"]["input_tokens"] + done["usage"]["output_tokens"] > 0


def test_without_partial_images_only_the_completed_events_come(api):
    sent = stream(api, {"prompt": "a kite", "size": "256x256", "n": 2, "model": "fake-1"})
    assert [name for name, _ in sent] == ["image_generation.completed"] * 2
    assert sum(data["usage"]["input_tokens"] for _, data in sent) == sent[0][1]["usage"]["input_tokens"]


def test_a_failed_job_ends_the_stream_with_an_error_event(api):
    sent = stream(api, {"prompt": "fail-permanent", "model": "fake-1"})
    [(name, data)] = sent
    assert name == "error"
    assert data["error"]["code"] == "moderation_blocked" and data["error"]["type"] == "invalid_request_error"


def test_a_job_that_does_not_end_in_time_ends_with_a_timeout_event(api, settings):
    settings.OPENAI_COMPAT_TIMEOUT = 0
    [(name, data)] = stream(api, {"prompt": "a kite", "model": "fake-1"}, run=False)
    assert name == "error" and data["error"]["code"] == "timeout"


def test_the_stream_holds_a_wait_slot_until_it_is_closed(api, monkeypatch):
    slots = WaitSlots(1)
    monkeypatch.setattr("images.api.openai.WAIT_SLOTS", slots)
    response = api.post("/v1/images/generations", {"stream": True, "prompt": "a kite", "model": "fake-1"},
                        format="json")  # fmt: skip
    refused = api.post("/v1/images/generations", {"stream": True, "prompt": "a kite", "model": "fake-1"},
                       format="json")  # fmt: skip
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "too_many_waiting"
    assert Generation.objects.count() == 1  # the refused one created nothing
    hang_up(response)  # the client went away before any event: the slot comes back, the job stays
    with slots as got:
        assert got
    assert Generation.objects.get().status == "queued"


def test_a_client_that_leaves_midway_does_not_cancel_the_job(api):
    response = api.post("/v1/images/generations", {"stream": True, "prompt": "a city", "size": "256x256",
                        "partial_images": 2, "model": "builtin-v1"}, format="json")  # fmt: skip
    generation = Generation.objects.get()
    generation_run(generation_id=str(generation.pk))
    assert b"partial_image" in next(iter(response.streaming_content))
    response._iterator.close()  # the client went away: the server closes the answer (the test client's wrapper)
    generation.refresh_from_db()
    assert generation.status == "succeeded" and generation.images.count() == 1


def test_keepalive_comments_are_sent_while_nothing_else_is(api, settings, monkeypatch):
    monkeypatch.setattr(openai_stream, "KEEPALIVE_SECONDS", 0.0)
    settings.OPENAI_COMPAT_TIMEOUT = 0.3
    response = api.post("/v1/images/generations", {"stream": True, "prompt": "a kite", "model": "fake-1"},
                        format="json")  # fmt: skip
    assert b": keep-alive\n\n" in b"".join(response.streaming_content)
