"""The whole pipeline with real worker processes on the embedded broker (SQLite-backed)."""

from __future__ import annotations

import json
import time

import pytest
from PIL import Image as PILImage

from celery_app import app
from images.models import Generation, Image
from tests.support.processes import celery_worker, child_env, kill_group
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def worker_env(tmp_path, **extra: str) -> dict[str, str]:
    from django.conf import settings

    # The worker shares this test's broker and database, and stores into its media folder.
    return child_env(IMAGEGEN_VAR_DIR=str(tmp_path), CELERY_BROKER_URL=settings.CELERY_BROKER_URL, **extra)


def test_a_generation_posted_to_the_api_is_rendered_by_a_real_worker(api, user, tmp_path, media_root):
    with celery_worker(tmp_path / "worker.log", env=worker_env(tmp_path)):
        response = api.post("/api/v1/generations", {"prompt": "golden forest", "size": "512x512", "n": 2},
                            format="json", HTTP_X_REQUEST_ID="req-e2e-1")  # fmt: skip
        assert response.status_code == 202
        pk = response.json()["id"]
        wait_for(lambda: Generation.objects.get(pk=pk).is_finished)
    body = api.get(f"/api/v1/generations/{pk}").json()
    assert body["status"] == "succeeded", body
    # The web request's id follows the job into the worker's log lines.
    worker_lines = [json.loads(line) for line in (tmp_path / "worker.log").read_text().splitlines()
                    if line.startswith("{")]  # fmt: skip
    started = [line for line in worker_lines if line["message"] == "generation started"]
    assert [line["request_id"] for line in started] == ["req-e2e-1"]
    assert body["progress"] == 100 and len(body["images"]) == 2
    for image in Image.objects.filter(generation_id=pk):
        with PILImage.open(media_root / image.storage_key) as png:
            assert png.size == (512, 512) and png.format == "PNG"


def test_the_same_message_delivered_twice_produces_one_set_of_images(api, user, tmp_path, media_root, monkeypatch):
    sent: list[str] = []
    monkeypatch.setattr("images.tasks.run_generation.delay", lambda pk: sent.append(pk))
    pk = api.post("/api/v1/generations", {"prompt": "x slow-1", "provider": "fake"}, format="json").json()["id"]
    assert sent == [pk]
    with celery_worker(tmp_path / "worker.log", env=worker_env(tmp_path), extra=["--concurrency", "2"]):
        app.send_task("images.run_generation", args=[pk])
        app.send_task("images.run_generation", args=[pk])
        wait_for(lambda: Generation.objects.get(pk=pk).is_finished)
        time.sleep(1.5)  # let the second delivery finish its own (no-op) run
    generation = Generation.objects.get(pk=pk)
    assert generation.status == "succeeded" and generation.attempts == 1
    assert generation.images.count() == 1
    files = [p for p in media_root.rglob("*") if p.is_file()]
    assert len(files) == len(generation.images.get().storage_keys())


def test_a_worker_killed_mid_job_is_recovered_and_the_job_succeeds_exactly_once(api, user, tmp_path, media_root):
    env = worker_env(tmp_path, GENERATION_HEARTBEAT_TIMEOUT="2", SWEEPER_INTERVAL="1")
    pk = api.post("/api/v1/generations", {"prompt": "long job slow-6", "provider": "fake", "n": 2},
                  format="json").json()["id"]  # fmt: skip
    with celery_worker(tmp_path / "worker1.log", env=env, new_session=True) as first:
        wait_for(lambda: Generation.objects.filter(pk=pk, status="running", progress__gt=5).exists())
        kill_group(first)  # SIGKILL the worker and its pool child in the middle of the job
    assert Generation.objects.get(pk=pk).status == "running"
    # A new worker, with beat: the sweeper sees the stopped heartbeat and queues the job again.
    with celery_worker(tmp_path / "worker2.log", env=env, extra=["--beat"]):
        wait_for(lambda: Generation.objects.get(pk=pk).is_finished, timeout=90)
    generation = Generation.objects.get(pk=pk)
    assert generation.status == "succeeded"
    assert generation.attempts == 2
    assert generation.images.count() == 2
    keys = {key for image in generation.images.all() for key in image.storage_keys()}
    files = {str(p.relative_to(media_root)) for p in media_root.rglob("*") if p.is_file()}
    assert files == keys


def test_cancel_while_running_stops_the_real_worker_job(api, user, tmp_path, media_root):
    with celery_worker(tmp_path / "worker.log", env=worker_env(tmp_path)):
        pk = api.post("/api/v1/generations", {"prompt": "slow-8", "provider": "fake"}, format="json").json()["id"]
        wait_for(lambda: Generation.objects.filter(pk=pk, status="running").exists())
        assert api.post(f"/api/v1/generations/{pk}/cancel").json()["status"] == "canceled"
        wait_for(lambda: "generation canceled" in (tmp_path / "worker.log").read_text(), timeout=30)
    assert Generation.objects.get(pk=pk).images.count() == 0
    assert [p for p in media_root.rglob("*") if p.is_file()] == []
