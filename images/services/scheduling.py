"""The fair queue: which user's job gets the next broker message (docs/architecture.md, "Fair queue").

A broker (SQS, the embedded one) runs messages first in, first out: a user who
queues 30 jobs would make everyone else wait for all 30. So the broker is
never handed more than ``GENERATION_IN_FLIGHT_LIMIT`` jobs at once (queued with
a message, or running): a new job is created *held* (``held=True``, no message),
and :func:`generations_admit` turns held jobs into messages while there is room,
each time for the user with the fewest jobs in flight for their tier's weight
(``TIER_QUEUE_WEIGHTS``), their oldest held job first. It runs in the transaction
that creates a job, after a job ends (in the worker), after a cancel, and from beat, so a
crashed process delays an admission by a beat period at most.

The database decides, not the broker, so the rule holds with any number of
workers and either broker; the claim (transitions.py) still runs each job once
whatever messages there are, and the sweeper leaves held jobs alone.
"""

from __future__ import annotations

import heapq
import logging
import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Min, OuterRef, Q, Subquery
from django.utils import timezone

from imagegen.compiled import CompiledQuery
from images.models import Generation
from images.services import transitions
from images.services.estimates import remembered
from images.services.publishing import generation_publish_on_commit, owed_fields

logger = logging.getLogger(__name__)

QUEUED = Generation.Status.QUEUED
# pg_advisory_xact_lock's key: "fair" in ASCII. Admissions run one at a time; SQLite's
# IMMEDIATE transactions (settings.py) serialise them already.
ADMISSION_LOCK = 0x66616972


# The jobs in flight (a handful: index gen_in_flight), read first by every admission. Compiled once
# per connection: on SQLite the ORM's Python would run under the database's one write lock.
_IN_FLIGHT = CompiledQuery(
    lambda: Generation.objects.filter(status__in=Generation.ACTIVE, held=False).order_by().values_list("pk"),
    params={},
)


def tier_weight(tier: str) -> int:
    """How many shares of the queue a tier's user gets (1 for a tier without a weight)."""
    return max(1, settings.TIER_QUEUE_WEIGHTS.get(tier, 1))


def holds_jobs() -> bool:
    """Whether new jobs wait for admission (False: no limit, every job is sent at once)."""
    return settings.GENERATION_IN_FLIGHT_LIMIT > 0


@contextmanager
def _admission() -> Iterator[None]:
    # In the caller's transaction when there is one (a creation admits before its commit:
    # one commit, not two), without a savepoint: nothing here is worth rolling back alone.
    with transaction.atomic(savepoint=False):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADMISSION_LOCK])
        yield


def generations_admit() -> int:
    """Send held jobs, fairest first, while fewer than GENERATION_IN_FLIGHT_LIMIT are in flight.

    Returns how many were admitted; their messages go when the admission
    commits (publishing.py: a send that fails leaves them owed, not lost). A
    held job whose deadline passed is canceled instead.
    """
    limit = settings.GENERATION_IN_FLIGHT_LIMIT
    admitted = 0
    with _admission():
        # The common answer first, from the few rows in flight (index gen_in_flight): no room. The
        # per-user reading below goes through every queued job, inside a creation's write.
        if limit > 0 and len(_IN_FLIGHT.rows()) >= limit:
            return 0
        held = Generation.objects.filter(status=QUEUED, held=True).order_by()
        # Per user, in one query: jobs in flight, and the oldest held one (None: nothing held).
        users = (
            Generation.objects.filter(status__in=Generation.ACTIVE)
            .order_by()
            .values("user_id", "user__tier")
            .annotate(flying=Count("pk", filter=Q(held=False)), oldest=Min("created_at", filter=Q(held=True)))
        )
        users = list(users)
        in_flight = {user["user_id"]: user["flying"] for user in users}
        room = limit - sum(in_flight.values()) if limit > 0 else math.inf
        if room <= 0:
            return 0
        turns = []
        for user in users:
            if user["oldest"] is not None:
                weight = tier_weight(user["user__tier"])
                turns.append((user["flying"] / weight, user["oldest"], str(user["user_id"]), user["user_id"], weight))
        heapq.heapify(turns)
        now = timezone.now()
        while room > 0 and turns:
            _, _, key, user_id, weight = heapq.heappop(turns)
            job = (
                held.filter(user_id=user_id).order_by("created_at", "id").values_list("pk", "created_at", "deadline_at")
            )
            row = job.first()
            if row is None:
                continue
            pk, created_at, deadline_at = row
            if deadline_at is not None and deadline_at <= now:
                transitions.expire(pk, now=now)
            elif held.filter(pk=pk).update(held=False, enqueued_at=now, **owed_fields()):
                generation_publish_on_commit(generation_id=str(pk))
                in_flight[user_id] += 1
                admitted += 1
                room -= 1
            heapq.heappush(turns, (in_flight[user_id] / weight, created_at, key, user_id, weight))
    return admitted


def generations_admit_quietly() -> int:
    """:func:`generations_admit` for callers whose own work is done (a worker after a job): never raises.

    What it could not admit now, the next admission (beat's, at the latest) does.
    """
    try:
        return generations_admit()
    except Exception:
        logger.warning("admitting held jobs failed; beat tries again", exc_info=True)
        return 0


def generations_admit_on_commit() -> None:
    """Admit held jobs once the current transaction commits (a job ended, outside the admission's lock)."""
    if holds_jobs():
        transaction.on_commit(generations_admit_quietly)


# Everyone's queue counts, kept this long per process: a status poll reads them from memory.
SNAPSHOT_SECONDS = 2.0


@dataclass(frozen=True)
class QueueView:
    """What the queue looks like from one user: the others' queued jobs and how many of them have a message."""

    weight: int
    others: tuple[tuple[int, int, int], ...]  # (queued, sent, weight) of every other user with queued jobs
    running: int  # jobs running now, everyone's

    def position(self, rank: int) -> int:
        """1-based place at which the user's ``rank``-th queued job (1 = their oldest) should start.

        Every other user's jobs already sent are ahead; of their held jobs, as
        many as fair shares give them while this user waits for ``rank`` turns.
        """
        ahead = rank - 1
        for queued, sent, weight in self.others:
            ahead += min(queued, max(sent, math.ceil(rank * weight / self.weight)))
        return ahead + 1


def _snapshot() -> tuple[dict[object, tuple[int, int, int]], int]:
    """Per user with queued jobs (queued, sent, weight), and the jobs running now: one query."""
    active = Generation.objects.filter(status__in=Generation.ACTIVE).order_by().values("user_id", "user__tier")
    rows = active.annotate(
        total=Count("pk", filter=Q(status=QUEUED)),
        sent=Count("pk", filter=Q(status=QUEUED, held=False)),
        running=Count("pk", filter=Q(status=Generation.Status.RUNNING)),
    )
    users, running = {}, 0
    for row in rows:
        running += row["running"]
        if row["total"]:
            users[row["user_id"]] = (row["total"], row["sent"], tier_weight(row["user__tier"]))
    return users, running


def queue_view(*, user_id: object, tier: str) -> QueueView:
    """The queue as ``user_id`` sees it, from a snapshot at most SNAPSHOT_SECONDS old."""
    users, running = remembered("queue", _snapshot, seconds=SNAPSHOT_SECONDS)
    others = tuple(counts for other, counts in users.items() if other != user_id)
    return QueueView(tier_weight(tier), others, running)


def queued_before(*, user_id: object) -> Subquery:
    """For an annotation: how many of the user's queued jobs were created before the row's (its rank - 1)."""
    return Subquery(
        Generation.objects.filter(user_id=user_id, status=QUEUED, created_at__lt=OuterRef("created_at"))
        .order_by()
        .values("user_id")
        .annotate(c=Count("pk"))
        .values("c")
    )


def queue_positions(*, user_id: object, tier: str, generations: Iterable[Generation]) -> tuple[dict[object, int], int]:
    """``queue_position`` of each queued generation of the user among ``generations``, and the jobs running now.

    A generation read with ``queued_before`` needs no query; otherwise one reads the user's queued jobs.
    The others' counts come from the snapshot.
    """
    queued = [g for g in generations if g.status == QUEUED]
    if not queued:
        return {}, 0
    view = queue_view(user_id=user_id, tier=tier)
    if all(getattr(g, "queued_before", None) is not None for g in queued):
        ranks = {g.pk: g.queued_before + 1 for g in queued}
    else:
        mine = Generation.objects.filter(user_id=user_id, status=QUEUED).order_by("created_at", "id")
        ranks = {pk: rank for rank, pk in enumerate(mine.values_list("pk", flat=True), start=1)}
    return {g.pk: view.position(ranks.get(g.pk, 1)) for g in queued}, view.running
