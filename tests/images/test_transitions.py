"""Job status changes (images/services/transitions.py): each one conditional UPDATE, one winner per race."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.db.models import Q
from django.utils import timezone

from images.models import Generation
from images.services import transitions
from tests.images.factories import GenerationFactory

Status = Generation.Status


def _claim(pk, *, max_attempts: int = 3) -> transitions.Claim:
    return transitions.claim(pk, stale_before=timezone.now() - timedelta(seconds=60), max_attempts=max_attempts)


@pytest.mark.django_db
def test_a_claim_takes_a_queued_job_once_and_counts_the_attempt():
    generation = GenerationFactory()

    first, second = _claim(generation.pk), _claim(generation.pk)

    assert (first.taken, first.generation.status, first.generation.attempts) == (True, Status.RUNNING, 1)
    assert first.generation.started_at is not None
    assert (second.taken, second.reason) == (False, "busy")  # its worker is alive


@pytest.mark.django_db
def test_a_claim_takes_over_a_job_whose_heartbeat_stopped_keeping_its_start():
    started = timezone.now() - timedelta(minutes=10)
    generation = GenerationFactory(
        status=Status.RUNNING, attempts=1, started_at=started, heartbeat_at=timezone.now() - timedelta(minutes=5)
    )

    claimed = _claim(generation.pk)

    assert (claimed.taken, claimed.generation.attempts, claimed.generation.started_at) == (True, 2, started)


@pytest.mark.django_db
@pytest.mark.parametrize("status", [Status.SUCCEEDED, Status.FAILED, Status.CANCELED])
def test_an_ended_job_is_never_claimed(status):
    claimed = _claim(GenerationFactory(status=status).pk)

    assert (claimed.taken, claimed.reason) == (False, status)


@pytest.mark.django_db
def test_a_job_out_of_attempts_is_not_claimed_and_says_so():
    claimed = _claim(GenerationFactory(attempts=3).pk, max_attempts=3)

    assert (claimed.taken, claimed.reason) == (False, "exhausted")
    assert _claim("00000000-0000-0000-0000-000000000000").reason == "missing"


@pytest.mark.django_db
def test_a_failure_applies_only_in_the_state_its_caller_read(django_capture_on_commit_callbacks):
    generation = GenerationFactory(status=Status.RUNNING, attempts=2)

    assert not transitions.fail(generation, code="timeout", message="late", expect=Q(attempts=1))  # lost the job
    with django_capture_on_commit_callbacks() as callbacks:
        assert transitions.fail(generation, code="timeout", message="x" * 3000, expect=Q(attempts=2))
    assert not transitions.fail(generation, code="timeout", message="again")  # already ended

    generation.refresh_from_db()
    assert (generation.status, generation.error_code, len(generation.error_message)) == (Status.FAILED, "timeout", 2000)
    assert len(callbacks) == 1  # the "failed" webhook, once


@pytest.mark.django_db
def test_cancel_touches_only_the_owners_active_job():
    generation = GenerationFactory()

    assert not transitions.cancel(generation.pk, user_id=GenerationFactory().user_id)
    assert transitions.cancel(generation.pk, user_id=generation.user_id)
    assert not transitions.cancel(generation.pk)
    generation.refresh_from_db()
    assert (generation.status, generation.cancel_requested) == (Status.CANCELED, True)


@pytest.mark.django_db
def test_success_needs_the_attempt_that_claimed_it_and_restart_only_an_ended_job():
    generation = _claim(GenerationFactory().pk).generation

    assert not transitions.succeed(generation, attempt=2)
    assert not transitions.restart(generation.pk)  # still running
    assert transitions.succeed(generation, attempt=1)
    assert not transitions.restart(generation.pk)  # succeeded: nothing to run again
    transitions.fail(GenerationFactory.build(pk=generation.pk), code="x", message="y")  # no-op: not active
    assert Generation.objects.get(pk=generation.pk).status == Status.SUCCEEDED


@pytest.mark.django_db(transaction=True)
def test_of_workers_claiming_one_job_at_once_exactly_one_wins():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers: no real race to observe")
    generation = GenerationFactory()
    barrier = threading.Barrier(4)

    def race() -> bool:
        barrier.wait()
        try:
            return _claim(generation.pk).taken
        finally:
            connections.close_all()

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: race(), range(4)))

    assert results.count(True) == 1
    assert Generation.objects.get(pk=generation.pk).attempts == 1
