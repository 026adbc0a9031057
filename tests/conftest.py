"""Fixtures for the whole suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _clear_rate_counts(request: pytest.FixtureRequest) -> None:
    """Start every database test with no throttle counts: they must not leak from
    one test into the next.

    The counters live in the test database, so only tests that use the database
    can (and need to) clear them; transactional tests leave rows behind.
    """
    if request.node.get_closest_marker("django_db") or "_django_db_helper" in request.fixturenames:
        request.getfixturevalue("_django_db_helper")  # the database first, as the test will have it
        from django.core.cache import cache

        from imagegen.models import RateCounter

        RateCounter.objects.all().delete()
        cache.clear()


@pytest.fixture(autouse=True)
def _fresh_readiness_checks() -> None:
    """/readyz keeps its checks' results for a few seconds per process: a test's outage must not leak."""
    from imagegen import health

    health.clear_cache()


@pytest.fixture(autouse=True)
def _fresh_verified_tokens() -> None:
    """Verified access tokens are kept per process: one signed under a test's key must not pass in the next."""
    from accounts.api.authentication import VERIFIED_TOKENS

    VERIFIED_TOKENS.clear()


@pytest.fixture(autouse=True)
def _fresh_queue_figures() -> None:
    """The queue's counts and run times are kept per process for a few seconds: one test's must not leak."""
    from images.services import estimates

    estimates.forget()


@pytest.fixture(autouse=True)
def _stop_wakeup_listeners() -> Iterator[None]:
    """A waiter's LISTEN connection (imagegen/wakeup.py) must not outlive its test's database."""
    yield
    from imagegen.wakeup import stop_listeners

    stop_listeners()


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def own_media_folder(settings, tmp_path):
    """Store this test's files in a folder of its own (folders opt in with an autouse ``media_root``)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "media", "base_url": "/media/"},
        },
    }
    return tmp_path / "media"
