from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.images.factories import GenerationFactory, ImageFactory

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-tests"


@pytest.fixture(autouse=True)
def metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN


def scrape(client, **extra) -> str:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


def test_it_reports_jobs_by_state_and_images(client):
    GenerationFactory(status="queued")
    GenerationFactory(status="failed")
    ImageFactory(processing="failed")
    text = scrape(client)
    assert 'imagegen_generations{status="queued"} 1.0' in text
    assert 'imagegen_generations{status="failed"} 1.0' in text
    assert 'imagegen_generations{status="running"} 0.0' in text
    assert 'imagegen_images{processing="failed",source="generated"} 1.0' in text
    assert "imagegen_derivative_failures_total 1.0" in text


def test_it_has_a_generation_duration_histogram(client):
    now = timezone.now()
    GenerationFactory(status="succeeded", started_at=now - timedelta(seconds=3), finished_at=now)
    GenerationFactory(status="succeeded", started_at=now - timedelta(seconds=0.2), finished_at=now)
    text = scrape(client)
    assert 'imagegen_generation_duration_seconds_bucket{le="0.25"} 1.0' in text
    assert 'imagegen_generation_duration_seconds_bucket{le="5.0"} 2.0' in text
    assert 'imagegen_generation_duration_seconds_bucket{le="+Inf"} 2.0' in text
    assert "imagegen_generation_duration_seconds_count 2.0" in text
    assert "imagegen_generation_duration_seconds_sum 3.2" in text


def test_it_reports_queue_depth_and_requests(client):
    client.get("/healthz")
    text = scrape(client)
    assert "imagegen_queue_depth " in text
    assert 'imagegen_http_requests_total{method="GET",status="200"}' in text


def test_a_loopback_client_needs_the_token_too(client, settings):
    # A reverse proxy on the same host makes every client look like 127.0.0.1.
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 404
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 404
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_AUTHORIZATION="Bearer ").status_code == 404


def test_loopback_clients_may_scrape_without_the_token_when_allowed(client, settings):
    settings.METRICS_ALLOW_LOOPBACK = True
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 404


def test_a_token_that_is_not_ascii_is_refused_not_a_crash(client):
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer t\u00f6ken").status_code == 404


def test_with_a_token_it_is_required(client, settings):
    settings.METRICS_TOKEN = "s3cret"
    settings.METRICS_ALLOW_LOOPBACK = False
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret", REMOTE_ADDR="10.1.2.3").status_code == 200
