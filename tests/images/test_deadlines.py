"""Deadlines: Cancel-After and deadline_seconds, enforced at the claim, by the worker and by the sweeper."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from images.models import Generation
from images.services.pipeline import generation_run
from images.services.quotas import quota_for_user
from images.services.sweeper import generations_sweep
from tests.images.factories import GenerationFactory

pytestmark = pytest.mark.django_db


def post(api, headers: dict | None = None, **body):
    return api.post("/api/v1/generations", {"prompt": "a lighthouse", **body}, format="json", headers=headers or {})


@pytest.mark.parametrize(("header", "seconds"), [("30s", 30), ("5m", 300), (" 2M ", 120)])
def test_cancel_after_sets_the_deadline(api, header, seconds):
    before = timezone.now()
    response = post(api, {"Cancel-After": header})

    assert response.status_code == 202
    deadline = Generation.objects.get(pk=response.json()["id"]).deadline_at
    assert before + timedelta(seconds=seconds) <= deadline <= timezone.now() + timedelta(seconds=seconds)
    assert response.json()["deadline_at"] is not None


def test_deadline_seconds_sets_the_deadline_and_the_sooner_of_both_wins(api):
    response = post(api, {"Cancel-After": "5m"}, deadline_seconds=60)

    generation = Generation.objects.get(pk=response.json()["id"])
    assert generation.deadline_at - generation.created_at < timedelta(seconds=61)


@pytest.mark.parametrize("header", ["30", "1h", "-5s", "0s", "5 m", "s", "99999999s", "3.5s"])
def test_a_malformed_cancel_after_is_a_400_naming_the_header_and_creates_nothing(api, header):
    response = post(api, {"Cancel-After": header})

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["field"] == "Cancel-After" and "Cancel-After" in error["message"]
    assert not Generation.objects.exists()


def test_a_deadline_over_the_maximum_is_a_400(api, settings):
    settings.GENERATION_MAX_DEADLINE_SECONDS = 600

    by_header = post(api, {"Cancel-After": "11m"})
    by_field = post(api, deadline_seconds=601)

    assert by_header.status_code == 400 and by_header.json()["error"]["field"] == "Cancel-After"
    assert by_field.status_code == 400 and by_field.json()["error"]["field"] == "deadline_seconds"
    assert not Generation.objects.exists()


def test_a_job_not_started_by_its_deadline_is_canceled_at_its_claim_and_not_counted(user):
    late = GenerationFactory(user=user, n=3, deadline_at=timezone.now() - timedelta(seconds=1))
    used_before = quota_for_user(user=user).used_today

    outcome = generation_run(generation_id=str(late.pk))

    late.refresh_from_db()
    assert outcome.status == "canceled"
    assert late.status == "canceled" and late.error_code == "deadline_exceeded" and late.started_at is None
    assert late.attempts == 0
    assert used_before == 3 and quota_for_user(user=user).used_today == 0


def test_a_job_still_running_at_its_deadline_is_canceled_by_its_worker(user, settings, media_root):
    settings.GENERATION_PROGRESS_INTERVAL = 0
    generation = GenerationFactory(
        user=user, provider="fake", model="fake-1", prompt="slow-5", deadline_at=timezone.now() + timedelta(seconds=1)
    )

    outcome = generation_run(generation_id=str(generation.pk))

    generation.refresh_from_db()
    assert outcome.status == "canceled"
    assert generation.status == "canceled" and generation.error_code == "deadline_exceeded"
    assert generation.images.count() == 0
    assert quota_for_user(user=user).used_today == 1  # it ran: its images stay counted


def test_the_sweeper_cancels_overdue_jobs_queued_or_running_and_leaves_the_rest(user):
    past = timezone.now() - timedelta(seconds=1)
    queued = GenerationFactory(user=user, deadline_at=past)
    running = GenerationFactory(user=user, status="running", heartbeat_at=timezone.now(), deadline_at=past)
    in_time = GenerationFactory(user=user, deadline_at=timezone.now() + timedelta(minutes=5))
    done = GenerationFactory(user=user, status="succeeded", deadline_at=past)

    counts = generations_sweep()

    assert counts["deadline_exceeded"] == 2
    statuses = {g.pk: Generation.objects.get(pk=g.pk).status for g in (queued, running, in_time, done)}
    assert statuses == {queued.pk: "canceled", running.pk: "canceled", in_time.pk: "queued", done.pk: "succeeded"}
    assert Generation.objects.get(pk=running.pk).cancel_requested


def test_the_api_shows_the_deadline_error(api, user):
    late = GenerationFactory(user=user, deadline_at=timezone.now() - timedelta(seconds=1))
    generation_run(generation_id=str(late.pk))

    body = api.get(f"/api/v1/generations/{late.pk}").json()

    assert body["status"] == "canceled" and body["error"]["code"] == "deadline_exceeded"
