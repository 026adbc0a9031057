"""Run-time estimates and ETAs (images/services/estimates.py), and what the API shows of them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from images.services.estimates import DEFAULT_RUN_SECONDS, eta_seconds, run_seconds
from tests.images.factories import GenerationFactory

pytestmark = pytest.mark.django_db


def ran(seconds: float, **fields) -> None:
    now = timezone.now()
    GenerationFactory(status="succeeded", started_at=now - timedelta(seconds=seconds), finished_at=now, **fields)


def test_the_run_time_is_the_median_of_recent_runs_of_the_same_provider_and_size():
    for seconds in (3, 5, 100):
        ran(seconds, provider="builtin", width=512, height=512)
    ran(50, provider="builtin", width=1024, height=1024)

    assert run_seconds(provider="builtin", width=512, height=512) == 5


def test_without_runs_of_that_size_the_providers_runs_count_then_a_default():
    ran(8, provider="builtin", width=1024, height=1024)

    assert run_seconds(provider="builtin", width=512, height=512) == 8
    assert run_seconds(provider="openai", width=512, height=512) == DEFAULT_RUN_SECONDS


def test_the_eta_counts_the_jobs_ahead_shared_among_the_running_ones():
    ran(10)

    assert eta_seconds(position=1, running=0, provider="builtin", width=512, height=512) == 10
    assert eta_seconds(position=5, running=1, provider="builtin", width=512, height=512) == 50
    assert eta_seconds(position=5, running=4, provider="builtin", width=512, height=512) == 20


def test_a_queued_generation_shows_its_eta_and_a_finished_one_none(api, user):
    ran(6)
    queued = GenerationFactory(user=user)
    done = GenerationFactory(user=user, status="succeeded")

    assert api.get(f"/api/v1/generations/{queued.pk}").json()["eta_seconds"] == 6
    assert api.get(f"/api/v1/generations/{done.pk}").json()["eta_seconds"] is None
    listed = {g["id"]: g for g in api.get("/api/v1/generations").json()["results"]}
    assert listed[str(queued.pk)]["queue_position"] == 1 and listed[str(queued.pk)]["eta_seconds"] == 6
    assert listed[str(done.pk)]["queue_position"] is None
