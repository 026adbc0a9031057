"""POST /api/v1/generations with dry_run: true: checked as a real request, nothing created."""

from __future__ import annotations

import pytest

from images.models import Generation
from images.services import estimates
from tests.images.factories import GenerationFactory

pytestmark = pytest.mark.django_db


def post(api, headers: dict | None = None, **body):
    return api.post("/api/v1/generations", {"prompt": "a lighthouse", **body}, format="json", headers=headers or {})


def test_a_dry_run_answers_the_job_its_estimate_and_quota_and_creates_nothing(api, user, settings, sent_jobs):
    settings.TIER_QUOTAS = {"free": 10}
    user.tier = "free"
    user.save()
    GenerationFactory(user=user, n=3, status="succeeded")

    response = post(api, dry_run=True, n=2, size="1536x1024")

    assert response.status_code == 200
    assert response.json() == {
        "dry_run": True,
        "width": 1536,
        "height": 1024,
        "n": 2,
        "provider": "builtin",
        "model": response.json()["model"],
        "estimated_seconds": response.json()["estimated_seconds"],
        "quota": {"daily_limit": 10, "used_today": 3, "remaining_after": 5},
    }
    assert response.json()["estimated_seconds"] > 0
    assert Generation.objects.count() == 1 and sent_jobs == []


def test_the_estimate_comes_from_recent_runs_of_the_same_provider_and_size(api, user):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    for seconds in (40, 42, 44):
        GenerationFactory(
            user=user, status="succeeded", width=512, height=512, started_at=now - timedelta(seconds=seconds),
            finished_at=now,
        )  # fmt: skip
    estimates.forget()

    response = post(api, dry_run=True, size="512x512")

    assert response.json()["estimated_seconds"] == 42


def test_a_dry_run_over_the_quota_is_the_same_429(api, user, settings):
    settings.TIER_QUOTAS = {"free": 2}
    user.tier = "free"
    user.save()

    dry = post(api, dry_run=True, n=3)
    real = post(api, n=3)

    assert dry.status_code == real.status_code == 429
    assert dry.json() == real.json()
    # Seconds until midnight UTC, read a moment apart: a second may tick between the two.
    assert abs(int(dry["Retry-After"]) - int(real["Retry-After"])) <= 1


@pytest.mark.parametrize(
    "body",
    [{"n": 0}, {"size": "13x13"}, {"style": "nope"}, {"prompt": ""}, {"deadline_seconds": 0}, {"colour": "red"}],
)
def test_a_dry_run_with_invalid_fields_is_the_same_400(api, body):
    dry = post(api, dry_run=True, **body)
    real = post(api, **body)

    assert dry.status_code == real.status_code == 400
    assert dry.json() == real.json()
    assert not Generation.objects.exists()


def test_a_dry_run_with_another_users_reference_image_is_the_same_404(api, other_user):
    from tests.images.factories import ImageFactory

    theirs = ImageFactory(user=other_user)

    dry = post(api, dry_run=True, reference_images=[str(theirs.pk)])
    real = post(api, reference_images=[str(theirs.pk)])

    assert dry.status_code == real.status_code == 404 and dry.json() == real.json()


def test_a_dry_run_with_a_malformed_cancel_after_is_the_same_400(api):
    dry = post(api, {"Cancel-After": "soon"}, dry_run=True)

    assert dry.status_code == 400 and dry.json()["error"]["field"] == "Cancel-After"


def test_a_dry_run_of_an_unlimited_tier_says_so(api, user, settings):
    settings.TIER_QUOTAS = {"free": 50, "enterprise": 0}
    user.tier = "enterprise"
    user.save()

    quota = post(api, dry_run=True).json()["quota"]

    assert quota == {"daily_limit": None, "used_today": 0, "remaining_after": None}
