"""``stream: true`` on /v1/images/generations and /v1/images/edits: OpenAI's server-sent events.

The answer is ``text/event-stream``: an ``<kind>.partial_image`` event per
intermediate frame the worker publishes (images/services/partials.py), then one
``<kind>.completed`` event per image, where ``<kind>`` is ``image_generation``
or ``image_edit``. A failure is an ``error`` event in OpenAI's error shape.

It waits the way ``Prefer: wait`` does: one thread of a threaded worker, never
a process, polling the job's row with short reads that back off; it holds one
of the process's wait slots (MAX_WAITING_REQUESTS) from admission to its last
event, and gives it back when the client goes away (the server closes the
generator). Nothing here touches the job: a client that disconnects leaves it
running, its images land in the gallery as usual.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable, Iterator

from django.http import StreamingHttpResponse

from accounts.models import User
from imagegen.polling import FIRST_DELAY, MAX_DELAY
from images.models import Generation
from images.services.generations import generation_get
from images.storage import read_bytes

logger = logging.getLogger(__name__)

# A comment line this often while nothing else is sent: proxies keep the connection,
# and a client that left is noticed (the write fails) long before the timeout.
KEEPALIVE_SECONDS = 5.0


def sse(event: str, data: dict) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def error_event(code: str, message: str, status: int = 500) -> bytes:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return sse("error", {"type": "error", "error": {"message": message, "type": kind, "param": None, "code": code}})


class _Holding:
    """The events, and a wait slot given back once when the server closes the answer (after the last
    event, or when the client went away), even if no event was ever asked for."""

    def __init__(self, events: Iterator[bytes], release: Callable[[], None]) -> None:
        self._events, self._release, self._released = events, release, False

    def __iter__(self) -> _Holding:
        return self

    def __next__(self) -> bytes:
        return next(self._events)

    def close(self) -> None:
        try:
            self._events.close()  # type: ignore[attr-defined]
        finally:
            if not self._released:
                self._released = True
                self._release()


def event_stream(events: Iterator[bytes], *, release: Callable[[], None]) -> StreamingHttpResponse:
    """``text/event-stream`` of ``events``; ``release`` runs once when the server closes it."""
    response = StreamingHttpResponse(_Holding(events, release), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass events on as they come
    return response


def generation_events(
    *,
    user: User,
    generation_id: object,
    kind: str,
    echo: dict,
    seconds: float,
    completed: Callable[[Generation], list[dict]],
    failed: Callable[[Generation], tuple[str, str, int]],
) -> Iterator[bytes]:
    """The events of one job: its first image's partial frames as they appear, then its images.

    ``echo`` (size, quality, background, output_format) goes into every event;
    ``completed(generation)`` makes the completed events' bodies (``b64_json``,
    ``usage``...), ``failed(generation)`` the (code, message, status) of a job
    that did not succeed.
    """
    deadline = time.monotonic() + seconds
    delay, quiet_since, sent, partials = FIRST_DELAY, time.monotonic(), set(), 0
    while True:
        row = Generation.objects.filter(pk=generation_id).values_list("status", "partial_frames").first()
        if row is None:
            yield error_event("not_found", "the generation was deleted", 404)
            return
        status, frames = row
        for frame in frames or []:
            if not isinstance(frame, dict) or frame.get("index") != 0 or frame.get("key") in sent:
                continue
            sent.add(frame["key"])
            try:
                data = read_bytes(frame["key"])
            except OSError:  # swept or not there: a frame is best effort
                continue
            body = {"type": f"{kind}.partial_image", "b64_json": base64.b64encode(data).decode(),
                    "created_at": int(time.time()), "partial_image_index": partials, **echo}  # fmt: skip
            yield sse(f"{kind}.partial_image", body)
            partials += 1
            quiet_since = time.monotonic()
        if status in Generation.FINISHED:
            break
        now = time.monotonic()
        if now >= deadline:
            yield error_event(
                "timeout",
                f"generation {generation_id} did not finish within {round(seconds)} s; "
                f"poll /api/v1/generations/{generation_id}",
            )
            return
        if now - quiet_since >= KEEPALIVE_SECONDS:
            yield b": keep-alive\n\n"
            quiet_since = now
        time.sleep(min(delay, max(0.0, deadline - now)))
        delay = min(delay * 1.5, MAX_DELAY)
    generation = generation_get(user=user, generation_id=generation_id)
    if generation.status != Generation.Status.SUCCEEDED:
        yield error_event(*failed(generation))
        return
    for body in completed(generation):
        yield sse(f"{kind}.completed", {"type": f"{kind}.completed", "created_at": int(time.time()), **echo, **body})
