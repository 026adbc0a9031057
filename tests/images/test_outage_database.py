"""A database outage drops no job and runs none twice (imagegen/database.py, images/tasks.py, pipeline.py).

The unit tests fail the worker's queries in-process; the slow tests cut a real
worker and gunicorn off the database for 15 s while jobs run and a client
submits: PostgreSQL behind a TCP proxy (with SQS and S3 on moto, the production
shape), and the embedded SQLite file locked by another connection.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from celery.exceptions import Retry
from django.db import OperationalError, connection
from rest_framework_simplejwt.tokens import RefreshToken

from images.models import Generation
from images.services import pipeline
from images.services.pipeline import generation_run
from images.tasks import deliver_webhook, run_generation, sweep_generations
from tests.images.factories import GenerationFactory
from tests.support.moto import aws_env, boto3_client, moto_server
from tests.support.processes import celery_worker, child_env, database_url, web_server
from tests.support.proxy import tcp_proxy
from tests.support.waiting import poll

# Connections are closed and reopened, which a test inside a transaction cannot survive.
pytestmark = pytest.mark.django_db(transaction=True)

OUTAGE_SECONDS = 15
RECOVERY_SECONDS = 60


class Outage:
    """Fails every query of this thread's connection while ``down``, as PostgreSQL's fail when it goes away."""

    def __init__(self) -> None:
        self.down = False
        self.refused = 0

    def __call__(self, execute, sql, params, many, context):
        if self.down:
            self.refused += 1
            raise OperationalError("terminating connection due to administrator command")
        return execute(sql, params, many, context)


@pytest.fixture
def outage() -> Iterator[Outage]:
    refuse = Outage()
    with connection.execute_wrapper(refuse):
        yield refuse


def test_a_task_that_cannot_claim_its_job_is_retried_later_and_the_job_keeps_its_attempts(user, outage, monkeypatch):
    generation = GenerationFactory(user=user, provider="fake", model="fake-1")
    retried: list[dict] = []
    monkeypatch.setattr(run_generation, "retry", lambda **kwargs: retried.append(kwargs) or Retry())
    outage.down = True
    with pytest.raises(Retry):
        run_generation(str(generation.pk))
    outage.down = False
    assert len(retried) == 1 and 0.5 <= retried[0]["countdown"] <= 1
    assert isinstance(retried[0]["exc"], OperationalError)
    generation.refresh_from_db()
    assert (generation.status, generation.attempts) == ("queued", 0)


def test_a_job_that_loses_the_database_mid_render_waits_for_it_and_succeeds_once(
    user, outage, monkeypatch, media_root, caplog
):
    monkeypatch.setattr(pipeline, "outage_backoff", lambda retry: 0.1)
    generation = GenerationFactory(user=user, provider="fake", model="fake-1", prompt="harbour slow-1", n=2)
    first_progress = pipeline.JobTracker.progress

    def progress_then_outage(self, percent, **kwargs):
        # The database goes away as the render starts and comes back after it has ended.
        if not outage.down and not hasattr(outage, "timer"):
            outage.down = True
            outage.timer = threading.Timer(3, lambda: setattr(outage, "down", False))
            outage.timer.start()
        return first_progress(self, percent, **kwargs)

    monkeypatch.setattr(pipeline.JobTracker, "progress", progress_then_outage)
    with caplog.at_level(logging.WARNING, logger="images.services.pipeline"):
        outcome = generation_run(generation_id=str(generation.pk))
    assert outcome.status == "succeeded"
    generation.refresh_from_db()
    assert (generation.status, generation.attempts, generation.error_code) == ("succeeded", 1, "")
    assert generation.images.count() == 2
    files = sorted(p for p in media_root.rglob("*") if p.is_file())
    assert len(files) == sum(len(image.storage_keys()) for image in generation.images.all())
    assert outage.refused > 1
    assert any(r.getMessage() == "database unavailable; the job waits for it" for r in caplog.records)


def test_a_sweep_that_cannot_reach_the_database_is_skipped_until_the_next_tick(outage):
    outage.down = True
    assert sweep_generations() == {}
    outage.down = False
    assert sweep_generations() == {"requeued_lost": 0, "requeued_stale": 0, "failed_stale": 0, "deadline_exceeded": 0,
                                   "admitted": 0}  # fmt: skip


def test_a_webhook_that_cannot_reach_the_database_retries_the_same_attempt(user, outage, monkeypatch):
    generation = GenerationFactory(user=user, webhook_url="https://hooks.example.com/x")
    retried: list[dict] = []
    monkeypatch.setattr(deliver_webhook, "retry", lambda **kwargs: retried.append(kwargs) or Retry())
    outage.down = True
    with pytest.raises(Retry):
        deliver_webhook(str(generation.pk), "completed", "msg_1", 3)
    assert len(retried) == 1 and "args" not in retried[0]  # the same message, attempt 3, later


# --- End to end ---------------------------------------------------------------------


def call(method: str, url: str, token: str = "", body: dict | None = None) -> tuple[int, dict, dict]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        payload = error.read()
        return error.code, dict(error.headers), json.loads(payload) if payload.startswith(b"{") else {"raw": payload}


def ride_out_an_outage(
    base: str,
    token: str,
    *,
    cut: Callable[[], None],
    restore: Callable[[], None],
    logs: list[Path],
    ready_during: tuple[int, ...] = (503,),
) -> list[str]:
    """Submit jobs, cut the database while they run and a client keeps posting, restore it; checks the answers.

    Returns the ids of every accepted job.
    """
    job = {"prompt": "lighthouse slow-3", "provider": "fake", "n": 1}
    accepted = []
    for _ in range(8):
        status, _, body = call("POST", f"{base}/api/v1/generations", token, job)
        assert status == 202, body
        accepted.append(body["id"])
    started = Generation.objects.filter(pk__in=accepted, status="running")
    assert poll(started.exists, timeout=30, interval=0.1), "no job started"

    cut()
    cut_at = time.monotonic()
    during: list[tuple[int, dict, dict]] = []
    health, ready = call("GET", f"{base}/healthz"), call("GET", f"{base}/readyz")
    while time.monotonic() - cut_at < OUTAGE_SECONDS - 3:
        during.append(call("POST", f"{base}/api/v1/generations", token, job))
        time.sleep(0.5)
    time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - cut_at)))
    restore()
    restored_at = time.monotonic()

    assert health[0] == 200 and ready[0] in ready_during, (health, ready)
    assert during, "the client sent nothing during the outage"
    for status, headers, body in during:
        assert status == 503, (status, body)
        assert body["error"]["code"] == "service_unavailable" and int(headers["Retry-After"]) >= 1

    status, _, body = call("POST", f"{base}/api/v1/generations", token, job)
    assert status == 202, body
    accepted.append(body["id"])
    unfinished = Generation.objects.filter(pk__in=accepted, status__in=["queued", "running"])
    left = RECOVERY_SECONDS - (time.monotonic() - restored_at)
    if not poll(lambda: not unfinished.exists(), timeout=left, interval=0.5):
        stuck = list(Generation.objects.filter(pk__in=accepted).values_list("status", "error_message"))
        pytest.fail(f"jobs not finished {RECOVERY_SECONDS} s after the outage: {stuck}\n{tails(logs)}")
    for generation in Generation.objects.filter(pk__in=accepted):
        assert generation.status == "succeeded", (generation.error_code, generation.error_message, tails(logs))
        # The outage was not counted as a failed attempt, and each job has its one image.
        assert generation.attempts == 1, tails(logs)
        assert generation.images.count() == 1
    return accepted


def tails(logs: list[Path]) -> str:
    return "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}" for log in logs if log.exists())


def stored_keys(accepted: list[str]) -> set[str]:
    return {key for g in Generation.objects.filter(pk__in=accepted) for i in g.images.all() for key in i.storage_keys()}


@pytest.mark.slow
def test_a_postgresql_outage_drops_no_job_and_runs_none_twice(user, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("needs DATABASE_URL=postgres://...")
    bucket = queue = "imagegen-dbdown"
    with moto_server() as moto_url, tcp_proxy(database_url()) as proxy:
        boto3_client("s3", moto_url).create_bucket(Bucket=bucket)
        boto3_client("sqs", moto_url).create_queue(QueueName=queue)
        db = connection.settings_dict
        env = child_env(
            **aws_env(moto_url),
            DATABASE_URL=f"postgres://{db['USER']}@127.0.0.1:{proxy.port}/{db['NAME']}",
            CELERY_BROKER_URL="sqs://",
            SQS_QUEUE_NAME=queue,
            IMAGE_S3_BUCKET=bucket,
            IMAGEGEN_VAR_DIR=str(tmp_path),
            SWEEPER_INTERVAL="2",
        )
        token = str(RefreshToken.for_user(user).access_token)
        logs = [tmp_path / "worker.log", tmp_path / "web.log"]
        with (
            celery_worker(logs[0], env=env, extra=["--concurrency", "2", "--beat"]) as worker,
            web_server(logs[1], env=env) as base,
        ):
            accepted = ride_out_an_outage(base, token, cut=proxy.pause, restore=proxy.resume, logs=logs)
            assert worker.poll() is None
        listed = boto3_client("s3", moto_url).list_objects_v2(Bucket=bucket).get("Contents", [])
    assert {item["Key"] for item in listed} == stored_keys(accepted)
    worker_log = logs[0].read_text()
    assert "database unavailable; task retried" in worker_log or "the job waits for it" in worker_log


@pytest.mark.slow
def test_a_locked_sqlite_file_drops_no_job_and_runs_none_twice(user, tmp_path, settings):
    if connection.vendor != "sqlite":
        pytest.skip("the embedded default's test")
    # Writers give up on the lock after 2 s ("database is locked") instead of outwaiting it.
    env = child_env(IMAGEGEN_VAR_DIR=str(tmp_path), CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
                    SQLITE_BUSY_TIMEOUT="2", SWEEPER_INTERVAL="2")  # fmt: skip
    holder = sqlite3.connect(connection.settings_dict["NAME"], timeout=30, isolation_level=None)

    def lock() -> None:
        holder.execute("BEGIN EXCLUSIVE")

    token = str(RefreshToken.for_user(user).access_token)
    logs = [tmp_path / "worker.log", tmp_path / "web.log"]
    try:
        with (
            celery_worker(logs[0], env=env, extra=["--concurrency", "2", "--beat"]) as worker,
            web_server(logs[1], env=env) as base,
        ):
            # /readyz reads, and a locked file is still readable (WAL): it may stay 200.
            accepted = ride_out_an_outage(base, token, cut=lock, restore=lambda: holder.execute("ROLLBACK"), logs=logs,
                                          ready_during=(200, 503))  # fmt: skip
            assert worker.poll() is None
    finally:
        holder.close()
    media = tmp_path / "media"
    files = {str(p.relative_to(media)) for p in media.rglob("*") if p.is_file()}
    assert files == stored_keys(accepted)
    # Whether the worker met the lock as an error or only waited in SQLite's busy handler depends on
    # where its jobs were when the lock came: either way none was lost, doubled or charged an attempt.
