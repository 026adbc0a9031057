"""SQS and S3 (moto's server) cut off behind a proxy while clients keep submitting: the issue-20 drill.

The web server (gunicorn) and a worker with beat reach moto only through a
TCP proxy the test pauses; the database stays reachable. During the outage a
POST answers 202 with its job (never a 500 for a committed row), /readyz
names the broker and the storage, and the worker lives on (or, killed, is
restarted as `restart: unless-stopped` would). After it, every accepted job
succeeds, once, within 60 s. The first test is the in-process piece the drill
found: a job whose storage is unreachable must still be requeued. The last
does the same on the embedded broker, its SQLite file locked by another
writer.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from botocore.exceptions import EndpointConnectionError
from django.db import connection
from rest_framework_simplejwt.tokens import RefreshToken

from images.models import Generation, Image
from images.services import pipeline
from images.tasks import run_generation
from tests.images.factories import GenerationFactory
from tests.support.http import call
from tests.support.moto import aws_env, boto3_client, moto_server
from tests.support.processes import celery_worker, child_env, kill_group, wait_for_text, web_server
from tests.support.proxy import TcpProxy, tcp_proxy
from tests.support.waiting import poll

BUCKET = "imagegen-outage"
QUEUE = "imagegen-outage"
OUTAGE_SECONDS = 15
CATCH_UP_SECONDS = 60


METRICS_TOKEN = "outage-test-metrics-token"


@contextmanager
def aws_through_proxy(tmp_path: Path) -> Iterator[tuple[TcpProxy, dict[str, str]]]:
    with moto_server() as moto_url, tcp_proxy(moto_url) as proxy:
        boto3_client("s3", moto_url).create_bucket(Bucket=BUCKET)
        boto3_client("sqs", moto_url).create_queue(QueueName=QUEUE)
        env = child_env(**aws_env(proxy.url), CELERY_BROKER_URL="sqs://", SQS_QUEUE_NAME=QUEUE,
                        IMAGE_S3_BUCKET=BUCKET, IMAGEGEN_VAR_DIR=str(tmp_path), PUBLISH_RETRY_INTERVAL="2",
                        METRICS_TOKEN=METRICS_TOKEN)  # fmt: skip
        yield proxy, env


def worker(tmp_path: Path, env: dict[str, str], name: str):
    extra = ["--beat", "--schedule", str(tmp_path / f"beat-{name}")]
    return celery_worker(tmp_path / f"{name}.log", env=env, extra=extra, new_session=True)


def submit(base: str, token: str, n: int) -> dict:
    return call("POST", f"{base}/api/v1/generations", token,
                {"prompt": f"teal lighthouse #{n}", "size": "256x256", "seed": n},
                **{"Idempotency-Key": f"outage-{n}"})  # fmt: skip


def submit_through_outage(base: str, token: str, proxy: TcpProxy, during) -> list[str]:
    """Jobs submitted before, during (every ~2 s) and after the cut; ``during()`` runs while it lasts."""
    accepted = []
    status, body = submit(base, token, 0)
    assert status == 202, body
    accepted.append(body["id"])
    proxy.pause()
    ends = time.monotonic() + OUTAGE_SECONDS
    n = 1
    while time.monotonic() < ends:
        status, body = submit(base, token, n)
        # The row is committed: the client is told so (or refused with nothing created).
        assert status in (202, 503), (status, body)
        if status == 202:
            accepted.append(body["id"])
        else:
            assert body["error"]["code"] and not Generation.objects.filter(idempotency_key=f"outage-{n}").exists()
        n += 1
        time.sleep(1)
    ready_status, ready = call("GET", f"{base}/readyz", METRICS_TOKEN)  # the token shows what failed
    assert ready_status == 503 and {"broker", "storage"} <= set(ready["failed"]), ready
    during()
    proxy.resume()
    status, body = submit(base, token, n)
    assert status == 202, body
    accepted.append(body["id"])
    return accepted


def assert_all_succeed_once(accepted: list[str], logs: list[Path], *, minimum: int = 1 + OUTAGE_SECONDS // 3) -> None:
    succeeded = Generation.objects.filter(pk__in=accepted, status="succeeded")
    poll(succeeded.count, until=lambda count: count == len(accepted), timeout=CATCH_UP_SECONDS, interval=0.5)
    states = dict(Generation.objects.filter(pk__in=accepted).values_list("pk", "status"))
    tail = "\n".join(log.read_text(errors="replace")[-3000:] for log in logs if log.exists())
    assert all(status == "succeeded" for status in states.values()), (states, tail)
    assert len(states) == len(accepted) and len(accepted) >= minimum
    for pk in accepted:
        assert Image.objects.filter(generation_id=pk).count() == 1  # once: one image for n=1


@pytest.mark.django_db
def test_a_job_that_cannot_reach_storage_is_requeued_though_its_cleanup_fails_too(user, monkeypatch):
    def unreachable(*args: object) -> None:
        raise EndpointConnectionError(endpoint_url="http://s3.test/bucket/key")

    monkeypatch.setattr(pipeline, "store_bytes", unreachable)
    monkeypatch.setattr(pipeline, "delete_keys", unreachable)
    published: list[tuple] = []
    monkeypatch.setattr(run_generation, "apply_async", lambda args, countdown: published.append((args, countdown)))
    generation = GenerationFactory(user=user, provider="fake", model="fake-1")
    assert run_generation(str(generation.pk)) == "queued"
    generation.refresh_from_db()
    assert generation.status == "queued" and generation.error_code == "internal_error"
    assert "Could not connect" not in generation.error_message  # the detail is for the log (images/failures.py)
    assert published and published[0][0] == [str(generation.pk)] and published[0][1] > 0


def production_shape_only() -> None:
    # SQS and S3 go with PostgreSQL in production; CI runs this drill once, on that pair.
    if connection.vendor != "postgresql":
        pytest.skip("the production shape's drill: run with DATABASE_URL=postgres://...")


def embedded_shape_only() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("the embedded default's drill: run on SQLite")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_jobs_submitted_through_an_sqs_and_s3_outage_are_accepted_and_then_all_run_once(user, tmp_path):
    production_shape_only()
    token = str(RefreshToken.for_user(user).access_token)
    with (
        aws_through_proxy(tmp_path) as (proxy, env),
        worker(tmp_path, env, "worker") as proc,
        web_server(tmp_path / "web.log", env=env) as base,
    ):

        def worker_stays_alive() -> None:
            assert proc.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]

        accepted = submit_through_outage(base, token, proxy, worker_stays_alive)
        assert_all_succeed_once(accepted, [tmp_path / "worker.log", tmp_path / "web.log"])
        assert proc.poll() is None
        ready_status, ready = call("GET", f"{base}/readyz")
        assert ready_status == 200, ready


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_jobs_submitted_through_an_outage_run_once_when_the_worker_was_killed_during_it(user, tmp_path):
    production_shape_only()
    token = str(RefreshToken.for_user(user).access_token)
    with aws_through_proxy(tmp_path) as (proxy, env), web_server(tmp_path / "web.log", env=env) as base:
        with worker(tmp_path, env, "first") as first:
            accepted = submit_through_outage(base, token, proxy, lambda: kill_group(first))
        # Started again after the network is back, as `restart: unless-stopped` would.
        with worker(tmp_path, env, "second") as second:
            wait_for_text(tmp_path / "second.log", "ready.", second)
            assert_all_succeed_once(accepted, [tmp_path / "first.log", tmp_path / "second.log", tmp_path / "web.log"])


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_locked_embedded_broker_answers_202_keeps_the_worker_alive_and_loses_no_job(user, tmp_path):
    embedded_shape_only()
    import sqlite3

    broker = tmp_path / "broker.sqlite3"
    env = child_env(IMAGEGEN_VAR_DIR=str(tmp_path), CELERY_BROKER_URL=f"sqla+sqlite:///{broker}",
                    PUBLISH_RETRY_INTERVAL="2")  # fmt: skip
    token = str(RefreshToken.for_user(user).access_token)
    logs = [tmp_path / "worker.log", tmp_path / "web.log"]
    with worker(tmp_path, env, "worker") as proc, web_server(logs[1], env=env) as base:
        status, body = submit(base, token, 0)
        assert status == 202, body
        accepted = [body["id"]]
        assert_all_succeed_once(accepted[:1], logs, minimum=1)  # the broker file exists and works

        holder = sqlite3.connect(broker, timeout=30, isolation_level=None)
        try:
            holder.execute("BEGIN EXCLUSIVE")  # every writer, publisher or consumer, now waits and fails
            ends = time.monotonic() + OUTAGE_SECONDS
            n = 1
            while time.monotonic() < ends:
                status, body = submit(base, token, n)
                assert status == 202, body  # committed, owed a message: never a 500
                accepted.append(body["id"])
                n += 1
            assert proc.poll() is None, logs[0].read_text()[-3000:]
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert_all_succeed_once(accepted, logs, minimum=2)
        assert proc.poll() is None
