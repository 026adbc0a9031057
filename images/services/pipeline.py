"""Running one generation job: claim it, render, store, and end it exactly once.

The database row is the guard against every broker mishap: a message that
arrives twice, late, or after its worker died. ``attempts`` doubles as the
ownership token: a worker only writes while the row is ``running`` with the
attempt number it claimed, so a worker that lost the job (cancelled, or taken
over after its heartbeat stopped) can no longer change it.

A database outage is waited out, never counted as a failed attempt: before the
claim the task retries later (images/tasks.py); once the job is claimed,
progress writes and cancellation checks are skipped, the heartbeat keeps
trying, and the reads and writes the job needs are retried in place on a new
connection.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from imagegen.backoff import doubling
from imagegen.database import DATABASE_ERRORS, is_database_unavailable, outage_backoff, reset_connections
from images.failures import clipped, plain_message, reference_fetch_message, user_message
from images.models import Generation, Image
from images.providers import get_provider
from images.providers.base import GeneratedImage, GenerationCanceled, ProviderError, ReferenceImage, RenderRequest
from images.services import transitions
from images.services.analysis import image_analysis_queue_on_commit
from images.services.derive import DerivedImage, conform_generated, derive_image
from images.services.partials import PartialPublisher
from images.storage import delete_keys, file_url, image_key, read_bytes, store_bytes, store_many
from images.webhooks import PROGRESS_EVENT_INTERVAL, queue_webhook

logger = logging.getLogger(__name__)

RUNNING = Generation.Status.RUNNING
QUEUED = Generation.Status.QUEUED
# Share of the progress bar the provider's own steps fill; storing fills the rest.
RENDER_SHARE = 85
# Of the job's time limit, how long a claimed job waits for the database before giving up.
DATABASE_WAIT_SHARE = 0.9

T = TypeVar("T")


@dataclass(frozen=True)
class RunOutcome:
    """What the task should do next: nothing, or run the job again after ``retry_in`` seconds."""

    status: str
    retry_in: float | None = None


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff with full jitter, capped below the SQS visibility timeout."""
    cap = min(settings.GENERATION_RETRY_MAX_SECONDS, settings.SQS_VISIBILITY_TIMEOUT - 30)
    ceiling = doubling(attempt, first=settings.GENERATION_RETRY_BASE_SECONDS, cap=cap)
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not security


def _claim(generation_id: str) -> tuple[Generation | None, RunOutcome | None]:
    stale_before = timezone.now() - timedelta(seconds=settings.GENERATION_HEARTBEAT_TIMEOUT)
    claimed = transitions.claim(generation_id, stale_before=stale_before, max_attempts=settings.GENERATION_MAX_ATTEMPTS)
    if claimed.taken:
        return claimed.generation, None
    if claimed.reason == "busy":
        # Another worker holds it and is alive; look again once its heartbeat could have gone stale.
        return None, RunOutcome("busy", retry_in=settings.GENERATION_HEARTBEAT_TIMEOUT + 1)
    if claimed.reason == "exhausted":
        generation = claimed.generation
        _finish_failed(generation, generation.attempts, "too_many_attempts", plain_message("too_many_attempts"))
        return None, RunOutcome(Generation.Status.FAILED)
    return None, RunOutcome(claimed.reason)


def _owned(generation: Generation, attempt: int):
    return Generation.objects.filter(pk=generation.pk, status=RUNNING, attempts=attempt)


def _outage(exc: Exception) -> bool:
    """True (with a fresh connection for the next query) if ``exc`` is a database outage."""
    if not is_database_unavailable(exc):
        return False
    reset_connections()
    return True


@contextlib.contextmanager
def _passing_over_outages() -> Iterator[None]:
    """Let a database outage pass (with a fresh connection next time); anything else is raised."""
    try:
        yield
    except DATABASE_ERRORS as exc:
        if not _outage(exc):
            raise


def _until_the_database_answers(step: Callable[[], T], *, deadline: float, generation: Generation) -> T:
    """Run ``step`` (a read or a conditional write of the claimed job), waiting out a database outage.

    Every step is safe to repeat: writes are conditional on the attempt, and the
    final commit recognises its own earlier success. Past ``deadline``
    (``time.monotonic()``) the outage error is raised.
    """
    retry = 0
    while True:
        try:
            return step()
        except DATABASE_ERRORS as exc:
            if not _outage(exc) or time.monotonic() >= deadline:
                raise
            delay = min(outage_backoff(retry), max(0.0, deadline - time.monotonic()))
            logger.warning(
                "database unavailable; the job waits for it",
                extra={"generation": str(generation.pk), "retry": retry, "error": str(exc)[:300]},
            )
            retry += 1
            time.sleep(delay)


class JobTracker:
    """Progress writes (at a bounded rate), cancellation checks and a heartbeat thread for one attempt."""

    def __init__(self, generation: Generation, attempt: int) -> None:
        self.generation = generation
        self.attempt = attempt
        self.lost = False
        self._last_write = 0.0
        self._last_check = 0.0
        self._last_event = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{generation.pk}", daemon=True)

    def __enter__(self) -> JobTracker:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _beat(self) -> None:
        interval = max(0.2, settings.GENERATION_HEARTBEAT_TIMEOUT / 4)
        wait = interval
        try:
            while not self._stop.wait(wait):
                try:
                    if not _owned(self.generation, self.attempt).update(heartbeat_at=timezone.now()):
                        self.lost = True
                    wait = interval
                except DATABASE_ERRORS as exc:
                    if not _outage(exc):
                        raise
                    # Beat again soon: once the database is back, the heartbeat must land
                    # before a sweeper finds it stale and hands the job to another worker.
                    wait = min(1.0, interval)
        finally:
            connection.close()

    def progress(self, percent: int, *, share: tuple[int, int] = (0, RENDER_SHARE)) -> None:
        start, end = share
        value = max(0, min(100, start + round((end - start) * max(0, min(100, percent)) / 100)))
        now = time.monotonic()
        if now - self._last_write < settings.GENERATION_PROGRESS_INTERVAL and value < 100:
            return
        self._last_write = now
        # Progress is only shown to the user: during an outage the render goes on without it.
        with _passing_over_outages():
            if not _owned(self.generation, self.attempt).update(progress=value, heartbeat_at=timezone.now()):
                self.lost = True
            elif time.monotonic() - self._last_event >= PROGRESS_EVENT_INTERVAL:
                # Timed when sent, not before the write above: a slow write must not bring two events closer.
                self._last_event = time.monotonic()
                self._progress_event()

    def _progress_event(self) -> None:
        # Only news for the receiver: a broker that refuses it must not fail the job.
        try:
            queue_webhook(generation=self.generation, event="progress")
        except Exception:
            logger.warning("could not queue a progress webhook", extra={"generation": str(self.generation.pk)})

    def should_cancel(self) -> bool:
        now = time.monotonic()
        if not self.lost and now - self._last_check >= settings.GENERATION_PROGRESS_INTERVAL:
            self._last_check = now
            deadline = self.generation.deadline_at
            if deadline is not None and timezone.now() >= deadline:
                with _passing_over_outages():
                    transitions.expire(self.generation.pk, now=timezone.now())  # the sweeper would, later
                self.lost = True
                return True
            # Unknown while the database is away; the final commit checks ownership again.
            with _passing_over_outages():
                self.lost = not _owned(self.generation, self.attempt).exists()
        return self.lost


def reference_bytes(image: Image) -> bytes:
    """A reference's bytes; an upload processed meanwhile (an edit's input) moved from its raw file: read again."""
    try:
        return read_bytes(image.storage_key)
    except FileNotFoundError:
        image.refresh_from_db(fields=["storage_key"])
        return read_bytes(image.storage_key)


def _references(generation: Generation) -> tuple[ReferenceImage, ...]:
    from images.fetch import FetchError, fetch_image

    references: list[ReferenceImage] = []
    rows = Image.objects.filter(pk__in=generation.reference_images, user=generation.user_id)
    # In the order given: an edit's mask applies to the first.
    order = {str(pk): position for position, pk in enumerate(generation.reference_images)}
    for image in sorted(rows, key=lambda row: order.get(str(row.pk), len(order))):
        data = reference_bytes(image)
        url = file_url(image.storage_key)
        references.append(ReferenceImage(data=data, content_type=image.content_type, url=url if "://" in url else None))
    for url in generation.reference_image_urls:
        try:
            fetched = fetch_image(
                url,
                max_bytes=settings.REFERENCE_FETCH_MAX_BYTES,
                timeout=settings.REFERENCE_FETCH_TIMEOUT,
                allow_http=settings.DEBUG,
            )
        except FetchError as exc:
            raise ProviderError(
                f"reference {url}: {exc.message}",
                code=exc.code,
                permanent=True,
                user_message=reference_fetch_message(exc.code),
            ) from None
        references.append(ReferenceImage(data=fetched.data, content_type=fetched.content_type, url=url))
    return tuple(references)


def _output_fields(generation: Generation) -> dict:
    """The RenderRequest fields of the output asked for, and an edit's mask."""
    options = generation.options or {}
    mask_key = options.get("mask_key")
    return {
        "output_format": generation.output_format,
        "output_compression": generation.output_compression,
        "background": generation.background,
        "mask": read_bytes(mask_key) if mask_key else None,
        "input_fidelity": options.get("input_fidelity", ""),
        "moderation": options.get("moderation", ""),
        "partial_images": int(options.get("partial_images") or 0),
    }


def _reported_usage(outputs: list[GeneratedImage]) -> dict:
    """Token counts the provider reported with its images (the same object on each of one call's images)."""
    reported = [output.info["usage"] for output in outputs if isinstance(output.info.get("usage"), dict)]
    return reported[0] if reported else {}


def _png_text(generation: Generation, index: int) -> dict[str, str]:
    return {
        "prompt": generation.prompt,
        "negative_prompt": generation.negative_prompt,
        "style": generation.style,
        "seed": str(generation.seed),
        "size": f"{generation.width}x{generation.height}",
        "provider": generation.provider,
        "model": generation.model,
        "index": str(index),
        "software": "Imagegen",
    }


def output_image_id(generation_id: object, index: int) -> uuid.UUID:
    """Deterministic, so a re-run writes the same keys instead of new ones."""
    return uuid.uuid5(uuid.UUID(str(generation_id)), f"output-{index}")


def _store_outputs(
    generation: Generation, outputs: list[GeneratedImage], tracker: JobTracker, stored: list[str]
) -> list[tuple[uuid.UUID, DerivedImage]]:
    results = []
    for index, output in enumerate(outputs):
        if tracker.should_cancel():
            raise GenerationCanceled()
        image_id = output_image_id(generation.pk, index)
        output = conform_generated(
            output,
            output_format=generation.output_format,
            compression=generation.output_compression,
            background=generation.background,
        )
        derived = derive_image(output.data, png_text=_png_text(generation, index), generated=True)
        derived.background = output.info.get("background", "")
        files: dict[str, bytes] = {}
        for name, rendition in derived.files().items():
            rendition.key = image_key(user_id=generation.user_id, image_id=image_id, name=name)
            files[rendition.key] = rendition.data
        stored.extend(files)  # before writing: a failed write leaves nothing behind either
        store_many(files, write=store_bytes)
        results.append((image_id, derived))
        tracker.progress(round(100 * (index + 1) / len(outputs)), share=(RENDER_SHARE, 99))
    return results


def _finish_succeeded(generation: Generation, attempt: int, results: list[tuple[uuid.UUID, DerivedImage]]) -> bool:
    # Four round trips: BEGIN, the conditional UPDATE (the guard, and the row's lock until COMMIT),
    # one INSERT of every image, COMMIT.
    with transaction.atomic():
        # The usage the provider reported goes with the same UPDATE (an estimate is made where it reports none).
        if not transitions.succeed(generation, attempt=attempt, usage=generation.usage):
            # An earlier try whose commit went through while its connection dropped: ours, done.
            return Generation.objects.filter(
                pk=generation.pk, status=Generation.Status.SUCCEEDED, attempts=attempt
            ).exists()
        Image.objects.bulk_create(
            [
                Image(
                    id=image_id,
                    user_id=generation.user_id,
                    source=Image.Source.GENERATED,
                    generation=generation,
                    index=index,
                    prompt=generation.prompt,
                    processing=Image.Processing.READY,
                    **derived.image_fields(),
                )
                for index, (image_id, derived) in enumerate(results)
            ]
        )
        queue_webhook(generation=generation, event="completed")
        image_analysis_queue_on_commit(image_ids=[str(image_id) for image_id, _ in results])
    return True


def _finish_failed(generation: Generation, attempt: int, code: str, message: str) -> None:
    """End the job as failed; ``message`` is shown to its owner, so it must carry no internal detail."""
    transitions.fail(generation, code=code, message=message, expect=Q(attempts=attempt))


def _requeue(generation: Generation, attempt: int, code: str, message: str) -> RunOutcome:
    """Queue the job for another attempt; ``message`` is shown to its owner meanwhile."""
    retry_in = backoff_seconds(attempt)
    requeued = transitions.requeue(
        generation.pk,
        expect=Q(status=RUNNING, attempts=attempt),
        # The sweeper leaves it alone until the retry is due.
        run_at=timezone.now() + timedelta(seconds=retry_in),
        resend=False,
        code=code,
        message=f"attempt {attempt} failed, retrying: {message}",
    )
    return RunOutcome(QUEUED, retry_in=retry_in) if requeued else RunOutcome("lost")


def _log_extra(generation: Generation, attempt: int, **fields: str) -> dict[str, object]:
    # The request id is added by the log filter (the task carries the id of the request that queued it).
    return {"generation": str(generation.pk), "attempt": attempt, **fields}


def _discard(stored: list[str]) -> None:
    # Best effort: with storage down, the cleanup must not keep the job from being
    # requeued or failed; a re-run writes the same keys again.
    try:
        delete_keys(stored)
    except Exception:
        logger.warning("could not delete a failed attempt's files", extra={"keys": stored[:8]}, exc_info=True)


def _crashed(
    generation: Generation, attempt: int, exc: Exception, stored: list[str], waiting: Callable[[Callable[[], T]], T]
) -> RunOutcome:
    _discard(stored)
    logger.exception("generation attempt crashed", extra=_log_extra(generation, attempt, code="internal_error"))
    message = plain_message("internal_error")
    if attempt >= settings.GENERATION_MAX_ATTEMPTS:
        waiting(lambda: _finish_failed(generation, attempt, "internal_error", message))
        return RunOutcome(Generation.Status.FAILED)
    return waiting(lambda: _requeue(generation, attempt, "internal_error", message))


def generation_run(*, generation_id: str) -> RunOutcome:
    """Run one attempt of a generation. Safe to call for any message, any number of times."""
    generation, outcome = _claim(generation_id)
    if generation is None:
        return outcome
    attempt = generation.attempts
    logger.info("generation started", extra={"generation": str(generation.pk), "attempt": attempt})
    if attempt == 1:
        queue_webhook(generation=generation, event="started")
    stored: list[str] = []
    started = time.monotonic()
    deadline = started + settings.GENERATION_TIME_LIMIT * DATABASE_WAIT_SHARE

    def waiting(step: Callable[[], T]) -> T:
        return _until_the_database_answers(step, deadline=deadline, generation=generation)

    try:
        with JobTracker(generation, attempt) as tracker:
            provider = get_provider(generation.provider)
            request = RenderRequest(
                prompt=generation.prompt,
                negative_prompt=generation.negative_prompt,
                style=generation.style,
                width=generation.width,
                height=generation.height,
                n=generation.n,
                seed=generation.seed,
                model=generation.model,
                quality=generation.quality,
                strength=generation.strength,
                references=waiting(lambda: _references(generation)),
                **_output_fields(generation),
            )
            extra = {}
            if request.partial_images and getattr(provider, "streams_partial_images", False):
                extra["on_partial_image"] = PartialPublisher(generation, attempt)
            outputs = provider.generate(
                request, on_progress=tracker.progress, should_cancel=tracker.should_cancel, **extra
            )
            generation.usage = _reported_usage(outputs)
            if not outputs:
                raise ProviderError("the provider returned no images", code="empty_response")
            results = _store_outputs(generation, outputs[: generation.n], tracker, stored)
            if not waiting(lambda: _finish_succeeded(generation, attempt, results)):
                raise GenerationCanceled()
    except GenerationCanceled:
        _discard(stored)
        logger.info("generation canceled", extra={"generation": str(generation.pk), "attempt": attempt})
        return RunOutcome(Generation.Status.CANCELED)
    except SoftTimeLimitExceeded:
        _discard(stored)
        logger.warning("generation timed out", extra=_log_extra(generation, attempt, code="timeout"))
        message = f"The job ran past its time limit of {settings.GENERATION_TIME_LIMIT} s."
        waiting(lambda: _finish_failed(generation, attempt, "timeout", message))
        return RunOutcome(Generation.Status.FAILED)
    except ProviderError as exc:
        _discard(stored)
        # The detail (resolver output, exception text, the raw answer) is for the log only.
        log_extra = _log_extra(generation, attempt, code=exc.code, error=exc.message)
        if exc.__cause__ is not None:
            log_extra["cause"] = clipped(repr(exc.__cause__))
        code, shown = exc.code, exc.user_message or user_message(exc.code, exc.message)
        if exc.permanent or attempt >= settings.GENERATION_MAX_ATTEMPTS:
            logger.warning("generation failed", extra=log_extra)
            waiting(lambda: _finish_failed(generation, attempt, code, shown))
            return RunOutcome(Generation.Status.FAILED)
        logger.warning("generation attempt failed; will retry", extra=log_extra)
        return waiting(lambda: _requeue(generation, attempt, code, shown))
    except DATABASE_ERRORS as exc:
        if not is_database_unavailable(exc):
            return _crashed(generation, attempt, exc, stored, waiting)
        # Waited past the deadline. The job stays running with this attempt; once the
        # database is back its stale heartbeat lets the next message or the sweeper take it over.
        _discard(stored)
        logger.warning("generation gave up waiting for the database", extra={"generation": str(generation.pk)})
        raise
    except (IntegrityError, Exception) as exc:  # a bug or an outage (storage): retry, then fail
        return _crashed(generation, attempt, exc, stored, waiting)
    logger.info(
        "generation succeeded",
        extra={"generation": str(generation.pk), "attempt": attempt, "seconds": round(time.monotonic() - started, 3)},
    )
    return RunOutcome(Generation.Status.SUCCEEDED)
