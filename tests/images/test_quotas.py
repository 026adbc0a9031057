"""images.services.quotas: quota_for_user and check_quota (429 quota_exceeded with Retry-After)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from imagegen.statuses import status_for
from images.models import Generation
from images.services.quotas import (
    QuotaExceeded,
    StorageQuotaExceeded,
    UploadQuotaExceeded,
    check_quota,
    check_upload_quota,
    day_start,
    quota_for_user,
    storage_limit_for_tier,
    upload_limit_for_tier,
    uploads_record,
    uploads_since,
)
from tests.factories import UserFactory
from tests.images.factories import ImageFactory

pytestmark = pytest.mark.django_db


def make_generation(user, *, n=1, created_at=None, status=Generation.Status.SUCCEEDED) -> Generation:
    generation = Generation.objects.create(
        user=user, prompt="a fox", width=512, height=512, seed=1, provider="builtin", n=n, status=status
    )
    if created_at is not None:
        Generation.objects.filter(pk=generation.pk).update(created_at=created_at)
    return generation


def test_usage_is_the_sum_of_n_since_midnight_utc():
    user = UserFactory()
    make_generation(user, n=3)
    make_generation(user, n=2, status=Generation.Status.FAILED)  # requested images count, whatever the outcome
    make_generation(user, n=4, created_at=day_start() - dt.timedelta(seconds=1))  # yesterday
    make_generation(UserFactory(), n=4)

    quota = quota_for_user(user=user)

    assert (quota.daily_limit, quota.used_today, quota.remaining) == (50, 5, 45)


def test_it_resets_at_the_next_midnight_utc():
    now = dt.datetime(2026, 3, 31, 23, 59, 30, tzinfo=dt.UTC)
    quota = quota_for_user(user=UserFactory(), now=now)
    assert quota.resets_at == dt.datetime(2026, 4, 1, tzinfo=dt.UTC)


def test_limits_follow_the_tier(settings):
    settings.TIER_QUOTAS = {"free": 5, "pro": 100, "enterprise": 0}
    assert quota_for_user(user=UserFactory(tier="pro")).daily_limit == 100
    unlimited = quota_for_user(user=UserFactory(tier="enterprise"))
    assert (unlimited.daily_limit, unlimited.remaining) == (None, None)


def test_a_tier_no_longer_configured_gets_the_default_tiers_limit(settings):
    settings.TIER_QUOTAS = {"free": 7, "pro": 100}
    assert quota_for_user(user=UserFactory(tier="legacy")).daily_limit == 7


def test_remaining_never_goes_below_zero(settings):
    settings.TIER_QUOTAS = {"free": 2}
    user = UserFactory()
    make_generation(user, n=4)  # e.g. the tier was lowered during the day
    assert quota_for_user(user=user).remaining == 0


def test_check_quota_allows_up_to_the_limit(settings):
    settings.TIER_QUOTAS = {"free": 5}
    user = UserFactory()
    make_generation(user, n=3)

    check_quota(user=user, requested=2)  # exactly reaches the limit

    with pytest.raises(QuotaExceeded) as raised:
        check_quota(user=user, requested=3)
    exc = raised.value
    assert (status_for(exc), exc.code) == (429, "quota_exceeded")
    assert "resets at" in exc.message
    assert day_start().strftime("%Y-%m-%d") < exc.message.split("resets at ")[1]
    assert 0 < exc.wait <= 86400


def test_check_quota_says_when_the_quota_is_used_up(settings):
    settings.TIER_QUOTAS = {"free": 1}
    user = UserFactory()
    make_generation(user, n=1)
    with pytest.raises(QuotaExceeded, match="used up"):
        check_quota(user=user, requested=1)


def test_check_quota_never_refuses_an_unlimited_tier():
    user = UserFactory(tier="enterprise")
    make_generation(user, n=4)
    check_quota(user=user, requested=10_000)


class _GenerateView(APIView):
    """Stands in for the generation endpoint, which calls check_quota the same way."""

    def post(self, request):
        check_quota(user=request.user, requested=int(request.data["n"]))
        return None


def test_an_exceeded_quota_answers_429_with_retry_after(settings):
    settings.TIER_QUOTAS = {"free": 1}
    user = UserFactory()
    make_generation(user, n=1)
    request = APIRequestFactory().post("/api/v1/generations", {"n": 1}, format="json")
    force_authenticate(request, user=user)

    response = _GenerateView.as_view()(request)

    assert response.status_code == 429
    assert response.data["error"]["code"] == "quota_exceeded"
    assert response.data["error"]["field"] is None
    seconds_to_midnight = (day_start() + dt.timedelta(days=1) - timezone.now()).total_seconds()
    assert abs(int(response["Retry-After"]) - seconds_to_midnight) <= 5


# --- Uploads ------------------------------------------------------------------------------


def test_upload_limits_follow_the_tier_and_an_unknown_tier_never_goes_unlimited(settings):
    settings.TIER_UPLOAD_QUOTAS = {"free": 10, "pro": 100, "enterprise": 0}
    settings.TIER_STORAGE_QUOTAS = {"basic": 1000, "pro": 0}
    settings.DEFAULT_TIER = "free"
    assert [upload_limit_for_tier(t) for t in ("free", "pro", "enterprise", "legacy")] == [10, 100, None, 10]
    assert [storage_limit_for_tier(t) for t in ("basic", "pro", "free")] == [1000, None, 1000]


def test_uploads_are_counted_per_utc_day():
    user = UserFactory()
    yesterday = day_start() - dt.timedelta(hours=1)
    uploads_record(user=user, files=4, now=yesterday)
    uploads_record(user=user, files=2)
    uploads_record(user=user, files=3)
    uploads_record(user=UserFactory(), files=5)
    assert uploads_since(user=user, since=day_start()) == 5


def test_check_upload_quota_allows_up_to_each_limit(settings):
    settings.TIER_UPLOAD_QUOTAS = {"free": 3}
    settings.TIER_STORAGE_QUOTAS = {"free": 5000}
    user = UserFactory()
    uploads_record(user=user, files=2)
    image = ImageFactory(user=user, bytes=4000)

    check_upload_quota(user=user, files=1, nbytes=1000)  # exactly reaches both limits
    with pytest.raises(UploadQuotaExceeded) as daily:
        check_upload_quota(user=user, files=2, nbytes=0)
    assert (status_for(daily.value), daily.value.code) == (429, "upload_quota_exceeded")
    assert 0 < daily.value.wait <= 86400
    with pytest.raises(StorageQuotaExceeded) as storage:
        check_upload_quota(user=user, files=0, nbytes=1001)
    assert (status_for(storage.value), storage.value.code) == (413, "storage_quota_exceeded")
    check_upload_quota(user=user, files=0, nbytes=5000, exclude_image_id=image.pk)  # its real size, replacing its own
