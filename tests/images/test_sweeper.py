from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from images.models import Generation
from images.services.sweeper import generations_sweep
from tests.images.factories import GenerationFactory

pytestmark = pytest.mark.django_db


def ago(seconds: float):
    return timezone.now() - timedelta(seconds=seconds)


def test_it_requeues_a_job_queued_too_long(settings, sent_jobs, django_capture_on_commit_callbacks):
    lost = GenerationFactory(enqueued_at=ago(settings.GENERATION_QUEUED_STALE_SECONDS + 10))
    fresh = GenerationFactory(enqueued_at=ago(1))
    with django_capture_on_commit_callbacks(execute=True):
        counts = generations_sweep()
    assert counts["requeued_lost"] == 1
    assert sent_jobs == [str(lost.pk)]
    lost.refresh_from_db()
    assert lost.enqueued_at > ago(5)
    assert str(fresh.pk) not in sent_jobs


def test_it_leaves_a_job_waiting_for_its_retry_alone(sent_jobs, django_capture_on_commit_callbacks):
    GenerationFactory(enqueued_at=timezone.now() + timedelta(seconds=30))
    with django_capture_on_commit_callbacks(execute=True):
        generations_sweep()
    assert sent_jobs == []


def test_it_requeues_a_running_job_whose_heartbeat_stopped(settings, sent_jobs, django_capture_on_commit_callbacks):
    stale = GenerationFactory(status="running", attempts=1, heartbeat_at=ago(settings.GENERATION_HEARTBEAT_TIMEOUT + 5))
    alive = GenerationFactory(status="running", attempts=1, heartbeat_at=ago(1))
    with django_capture_on_commit_callbacks(execute=True):
        counts = generations_sweep()
    assert counts["requeued_stale"] == 1
    assert sent_jobs == [str(stale.pk)]
    stale.refresh_from_db()
    alive.refresh_from_db()
    assert stale.status == "queued" and alive.status == "running"


def test_it_fails_a_stale_job_that_used_all_its_attempts(settings, sent_jobs):
    stale = GenerationFactory(
        status="running",
        attempts=settings.GENERATION_MAX_ATTEMPTS,
        heartbeat_at=ago(settings.GENERATION_HEARTBEAT_TIMEOUT + 5),
    )
    assert generations_sweep()["failed_stale"] == 1
    stale.refresh_from_db()
    assert stale.status == Generation.Status.FAILED and stale.error_code == "worker_lost"
    assert sent_jobs == []


def test_a_stale_job_it_fails_sends_its_failed_webhook(
    settings, sent_jobs, monkeypatch, django_capture_on_commit_callbacks
):
    deliveries: list[tuple] = []
    monkeypatch.setattr("images.tasks.deliver_webhook.delay", lambda *args: deliveries.append(args))
    stale = GenerationFactory(
        status="running",
        attempts=settings.GENERATION_MAX_ATTEMPTS,
        heartbeat_at=ago(settings.GENERATION_HEARTBEAT_TIMEOUT + 5),
        webhook_url="https://hooks.example.com/imagegen",
        webhook_events=["completed", "failed"],
    )
    quiet = GenerationFactory(
        status="running",
        attempts=settings.GENERATION_MAX_ATTEMPTS,
        heartbeat_at=ago(settings.GENERATION_HEARTBEAT_TIMEOUT + 5),
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert generations_sweep()["failed_stale"] == 2

    assert [(generation_id, event) for generation_id, event, _, _ in deliveries] == [(str(stale.pk), "failed")]
    assert str(quiet.pk) not in {args[0] for args in deliveries}
