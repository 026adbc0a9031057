"""A generation's page: progress that refreshes without JavaScript, its images or error, and cancel."""

from __future__ import annotations

import uuid

import pytest

from tests.images.factories import GenerationFactory
from tests.ui.conftest import csrf_post, generated, text

pytestmark = pytest.mark.django_db


def test_a_running_generation_shows_progress_and_refreshes_without_javascript(browser, user):
    generation = GenerationFactory(user=user, status="running", progress=40)
    html = text(browser.get(f"/generations/{generation.pk}"))
    assert '<progress max="100" value="40"' in html
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in html
    assert f'data-poll-url="/api/v1/generations/{generation.pk}"' in html
    assert f'action="/generations/{generation.pk}/cancel"' in html


def test_a_queued_generation_shows_its_place_in_the_queue(browser, user):
    GenerationFactory(status="queued")
    generation = GenerationFactory(user=user, status="queued")
    assert "position 2 in the queue" in text(browser.get(f"/generations/{generation.pk}"))


def test_a_queued_generation_shows_when_it_should_be_done(browser, user):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    GenerationFactory(status="succeeded", started_at=now - timedelta(seconds=12), finished_at=now)
    GenerationFactory(status="queued")
    generation = GenerationFactory(user=user, status="queued")

    # One job ahead of it and its own run, 12 s each, as the last run took.
    assert "done in about 24 s" in text(browser.get(f"/generations/{generation.pk}"))


def test_a_generation_canceled_by_its_deadline_says_so(browser, user):
    generation = GenerationFactory(user=user, status="canceled", error_code="deadline_exceeded")
    assert "its deadline passed" in text(browser.get(f"/generations/{generation.pk}"))


def test_a_finished_generation_shows_its_images_and_stops_refreshing(browser, user):
    generation = generated(user, n=2)
    html = text(browser.get(f"/generations/{generation.pk}"))
    for image in generation.images.all():
        assert f'href="/images/{image.pk}"' in html
    assert "http-equiv" not in html and "data-poll-url" not in html
    assert "Remix" in html


def test_a_failed_generation_shows_its_error(browser, user):
    generation = GenerationFactory(
        user=user, status="failed", error_code="content_policy", error_message="the provider refused this prompt"
    )
    html = text(browser.get(f"/generations/{generation.pk}"))
    assert "the provider refused this prompt" in html and "content_policy" in html


def test_the_polled_api_answers_the_browsers_session(browser, user):
    generation = GenerationFactory(user=user, status="running", progress=55)
    body = browser.get(f"/api/v1/generations/{generation.pk}").json()
    assert body["status"] == "running" and body["progress"] == 55


def test_cancel_from_the_page(browser, user):
    generation = GenerationFactory(user=user, status="running")
    response = csrf_post(browser, f"/generations/{generation.pk}/cancel")
    assert response.status_code == 302
    generation.refresh_from_db()
    assert generation.status == "canceled"
    again = csrf_post(browser, f"/generations/{generation.pk}/cancel", follow=True)
    assert "Not canceled" in text(again)


def test_another_users_generation_is_404(browser, other_user):
    generation = GenerationFactory(user=other_user)
    assert browser.get(f"/generations/{generation.pk}").status_code == 404
    assert csrf_post(browser, f"/generations/{generation.pk}/cancel").status_code == 404
    assert browser.get(f"/generations/{uuid.uuid4()}").status_code == 404
    assert browser.get("/generations/not-a-uuid").status_code == 404
