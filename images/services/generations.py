"""Creating, cancelling and reading generations: the rules the API and the web UI share."""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Prefetch, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User
from imagegen.compiled import CompiledQuery
from imagegen.errors import Conflict, NotFound
from imagegen.wakeup import wait_for
from images.models import Generation, Image
from images.params import MAX_SEED
from images.services import scheduling, transitions
from images.services.deadlines import check_deadline_seconds, deadline_at
from images.services.estimates import eta_seconds
from images.services.library import with_tag_names
from images.services.moderation import prompt_check
from images.services.publishing import generation_publish_on_commit, owed_fields
from images.services.quotas import check_quota, daily_limit_for_tier, quota_for_user
from images.services.resolver import GenerationParams

IDEMPOTENCY_WINDOW = timedelta(hours=24)


def _fingerprint(params: GenerationParams) -> str:
    canonical = json.dumps(params.fingerprint_payload(), sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def owned_reference_images(*, user: User, ids: list[str], pending_ok: bool = False) -> list[str]:
    if not ids:
        return []
    states = [Image.Processing.READY, Image.Processing.PENDING] if pending_ok else [Image.Processing.READY]
    found = set(
        str(pk)
        for pk in Image.objects.filter(user=user, pk__in=ids, processing__in=states).values_list("pk", flat=True)
    )
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound("not_found", f"reference image not found: {', '.join(missing)}", field="reference_images")
    return ids


def _replay(*, user: User, key: str, fingerprint: str) -> Generation | None:
    """The generation an earlier request with this Idempotency-Key created, if still in the window."""
    existing = Generation.objects.filter(user=user, idempotency_key=key).first()
    if existing is None:
        return None
    if existing.created_at < timezone.now() - IDEMPOTENCY_WINDOW:
        # Expired: the key is free again for a new request.
        Generation.objects.filter(pk=existing.pk).update(idempotency_key=None)
        return None
    if existing.request_fingerprint != fingerprint:
        raise Conflict(
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different request body",
            field="Idempotency-Key",
        )
    return existing


def generation_create(
    *,
    user: User,
    params: GenerationParams,
    idempotency_key: str | None = None,
    request_id: str = "",
    uploaded_references: bool = False,
    deadline_seconds: int | None = None,
) -> tuple[Generation, bool]:
    """Create a generation and queue its job once the row is committed.

    Returns ``(generation, created)``; ``created`` is False when an earlier
    request with the same ``idempotency_key`` is replayed. Raises a domain error
    (NotFound for reference images not the user's, 409 for a reused key with another
    body) and QuotaExceeded (429). A broker that does not take the message is
    no error: the job is committed and its message re-sent later (publishing.py).
    ``uploaded_references``: the references were uploaded by this same request
    (an OpenAI edit) and may still be pending; the worker reads their raw bytes.
    With the fair queue on, the job is created held and sent when its user's
    turn comes (scheduling.py). ``deadline_seconds``: canceled if not ended by then.
    """
    check_deadline_seconds(deadline_seconds)
    key = (idempotency_key or "").strip()[:255] or None
    fingerprint = _fingerprint(params)
    if key and (existing := _replay(user=user, key=key, fingerprint=fingerprint)):
        return existing, False
    reference_images = owned_reference_images(user=user, ids=params.reference_images, pending_ok=uploaded_references)
    # Before the quota and the row: a refused prompt costs nothing and leaves nothing behind.
    prompt_check(prompt=params.prompt)
    held = scheduling.holds_jobs()
    now = timezone.now()
    try:
        with transaction.atomic():
            if daily_limit_for_tier(user.tier) is not None:
                # Serialises this user's creations so two requests cannot both pass the quota.
                # An unlimited tier has no quota to pass: neither the lock nor the sum of the
                # day's requests (which grows with them) is worth holding the write lock for.
                User.objects.select_for_update().filter(pk=user.pk).first()
                check_quota(user=user, requested=params.n)
            generation = Generation.objects.create(
                user=user,
                prompt=params.prompt,
                negative_prompt=params.negative_prompt,
                style=params.style,
                width=params.width,
                height=params.height,
                n=params.n,
                seed=params.seed if params.seed is not None else secrets.randbelow(2**32),
                provider=params.provider,
                model=params.model,
                quality=params.quality,
                strength=params.strength,
                reference_images=reference_images,
                reference_image_urls=params.reference_image_urls,
                webhook_url=params.webhook_url,
                webhook_events=params.webhook_events,
                metadata=params.metadata,
                output_format=params.output_format,
                output_compression=params.output_compression,
                background=params.background,
                options=params.options,
                idempotency_key=key,
                request_fingerprint=fingerprint,
                request_id=request_id[:64],
                enqueued_at=now,
                deadline_at=deadline_at(deadline_seconds, now=now),
                held=held,
                **({} if held else owed_fields()),
            )
            if held:
                # Its turn may be now: admitted in this transaction, its message sent on commit.
                scheduling.generations_admit()
            else:
                generation_publish_on_commit(generation_id=str(generation.id))
    except IntegrityError:
        # A concurrent request with the same key won the insert.
        if key and (existing := _replay(user=user, key=key, fingerprint=fingerprint)):
            return existing, False
        raise
    assert generation.seed <= MAX_SEED
    return generation, True


@dataclass(frozen=True)
class DryRun:
    """What a request would do: the resolved job, its estimated time, and today's quota after it."""

    params: GenerationParams
    estimated_seconds: int
    daily_limit: int | None
    used_today: int
    remaining_after: int | None


def generation_dry_run(*, user: User, params: GenerationParams, deadline_seconds: int | None = None) -> DryRun:
    """Check a request as :func:`generation_create` would, creating nothing; the same domain errors.

    ``estimated_seconds``: until the job would be done if queued now (its wait in the fair queue and its run).
    """
    check_deadline_seconds(deadline_seconds)
    owned_reference_images(user=user, ids=params.reference_images)
    prompt_check(prompt=params.prompt)  # a prompt the real request would refuse is refused here too
    check_quota(user=user, requested=params.n)
    quota = quota_for_user(user=user)
    view = scheduling.queue_view(user_id=user.pk, tier=user.tier)
    position = view.position(Generation.objects.filter(user=user, status=Generation.Status.QUEUED).count() + 1)
    remaining = None if quota.remaining is None else quota.remaining - params.n
    return DryRun(
        params=params,
        estimated_seconds=eta_seconds(
            position=position, running=view.running, provider=params.provider, width=params.width, height=params.height
        ),
        daily_limit=quota.daily_limit,
        used_today=quota.used_today,
        remaining_after=remaining,
    )


def generation_cancel(*, user: User, generation_id: object) -> Generation:
    """Cancel a queued or running generation (NotFound / Conflict otherwise).

    The row turns ``canceled`` at once; a worker running it sees that at its
    next step, stops, and discards what it made.
    """
    generation = generation_get(user=user, generation_id=generation_id)
    if not transitions.cancel(generation.pk, user_id=user.pk):
        generation.refresh_from_db(fields=["status"])
        raise Conflict("already_finished", f"generation already ended as {generation.status}")
    scheduling.generations_admit_on_commit()  # its place in flight is free
    return generation_get(user=user, generation_id=generation.pk)


def with_queue_estimates(*, user: User, generations: list[Generation]) -> list[Generation]:
    """Set ``queue_position`` and ``eta_seconds`` on each generation (None unless queued); no query if none is."""
    positions, running = scheduling.queue_positions(user_id=user.pk, tier=user.tier, generations=generations)
    for generation in generations:
        position = positions.get(generation.pk)
        generation.queue_position = position
        generation.eta_seconds = (
            None
            if position is None
            else eta_seconds(
                position=position,
                running=running,
                provider=generation.provider,
                width=generation.width,
                height=generation.height,
            )
        )
    return generations


def generation_queryset(*, user: User) -> QuerySet[Generation]:
    """The user's generations with what the API shows of them, in two queries whatever their number."""
    return (
        Generation.objects.filter(user=user)
        .prefetch_related(Prefetch("images", queryset=with_tag_names(Image.objects.order_by("index"))))
        .order_by("-created_at", "-id")
    )


_GENERATION_FIELDS = [field.attname for field in Generation._meta.concrete_fields]
_IMAGE_FIELDS = [field.attname for field in Image._meta.concrete_fields]
_IMAGE_LOOKUPS = [f"images__{field.name}" for field in Image._meta.concrete_fields]


def _detail_rows(*, user_id: object, pk: object) -> QuerySet:
    # values_list() follows the reverse relations with LEFT JOINs: one row per image
    # and tag, and a single row of NULLs for a generation without images.
    return (
        Generation.objects.filter(user_id=user_id, pk=pk)
        .annotate(queued_before=Coalesce(scheduling.queued_before(user_id=user_id), 0))
        .values_list(*_GENERATION_FIELDS, "queued_before", *_IMAGE_LOOKUPS, "images__tags__name")
        .order_by("images__index", "images__id", "images__tags__name")
    )


# Built once per connection: compiling this query cost more than running it (a status poll runs it).
_DETAIL = CompiledQuery(
    _detail_rows,
    params={
        "user_id": (User._meta.pk, uuid.UUID(int=1)),
        "pk": (Generation._meta.pk, uuid.UUID(int=2)),
    },
)


_STATUS = _GENERATION_FIELDS.index("status")


class GenerationDetail:
    """One generation as a status poll reads it: ``fingerprint`` at once, ``generation`` when asked for.

    The fingerprint is a digest of every value read (the rows as the database sent them, and the
    queue's estimates), which changes whenever what the API shows does: the ETag of a status poll,
    and the key its kept answer is found by. Only an answer made anew needs the model objects.
    """

    def __init__(self, *, user: User, rows: list[tuple]) -> None:
        self._user = user
        self._rows = rows
        self._generation: Generation | None = None
        position = eta = None
        if rows[0][_STATUS] == Generation.Status.QUEUED:  # estimates need the generation (no query otherwise)
            position, eta = self.generation.queue_position, self.generation.eta_seconds
        seen = repr((rows, position, eta))
        self.fingerprint = hashlib.blake2b(seen.encode(), digest_size=16).hexdigest()

    @property
    def generation(self) -> Generation:
        """The generation, its images in ``image_list`` (each with ``tag_names``) and its queue estimates."""
        if self._generation is None:
            rows = [_DETAIL.convert(row) for row in self._rows]
            size = len(_GENERATION_FIELDS)
            generation = Generation.from_db("default", _GENERATION_FIELDS, rows[0][:size])
            generation.queued_before = rows[0][size]
            with_queue_estimates(user=self._user, generations=[generation])
            images: dict[object, Image] = {}
            for row in rows:
                values, tag = row[size + 1 : -1], row[-1]
                if values[0] is None:
                    continue  # no images yet
                image = images.get(values[0])
                if image is None:
                    image = images[values[0]] = Image.from_db("default", _IMAGE_FIELDS, values)
                    image.tag_names = []
                if tag is not None:
                    image.tag_names.append(tag)
            generation.image_list = list(images.values())
            self._generation = generation
        return self._generation


def generation_detail(*, user: User, generation_id: object) -> GenerationDetail:
    """One of the user's generations with its images and their tags, in one query (and, while it is queued,
    the queue's counts, read at most every few seconds per process: scheduling.py); 404 otherwise."""
    try:
        pk = uuid.UUID(str(generation_id))
    except ValueError:
        raise NotFound("not_found", "generation not found") from None
    rows = _DETAIL.raw_rows(user_id=user.pk, pk=pk)
    if not rows:
        raise NotFound("not_found", "generation not found")
    return GenerationDetail(user=user, rows=rows)


def generation_get(*, user: User, generation_id: object) -> Generation:
    """One of the user's generations; another user's (or a malformed id) is 404."""
    return generation_detail(user=user, generation_id=generation_id).generation


# Announced by a PostgreSQL trigger when a generation ends (images/migrations/0011_generation_finished_notify.py).
GENERATION_FINISHED_CHANNEL = "generation_finished"


class WaitSlots:
    """Caps how many requests in this process may hold a thread waiting for a job.

    ``size`` defaults to ``settings.MAX_WAITING_REQUESTS``, read at the first use, not at import.
    """

    def __init__(self, size: int | None = None) -> None:
        self._semaphore = threading.BoundedSemaphore(size) if size is not None else None
        self._sizing = threading.Lock()
        # Per thread: one shared flag let a refused request's False hide a holder's True (a slot never released).
        self._held = threading.local()

    def _slots(self) -> threading.BoundedSemaphore:
        semaphore = self._semaphore
        if semaphore is None:
            with self._sizing:  # two first requests at once must not make two semaphores
                if self._semaphore is None:
                    self._semaphore = threading.BoundedSemaphore(settings.MAX_WAITING_REQUESTS)
                semaphore = self._semaphore
        return semaphore

    def __enter__(self) -> bool:
        self._held.acquired = self._slots().acquire(blocking=False)
        return self._held.acquired

    def __exit__(self, *exc: object) -> None:
        if self._held.acquired:
            self._held.acquired = False
            self._slots().release()

    def take(self) -> bool:
        """Take a slot held beyond this call (a streamed answer's); give it back with ``give_back()``, once."""
        return self._slots().acquire(blocking=False)

    def give_back(self) -> None:
        self._slots().release()


WAIT_SLOTS = WaitSlots()


def generation_wait(*, user: User, generation_id: object, seconds: float) -> Generation:
    """Wait until the generation ends or ``seconds`` pass; returns its latest state.

    Runs in a request thread (gunicorn gthread), holding no transaction. On
    PostgreSQL it sleeps until the job's end is announced (``NOTIFY`` from a
    trigger; one listening connection per process, imagegen/wakeup.py); on
    SQLite it reads the status every few tens of ms, one short query each.
    Callers cap concurrency with WAIT_SLOTS.
    """
    wait_for(
        lambda: Generation.objects.filter(pk=generation_id).values_list("status", flat=True).first(),
        lambda status: status is None or status in Generation.FINISHED,
        channel=GENERATION_FINISHED_CHANNEL,
        key=str(generation_id),
        seconds=seconds,
    )
    return generation_get(user=user, generation_id=generation_id)


def generation_retry(*, generation: Generation) -> bool:
    """Staff action: run a failed or canceled generation again from scratch. False if it was not ended that way."""
    with transaction.atomic():
        restarted = transitions.restart(generation.pk)
        if restarted:
            generation_publish_on_commit(generation_id=str(generation.pk))
    return restarted


def generation_cancel_any(*, generation: Generation) -> bool:
    """Staff action: cancel a queued or running generation of any user."""
    return transitions.cancel(generation.pk)


def generation_reference_sizes(*, generation: Generation) -> list[tuple[int, int]]:
    """Width and height of each of the generation's own reference images (those with known sizes)."""
    if not generation.reference_images:
        return []
    rows = Image.objects.filter(pk__in=generation.reference_images, user_id=generation.user_id)
    return [(w, h) for w, h in rows.values_list("width", "height") if w and h]
