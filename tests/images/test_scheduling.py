"""The fair queue's admission (images/services/scheduling.py), without a worker."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from images.models import Generation
from images.services import transitions
from images.services.scheduling import QueueView, generations_admit, queue_positions
from images.services.sweeper import generations_sweep
from tests.factories import UserFactory
from tests.images.factories import GenerationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admit(django_capture_on_commit_callbacks):
    def run() -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return generations_admit()

    return run


def held(user, n: int = 1, **fields) -> list[Generation]:
    return [GenerationFactory(user=user, held=True, **fields) for _ in range(n)]


def test_a_new_job_is_held_then_sent_at_once_when_there_is_room(
    api, sent_jobs, settings, django_capture_on_commit_callbacks
):
    settings.GENERATION_IN_FLIGHT_LIMIT = 2
    with django_capture_on_commit_callbacks(execute=True):
        pk = api.post("/api/v1/generations", {"prompt": "a fox"}, format="json").json()["id"]

    assert sent_jobs == [pk]
    generation = Generation.objects.get(pk=pk)
    assert not generation.held and generation.published_at is not None


def test_jobs_past_the_limit_stay_held_with_no_message(api, sent_jobs, settings, django_capture_on_commit_callbacks):
    settings.GENERATION_IN_FLIGHT_LIMIT = 2
    with django_capture_on_commit_callbacks(execute=True):
        ids = [api.post("/api/v1/generations", {"prompt": f"fox {i}"}, format="json").json()["id"] for i in range(4)]

    assert sent_jobs == ids[:2]
    waiting = Generation.objects.filter(pk__in=ids[2:])
    assert all(g.held and g.published_at is None and g.publish_retry_at is None for g in waiting)


def test_a_user_with_fewer_jobs_in_flight_goes_first(sent_jobs, settings, admit):
    settings.GENERATION_IN_FLIGHT_LIMIT = 3
    a, b = UserFactory(), UserFactory()
    GenerationFactory(user=a, status=Generation.Status.RUNNING)
    GenerationFactory(user=a)  # sent, waiting in the broker
    a_held = held(a, 5)
    b_held = held(b, 1)

    assert admit() == 1
    assert sent_jobs == [str(b_held[0].pk)]
    assert Generation.objects.filter(pk__in=[g.pk for g in a_held], held=True).count() == 5


def test_turns_alternate_between_users_oldest_job_first(sent_jobs, settings, admit):
    settings.GENERATION_IN_FLIGHT_LIMIT = 4
    a, b = UserFactory(), UserFactory()
    a_jobs = held(a, 3)
    b_jobs = held(b, 3)

    admit()

    assert sorted(sent_jobs[:2]) == sorted([str(a_jobs[0].pk), str(b_jobs[0].pk)])
    assert sorted(sent_jobs[2:]) == sorted([str(a_jobs[1].pk), str(b_jobs[1].pk)])


def test_a_tier_weight_gives_more_turns(sent_jobs, settings, admit):
    settings.GENERATION_IN_FLIGHT_LIMIT = 3
    settings.TIER_QUEUE_WEIGHTS = {"free": 1, "pro": 2}
    free, pro = UserFactory(tier="free"), UserFactory(tier="pro")
    held(free, 3)
    pro_jobs = held(pro, 3)

    admit()

    assert sum(pk in {str(g.pk) for g in pro_jobs} for pk in sent_jobs) == 2


def test_nothing_is_admitted_while_the_limit_is_reached(sent_jobs, settings, admit):
    settings.GENERATION_IN_FLIGHT_LIMIT = 1
    GenerationFactory(status=Generation.Status.RUNNING)
    held(UserFactory())

    assert admit() == 0
    assert sent_jobs == []


def test_with_no_room_the_admission_reads_only_the_jobs_in_flight(sent_jobs, settings, admit):
    settings.GENERATION_IN_FLIGHT_LIMIT = 1
    GenerationFactory(status=Generation.Status.RUNNING)
    for _ in range(3):
        held(UserFactory(), 5)

    with CaptureQueriesContext(connection) as queries:
        assert admit() == 0

    reads = [q["sql"] for q in queries.captured_queries if "images_generation" in q["sql"]]
    assert len(reads) == 1 and "GROUP BY" not in reads[0] and "held" in reads[0]


def test_the_jobs_in_flight_are_counted_from_their_own_index():
    GenerationFactory(status=Generation.Status.RUNNING)
    in_flight = Generation.objects.filter(status__in=Generation.ACTIVE, held=False).order_by().values("pk")
    sql, params = in_flight.query.sql_with_params()
    explain = "EXPLAIN" if connection.vendor == "postgresql" else "EXPLAIN QUERY PLAN"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")  # a test table is small enough to read whole
        cursor.execute(f"{explain} SELECT COUNT(*) FROM ({sql}) AS t", params)  # noqa: S608 - the ORM's own SQL
        plan = " ".join(str(row) for row in cursor.fetchall())
    assert "gen_in_flight" in plan


def test_an_ended_job_frees_its_place(sent_jobs, settings, admit):
    settings.GENERATION_IN_FLIGHT_LIMIT = 1
    running = GenerationFactory(status=Generation.Status.RUNNING)
    [waiting] = held(UserFactory())
    transitions.cancel(running.pk)

    assert admit() == 1
    assert sent_jobs == [str(waiting.pk)]


def test_a_held_job_past_its_deadline_is_canceled_instead_of_sent(sent_jobs, settings, admit):
    settings.GENERATION_IN_FLIGHT_LIMIT = 1
    [late] = held(UserFactory(), deadline_at=timezone.now() - timedelta(seconds=1))

    admit()

    late.refresh_from_db()
    assert sent_jobs == [] and late.status == "canceled" and late.error_code == "deadline_exceeded"


def test_the_sweeper_leaves_held_jobs_to_their_turn(sent_jobs, settings, django_capture_on_commit_callbacks):
    settings.GENERATION_IN_FLIGHT_LIMIT = 1
    GenerationFactory(status=Generation.Status.RUNNING, heartbeat_at=timezone.now())
    old = timezone.now() - timedelta(seconds=settings.GENERATION_QUEUED_STALE_SECONDS + 10)
    held(UserFactory(), enqueued_at=old)

    with django_capture_on_commit_callbacks(execute=True):
        counts = generations_sweep()

    assert counts["requeued_lost"] == 0 and counts["admitted"] == 0
    assert sent_jobs == []


def test_the_sweeper_admits_what_a_crashed_process_did_not(sent_jobs, settings, django_capture_on_commit_callbacks):
    settings.GENERATION_IN_FLIGHT_LIMIT = 2
    [waiting] = held(UserFactory())

    with django_capture_on_commit_callbacks(execute=True):
        counts = generations_sweep()

    assert counts["admitted"] == 1 and sent_jobs == [str(waiting.pk)]


def test_with_no_limit_jobs_are_sent_at_once_and_never_held(
    api, sent_jobs, settings, django_capture_on_commit_callbacks
):
    settings.GENERATION_IN_FLIGHT_LIMIT = 0
    with django_capture_on_commit_callbacks(execute=True):
        ids = [api.post("/api/v1/generations", {"prompt": f"fox {i}"}, format="json").json()["id"] for i in range(6)]

    assert sent_jobs == ids
    assert not Generation.objects.filter(held=True).exists()


def test_a_newcomers_job_is_placed_after_the_others_sent_jobs_not_their_backlog():
    view = QueueView(weight=1, others=((30, 2, 1),), running=1)

    assert view.position(1) == 3  # the other user's 2 sent jobs, then this one
    assert view.position(3) == 6  # by then the other user had 3 turns


def test_queue_positions_follow_the_fair_order(user, settings):
    a = UserFactory()
    for _ in range(10):
        GenerationFactory(user=a, held=True)
    mine = [GenerationFactory(user=user, held=True) for _ in range(2)]

    positions, _ = queue_positions(user_id=user.pk, tier=user.tier, generations=mine)

    assert positions == {mine[0].pk: 2, mine[1].pk: 4}
